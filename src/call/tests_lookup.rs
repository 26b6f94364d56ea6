//! The call table's counts and the UAC's ACK index against a naive
//! recomputation, through a seeded random mix of incoming calls, operator
//! legs, hang-ups from either side and time passing.

use super::test_core::TestCore;
use super::tests_uac::{op, pcmu_answer, reply, sent};
use super::*;
use crate::clock::epoch;
use crate::sip::sdp;
use crate::sip::types::Tag;
use std::net::SocketAddr;

const OFFER: &str = "v=0\r\no=unit 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";

fn unit() -> Peer {
    Peer::udp("127.0.0.1:5070".parse::<SocketAddr>().expect("address"))
}

fn from_unit(method: &str, n: u64, to_tag: &str, cseq: u32, body: &str) -> Vec<u8> {
    let to_tag = if to_tag.is_empty() {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:112@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{method}{n}\r\n\
Max-Forwards: 70\r\nFrom: <sip:unit@127.0.0.1>;tag=u{n}\r\nTo: <sip:112@127.0.0.1>{to_tag}\r\n\
Call-ID: in{n}\r\nCSeq: {cseq} {method}\r\nContact: <sip:unit@127.0.0.1:5070>\r\n{ct}\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn to_tag(response: &str) -> String {
    let to = response.lines().find(|l| l.starts_with("To:"));
    to.and_then(|l| l.split("tag=").nth(1))
        .unwrap_or_default()
        .trim()
        .to_string()
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Incoming calls (number, our To tag) and answered legs (handle, our INVITE).
#[derive(Default)]
struct Live {
    incoming: Vec<(u64, String)>,
    legs: Vec<(CallHandle, String)>,
}

fn step(c: &mut TestCore, live: &mut Live, rng: &mut Rng, now: Instant, n: u64) {
    match rng.below(6) {
        0 | 1 => {
            c.handle_message(now, unit(), &from_unit("INVITE", n, "", 1, OFFER));
            let out = sent(c);
            if let Some(ok) = out.iter().find(|m| m.starts_with("SIP/2.0 200")) {
                c.handle_message(now, unit(), &from_unit("ACK", n, &to_tag(ok), 1, ""));
                live.incoming.push((n, to_tag(ok)));
            }
        }
        2 if !live.incoming.is_empty() => {
            let i = rng.below(live.incoming.len() as u64) as usize;
            let (k, tag) = live.incoming.swap_remove(i);
            c.handle_message(now, unit(), &from_unit("BYE", k, &tag, 2, ""));
        }
        3 => {
            let leg = originate_answered(c, now);
            live.legs.extend(leg);
        }
        4 if !live.legs.is_empty() => {
            let i = rng.below(live.legs.len() as u64) as usize;
            let (leg, _) = live.legs.swap_remove(i);
            c.cancel_leg(now, leg);
        }
        _ => c.handle_timeout(now),
    }
    sent(c);
    while c.poll_event().is_some() {}
}

fn originate_answered(c: &mut TestCore, now: Instant) -> Option<(CallHandle, String)> {
    let leg = c
        .originate(
            now,
            Originate {
                parent: None,
                request_uri: "sip:op1@127.0.0.1:5080".into(),
                to: "sip:op1@127.0.0.1:5080".into(),
                from_user: "4570000112".into(),
                peer: op(),
                tenant: "demo".into(),
                codecs: vec![sdp::Codec::Pcma, sdp::Codec::Pcmu],
            },
        )
        .ok()?;
    let invite = sent(c).into_iter().next()?;
    c.handle_message(now, op(), &reply(&invite, 200, &pcmu_answer(&invite)));
    Some((leg, invite))
}

fn assert_consistent(c: &CallCore) {
    let incoming = c.calls.values().filter(|x| x.leg.is_none()).count();
    assert_eq!(c.incoming_calls(), incoming, "incoming calls");
    let answered = c.calls.values().filter(|x| x.leg.is_some()).count();
    assert_eq!(c.outgoing_legs(), c.uac.legs.len() + answered, "legs");
    for key in c.uac.acks.keys() {
        assert!(
            c.uac.invites.contains_key(key),
            "an ACK outlived its INVITE"
        );
    }
}

#[test]
fn call_counts_and_acks_match_the_tables_through_a_random_run() {
    let mut config = CoreConfig::for_tests();
    config.rtp_ports = (40000, 49998);
    let admission = Admission::for_tests(&["127.0.0.0/8"], 10_000, 0);
    let mut c = TestCore::new(CallCore::new(config, admission, None, 5));
    let (mut rng, mut live, mut now) = (Rng(99), Live::default(), epoch());
    for n in 0..1500 {
        now += Duration::from_millis(rng.below(100));
        step(&mut c, &mut live, &mut rng, now, n);
        assert_consistent(&c);
    }
    assert!(c.incoming_calls() > 20 && c.calls.answered_legs() > 10);
    assert!(!c.uac.acks.is_empty(), "recent legs' ACKs are kept");
    c.begin_drain(now, Duration::ZERO);
    for _ in 0..200 {
        now += Duration::from_secs(1);
        c.handle_timeout(now);
        sent(&mut c);
        while c.poll_event().is_some() {}
        assert_consistent(&c);
    }
    assert_eq!((c.incoming_calls(), c.outgoing_legs()), (0, 0));
    assert!(c.uac.acks.is_empty() && c.uac.invites.is_empty());
}

#[test]
fn a_forked_invites_acks_are_kept_per_to_tag_and_dropped_together() {
    let mut c = super::tests_uac::core_with(CoreConfig::for_tests());
    let (_, invite, _) = super::tests_uac::answered(&mut c);
    sent(&mut c);
    let key = c.uac.acks.keys().next().cloned().expect("the ACK is kept");
    let tags: Vec<Option<Tag>> = c.uac.acks[&key].keys().cloned().collect();
    assert_eq!(tags, vec![Some(Tag::new("op1"))]);
    // The 2xx retransmitted until Timer M: the same ACK each time, then gone.
    c.handle_message(
        epoch() + Duration::from_secs(1),
        op(),
        &reply(&invite, 200, &pcmu_answer(&invite)),
    );
    assert_eq!(sent(&mut c).len(), 1);
    c.handle_timeout(epoch() + Duration::from_secs(33));
    assert!(c.uac.acks.is_empty());
}
