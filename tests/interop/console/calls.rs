//! Calls through the browser phone: the console's, and a plain JsSIP page
//! standing for another centre's web softphone. Both need the daemon's
//! SIP over WebSocket listener and WebRTC operator legs. The JsSIP page
//! takes an alarm call with audio both ways; the console's full call is
//! ignored for now (it rings with the decoded alarm, its answer does not
//! reach connected yet).

use super::*;
use crate::harness::{journal_records, need_spandsp, PeerResult};
use crate::operators::{
    api, assert_unit_voice, device_uri, spawn_unit, wait_operator_state, OPERATOR_HZ, RING_WAIT,
    UNIT_A, UNIT_B, UNIT_HZ,
};
use std::time::Instant;

const SHORT: Duration = Duration::from_secs(10);

/// A centre with a loopback `ws` listener the console's phone registers at.
fn ws_centre(test: &str) -> Option<(Daemon, u16)> {
    if !need_spandsp(test) || !need_browser(test) {
        return None;
    }
    let ws = ws_port();
    let mut cfg = console_config(3600, ws);
    cfg.extra.push_str(&format!(
        "[[sip.listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:{ws}\"\n\n"
    ));
    Daemon::start(test, &cfg).map(|d| (d, ws))
}

/// `id` signed in with an oscillator microphone at `OPERATOR_HZ`, its phone registered.
fn console_with_phone(d: &Daemon, id: &str) -> Browser {
    let mut b = Browser::start(&d.dir.path);
    b.open(&console_url(d));
    b.cmd(json!({"cmd": "mic", "frequency": OPERATOR_HZ, "gain": 0.3}));
    sign_in(&mut b, d, id);
    let registered = b.wait_js(
        "window.alarmgateConsole.state().phone === 'registered'",
        Duration::from_secs(20),
    );
    assert!(
        registered,
        "{id}: the browser phone did not register: {}",
        b.state()
    );
    b
}

fn wait_ringing(b: &mut Browser, timeout: Duration) -> bool {
    b.wait_js(
        "window.alarmgateConsole.state().call === 'ringing'",
        timeout,
    )
}

/// The browser hears the unit: packets in, a level on the analyser.
fn assert_browser_hears(b: &mut Browser) {
    let heard = poll_until(SHORT, || {
        let a = b.cmd(json!({"cmd": "async_js", "script": "return await window.alarmgateConsole.receivedAudio();"}));
        a["packetsReceived"].as_u64().unwrap_or(0) > 25 && a["rms"].as_f64().unwrap_or(0.0) > 0.01
    });
    assert!(heard, "the browser did not hear the unit's {UNIT_HZ} Hz");
}

fn journalled_disposition(d: &Daemon, by: &str) -> Option<Value> {
    journal_records(&d.journal_dir)
        .into_iter()
        .find(|r| r["type"] == "alarmgate.call.disposition" && r["data"]["by"] == by)
}

#[test]
#[ignore = "after the ws + WebRTC merge the console rings and shows the decoded alarm, but answering (F2) does not reach connected yet: see the closing note of issue 11"]
fn console_full_call_through_the_browser_phone() {
    let test = "console_full_call_through_the_browser_phone";
    let Some((d, _ws)) = ws_centre(test) else {
        return;
    };
    let mut op1 = console_with_phone(&d, "op1");
    let mut op2 = console_with_phone(&d, "op2");
    op2.click("#btn-pause");
    wait_operator_state(&d, "op2", "paused", SHORT);
    wait_operator_state(&d, "op1", "available", SHORT);

    // The unit's 101 rings op1's console, which shows the decoded alarm.
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    assert!(
        wait_ringing(&mut op1, RING_WAIT),
        "op1's console never rang: {}",
        op1.state()
    );
    let shown = op1.wait_js(
        "document.getElementById('alarm-event').textContent.startsWith('101')",
        SHORT,
    );
    assert!(shown, "no decoded alarm: {}", op1.text("#call-card"));
    for (css, want) in [
        ("#alarm-account", "1234"),
        ("#call-caller", UNIT_A),
        ("#call-tenant", "demo"),
    ] {
        assert_eq!(op1.text(css), want, "{css}");
    }
    assert!(op1.text("#call-class").contains("EMERGENCY"));

    // Answer with the keyboard; tones both ways; a digit the unit receives.
    op1.keys("F2");
    assert!(op1.wait_js(
        "window.alarmgateConsole.state().call === 'connected'",
        SHORT
    ));
    assert_browser_hears(&mut op1);
    op1.click("[data-digit=\"5\"]");
    thread::sleep(Duration::from_secs(3));
    op1.keys("F4");
    let unit: PeerResult = unit.wait();
    assert_unit_voice(&unit, true);
    let voice = &unit.json["voice"];
    let digits = format!(
        "{}{}",
        voice["digits_rfc4733"].as_str().unwrap_or_default(),
        voice["digits_inband"].as_str().unwrap_or_default()
    );
    assert!(
        digits.contains('5'),
        "the unit did not get the digit: {voice}"
    );

    // Disposition in one keystroke; journalled for the unit's call.
    op1.keys("ALT+3");
    assert!(op1.wait_js(
        "document.getElementById('disp-message').textContent.startsWith('Saved')",
        SHORT
    ));
    let event = journalled_disposition(&d, "op1").expect("alarmgate.call.disposition by op1");
    assert_eq!(event["subject"], unit.json["call_id"], "{event}");
    assert_eq!(event["data"]["disposition"], "false_alarm", "{event}");

    // op1's tab closed while it rings: re-offered to op2 within 2 s.
    op1.keys("F9");
    op2.keys("F9");
    wait_operator_state(&d, "op2", "available", SHORT);
    op2.click("#btn-pause");
    wait_operator_state(&d, "op2", "paused", SHORT);
    let next = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_B, &["--wait-bye"]);
    assert!(
        wait_ringing(&mut op1, RING_WAIT),
        "op1 never rang for the second call"
    );
    op2.keys("F9");
    let closed = Instant::now();
    op1.close();
    assert!(
        wait_ringing(&mut op2, Duration::from_secs(2)),
        "not re-offered to op2 within 2 s"
    );
    eprintln!("re-offered after {:?}", closed.elapsed());

    // The second operator's console takes it.
    op2.keys("F2");
    assert!(op2.wait_js(
        "window.alarmgateConsole.state().call === 'connected'",
        SHORT
    ));
    assert_browser_hears(&mut op2);
    op2.keys("F4");
    assert_unit_voice(&next.wait(), true);
    let (status, _) = api(&d, "GET", "/api/v1/operators/op2", None);
    assert_eq!(status, 200);
}

/// Another centre's web softphone: `tests/peers/jssip_phone.html`, JsSIP
/// alone (no console code), registers over WebSocket as op1 and answers
/// the unit's alarm call with audio both ways.
#[test]

fn third_party_jssip_page_takes_an_alarm_call() {
    let test = "third_party_jssip_page_takes_an_alarm_call";
    let Some((d, ws)) = ws_centre(test) else {
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
    thread::sleep(Duration::from_secs(2));
    b.cmd(json!({"cmd": "js", "script": "window.peer.hangup(); return true;"}));
    assert_unit_voice(&unit.wait(), true);
}
