//! SIP over WebSocket against a browser-like client (issue 11, first part):
//! `tests/peers/ws_operator.py` (Python `websockets`, JsSIP's messages)
//! registers with digest over `ws://`, is rung for a spandsp unit's alarm
//! over that same socket (its Contact is a `.invalid` host), and closes the
//! socket while ringing, as a closed tab does: the call must be offered to
//! a pjsua2 operator within 2 s (the ring timeout is 30 s). And bad input
//! (`tests/peers/ws_probe.py`): an upgrade without the `sip` subprotocol,
//! broken SIP text, a binary frame of garbage, a 1 MB frame, an upgrade
//! never finished, an INVITE whose WebRTC offer has no fingerprint or no
//! ICE credentials: each gets its clear answer and the node keeps serving.

use crate::harness::{free_port, need_pjsua2, need_spandsp, poll_until, Config, Daemon, PyPeer};
use crate::operators::{
    assert_unit_voice, event_time, operator, phone_hanging_up_after, queue_keys, spawn_unit,
    strings, wait_operator_state, Plan, NOWHERE, REALM, RING_WAIT, UNIT_A,
};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// How soon a call ringing in a closed tab must ring the next operator.
const RE_OFFER_WITHIN_S: f64 = 2.0;

/// `cfg` with a `ws` listener on a free loopback port: (config, port).
fn with_ws_listener(mut cfg: Config) -> (Config, u16) {
    let port = free_port();
    cfg.extra.push_str(&format!(
        "\n[[sip.listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:{port}\"\n"
    ));
    (cfg, port)
}

/// The JSON lines a peer has printed so far.
fn events(peer: &PyPeer) -> Vec<Value> {
    peer.output()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits for the peer's event `ev`; panics with its output if it never comes.
fn wait_event(peer: &PyPeer, ev: &str, timeout: Duration) -> Value {
    let mut found = None;
    poll_until(timeout, || {
        found = events(peer).into_iter().find(|e| e["ev"] == ev);
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no {ev} from the peer:\n{}", peer.output()))
}

/// The browser-like operator `user`, doing `on_invite` (close, ring).
fn browser(dir: &Path, port: u16, user: &str, on_invite: &str) -> PyPeer {
    let url = format!("ws://127.0.0.1:{port}");
    let password = format!("secret-{user}");
    let args = strings(&[
        "--url",
        &url,
        "--user",
        user,
        "--password",
        &password,
        "--realm",
        REALM,
        "--on-invite",
        on_invite,
    ]);
    PyPeer::spawn("ws_operator.py", dir, &args, Duration::from_secs(90))
}

/// A browser operator registers over ws, rings for an alarm over the same
/// socket, and closes it while ringing: op2 (pjsua2) rings within 2 s and
/// answers; op1 left the rotation with its socket.
#[test]
fn ws_browser_closed_while_ringing_re_offers_within_2_s() {
    let test = "ws_browser_closed_while_ringing_re_offers_within_2_s";
    if !need_spandsp(test) {
        return;
    }
    let mut plan = Plan::new(&["op1", "op2"], NOWHERE);
    plan.queue = queue_keys(30, 0);
    let (cfg, ws_port) = with_ws_listener(plan.config());
    let Some(d) = Daemon::start(test, &cfg) else {
        return;
    };
    let op1 = browser(&d.dir.path, ws_port, "op1", "close");
    let registered = wait_event(&op1, "registered", Duration::from_secs(15));
    let via = registered["via"].as_str().unwrap_or_default();
    assert!(via.starts_with("SIP/2.0/WS "), "{registered}");
    assert!(via.contains("received=127.0.0.1"), "{registered}");
    wait_operator_state(&d, "op1", "available", Duration::from_secs(10));
    let op2 = phone_hanging_up_after(&d, "op2", 3000);
    let unit = spawn_unit(
        &d.dir.path,
        &crate::operators::device_uri(&d),
        UNIT_A,
        &["--wait-bye"],
    );

    let incoming = wait_event(&op1, "incoming", RING_WAIT);
    let ruri = incoming["ruri"].as_str().unwrap_or_default().to_lowercase();
    assert!(ruri.ends_with(".invalid;transport=ws"), "{incoming}");
    let via = incoming["via"].as_str().unwrap_or_default();
    assert!(via.starts_with("SIP/2.0/WS "), "{incoming}");
    let closed = wait_event(&op1, "closed", Duration::from_secs(5));
    let second = op2
        .wait(RING_WAIT, |e| e["ev"] == "incoming")
        .expect("op2 never rang");
    let gap = event_time(&second) - event_time(&closed);
    assert!(
        gap < RE_OFFER_WITHIN_S,
        "op2 rang {gap:.2} s after the browser's socket closed (ring timeout 30 s)"
    );
    let op1_now = operator(&d, "op1");
    assert_ne!(op1_now["state"], "ringing", "{op1_now}");
    assert!(op2.wait_state(1, "CONFIRMED", RING_WAIT).is_some());
    assert_unit_voice(&unit.wait(), true);
}

/// A browser over ws answering the WebRTC offer without a fingerprint
/// (op1) or without ICE credentials (op2): the daemon takes the 200 (ACK)
/// and hangs that leg up (BYE) instead of bridging media it cannot
/// secure; the unit's call stays queued and the node keeps serving.
#[test]
fn ws_browser_answers_without_fingerprint_or_ice_are_hung_up() {
    let test = "ws_browser_answers_without_fingerprint_or_ice_are_hung_up";
    if !need_spandsp(test) {
        return;
    }
    let mut plan = Plan::new(&["op1", "op2"], NOWHERE);
    plan.queue = queue_keys(30, 0);
    let (cfg, ws_port) = with_ws_listener(plan.config());
    let Some(mut d) = Daemon::start(test, &cfg) else {
        return;
    };
    let op1 = browser(&d.dir.path, ws_port, "op1", "answer-no-fingerprint");
    let op2 = browser(&d.dir.path, ws_port, "op2", "answer-no-ice");
    for (id, peer) in [("op1", &op1), ("op2", &op2)] {
        wait_event(peer, "registered", Duration::from_secs(15));
        wait_operator_state(&d, id, "available", Duration::from_secs(10));
    }
    let _unit = spawn_unit(
        &d.dir.path,
        &crate::operators::device_uri(&d),
        UNIT_A,
        &["--wait-bye"],
    );
    for peer in [&op1, &op2] {
        wait_event(peer, "incoming", RING_WAIT);
        wait_event(peer, "ack", Duration::from_secs(10));
        wait_event(peer, "bye", Duration::from_secs(10));
    }
    let (status, _) = crate::operators::api(&d, "GET", "/api/v1/queues", None);
    assert_eq!(status, 200, "the node stopped serving");
    assert!(d.alive(), "the daemon died");
}

/// Bad input over ws: each case's answer, and the node still serving.
#[test]
fn ws_bad_input_gets_clear_errors_and_the_node_stays_up() {
    let test = "ws_bad_input_gets_clear_errors_and_the_node_stays_up";
    if !need_pjsua2(test) {
        return; // the Python of the peers (with websockets) is that of pjsua2
    }
    let base = Config {
        extra: "[sip.connections]\nfirst_message_s = 2\n".into(),
        ..Config::default()
    };
    let (cfg, port) = with_ws_listener(base);
    let Some(mut d) = Daemon::start(test, &cfg) else {
        return;
    };
    let url = format!("ws://127.0.0.1:{port}");
    let mut args = strings(&["--url", &url]);
    for case in [
        "no-subprotocol",
        "malformed",
        "malformed-400",
        "binary-garbage",
        "big",
        "no-upgrade",
        "offer-no-fingerprint",
        "offer-no-ice",
        "options",
    ] {
        args.extend(strings(&["--case", case]));
    }
    let probe = PyPeer::spawn("ws_probe.py", &d.dir.path, &args, Duration::from_secs(90)).wait();
    let all: Vec<Value> = probe
        .output
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let case = |ev: &str| {
        all.iter()
            .find(|e| e["ev"] == ev)
            .cloned()
            .unwrap_or_else(|| panic!("no {ev} in the probe's output:\n{}", probe.output))
    };
    let refused = case("no-subprotocol");
    assert_eq!(refused["status"], 400, "{refused}");
    let body = refused["body"].as_str().unwrap_or_default();
    assert!(body.contains("'sip' subprotocol"), "{refused}");
    let malformed = case("malformed");
    let answer = malformed["answer"].as_str();
    assert!(
        answer.is_none_or(|a| a.starts_with("SIP/2.0 400")),
        "{malformed}"
    );
    let then = malformed["then_options"].as_str().unwrap_or_default();
    assert!(
        then.starts_with("SIP/2.0 200"),
        "the socket serves on: {malformed}"
    );
    let bad_cseq = case("malformed-400");
    let answer = bad_cseq["answer"].as_str().unwrap_or_default();
    assert!(answer.starts_with("SIP/2.0 400"), "{bad_cseq}");
    assert_eq!(case("binary-garbage")["close"], 1003);
    assert_eq!(case("big")["close"], 1009);
    let stalled = case("no-upgrade");
    let after = stalled["after_s"].as_f64().unwrap_or(-1.0);
    assert!(
        (1.0..8.0).contains(&after),
        "an unfinished upgrade must close at first_message_s (2 s): {stalled}"
    );
    for (ev, missing) in [
        ("offer-no-fingerprint", "a=fingerprint"),
        ("offer-no-ice", "ICE credentials"),
    ] {
        let refused = case(ev);
        assert_eq!(
            refused["answer"], "SIP/2.0 488 Not Acceptable Here",
            "{refused}"
        );
        let warning = refused["warning"].as_str().unwrap_or_default();
        assert!(
            warning.starts_with("399 ") && warning.contains(missing),
            "{refused}"
        );
        assert_eq!(refused["then_options"], "SIP/2.0 200 OK", "{refused}");
    }
    let options = case("options");
    assert_eq!(options["answer"], "SIP/2.0 200 OK", "{options}");
    assert!(d.alive(), "the daemon died");
}
