//! The registrar's timer queue against a recount over every binding,
//! through a seeded random mix of REGISTERs (new, refresh, unregister),
//! probe answers and misses, closed flows and time passing: its deadline is
//! always the earliest deadline of any binding, and after `handle_timeout`
//! no binding is overdue. A stale or missing queue entry fails it.

use std::time::Duration;

use super::liveness::next_deadline;
use super::test_support::*;
use super::*;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The earliest deadline of any binding, by walking them all.
fn recount(r: &Registrar) -> Option<Instant> {
    let k = r.config.keepalive_interval;
    let all = r.table.iter().flat_map(|(_, entries)| entries.iter());
    all.map(|e| next_deadline(e, k)).min()
}

fn check(r: &Registrar, now: Instant, step: usize) {
    assert_eq!(r.poll_timeout(), recount(r), "step {step}");
    let overdue = recount(r).is_some_and(|d| d <= now);
    assert!(
        !overdue,
        "step {step}: a binding is overdue after the timer ran"
    );
    for (id, (op, key)) in &r.in_flight {
        let entry = r.table.entries(op).iter().find(|e| e.key == *key);
        assert_eq!(
            entry.and_then(|e| e.live.outstanding),
            Some(*id),
            "step {step}"
        );
    }
}

#[derive(Default)]
struct Seen {
    probes: usize,
    removed: usize,
}

/// One random step at `now`; the registrar's outputs drained.
fn act(r: &mut Registrar, rng: &mut Rng, now: Instant, cseq: &mut u32, seen: &mut Seen) {
    let user = ["alice", "bob"][rng.below(2) as usize];
    let host = rng.below(5);
    let contact = format!("sip:{user}@192.168.1.{host}:5060");
    let peer = udp(&format!("203.0.113.{host}:5060"));
    match rng.below(10) {
        0..=3 => {
            *cseq += 1;
            let expires = [0, 60, 90, 300, 3600][rng.below(5) as usize];
            let text = pjsua(user, &contact, &format!("{user}{host}"), *cseq, expires);
            let reply = register(r, now, peer, &text);
            assert_eq!(code(&reply), 200, "{:?}", reply.outcome);
        }
        4..=6 => {
            let ids: Vec<ProbeId> = r.in_flight.keys().copied().collect();
            if let Some(id) = ids.get(rng.below(ids.len().max(1) as u64) as usize) {
                r.probe_result(now, *id, rng.below(3) > 0);
            }
        }
        7 => r.flow_closed(&tcp("203.0.113.9:5060", 1)),
        _ => r.handle_timeout(now),
    }
    seen.probes += std::iter::from_fn(|| r.poll_probe()).count();
    seen.removed += events(r)
        .iter()
        .filter(|e| matches!(e, RegistrarEvent::BindingRemoved { .. }))
        .count();
}

#[test]
fn the_timer_queue_matches_a_recount_of_every_binding() {
    for seed in [1_u64, 0x9e37_79b9, 0xdead_beef] {
        let mut r = registrar();
        let mut rng = Rng(seed);
        let (mut now, mut cseq, mut seen) = (at(0), 0, Seen::default());
        for step in 0..3_000 {
            now += Duration::from_millis(rng.below(20_000));
            act(&mut r, &mut rng, now, &mut cseq, &mut seen);
            r.handle_timeout(now);
            seen.probes += std::iter::from_fn(|| r.poll_probe()).count();
            seen.removed += events(&mut r).len();
            check(&r, now, step);
        }
        assert!(seen.probes > 100 && seen.removed > 100, "seed {seed}");
        // Far past every deadline: nothing left, no stale entry kept.
        r.handle_timeout(now + Duration::from_secs(100_000));
        assert_eq!((r.table.len(), r.timer_entries()), (0, 0), "seed {seed}");
    }
}

#[test]
fn a_refresh_moves_the_deadline_later_and_the_old_entry_goes_stale() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    let phone = "sip:alice@192.168.1.20:5060";
    register(&mut r, at(0), peer, &pjsua("alice", phone, "c1", 1, 300));
    assert_eq!(r.poll_timeout(), Some(at(30)));
    register(&mut r, at(20), peer, &pjsua("alice", phone, "c1", 2, 300));
    assert_eq!(r.poll_timeout(), Some(at(50)), "exact after a refresh");
    r.handle_timeout(at(30));
    assert_eq!(std::iter::from_fn(|| r.poll_probe()).count(), 0);
    assert_eq!(r.timer_entries(), 1, "the stale entry was dropped");
}
