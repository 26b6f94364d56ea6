//! Calls moving between consoles: a tab closed while it rings (the call is
//! re-offered to the next operator within 2 s, not at the ring timeout),
//! a second operator's console taking the next call while the first
//! operator is still on hers (two WebRTC legs at once), and a console that
//! stays open while the node restarts coming back into the rotation by
//! itself (it says so, its phone registers again, it takes the next call).

use super::phone::*;
use super::*;
use crate::operators::{
    assert_unit_voice, device_uri, operator, spawn_unit, wait_operator_state, RING_WAIT, UNIT_A,
    UNIT_B,
};

/// How soon a call ringing in a closed tab must ring the next operator.
const RE_OFFER_WITHIN_S: f64 = 2.0;

/// Seconds since midnight of a daemon log line's RFC 3339 UTC timestamp.
fn log_seconds(line: &str) -> Option<f64> {
    let time = line.get(11..)?.split('Z').next()?;
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// The daemon's log: when `gone`'s browser binding left with its socket,
/// and when the next INVITE went to `next`'s browser contact after that.
fn reoffer_gap(log: &str, gone: &str, next: &str) -> Option<f64> {
    let contact = log
        .lines()
        .filter(|l| l.contains(&format!("binding added operator={next} ")))
        .filter_map(|l| l.split("contact=").nth(1)?.split(' ').next())
        .next_back()?;
    let mut lines = log.lines();
    let removed = lines.find(|l| {
        l.contains(&format!("binding removed operator={gone} ")) && l.contains("flow_closed")
    })?;
    let called = lines.find(|l| l.contains("calling to=") && l.contains(contact))?;
    Some(log_seconds(called)? - log_seconds(removed)?)
}

/// op1's tab is closed while its console rings: op2's console rings within
/// 2 s of op1's socket closing (ring timeout 30 s), and answers.
#[test]
fn console_tab_closed_while_ringing_is_re_offered_within_2_s() {
    let test = "console_tab_closed_while_ringing_is_re_offered_within_2_s";
    let Some((d, _ws)) = ws_centre(test, 30) else {
        return;
    };
    let mut op1 = console_with_phone(&d, "op1");
    let mut op2 = console_with_phone(&d, "op2");
    op2.click("#btn-pause");
    wait_operator_state(&d, "op2", "paused", SHORT);
    wait_operator_state(&d, "op1", "available", SHORT);
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    assert!(wait_ringing(&mut op1, RING_WAIT), "op1 never rang");
    op2.keys("F9");
    wait_operator_state(&d, "op2", "available", SHORT);
    op1.close();
    assert!(
        wait_ringing(&mut op2, Duration::from_secs(10)),
        "the call never rang op2's console"
    );
    let log = d.log_text();
    let gap = reoffer_gap(&log, "op1", "op2").expect("socket close and re-offer in the log");
    eprintln!("re-offered {gap:.3} s after op1's socket closed");
    assert!(
        gap < RE_OFFER_WITHIN_S,
        "op2 rang {gap:.2} s after op1's tab closed (ring timeout 30 s)"
    );
    let op1_now = operator(&d, "op1");
    assert_ne!(op1_now["state"], "ringing", "{op1_now}");

    op2.keys("F2");
    wait_connected(&mut op2, "op2");
    assert_browser_hears(&mut op2);
    wait_sent(&mut op2, 150);
    op2.keys("F4");
    assert_unit_voice(&unit.wait(), true);
}

/// op1 is on a call from unit A when unit B's alarm comes: op2's console
/// rings, answers, and both calls have audio both ways at once; the queue
/// view shows who is on what.
#[test]
fn console_second_operator_takes_the_next_call() {
    let test = "console_second_operator_takes_the_next_call";
    let Some((d, _ws)) = ws_centre(test, 15) else {
        return;
    };
    let mut op1 = console_with_phone(&d, "op1");
    let mut op2 = console_with_phone(&d, "op2");
    op2.click("#btn-pause");
    wait_operator_state(&d, "op2", "paused", SHORT);
    let first = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    assert!(wait_ringing(&mut op1, RING_WAIT), "op1 never rang");
    op1.keys("F2");
    wait_connected(&mut op1, "op1");
    wait_operator_state(&d, "op1", "on_call", SHORT);

    op2.keys("F9");
    wait_operator_state(&d, "op2", "available", SHORT);
    let second = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_B, &["--wait-bye"]);
    assert!(
        wait_ringing(&mut op2, RING_WAIT),
        "op2's console never rang for the next call: {}",
        op2.state()
    );
    assert_eq!(op2.text("#call-caller"), UNIT_B);
    op2.keys("F2");
    wait_connected(&mut op2, "op2");
    assert_browser_hears(&mut op2);
    assert_browser_hears(&mut op1);
    let who = "document.querySelector('[data-operator=\"op1\"]').textContent.includes('4511111111') && document.querySelector('[data-operator=\"op2\"]').textContent.includes('4522222222')";
    assert!(
        op2.wait_js(who, SHORT),
        "who is on what: {}",
        op2.text("#operators")
    );
    wait_sent(&mut op2, 150);
    op2.keys("F4");
    op1.keys("F4");
    assert_unit_voice(&second.wait(), true);
    assert_unit_voice(&first.wait(), true);
}

/// The node restarts under an open console with its phone: the page says it
/// is reconnecting, comes back live and signed in, its phone registers
/// again over a new socket, and the next alarm rings it and is answered
/// with audio both ways, with nobody touching the page.
#[test]
fn console_phone_comes_back_after_the_node_restarts() {
    let test = "console_phone_comes_back_after_the_node_restarts";
    let Some((mut d, _ws)) = ws_centre(test, 15) else {
        return;
    };
    let mut op1 = console_with_phone(&d, "op1");
    wait_operator_state(&d, "op1", "available", SHORT);
    let (joined, said) = thread::scope(|s| {
        let handle = s.spawn(|| d.restart(Duration::from_secs(3)));
        let said = op1.wait_js(
            "document.getElementById('banner').textContent.includes('Reconnecting')",
            Duration::from_secs(20),
        );
        (handle.join(), said)
    });
    assert!(joined.is_ok(), "the daemon did not restart");
    assert!(said, "the page never said it was reconnecting");
    let back = op1.wait_js(
        "window.alarmgateConsole.state().link === 'live' && window.alarmgateConsole.state().signedIn && window.alarmgateConsole.state().phone === 'registered'",
        Duration::from_secs(40),
    );
    assert!(back, "not back after the restart: {}", op1.state());
    wait_operator_state(&d, "op1", "available", Duration::from_secs(20));
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    assert!(
        wait_ringing(&mut op1, RING_WAIT),
        "the console did not ring after the restart: {}",
        op1.state()
    );
    op1.keys("F2");
    wait_connected(&mut op1, "op1");
    assert_browser_hears(&mut op1);
    wait_sent(&mut op1, 150);
    op1.keys("F4");
    assert_unit_voice(&unit.wait(), true);
}

#[test]
fn reoffer_gap_reads_the_daemon_log() {
    let log = "2026-12-07T20:40:10.100000Z  INFO alarmgate::registrar::register: binding added operator=op2 contact=sip:b@x.invalid;transport=ws source=1\n\
               2026-12-07T20:40:11.000000Z  INFO alarmgate::registrar: binding removed operator=op1 contact=sip:a@y.invalid;transport=ws reason=\"flow_closed\"\n\
               2026-12-07T20:40:11.250000Z  INFO leg: alarmgate::call::originate: calling to=127.0.0.1:1 uri=sip:b@x.invalid;transport=ws\n";
    let gap = reoffer_gap(log, "op1", "op2").expect("gap");
    assert!((gap - 0.25).abs() < 1e-6, "{gap}");
}
