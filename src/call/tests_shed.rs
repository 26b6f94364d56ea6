//! The overload screen in the call core: a shed INVITE gets a stateless 503
//! with Retry-After (no transaction kept), alarm trunks pass a lag that sheds
//! normal ones, and a call already accepted is never refused by later load.

use super::test_core::TestCore;
use super::*;
use crate::admission::{AccessList, AdmissionSettings, Priority, TrunkAcl};
use crate::clock::epoch;
use std::net::SocketAddr;

const ALARM_UNIT: &str = "127.0.0.2:5070";
const PLAIN_PHONE: &str = "127.0.0.3:5070";

fn core() -> TestCore {
    let trunk = |name: &str, net: &str, priority| TrunkAcl {
        name: name.into(),
        allow: vec![net.parse().unwrap()],
        priority,
    };
    let admission = Admission::new(AdmissionSettings {
        access: AccessList::new(vec![
            trunk("alarms", "127.0.0.2/32", Priority::Alarm),
            trunk("plain", "127.0.0.3/32", Priority::Normal),
        ]),
        ..AdmissionSettings::default()
    });
    TestCore::new(CallCore::new(CoreConfig::for_tests(), admission, None, 5))
}

fn invite(from: &str, call_id: &str) -> String {
    format!(
        "INVITE sip:112@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK{call_id}\r\n\
Max-Forwards: 70\r\nFrom: <sip:unit@{from}>;tag=u1\r\nTo: <sip:112@127.0.0.1>\r\nCall-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\nContact: <sip:unit@{from}>\r\nContent-Length: 0\r\n\r\n"
    )
}

fn send(c: &mut TestCore, from: &str, msg: &str) -> Vec<String> {
    let peer = Peer::udp(from.parse::<SocketAddr>().unwrap());
    c.handle_message(epoch(), peer, msg.as_bytes());
    std::iter::from_fn(|| c.poll_transmit())
        .map(|t| String::from_utf8_lossy(&t.data).into_owned())
        .collect()
}

fn codes(msgs: &[String]) -> Vec<&str> {
    msgs.iter().map(|m| m.get(8..11).unwrap_or("")).collect()
}

#[test]
fn lag_sheds_plain_calls_statelessly_and_alarms_pass() {
    let mut c = core();
    c.admission_mut()
        .observe_sip_lag(epoch(), Duration::from_millis(500));
    let out = send(&mut c, PLAIN_PHONE, &invite(PLAIN_PHONE, "p1"));
    assert_eq!(codes(&out), ["503"]);
    assert!(out[0].contains("Retry-After: 5\r\n"), "{}", out[0]);
    let tag = crate::call::shed_raw::overload_tag(b"p1", b"1 INVITE");
    assert!(out[0].contains(&format!(";tag={tag}\r\n")), "{}", out[0]);
    assert_eq!(c.ep.transaction_counts().server_invite, 0, "no state kept");
    // A retransmission gets the same answer; the ACK is dropped unanswered.
    assert_eq!(send(&mut c, PLAIN_PHONE, &invite(PLAIN_PHONE, "p1")), out);
    let ack = invite(PLAIN_PHONE, "p1")
        .replace("INVITE sip", "ACK sip")
        .replace("1 INVITE", "1 ACK")
        .replace(
            "To: <sip:112@127.0.0.1>",
            &format!("To: <sip:112@127.0.0.1>;tag={tag}"),
        );
    assert!(send(&mut c, PLAIN_PHONE, &ack).is_empty());
    let out = send(&mut c, ALARM_UNIT, &invite(ALARM_UNIT, "a1"));
    assert_eq!(codes(&out), ["100", "200"]);
    assert_eq!(c.active_calls(), 1);
}

#[test]
fn an_accepted_call_is_not_refused_by_later_load() {
    let mut c = core();
    assert_eq!(
        codes(&send(&mut c, ALARM_UNIT, &invite(ALARM_UNIT, "a2"))),
        ["100", "200"]
    );
    // Now everything is shed, and the unit retransmits its INVITE (our 200
    // was lost): the transaction answers, not the screen.
    c.admission_mut()
        .observe_media_lag(epoch(), Duration::from_secs(1));
    let again = send(&mut c, ALARM_UNIT, &invite(ALARM_UNIT, "a2"));
    assert!(!codes(&again).contains(&"503"), "{again:?}");
    let new = send(&mut c, ALARM_UNIT, &invite(ALARM_UNIT, "a3"));
    assert_eq!(codes(&new), ["503"]);
    assert_eq!(c.active_calls(), 1);
}

#[test]
fn the_port_range_caps_the_limit_and_its_alarm_reserve() {
    assert_eq!(super::shed::port_capacity((40000, 40009)), 5);
    assert_eq!(super::shed::port_capacity((40001, 40010)), 5);
    assert_eq!(super::shed::port_capacity((40000, 40000)), 1);
    // for_tests has 40000-40010: 6 calls; normal ones may use 80 % (4).
    let mut c = core();
    for n in 0..4 {
        let out = send(&mut c, PLAIN_PHONE, &invite(PLAIN_PHONE, &format!("r{n}")));
        assert_eq!(codes(&out)[..2], ["100", "200"], "call {n}");
    }
    let out = send(&mut c, PLAIN_PHONE, &invite(PLAIN_PHONE, "r4"));
    assert_eq!(codes(&out), ["503"], "the last ports are kept for alarms");
    let out = send(&mut c, ALARM_UNIT, &invite(ALARM_UNIT, "a9"));
    assert_eq!(codes(&out)[..2], ["100", "200"]);
}

#[test]
fn the_full_path_gives_the_same_503_as_the_raw_one() {
    // An untrusted source takes the full path (its screening spends tokens).
    let mut c = core();
    c.admission_mut()
        .observe_media_lag(epoch(), Duration::from_secs(1));
    let stranger = "198.51.100.7:5070";
    let out = send(&mut c, stranger, &invite(stranger, "s1"));
    assert_eq!(codes(&out), ["503"]);
    let tag = crate::call::shed_raw::overload_tag(b"s1", b"1 INVITE");
    assert!(out[0].contains(&format!(";tag={tag}")), "{}", out[0]);
    assert!(out[0].contains("Retry-After: 5\r\n"), "{}", out[0]);
    assert_eq!(c.ep.transaction_counts().server_invite, 0, "no state kept");
}
