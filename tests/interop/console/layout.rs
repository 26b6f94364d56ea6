//! The console as an operator sees it at 1280x800 (the driver's window;
//! the page gets 1280x657 after the browser's own bars): during a call
//! with another alarm waiting, the call card with its buttons, the
//! one-line summary of the waiting calls beside the operator's state and
//! the queues' heading are on screen without scrolling, nothing scrolls
//! sideways, no visible text is smaller than 15 px, and the waiting
//! alarm's class carries a symbol and a word, not colour alone.
//!
//! With `ALARMGATE_CONSOLE_SCREENSHOT=1` it also rewrites
//! `docs/console-call.png` (the README's screenshot) at that moment.

use super::phone::*;
use super::*;
use crate::operators::{
    assert_unit_voice, device_uri, spawn_unit, wait_call, wait_operator_state, RING_WAIT, UNIT_A,
    UNIT_B,
};

/// What the page measures of itself (one script, one JSON answer).
const MEASURE: &str = r#"
const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
let smallest = 100, smallestText = '';
for (const el of document.querySelectorAll('body *')) {
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !visible(el)) continue;
  const px = parseFloat(getComputedStyle(el).fontSize);
  if (px < smallest) { smallest = px; smallestText = el.textContent.trim().slice(0, 40); }
}
const bottom = (sel) => document.querySelector(sel).getBoundingClientRect().bottom;
return {
  viewport: [innerWidth, innerHeight],
  sideways: document.documentElement.scrollWidth > innerWidth,
  smallest, smallestText,
  hangupBottom: bottom('#btn-hangup'),
  keypadBottom: bottom('#keypad'),
  queuesTitleBottom: bottom('#queues-title'),
  summaryBottom: bottom('#queue-summary'),
  summary: document.getElementById('queue-summary').textContent,
  firstQueueRowBottom: document.querySelector('#queues tbody tr') ? bottom('#queues tbody tr') : null,
  tag: (document.querySelector('#queues .tag') || {}).textContent || '',
};
"#;

/// Regenerates `docs/console-call.png` when `ALARMGATE_CONSOLE_SCREENSHOT=1`.
fn screenshot_on_demand(b: &mut Browser) {
    if std::env::var("ALARMGATE_CONSOLE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let path = repo().join("docs/console-call.png");
        b.cmd(json!({"cmd": "screenshot", "path": path.display().to_string()}));
        eprintln!("screenshot: {}", path.display());
    }
}

#[test]
fn console_during_a_call_fits_and_reads_at_1280x800() {
    let test = "console_during_a_call_fits_and_reads_at_1280x800";
    let Some((d, _ws)) = ws_centre(test, 15) else {
        return;
    };
    let mut op1 = console_with_phone(&d, "op1");
    wait_operator_state(&d, "op1", "available", SHORT);
    let first = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    assert!(wait_ringing(&mut op1, RING_WAIT), "op1 never rang");
    op1.keys("F2");
    wait_connected(&mut op1, "op1");
    let _second = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_B, &["--wait-bye"]);
    wait_call(&d, RING_WAIT, "the second alarm waiting", |c| {
        c["state"] == "waiting" && c["caller"] == UNIT_B
    });
    let listed = op1.wait_js(
        "document.getElementById('queues').textContent.includes('4522222222') && document.getElementById('alarm-event').textContent.startsWith('101')",
        SHORT,
    );
    assert!(listed, "queue view: {}", op1.text("#queues"));
    screenshot_on_demand(&mut op1);

    let m = op1.cmd(json!({"cmd": "js", "script": MEASURE}));
    eprintln!("layout: {m}");
    let height = m["viewport"][1].as_f64().unwrap_or(0.0);
    assert_eq!(m["viewport"][0], 1280, "{m}");
    assert_eq!(m["sideways"], false, "the page scrolls sideways: {m}");
    assert!(
        m["smallest"].as_f64().unwrap_or(0.0) >= 15.0,
        "text too small: {m}"
    );
    for key in [
        "hangupBottom",
        "keypadBottom",
        "queuesTitleBottom",
        "summaryBottom",
    ] {
        let bottom = m[key].as_f64().unwrap_or(f64::MAX);
        assert!(bottom <= height, "{key} below the fold ({height} px): {m}");
    }
    let tag = m["tag"].as_str().unwrap_or_default();
    assert!(
        tag.starts_with('\u{25B2}') && tag.contains("EMERGENCY"),
        "class by symbol and word: {m}"
    );
    let summary = m["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("1 waiting") && summary.contains("\u{25B2} EMERGENCY 101"),
        "the waiting call beside the state: {m}"
    );
    op1.keys("F4");
    assert_unit_voice(&first.wait(), true);
}
