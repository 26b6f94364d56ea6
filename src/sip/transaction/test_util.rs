//! Shared helpers for the transaction tests: message builders, draining,
//! and stepping simulated time deadline by deadline.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::message::{parse, response_to, set_to_tag};
use crate::sip::types::{ConnId, Transport};

/// Transmissions by offset from [`t0`].
pub(crate) type Sent = Vec<(Duration, String)>;

pub(crate) fn t0() -> Instant {
    crate::clock::epoch()
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn udp() -> Peer {
    Peer::udp("192.0.2.10:5060".parse::<SocketAddr>().unwrap())
}

pub(crate) fn tcp() -> Peer {
    Peer {
        transport: Transport::Tcp,
        addr: "192.0.2.11:40001".parse().unwrap(),
        conn: Some(ConnId(1)),
    }
}

/// A request; `branch` is the Via branch parameter (empty for RFC 2543 style).
pub(crate) fn request(method: &str, branch: &str, cseq_method: &str, to_tag: &str) -> Request {
    let branch = if branch.is_empty() {
        String::new()
    } else {
        format!(";branch={branch}")
    };
    let to_tag = if to_tag.is_empty() {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    let text = format!(
        "{method} sip:112@alarm.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060{branch}\r\n\
         From: <sip:unit7@192.0.2.10>;tag=from1\r\nTo: <sip:112@alarm.example>{to_tag}\r\n\
         Call-ID: call-1@192.0.2.10\r\nCSeq: 1 {cseq_method}\r\nMax-Forwards: 70\r\n\
         Contact: <sip:unit7@192.0.2.10>\r\nContent-Length: 0\r\n\r\n"
    );
    match parse(text.as_bytes()).unwrap() {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("not a request"),
    }
}

pub(crate) fn invite(branch: &str) -> Request {
    request("INVITE", branch, "INVITE", "")
}

/// A response to `req` with a To tag (unless 100).
pub(crate) fn reply(req: &Request, code: u16) -> Response {
    let mut resp = response_to(req, code, None);
    if code > 100 {
        set_to_tag(&mut resp, &crate::sip::types::Tag::new("tu-tag"));
    }
    resp
}

pub(crate) fn transmits(layer: &mut TransactionLayer) -> Vec<Transmit> {
    std::iter::from_fn(|| layer.poll_transmit()).collect()
}

pub(crate) fn events(layer: &mut TransactionLayer) -> Vec<TxEvent> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

/// The start lines of what was sent.
pub(crate) fn lines(layer: &mut TransactionLayer) -> Vec<String> {
    transmits(layer).iter().map(first_line).collect()
}

pub(crate) fn first_line(t: &Transmit) -> String {
    let text = String::from_utf8_lossy(&t.data);
    text.lines().next().unwrap_or("").to_string()
}

/// Steps time from deadline to deadline up to `until`; returns when each
/// transmission (offset from [`t0`]) and each event happened.
pub(crate) fn run(
    layer: &mut TransactionLayer,
    until: Duration,
) -> (Sent, Vec<(Duration, TxEvent)>) {
    let (mut sent, mut evs) = (Vec::new(), Vec::new());
    while let Some(at) = layer.poll_timeout().filter(|at| *at <= t0() + until) {
        layer.handle_timeout(at);
        let offset = at - t0();
        sent.extend(lines(layer).into_iter().map(|l| (offset, l)));
        evs.extend(events(layer).into_iter().map(|e| (offset, e)));
    }
    (sent, evs)
}

/// Offsets (ms) of transmissions whose start line begins with `prefix`.
pub(crate) fn times(sent: &[(Duration, String)], prefix: &str) -> Vec<u128> {
    sent.iter()
        .filter(|(_, l)| l.starts_with(prefix))
        .map(|(d, _)| d.as_millis())
        .collect()
}

/// The key of the first Request event.
pub(crate) fn request_key(evs: &[TxEvent]) -> TxKey {
    evs.iter()
        .find_map(|e| match e {
            TxEvent::Request { key, .. } => Some(key.clone()),
            _ => None,
        })
        .expect("a Request event")
}
