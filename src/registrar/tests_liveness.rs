//! Keep-alives and expiry in simulated time, with the exact instants of
//! [`super::liveness`]: probe at `last_heard + K`, retry `K/2` after a miss,
//! out at the second miss or at `last_heard + 2K`, whichever comes first.

use std::time::Duration;

use super::test_support::*;
use super::*;
use crate::sip::types::Peer;

const PHONE: &str = "sip:alice@192.168.1.20:5060";
const MS: Duration = Duration::from_millis(1);

fn bound(r: &mut Registrar, secs: u64, expires: u32) -> Peer {
    let peer = udp("203.0.113.5:5060");
    let reply = register(r, at(secs), peer, &pjsua("alice", PHONE, "c1", 1, expires));
    assert_eq!(code(&reply), 200, "{:?}", reply.outcome);
    events(r);
    peer
}

fn probes(r: &mut Registrar) -> Vec<Probe> {
    std::iter::from_fn(|| r.poll_probe()).collect()
}

fn unresponsive() -> RegistrarEvent {
    RegistrarEvent::BindingRemoved {
        operator: op("alice"),
        contact: format!("{PHONE};ob"),
        reason: RemoveReason::Unresponsive,
    }
}

#[test]
fn a_probe_is_due_one_interval_after_the_register_and_answers_keep_it() {
    let mut r = registrar();
    let peer = bound(&mut r, 0, 300);
    assert_eq!(r.poll_timeout(), Some(at(30)));
    r.handle_timeout(at(30) - MS);
    assert!(probes(&mut r).is_empty());
    r.handle_timeout(at(30));
    let sent = probes(&mut r);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].contact.as_str(), sent[0].peer),
        (&*format!("{PHONE};ob"), peer)
    );
    assert_eq!(sent[0].operator, op("alice"));
    assert_eq!(
        r.poll_timeout(),
        Some(at(60)),
        "one probe at a time; silence deadline next"
    );
    r.probe_result(at(31), sent[0].id, true);
    assert_eq!(r.poll_timeout(), Some(at(61)));
    assert_eq!(r.contacts(&op("alice"))[0].last_heard, at(31));
    r.handle_timeout(at(61));
    assert_eq!(probes(&mut r).len(), 1);
    assert!(events(&mut r).is_empty());
}

#[test]
fn a_silent_phone_leaves_exactly_two_intervals_after_it_was_last_heard() {
    let mut r = registrar();
    bound(&mut r, 0, 300);
    r.handle_timeout(at(30));
    let first = probes(&mut r);
    r.handle_timeout(at(60) - MS);
    assert!(r.is_reachable(&op("alice")));
    r.handle_timeout(at(60));
    assert!(!r.is_reachable(&op("alice")));
    assert_eq!(
        events(&mut r),
        vec![unresponsive(), reachable("alice", false)]
    );
    assert_eq!(r.poll_timeout(), None);
    // The transaction's timeout arrives later: ignored.
    r.probe_result(at(62), first[0].id, false);
    assert!(events(&mut r).is_empty());
}

#[test]
fn two_misses_in_a_row_remove_at_the_second() {
    let mut r = registrar();
    bound(&mut r, 0, 300);
    r.handle_timeout(at(30));
    let first = probes(&mut r);
    r.probe_result(at(30), first[0].id, false); // transport error at once
    assert_eq!(
        r.poll_timeout(),
        Some(at(45)),
        "retry half an interval later"
    );
    r.handle_timeout(at(45));
    let second = probes(&mut r);
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].id, first[0].id);
    r.probe_result(at(45), second[0].id, false);
    assert!(!r.is_reachable(&op("alice")));
    assert_eq!(
        events(&mut r),
        vec![unresponsive(), reachable("alice", false)]
    );
}

#[test]
fn any_answer_after_a_miss_clears_it() {
    let mut r = registrar();
    bound(&mut r, 0, 300);
    r.handle_timeout(at(30));
    let first = probes(&mut r);
    r.probe_result(at(32), first[0].id, false);
    r.handle_timeout(at(47));
    let second = probes(&mut r);
    r.probe_result(at(47), second[0].id, true); // e.g. a 405: still a live phone
    r.handle_timeout(at(77));
    let third = probes(&mut r);
    r.probe_result(at(77), third[0].id, false);
    assert!(
        r.is_reachable(&op("alice")),
        "one miss after an answer is not two"
    );
    assert_eq!(
        r.snapshot(at(77)).operators[0].bindings[0].missed_keepalives,
        1
    );
}

#[test]
fn a_register_refresh_counts_as_heard() {
    let mut r = registrar();
    let peer = bound(&mut r, 0, 300);
    r.handle_timeout(at(30));
    let outstanding = probes(&mut r);
    let reply = register(&mut r, at(50), peer, &pjsua("alice", PHONE, "c1", 2, 300));
    assert_eq!(code(&reply), 200);
    r.handle_timeout(at(60));
    assert!(r.is_reachable(&op("alice")));
    assert_eq!(r.poll_timeout(), Some(at(110)));
    r.probe_result(at(61), outstanding[0].id, true);
    assert_eq!(r.poll_timeout(), Some(at(91)));
}

#[test]
fn bindings_expire_without_keepalives() {
    let config = RegistrarConfig {
        keepalive_interval: None,
        ..config()
    };
    let mut r = Registrar::new(config, credentials(), 1, [1; 32]).unwrap();
    bound(&mut r, 0, 60);
    assert_eq!(r.poll_timeout(), Some(at(60)));
    r.handle_timeout(at(60) - MS);
    assert!(r.is_reachable(&op("alice")) && probes(&mut r).is_empty());
    r.handle_timeout(at(60));
    let expired = RegistrarEvent::BindingRemoved {
        operator: op("alice"),
        contact: format!("{PHONE};ob"),
        reason: RemoveReason::Expired,
    };
    assert_eq!(events(&mut r), vec![expired, reachable("alice", false)]);
}

#[test]
fn an_answering_phone_still_expires() {
    let mut r = registrar();
    bound(&mut r, 0, 60);
    r.handle_timeout(at(30));
    let probe = probes(&mut r);
    r.probe_result(at(30), probe[0].id, true);
    assert_eq!(r.poll_timeout(), Some(at(60)));
    r.handle_timeout(at(60));
    assert!(!r.is_reachable(&op("alice")));
    assert!(matches!(
        events(&mut r)[0],
        RegistrarEvent::BindingRemoved {
            reason: RemoveReason::Expired,
            ..
        }
    ));
}

#[test]
fn losing_one_of_two_phones_keeps_the_operator_reachable() {
    let mut r = registrar();
    let desk = bound(&mut r, 0, 300);
    let mobile = tcp("198.51.100.9:50123", 4);
    register(
        &mut r,
        at(0),
        mobile,
        &linphone("alice", "sip:alice@10.1.1.1", "m1", 1, 300),
    );
    events(&mut r);
    r.handle_timeout(at(30));
    let sent = probes(&mut r);
    assert_eq!(sent.len(), 2);
    let desk_probe = sent.iter().find(|p| p.peer == desk).unwrap();
    r.probe_result(at(30), desk_probe.id, true);
    r.handle_timeout(at(60));
    let gone = events(&mut r);
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert!(r.is_reachable(&op("alice")));
    assert_eq!(r.contacts(&op("alice"))[0].peer, desk);
}
