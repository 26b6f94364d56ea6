//! WebRTC operator legs (issue 11, media part) against a browser stand-in
//! built from webrtc-rs's `rtc` PeerConnection (a full ICE agent answering
//! `a=setup:active`, DTLS-SRTP), with the spandsp alarm unit on the other
//! side of the bridge.
//!
//! How the daemon knows the operator is a browser: the operator's REGISTER
//! (plain UDP here, until SIP over WebSocket lands) carries a Contact with
//! `;transport=ws`, as JsSIP and SIP.js register; `call::browser` makes
//! every INVITE to such a contact a WebRTC offer (ICE-lite, fingerprint,
//! `a=setup:actpass`, rtcp-mux, PCMA/PCMU, telephone-event).
//!
//! Tones as in [`crate::operators`]: the unit plays 1000 Hz, the operator
//! 700 Hz; "heard" is a 500 ms Goertzel window at or above -30 dBm0.

#[path = "webrtc/browser.rs"]
pub(crate) mod browser;
#[path = "webrtc/sip_ua.rs"]
pub(crate) mod sip_ua;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::operators::{
    assert_unit_voice, centre, device_uri, spawn_unit, wait_call, wait_operator_state, Plan,
    HEARD_DBM0, NOWHERE, OPERATOR_HZ, RING_WAIT, SHORT, UNIT_A, UNIT_HZ,
};
use browser::Browser;
use sip_ua::SipUa;

pub(crate) fn daemon_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The end to end path with a browser operator: op1 registers as a browser,
/// the unit's 101 is kissed off and rings op1 with a WebRTC offer; op1
/// answers through the rtc PeerConnection; ICE, DTLS and SRTP come up; the
/// browser hears the unit's 1000 Hz, the unit hears the browser's 700 Hz
/// and the digit 5 the browser sends as RFC 4733; op1 hangs up.
#[test]
fn webrtc_operator_hears_and_is_heard_by_the_unit() {
    browser_call("webrtc_operator_hears_and_is_heard_by_the_unit", false);
}

/// The same with a browser that answers `a=setup:passive`: we are the DTLS
/// client and send the ClientHello once its check reached us.
#[test]
fn webrtc_passive_browser_makes_us_the_dtls_client() {
    browser_call("webrtc_passive_browser_makes_us_the_dtls_client", true);
}

fn browser_call(test: &str, dtls_server: bool) {
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let mut ua = SipUa::new("op1", daemon_addr(d.sip_port));
    assert_eq!(ua.register("secret-op1"), 200, "REGISTER as a browser");
    wait_operator_state(&d, "op1", "available", SHORT);
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let invite = ua.wait_invite(RING_WAIT).expect("op1's browser never rang");
    let offer = invite.body().to_owned();
    for line in [
        "UDP/TLS/RTP/SAVPF",
        "a=ice-lite",
        "a=setup:actpass",
        "a=rtcp-mux",
        "a=fingerprint:sha-256 ",
        "telephone-event/8000",
    ] {
        assert!(offer.contains(line), "offer lacks {line}:\n{offer}");
    }
    ua.respond(&invite, 180, None);
    let clicked = Instant::now();
    let (mut browser, answer) =
        Browser::answer(&offer, OPERATOR_HZ as f32, UNIT_HZ as f32, dtls_server);
    let setup = if dtls_server { "passive" } else { "active" };
    assert!(answer.contains(&format!("a=setup:{setup}")), "{answer}");
    ua.respond(&invite, 200, Some(&answer));
    assert!(
        browser.run_until(SHORT, |b| b.connected_at.is_some() || b.failed),
        "ICE/DTLS never connected"
    );
    assert!(!browser.failed, "the browser's connection failed");
    let connected = browser.connected_at.map(|t| t - clicked);
    wait_call(&d, SHORT, "connected to op1", |c| {
        c["state"] == "connected" && c["operator"] == "op1"
    });
    let heard = browser.run_until(SHORT, |b| b.windows_above(HEARD_DBM0 as f32) >= 3);
    let first_audio = Instant::now() - clicked;
    assert!(
        heard,
        "the browser did not hear {UNIT_HZ} Hz: {:?}",
        browser.levels
    );
    browser.send_digit(5);
    browser.run_until(Duration::from_secs(3), |_| false);
    ua.bye(&invite);
    browser.run_until(Duration::from_millis(500), |_| false);
    browser.close();
    let unit = unit.wait();
    eprintln!(
        "{test}: 200 OK -> connected {connected:?}, -> 3 windows of the unit's tone {first_audio:?}, packets in {}",
        browser.packets_in
    );
    assert_unit_voice(&unit, true);
    let connected = d.metric("alarmgate_webrtc_legs_connected_total", &[]);
    assert_eq!(
        connected,
        Some(1.0),
        "the daemon's count of connected WebRTC legs"
    );
    let voice = &unit.json["voice"];
    let digits = [
        voice["digits_rfc4733"].as_str(),
        voice["digits_inband"].as_str(),
    ];
    assert!(
        digits.iter().any(|d| d.unwrap_or_default().contains('5')),
        "the unit did not get the browser's digit: {voice}"
    );
}

/// A browser that answers without a fingerprint: the daemon refuses the
/// answer (ACK, then BYE), the operator is offered the next call as before,
/// and the node keeps serving.
#[test]
fn webrtc_answer_without_fingerprint_is_refused_and_the_node_stays_up() {
    let test = "webrtc_answer_without_fingerprint_is_refused_and_the_node_stays_up";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let mut ua = SipUa::new("op1", daemon_addr(d.sip_port));
    assert_eq!(ua.register("secret-op1"), 200);
    wait_operator_state(&d, "op1", "available", SHORT);
    let _unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &[]);
    let invite = ua.wait_invite(RING_WAIT).expect("op1's browser never rang");
    let (_browser, answer) = Browser::answer(invite.body(), 700.0, 1000.0, false);
    let stripped: String = answer
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    ua.respond(&invite, 200, Some(&stripped));
    let end = Instant::now() + SHORT;
    let mut bye = false;
    while let Some(msg) = ua.recv(end.saturating_duration_since(Instant::now())) {
        if msg.start().starts_with("BYE ") {
            ua.respond(&msg, 200, None);
            bye = true;
            break;
        }
    }
    assert!(bye, "the daemon did not hang up a leg it cannot secure");
    let (status, _) = crate::operators::api(&d, "GET", "/api/v1/operators/op1", None);
    assert_eq!(status, 200, "the node stopped serving");
}
