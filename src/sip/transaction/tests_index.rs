//! The layer's indexes (by key, by dialog, by peer, the counts and the
//! timer heap) against a naive recomputation from the transactions
//! themselves, after every step of a seeded random run: many transactions
//! of one peer (a carrier's SBC), a few of others, over UDP and TCP, ended
//! by responses, ACKs, timers and transport errors in random order.

use super::test_util::{ms, t0};
use super::*;
use crate::sip::message::{parse, response_to, set_to_tag};
use crate::sip::types::{ConnId, Transport};
use std::collections::{BTreeSet, HashSet};

/// xorshift64: a reproducible sequence, no randomness source needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Peer 0 is the heavy one (most requests); 3 is over TCP.
fn peer(i: u64) -> Peer {
    let addr = format!("192.0.2.{}:5060", 10 + i).parse().unwrap();
    match i {
        3 => Peer {
            transport: Transport::Tcp,
            addr,
            conn: Some(ConnId(3)),
        },
        _ => Peer::udp(addr),
    }
}

fn server_request(method: &str, n: u64, p: &Peer) -> Request {
    let text = format!(
        "{method} sip:112@alarm.example SIP/2.0\r\n\
         Via: SIP/2.0/{} {};branch=z9hG4bK-{method}-{n}\r\n\
         From: <sip:unit@{}>;tag=f{n}\r\nTo: <sip:112@alarm.example>\r\n\
         Call-ID: c{n}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        p.transport.via_token(),
        p.addr,
        p.addr.ip(),
    );
    match parse(text.as_bytes()) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

fn answer(req: &Request, code: u16) -> Response {
    let mut resp = response_to(req, code, None);
    set_to_tag(&mut resp, &Tag::new("tu"));
    resp
}

/// Transactions the test may act on, with their requests (some ended since).
#[derive(Default)]
struct Live {
    server: Vec<(TxKey, Request)>,
    client: Vec<(TxKey, Request)>,
}

fn drain(live: &mut Live, layer: &mut TransactionLayer) {
    while let Some(event) = layer.poll_event() {
        // Ended ones stay listed: acting on them is refused or unmatched,
        // which the run may as well exercise.
        if let TxEvent::Request { key, request, .. } = event {
            live.server.push((key, request));
        }
    }
    while layer.poll_transmit().is_some() {}
}

fn step(layer: &mut TransactionLayer, live: &mut Live, rng: &mut Rng, now: Instant, n: u64) {
    let p = peer(if rng.below(10) < 7 { 0 } else { rng.below(4) });
    match rng.below(9) {
        0..=2 => layer.handle_request(now, p, server_request("INVITE", n, &p)),
        3 => layer.handle_request(now, p, server_request("OPTIONS", n, &p)),
        4 | 5 if !live.server.is_empty() => {
            let (key, req) = live
                .server
                .swap_remove(rng.below(live.server.len() as u64) as usize);
            let code = [200, 486, 180][rng.below(3) as usize];
            let _ = layer.respond(now, &key, answer(&req, code));
            if code == 180 {
                live.server.push((key, req));
            }
        }
        6 => {
            let mut req = server_request("OPTIONS", n, &p);
            crate::sip::message::add_header(&mut req, "X-Client", "1");
            if let Ok(key) = layer.send_request(now, p, req.clone()) {
                live.client.push((key, req));
            }
        }
        7 if !live.client.is_empty() => {
            let (_, req) = live
                .client
                .swap_remove(rng.below(live.client.len() as u64) as usize);
            layer.handle_response(now, p, answer(&req, 200));
        }
        8 if rng.below(20) == 0 => layer.transport_error(now, peer(1 + rng.below(3))),
        _ => layer.handle_timeout(now),
    }
}

/// Every index equals what the transactions themselves say.
fn assert_consistent(layer: &TransactionLayer) {
    let by_key: HashMap<TxKey, TxId> = layer
        .txs
        .iter()
        .map(|(id, tx)| (tx.key.clone(), *id))
        .collect();
    assert_eq!(layer.by_key, by_key, "by_key");
    let mut by_peer: HashMap<Peer, BTreeSet<TxId>> = HashMap::new();
    for (id, tx) in &layer.txs {
        by_peer.entry(tx.peer).or_default().insert(*id);
    }
    assert_eq!(layer.by_peer, by_peer, "by_peer");
    let by_dialog: HashMap<DialogKey, TxId> = layer
        .txs
        .iter()
        .filter_map(|(id, tx)| tx.dialog.clone().map(|d| (d, *id)))
        .collect();
    assert_eq!(layer.by_dialog, by_dialog, "by_dialog");
    let mut counts = TxCounts {
        unmatched_responses: layer.counts.unmatched_responses,
        ..TxCounts::default()
    };
    for tx in layer.txs.values() {
        match (tx.key.role, tx.key.is_invite()) {
            (Role::Server, true) => counts.server_invite += 1,
            (Role::Server, false) => counts.server_non_invite += 1,
            (Role::Client, true) => counts.client_invite += 1,
            (Role::Client, false) => counts.client_non_invite += 1,
        }
    }
    assert_eq!(layer.counts, counts, "counts");
    let queued: HashSet<(Instant, TxId, Timer)> = layer
        .timers
        .entries()
        .map(|(at, &(id, t))| (at, id, t))
        .collect();
    for (id, tx) in &layer.txs {
        for timer in Timer::ALL {
            if let Some(at) = tx.timers.get(timer) {
                assert!(
                    queued.contains(&(at, *id, timer)),
                    "{timer:?} of {id} not queued"
                );
            }
        }
    }
}

#[test]
fn indexes_match_a_naive_recomputation_through_a_random_run() {
    for seed in [1, 7, 2026] {
        let mut layer = TransactionLayer::default();
        let (mut rng, mut live) = (Rng(seed), Live::default());
        let mut now = t0();
        for n in 0..3000 {
            now += ms(rng.below(40));
            step(&mut layer, &mut live, &mut rng, now, n);
            drain(&mut live, &mut layer);
            if n % 20 == 0 {
                assert_consistent(&layer);
            }
        }
        assert_consistent(&layer);
        assert!(
            layer.counts().server_invite > 100,
            "the run kept many alive"
        );
        assert!(layer.by_peer.get(&peer(0)).is_some_and(|s| s.len() > 100));
        // A server transaction without a final answer has no timer: the TU answers.
        for (key, req) in std::mem::take(&mut live.server) {
            let _ = layer.respond(now, &key, answer(&req, 486));
        }
        drain(&mut live, &mut layer);
        while let Some(at) = layer.poll_timeout() {
            layer.handle_timeout(at.max(now));
            now = at.max(now);
            drain(&mut live, &mut layer);
            if layer.txs.len() % 20 == 0 {
                assert_consistent(&layer);
            }
        }
        assert!(
            layer.txs.is_empty() && layer.by_peer.is_empty(),
            "seed {seed}"
        );
    }
}

#[test]
fn a_transport_error_ends_every_transaction_of_that_peer_only() {
    let mut layer = TransactionLayer::default();
    let (heavy, other) = (peer(0), peer(1));
    for n in 0..300 {
        let p = if n % 3 == 0 { other } else { heavy };
        layer.handle_request(t0(), p, server_request("INVITE", n, &p));
    }
    let _ = std::iter::from_fn(|| layer.poll_event()).count();
    layer.transport_error(t0(), other);
    let errors = std::iter::from_fn(|| layer.poll_event())
        .filter(|e| matches!(e, TxEvent::TransportError { .. }))
        .count();
    assert_eq!(errors, 100);
    assert_eq!(layer.counts().server_invite, 200);
    assert_eq!(layer.by_peer.get(&heavy).map(BTreeSet::len), Some(200));
    assert!(!layer.by_peer.contains_key(&other));
    assert_consistent(&layer);
}
