//! A browser operator (SIP over WebSocket, JsSIP's messages) in simulated
//! time: it registers over its flow, is rung over that same flow (its
//! Contact is a `.invalid` host), and when the flow closes its binding goes
//! and the ringing call is offered to the next operator at that instant,
//! not at the ring timeout. The harness is in `tests`.

use super::tests::*;
use super::*;
use crate::api::{OperatorState as Api, RequestedState};
use crate::call::EndReason;
use crate::sip::digest::respond;
use crate::sip::types::{ConnId, Transport};

/// The browser's TCP source, as the WS listener saw it.
const BROWSER: &str = "127.0.0.1:40001";
/// JsSIP's Contact: a random user at a random `.invalid` host.
const CONTACT: &str = "sip:k3j2q9@df7jal23ls0d.invalid;transport=ws";

fn ws_peer(conn: u64) -> Peer {
    Peer {
        transport: Transport::Ws,
        addr: BROWSER.parse().expect("address"),
        conn: Some(ConnId(conn)),
    }
}

/// A REGISTER as JsSIP 3.x writes it (outbound, `reg-id`, instance id).
fn jssip_register(user: &str, cseq: u32, auth: Option<&str>) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:{REALM} SIP/2.0\r\n\
Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK{cseq}77;rport\r\n\
Max-Forwards: 69\r\nTo: <sip:{user}@{REALM}>\r\nFrom: <sip:{user}@{REALM}>;tag=jq1\r\n\
Call-ID: reg-ws-{user}\r\nCSeq: {cseq} REGISTER\r\n\
Contact: <{CONTACT}>;+sip.ice;reg-id=1;+sip.instance=\"<urn:uuid:1d9ef0f8-4b4c>\";expires=600\r\n\
Expires: 600\r\nAllow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY\r\n\
Supported: path,gruu,outbound\r\nUser-Agent: JsSIP 3.13.0\r\n{auth}Content-Length: 0\r\n\r\n"
    )
}

/// The browser of `user` registers over flow `conn`: 401, digest, 200.
/// JsSIP keeps its Call-ID across reconnections: CSeq `2 * conn - 1`, then
/// `2 * conn`.
fn register_over_ws(s: &mut Sim, user: &str, conn: u64) {
    let from = ws_peer(conn);
    let cseq = u32::try_from(2 * conn - 1).expect("small");
    let first = jssip_register(user, cseq, None);
    s.sb.handle_message(s.now, from, first.as_bytes());
    let out: Vec<Transmit> = std::iter::from_fn(|| s.sb.poll_transmit()).collect();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].peer, from, "the 401 goes back over the flow");
    let text = String::from_utf8_lossy(&out[0].data).into_owned();
    assert!(text.starts_with("SIP/2.0 401"), "{text}");
    let challenge = text
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate:") && l.contains("MD5"))
        .map(|l| l["WWW-Authenticate:".len()..].trim().to_string())
        .expect("an MD5 challenge");
    let uri = format!("sip:{REALM}");
    let auth = respond(
        &challenge,
        "REGISTER",
        &uri,
        user,
        &format!("{user}-pw"),
        "ab",
        1,
    );
    let register = jssip_register(user, cseq + 1, Some(&auth.expect("answerable")));
    s.sb.handle_message(s.now, from, register.as_bytes());
    let out: Vec<Transmit> = std::iter::from_fn(|| s.sb.poll_transmit()).collect();
    let text = String::from_utf8_lossy(&out[0].data).into_owned();
    assert!(text.starts_with("SIP/2.0 200 OK"), "{text}");
    assert!(
        header(&text, "Via").contains("received=127.0.0.1") && text.contains("rport=40001"),
        "{text}"
    );
}

/// op1 is a browser over flow 1, available; a device call rings it there.
/// Returns the device call and our INVITE's text.
fn ringing_in_the_browser(s: &mut Sim) -> (CallHandle, String) {
    register_over_ws(s, "op1", 1);
    assert!(s.reachable("op1"));
    assert_eq!(
        s.set_state("op1", RequestedState::Available),
        Ok(Api::Available)
    );
    let (device, _) = s.device_call("dev-ws@unit");
    s.sb.queue(s.now, device, CallClass::Emergency, emergency());
    let out: Vec<Transmit> = std::iter::from_fn(|| s.sb.poll_transmit()).collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].peer, ws_peer(1), "over the browser's own flow");
    let invite = String::from_utf8_lossy(&out[0].data).into_owned();
    // URI parameters compare case-insensitively (RFC 3261 §19.1.4): the
    // parser writes the transport back as `WS`.
    let first_line = invite.lines().next().unwrap_or_default().to_lowercase();
    assert_eq!(first_line, format!("invite {CONTACT} sip/2.0"), "{invite}");
    assert!(
        header(&invite, "Via").starts_with("SIP/2.0/WS "),
        "{invite}"
    );
    assert!(
        header(&invite, "Contact").contains(";transport=ws>"),
        "{invite}"
    );
    s.sb.handle_message(s.now, ws_peer(1), reply(&invite, 180, "").as_bytes());
    assert_eq!(s.op_state("op1").0, Api::Ringing);
    (device, invite)
}

#[test]
fn a_closed_browser_flow_re_offers_the_ringing_call_at_once() {
    let mut s = Sim::new(plan(), None);
    let (_, _) = ringing_in_the_browser(&mut s);
    s.available("op2", OP2);
    assert!(s.sent().is_empty(), "op2 waits: the call rings op1");

    s.advance(secs(1));
    s.sb.handle_flow_closed(s.now, ws_peer(1));
    assert!(!s.reachable("op1"), "the binding went with the flow");
    let out = s.sent();
    let (to, invite2) = find(&out, "INVITE ");
    assert_eq!(to, OP2, "offered to the next operator at the same instant");
    assert!(invite2.contains("Call-ID:"));
    assert_ne!(s.op_state("op1").0, Api::Ringing);
    let recs = records(&s.outputs());
    assert!(recs
        .iter()
        .any(|(k, _, d)| *k == crate::routing::CALL_OFFERED && d["operator"] == "op2"));
}

#[test]
fn without_the_close_the_browser_rings_on_until_the_ring_timeout() {
    // What today's main did: the flow's end was ignored, the call rang a
    // browser that was gone until the queue's 15 s ring timeout.
    let mut s = Sim::new(plan(), None);
    ringing_in_the_browser(&mut s);
    s.available("op2", OP2);
    s.advance(secs(14));
    assert!(s.sent().iter().all(|(to, _)| to != OP2));
    assert!(s.reachable("op1"));
    s.advance(secs(2));
    assert!(s
        .sent()
        .iter()
        .any(|(to, m)| to == OP2 && m.starts_with("INVITE")));
}

#[test]
fn a_re_registration_over_a_new_flow_survives_the_old_flow_closing() {
    let mut s = Sim::new(plan(), None);
    register_over_ws(&mut s, "op1", 1);
    // JsSIP reconnects (a new socket) and registers again: same contact.
    register_over_ws(&mut s, "op1", 2);
    s.sb.handle_flow_closed(s.now, ws_peer(1));
    assert!(s.reachable("op1"), "the binding moved to flow 2");
    s.sb.handle_flow_closed(s.now, ws_peer(2));
    assert!(!s.reachable("op1"));
}

#[test]
fn a_closed_tcp_connection_keeps_its_bindings() {
    let mut s = Sim::new(plan(), None);
    register_over_ws(&mut s, "op2", 3);
    let tcp = Peer {
        transport: Transport::Tcp,
        ..ws_peer(3)
    };
    s.sb.handle_flow_closed(s.now, tcp);
    assert!(s.reachable("op2"), "TCP phones can be reached anew");
}

/// An INFO in the operator's dialog with `content_type` and `body`.
fn info(invite: &str, cseq: u32, content_type: &str, body: &str) -> String {
    let request = from_phone("INFO", invite, "df7jal23ls0d.invalid", cseq);
    let head = request.trim_end_matches("Content-Length: 0\r\n\r\n");
    format!(
        "{head}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn jssip_info_digits_reach_the_media_engine_as_the_unit_s_digits() {
    let mut s = Sim::new(plan(), None);
    let (device, invite) = ringing_in_the_browser(&mut s);
    let answer = reply(&invite, 200, &answer_sdp(&invite));
    s.sb.handle_message(s.now, ws_peer(1), answer.as_bytes());
    let ev = s.outputs();
    let (_, leg, _) = leg_started(&ev).expect("the leg's media starts");
    s.sent();

    let dtmf_relay = info(
        &invite,
        2,
        "application/dtmf-relay",
        "Signal=5\r\nDuration=160\r\n",
    );
    s.sb.handle_message(s.now, ws_peer(1), dtmf_relay.as_bytes());
    assert_eq!(lines(&s.sent()), vec!["SIP/2.0 200 OK"]);
    let digit = CallEvent::InfoDigit {
        call: leg,
        group: device,
        key: '5',
        duration_ms: 160,
    };
    assert_eq!(s.outputs(), vec![Output::Call(digit)]);

    let dtmf = info(&invite, 3, "application/dtmf", "#");
    s.sb.handle_message(s.now, ws_peer(1), dtmf.as_bytes());
    assert_eq!(lines(&s.sent()), vec!["SIP/2.0 200 OK"]);
    let keys: Vec<char> = s
        .outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Call(CallEvent::InfoDigit { key, .. }) => Some(key),
            _ => None,
        })
        .collect();
    assert_eq!(keys, ['#']);

    let bad = info(&invite, 4, "application/dtmf-relay", "Signal=hello\r\n");
    s.sb.handle_message(s.now, ws_peer(1), bad.as_bytes());
    assert_eq!(lines(&s.sent()), vec!["SIP/2.0 400 Bad DTMF Body"]);
    assert!(s.outputs().is_empty());

    let other = info(&invite, 5, "application/media_control+xml", "<x/>");
    s.sb.handle_message(s.now, ws_peer(1), other.as_bytes());
    assert_eq!(
        lines(&s.sent()),
        vec!["SIP/2.0 200 OK"],
        "other packages as before"
    );
}

#[test]
fn a_tab_closed_during_the_call_queues_the_citizen_again() {
    let mut s = Sim::new(plan(), None);
    let (device, invite) = ringing_in_the_browser(&mut s);
    let answer = reply(&invite, 200, &answer_sdp(&invite));
    s.sb.handle_message(s.now, ws_peer(1), answer.as_bytes());
    assert_eq!(s.op_state("op1").0, Api::OnCall);
    s.sent(); // the ACK
    s.available("op2", OP2);
    s.sent();
    s.outputs();

    s.advance(secs(5));
    s.sb.handle_flow_closed(s.now, ws_peer(1));
    let ev = s.outputs();
    assert!(
        end_reasons(&ev).contains(&EndReason::FlowClosed),
        "the browser's leg ended: {ev:?}"
    );
    assert!(
        !end_reasons(&ev).contains(&EndReason::BridgePeerHungUp),
        "the citizen is not hung up"
    );
    let out = s.sent();
    let (to, _) = find(&out, "INVITE ");
    assert_eq!(
        to, OP2,
        "the citizen's call rings the next operator at once"
    );
    assert!(s.sb.devices.contains_key(&device));
}
