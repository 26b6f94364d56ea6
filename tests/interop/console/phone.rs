//! What the call tests share: a centre with a loopback `ws` listener, a
//! console signed in with its browser phone registered and an oscillator
//! microphone, and bounded waits on the page's phone (ringing, connected,
//! hearing the unit, a SIP INFO digit on the wire), on the daemon's log
//! (a re-offer after a closed tab) and on the journal (a disposition).

use super::*;
use crate::harness::{journal_records, need_spandsp};
use crate::operators::OPERATOR_HZ;

pub(crate) const SHORT: Duration = Duration::from_secs(10);

/// A centre with a loopback `ws` listener the consoles' phones register at:
/// op1 and op2 on queue `main`, ringing `ring_s` seconds per offer.
pub(crate) fn ws_centre(test: &str, ring_s: u64) -> Option<(Daemon, u16)> {
    ws_centre_with(test, ring_s, |_| {})
}

/// [`ws_centre`] with `edit` applied to its config before the start.
pub(crate) fn ws_centre_with(
    test: &str,
    ring_s: u64,
    edit: impl FnOnce(&mut Config),
) -> Option<(Daemon, u16)> {
    if !need_spandsp(test) || !need_browser(test) {
        return None;
    }
    let ws = ws_port();
    let mut cfg = console_config(3600, ws);
    edit(&mut cfg);
    cfg.extra = cfg
        .extra
        .replace(&queue_keys(5, 20), &queue_keys(ring_s, 20));
    cfg.extra.push_str(&format!(
        "[[sip.listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:{ws}\"\n\n"
    ));
    Daemon::start(test, &cfg).map(|d| (d, ws))
}

/// `id` signed in, its phone registered, its microphone an oscillator at
/// `OPERATOR_HZ` (set after sign-in: `sign_in` loads the page afresh,
/// which drops a hook set before).
pub(crate) fn console_with_phone(d: &Daemon, id: &str) -> Browser {
    console_with_phone_in(d, id, Engine::Chromium)
}

/// [`console_with_phone`] in the browser `engine`.
pub(crate) fn console_with_phone_in(d: &Daemon, id: &str, engine: Engine) -> Browser {
    let mut b = Browser::start_engine(&d.dir.path, engine);
    sign_in(&mut b, d, id);
    b.cmd(json!({"cmd": "mic", "frequency": OPERATOR_HZ, "gain": 0.3}));
    let registered = b.wait_js(
        "window.alarmgateConsole.state().phone === 'registered'",
        Duration::from_secs(20),
    );
    assert!(
        registered,
        "{id}: the phone did not register: {}",
        b.state()
    );
    b
}

pub(crate) fn wait_ringing(b: &mut Browser, timeout: Duration) -> bool {
    b.wait_js(
        "window.alarmgateConsole.state().call === 'ringing'",
        timeout,
    )
}

/// The browser's console messages so far (each read empties chromedriver's buffer).
pub(crate) fn browser_logs(b: &mut Browser) -> Vec<String> {
    let logs = b.cmd(json!({"cmd": "logs"}));
    let lines = logs.as_array().cloned().unwrap_or_default();
    lines
        .iter()
        .filter_map(|l| l.as_str().map(str::to_string))
        .collect()
}

/// Waits until the page's phone is connected; on failure, says why (the
/// page's state, its call note, the browser's last console messages).
pub(crate) fn wait_connected(b: &mut Browser, who: &str) {
    let connected = b.wait_js(
        "window.alarmgateConsole.state().call === 'connected'",
        Duration::from_secs(20),
    );
    if !connected {
        let state = b.state();
        let logs = browser_logs(b);
        let tail = &logs[logs.len().saturating_sub(20)..];
        panic!(
            "{who}: the answer did not reach connected: {state}\ncall: {}\nbrowser: {tail:#?}",
            b.text("#call-card")
        );
    }
}

/// `window.alarmgateConsole.receivedAudio()` now.
pub(crate) fn audio(b: &mut Browser) -> Value {
    b.cmd(json!({"cmd": "async_js", "script": "return await window.alarmgateConsole.receivedAudio();"}))
}

/// The browser hears the unit: inbound packets, a `getStats` audio level
/// and an analyser's RMS on the played stream.
pub(crate) fn assert_browser_hears(b: &mut Browser) {
    let mut last = Value::Null;
    let heard = poll_until(Duration::from_secs(20), || {
        last = audio(b);
        last["packetsReceived"].as_u64().unwrap_or(0) > 25
            && last["audioLevel"].as_f64().unwrap_or(0.0) > 0.001
            && last["rms"].as_f64().unwrap_or(0.0) > 0.01
    });
    if !heard {
        let logs = browser_logs(b);
        let tail = &logs[logs.len().saturating_sub(30)..];
        panic!("the browser did not hear the unit: {last}\nbrowser: {tail:#?}");
    }
}

/// Waits until the browser has sent `more` packets beyond now (20 ms
/// each): the unit has had that much of the operator's voice.
pub(crate) fn wait_sent(b: &mut Browser, more: u64) {
    let sent = |b: &mut Browser| audio(b)["packetsSent"].as_u64().unwrap_or(0);
    let target = sent(b) + more;
    let mut now = 0;
    let ok = poll_until(Duration::from_secs(30), || {
        now = sent(b);
        now >= target
    });
    assert!(
        ok,
        "the browser's packets sent stalled at {now} (< {target})"
    );
}

/// Presses keypad `digit` with JsSIP's wire log on; waits for the INFO
/// (`application/dtmf-relay`, `Signal=<digit>`) to leave and its 200 OK.
pub(crate) fn send_info_digit(b: &mut Browser, digit: char) {
    b.cmd(json!({"cmd": "js", "script": "JsSIP.debug.enable('JsSIP:Transport'); return true;"}));
    browser_logs(b);
    b.click(&format!("[data-digit=\"{digit}\"]"));
    let mut seen = Vec::new();
    let (mut sent, mut ok) = (false, false);
    poll_until(SHORT, || {
        seen.extend(browser_logs(b));
        let wire = seen.join("\n");
        sent = wire.contains("sending message:\\n\\nINFO sip:")
            && wire.contains("application/dtmf-relay")
            && wire.contains(&format!("Signal={digit}"));
        ok = sent && wire.contains("SIP/2.0 200 OK") && wire.contains(" INFO\\r\\n");
        ok
    });
    b.cmd(json!({"cmd": "js", "script": "JsSIP.debug.disable(); return true;"}));
    assert!(
        sent,
        "no SIP INFO dtmf-relay for {digit} on the wire: {seen:#?}"
    );
    assert!(ok, "the INFO for {digit} got no 200 OK: {seen:#?}");
}

/// The journal's `alarmgate.call.disposition` by operator `by`, once there.
pub(crate) fn journalled_disposition(d: &Daemon, by: &str) -> Option<Value> {
    let mut found = None;
    poll_until(SHORT, || {
        found = journal_records(&d.journal_dir)
            .into_iter()
            .find(|r| r["type"] == "alarmgate.call.disposition" && r["data"]["by"] == by);
        found.is_some()
    });
    found
}

/// The call id (journal subject) of the alarm received from `caller`.
pub(crate) fn alarm_call_id(d: &Daemon, caller: &str) -> Option<String> {
    journal_records(&d.journal_dir)
        .into_iter()
        .find(|r| r["type"] == "alarmgate.alarm.received" && r["data"]["calling_number"] == caller)
        .and_then(|r| r["subject"].as_str().map(str::to_string))
}
