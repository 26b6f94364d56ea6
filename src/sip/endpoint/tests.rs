//! The endpoint alone: what it answers itself and what it routes, in
//! simulated time, from SIP text.

use super::*;
use crate::clock::epoch;
use crate::sip::transaction::TxEvent;
use std::net::SocketAddr;

/// A screen that lets everything through.
struct Open;

impl Screen for Open {
    fn screen_raw(&mut self, _: Instant, _: Peer, _: &[u8]) -> Option<Option<Transmit>> {
        None
    }
    fn screen_invite(&mut self, _: Instant, _: Peer, _: &Request) -> Option<Response> {
        None
    }
}

fn peer() -> Peer {
    Peer::udp("127.0.0.1:5070".parse::<SocketAddr>().expect("address"))
}

fn request(method: &str, branch: &str, to_tag: &str) -> String {
    format!(
        "{method} sip:112@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
Max-Forwards: 70\r\nFrom: <sip:u@127.0.0.1>;tag=f1\r\nTo: <sip:112@127.0.0.1>{to_tag}\r\n\
Call-ID: ep1\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

fn first_lines(ep: &mut Endpoint) -> Vec<String> {
    std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| {
            String::from_utf8_lossy(&t.data)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn endpoint() -> Endpoint {
    Endpoint::new(TimerConfig::default(), "alarmgate-test", 3)
}

#[test]
fn register_and_message_are_routed_by_method_not_to_calls() {
    let mut ep = endpoint();
    ep.handle_message(
        epoch(),
        peer(),
        request("REGISTER", "z9hG4bKr1", "").as_bytes(),
        &mut Open,
    );
    ep.handle_message(
        epoch(),
        peer(),
        request("MESSAGE", "z9hG4bKm1", "").as_bytes(),
        &mut Open,
    );
    ep.handle_message(
        epoch(),
        peer(),
        request("BYE", "z9hG4bKb1", "").as_bytes(),
        &mut Open,
    );
    assert!(matches!(ep.poll_inbound(), Some(Inbound::Register { .. })));
    let Some(Inbound::Message { tx, request, .. }) = ep.poll_inbound() else {
        panic!("MESSAGE has its own arm")
    };
    assert!(matches!(
        ep.poll_inbound(),
        Some(Inbound::Call(TxEvent::Request { .. }))
    ));
    assert!(ep.poll_inbound().is_none());
    ep.reply_not_allowed(epoch(), &tx, &request);
    assert_eq!(first_lines(&mut ep), vec!["SIP/2.0 405 Method Not Allowed"]);
}

#[test]
fn options_and_unserved_methods_are_answered_here() {
    let mut ep = endpoint();
    ep.handle_message(
        epoch(),
        peer(),
        request("OPTIONS", "z9hG4bKo1", "").as_bytes(),
        &mut Open,
    );
    ep.handle_message(
        epoch(),
        peer(),
        request("SUBSCRIBE", "z9hG4bKs1", "").as_bytes(),
        &mut Open,
    );
    assert!(ep.poll_inbound().is_none(), "nothing for the users");
    assert_eq!(
        first_lines(&mut ep),
        vec!["SIP/2.0 200 OK", "SIP/2.0 405 Method Not Allowed"]
    );
}

#[test]
fn in_dialog_options_go_to_the_call_core() {
    let mut ep = endpoint();
    let req = request("OPTIONS", "z9hG4bKo2", ";tag=t1");
    ep.handle_message(epoch(), peer(), req.as_bytes(), &mut Open);
    assert!(matches!(ep.poll_inbound(), Some(Inbound::Call(_))));
    assert!(first_lines(&mut ep).is_empty());
}

#[test]
fn invalid_requests_are_answered_here_and_never_reach_a_user() {
    let mut ep = endpoint();
    let broken = request("INVITE", "z9hG4bKi1", "").replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia");
    ep.handle_message(epoch(), peer(), broken.as_bytes(), &mut Open);
    ep.handle_message(epoch(), peer(), b"\x00\x01 not sip", &mut Open);
    assert!(ep.poll_inbound().is_none());
    // The bad version is answered statelessly; the binary noise is dropped.
    assert_eq!(
        first_lines(&mut ep),
        vec!["SIP/2.0 505 Version Not Supported"]
    );
}
