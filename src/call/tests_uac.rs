//! Outgoing legs in simulated time: a scripted operator phone answers our
//! INVITE with bytes, and everything we send is read back from `poll_transmit`.

use super::test_core::TestCore;
use super::*;
use crate::clock::epoch;
use crate::sip::message::{Request, SipMessage};
use crate::sip::sdp::{self, Codec, LocalMedia, MediaPolicy};
use std::net::SocketAddr;

pub(super) const OP: &str = "127.0.0.1:5080";
pub(super) const DEVICE: CallHandle = CallHandle(900);

pub(super) fn core_with(config: CoreConfig) -> TestCore {
    let admission = Admission::for_tests(&["127.0.0.0/8"], 100, 0);
    TestCore::new(CallCore::new(config, admission, None, 7))
}

pub(super) fn op() -> Peer {
    Peer::udp(OP.parse::<SocketAddr>().expect("address"))
}

/// Every transmit, as text, drained.
pub(super) fn sent(core: &mut TestCore) -> Vec<String> {
    std::iter::from_fn(|| core.poll_transmit())
        .map(|t| String::from_utf8_lossy(&t.data).into_owned())
        .collect()
}

pub(super) fn first_lines(msgs: &[String]) -> Vec<String> {
    msgs.iter()
        .map(|m| m.lines().next().unwrap_or_default().to_string())
        .collect()
}

pub(super) fn events(core: &mut TestCore) -> Vec<CallEvent> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

/// The value of the first header `name` in a message's text.
pub(super) fn header<'a>(text: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}:");
    let line = text.lines().find(|l| l.starts_with(&prefix));
    line.map_or("", |l| l[prefix.len()..].trim())
}

pub(super) fn parse_request(text: &str) -> Request {
    match message::parse(text.as_bytes()) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

/// The far end's response to one of our requests, with its To tag `op1`.
pub(super) fn reply(request: &str, code: u16, body: &str) -> Vec<u8> {
    let req = parse_request(request);
    let mut resp = message::response_to(&req, code, None);
    if code > 100 {
        message::set_to_tag(&mut resp, &crate::sip::types::Tag::new("op1"));
    }
    if (200..300).contains(&code) && req.method == Method::Invite {
        message::add_header(&mut resp, "Contact", "<sip:op1@127.0.0.1:5080>");
    }
    if !body.is_empty() {
        message::set_body(&mut resp, "application/sdp", body.as_bytes().to_vec());
    }
    message::serialize(&SipMessage::Response(resp)).to_vec()
}

/// A phone that only does PCMU answers our offer.
pub(crate) fn pcmu_answer(invite: &str) -> String {
    let offer = invite.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let policy = MediaPolicy {
        codecs: vec![Codec::Pcmu],
        ptime_ms: 20,
    };
    let far = LocalMedia {
        addr: [127, 0, 0, 1].into(),
        port: 7078,
        session_id: 1,
        session_version: 1,
        username: "op".into(),
    };
    match sdp::answer(&sdp::parse(offer).expect("our offer parses"), &policy, far) {
        sdp::AnswerOutcome::Accepted(_, text) => text,
        other => panic!("{other:?}"),
    }
}

/// Calls the operator for `DEVICE`; returns the leg and our INVITE.
pub(super) fn call_op(c: &mut TestCore) -> (CallHandle, String) {
    let leg = c
        .originate(
            epoch(),
            Originate {
                parent: Some(DEVICE),
                request_uri: format!("sip:op1@{OP}"),
                to: format!("sip:op1@{OP}"),
                from_user: "4570000112".into(),
                peer: op(),
                tenant: "demo".into(),
                codecs: vec![Codec::Pcma, Codec::Pcmu],
            },
        )
        .expect("originate");
    let out = sent(c);
    assert_eq!(
        first_lines(&out),
        vec![format!("INVITE sip:op1@{OP} SIP/2.0")]
    );
    (leg, out[0].clone())
}

/// A request from the operator inside the leg's dialog.
pub(super) fn from_op(method: &str, invite: &str, cseq: u32, branch: &str, body: &str) -> Vec<u8> {
    let our_tag = header(invite, "From")
        .split("tag=")
        .nth(1)
        .unwrap_or_default();
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:4570000112@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {OP};branch={branch}\r\n\
Max-Forwards: 70\r\nFrom: <sip:op1@{OP}>;tag=op1\r\nTo: <sip:4570000112@127.0.0.1:5060>;tag={our_tag}\r\n\
Call-ID: {}\r\nCSeq: {cseq} {method}\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        header(invite, "Call-ID"),
        body.len()
    )
    .into_bytes()
}

/// Rings and answers the leg; returns it, our INVITE and the events of the answer.
pub(super) fn answered(c: &mut TestCore) -> (CallHandle, String, Vec<CallEvent>) {
    let (leg, invite) = call_op(c);
    c.handle_message(epoch(), op(), &reply(&invite, 180, ""));
    let answer = pcmu_answer(&invite);
    c.handle_message(epoch(), op(), &reply(&invite, 200, &answer));
    (leg, invite, events(c))
}

pub(super) fn ended(ev: &[CallEvent]) -> Vec<EndReason> {
    ev.iter()
        .filter_map(|e| match e {
            CallEvent::Ended { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

pub(super) fn failed(ev: &[CallEvent]) -> Vec<(LegFailure, Option<u16>)> {
    ev.iter()
        .filter_map(|e| match e {
            CallEvent::LegFailed {
                outcome, status, ..
            } => Some((*outcome, *status)),
            _ => None,
        })
        .collect()
}

/// The port of the first `m=audio` line (drawn at random from the pool).
pub(super) fn sdp_port(sdp: &str) -> u16 {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .expect("an m=audio line")
}

#[test]
fn our_invite_offers_pcma_pcmu_and_telephone_event_from_the_pool() {
    let mut c = core_with(CoreConfig::for_tests());
    let (_, invite) = call_op(&mut c);
    let port = sdp_port(&invite);
    assert!(
        (40000..=40010).contains(&port) && port.is_multiple_of(2),
        "{invite}"
    );
    assert!(
        invite.contains(&format!("m=audio {port} RTP/AVP 8 0 101\r\n")),
        "{invite}"
    );
    assert!(invite.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20"));
    assert!(invite.contains("c=IN IP4 127.0.0.1"));
    assert!(header(&invite, "Via").starts_with("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK"));
    assert_eq!(
        header(&invite, "Contact"),
        "<sip:4570000112@127.0.0.1:5060>"
    );
    assert!(header(&invite, "From").starts_with("<sip:4570000112@127.0.0.1:5060>;tag="));
    assert_eq!(header(&invite, "To"), format!("<sip:op1@{OP}>"));
    assert_eq!(header(&invite, "CSeq"), "1 INVITE");
    assert_eq!(c.outgoing_legs(), 1);
}

#[test]
fn ringing_then_answered_with_ack_and_media_in_the_parents_group() {
    let mut c = core_with(CoreConfig::for_tests());
    let (leg, invite) = call_op(&mut c);
    c.handle_message(epoch(), op(), &reply(&invite, 100, ""));
    assert!(events(&mut c).is_empty(), "100 means nothing");
    c.handle_message(epoch(), op(), &reply(&invite, 180, ""));
    assert_eq!(events(&mut c), vec![CallEvent::LegRinging { leg }]);
    let answer = pcmu_answer(&invite);
    c.handle_message(epoch(), op(), &reply(&invite, 200, &answer));
    let out = sent(&mut c);
    assert_eq!(first_lines(&out), vec![format!("ACK sip:op1@{OP} SIP/2.0")]);
    assert_eq!(header(&out[0], "CSeq"), "1 ACK");
    assert!(header(&out[0], "To").ends_with(";tag=op1"));
    let ev = events(&mut c);
    assert_eq!(ev[0], CallEvent::LegAnswered { leg });
    match &ev[1] {
        CallEvent::MediaStart {
            call,
            group,
            outgoing,
            media,
            local_port,
            ..
        } => {
            assert_eq!(
                (*call, *group, *outgoing, *local_port),
                (leg, DEVICE, true, sdp_port(&invite))
            );
            assert_eq!((media.codec, media.payload_type), (Codec::Pcmu, 0));
            assert_eq!(media.telephone_event_pt, Some(101));
            assert_eq!(media.remote, Some("127.0.0.1:7078".parse().unwrap()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ev.len(), 2);
    assert_eq!(c.active_calls(), 1);
    assert_eq!(c.incoming_calls(), 0);
}

#[test]
fn a_retransmitted_2xx_gets_the_ack_again_and_nothing_else() {
    let mut c = core_with(CoreConfig::for_tests());
    let (_, invite, _) = answered(&mut c);
    let first_ack = sent(&mut c);
    let answer = pcmu_answer(&invite);
    c.handle_message(
        epoch() + Duration::from_millis(500),
        op(),
        &reply(&invite, 200, &answer),
    );
    let again = sent(&mut c);
    assert_eq!(first_lines(&again), first_lines(&first_ack));
    assert_eq!(again, first_ack, "the same ACK, byte for byte");
    assert!(events(&mut c).is_empty());
}

fn final_failure(code: u16) -> (Vec<String>, Vec<CallEvent>, TestCore) {
    let mut c = core_with(CoreConfig::for_tests());
    let (_, invite) = call_op(&mut c);
    c.handle_message(epoch(), op(), &reply(&invite, 180, ""));
    events(&mut c);
    c.handle_message(
        epoch() + Duration::from_secs(2),
        op(),
        &reply(&invite, code, ""),
    );
    (sent(&mut c), events(&mut c), c)
}

#[test]
fn busy_decline_and_503_map_to_routing_outcomes() {
    let cases = [
        (486, LegFailure::Busy),
        (600, LegFailure::Busy),
        (603, LegFailure::Declined),
        (503, LegFailure::Unreachable),
        (480, LegFailure::Unreachable),
        (404, LegFailure::Rejected(404)),
        (407, LegFailure::Rejected(407)),
    ];
    for (code, outcome) in cases {
        let (out, ev, c) = final_failure(code);
        assert_eq!(
            first_lines(&out),
            vec![format!("ACK sip:op1@{OP} SIP/2.0")],
            "{code}"
        );
        assert_eq!(failed(&ev), vec![(outcome, Some(code))]);
        assert_eq!(ended(&ev), vec![EndReason::LegFailed]);
        assert!(
            matches!(ev.last(), Some(CallEvent::Ended { duration, .. }) if *duration == Duration::from_secs(2))
        );
        assert_eq!((c.ports.in_use(), c.outgoing_legs()), (0, 0));
    }
}

#[test]
fn no_answer_at_all_is_unreachable_after_timer_b() {
    let mut c = core_with(CoreConfig::for_tests());
    call_op(&mut c);
    c.handle_timeout(epoch() + Duration::from_millis(31_999));
    assert!(events(&mut c).is_empty());
    c.handle_timeout(epoch() + Duration::from_secs(32));
    let ev = events(&mut c);
    assert_eq!(failed(&ev), vec![(LegFailure::Unreachable, None)]);
    assert_eq!(ended(&ev), vec![EndReason::LegFailed]);
    assert_eq!(c.ports.in_use(), 0);
}

#[test]
fn a_transport_error_is_unreachable_at_once() {
    let mut c = core_with(CoreConfig::for_tests());
    call_op(&mut c);
    c.handle_send_failed(epoch(), op());
    let ev = events(&mut c);
    assert_eq!(failed(&ev), vec![(LegFailure::Unreachable, None)]);
    assert_eq!(ended(&ev), vec![EndReason::LegFailed]);
}
