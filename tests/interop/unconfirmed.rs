//! Unconfirmed alarms against the real daemon: a unit whose every attempt
//! fails (SIPp replaying sip-tester's RFC 2833 captures as one stream, the
//! message once with a bad check digit, then its first 12 digits only:
//! `tests/sipp/rfc2833_cid_unconfirmed.xml`). No operator is logged in, so
//! the call waits where the API shows it.
//!
//! - Staying on the line past the quiet-line time, the call is queued with
//!   class `unconfirmed` and what was heard (`GET /api/v1/calls`); when the
//!   unit hangs up it stays as a `callback` (also in `/api/v1/queues`) until
//!   a disposition resolves it; the journal holds `alarm.unconfirmed`,
//!   `call.callback` and `call.callback_resolved`, and no kissoff was sent.
//! - Hanging up soon after its last attempt, the unit leaves a callback at once.
//!
//! On a daemon without unconfirmed alarms both fail: the call waits as an
//! ordinary `voice` call and vanishes when the unit hangs up.

use crate::alarm_peers::{rfc2833_captures, scenario_copy};
use crate::harness::{journal_records, need_sipp, poll_until, Daemon};
use crate::operators::{api, wait_call, Plan, NOWHERE};
use alarmgate::telemetry::metrics as m;
use serde_json::{json, Value};
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

/// The message with check digit 3 (a checksum failure), then its first 12 digits.
const DIGITS: &str = "1234181602000003123418160200";
const BAD: &str = "1234181602000003";
const UNIT: &str = "4512345678";
/// Generous: the suite runs beside other load.
const WAIT: Duration = Duration::from_secs(40);

/// The scenario in the test dir, holding `hold_ms` after the last attempt.
fn scenario(d: &Daemon, hold_ms: u64) -> PathBuf {
    let root = rfc2833_captures(&d.dir.path, DIGITS, "stream");
    let name = "rfc2833_cid_unconfirmed.xml";
    let path = scenario_copy(name, &d.dir.path, "rfc2833/", &root.join("rfc2833"));
    let text = fs::read_to_string(&path).expect("read scenario copy");
    fs::write(&path, text.replace("HOLD_MS", &hold_ms.to_string())).expect("write scenario");
    path
}

fn daemon(test: &str) -> Option<Daemon> {
    if !need_sipp(test) {
        return None;
    }
    Daemon::start(test, &Plan::new(&["op1"], NOWHERE).config())
}

/// What was heard: the bad message as best attempt, the partial, the
/// account read but unverified.
fn assert_heard(heard: &Value) {
    assert_eq!(heard["best"]["digits"], BAD, "{heard}");
    assert_eq!(heard["best"]["fault"], "checksum", "{heard}");
    assert_eq!(heard["checksum_failures"], 1, "{heard}");
    assert_eq!(heard["partials"], 1, "{heard}");
    assert_eq!(heard["account"]["digits"], "1234", "{heard}");
    assert_eq!(heard["account"]["verified"], false, "{heard}");
    let kept = heard["kept"].as_array().cloned().unwrap_or_default();
    assert_eq!(kept.len(), 2, "{heard}");
    assert_eq!(kept[1]["digits"], &DIGITS[16..], "{heard}");
}

/// The journal's records of `kind` about call `id`.
fn journalled(d: &Daemon, kind: &str, id: &str) -> Vec<Value> {
    let records = journal_records(&d.journal_dir).into_iter();
    records
        .filter(|r| r["type"] == kind && r["subject"] == id)
        .collect()
}

/// Polls the journal until a record of `kind` about `id` is there.
fn wait_journalled(d: &Daemon, kind: &str, id: &str) -> Value {
    let mut found = Vec::new();
    poll_until(WAIT, || {
        found = journalled(d, kind, id);
        !found.is_empty()
    });
    found
        .pop()
        .unwrap_or_else(|| panic!("no {kind} for {id} in the journal"))
}

/// Nothing was acknowledged to the unit.
fn assert_no_kissoff(d: &Daemon) {
    assert_eq!(d.metric(m::ALARMS_ACKNOWLEDGED, &[]).unwrap_or(0.0), 0.0);
    let records = journal_records(&d.journal_dir);
    assert!(
        !records
            .iter()
            .any(|r| r["type"] == "alarmgate.alarm.acknowledged"
                || r["type"] == "alarmgate.alarm.received"),
        "nothing may be stored or acknowledged"
    );
}

/// The unit stays on the line: queued as unconfirmed with what was heard,
/// then a callback after its BYE; the daemon is SIGKILLed and started
/// again, and the callback is listed again from the journal with what was
/// heard; a disposition resolves it.
#[test]
fn unconfirmed_alarm_is_queued_with_what_was_heard_then_kept_as_a_callback() {
    let test = "unconfirmed_alarm_is_queued_with_what_was_heard_then_kept_as_a_callback";
    let Some(mut d) = daemon(test) else {
        return;
    };
    let mut run = d.sipp("rfc2833_cid_unconfirmed.xml").timeout_s(90);
    run.scenario = scenario(&d, 15_000);
    let sipp = run.spawn();
    let call = wait_call(&d, WAIT, "an unconfirmed alarm waiting", |c| {
        c["class"] == "unconfirmed" && c["state"] == "waiting"
    });
    assert_eq!(
        (&call["caller"], &call["tenant"]),
        (&json!(UNIT), &json!("demo"))
    );
    assert_heard(&call["heard"]);
    let id = call["id"].as_str().unwrap_or_default().to_string();
    let event = wait_journalled(&d, "alarmgate.alarm.unconfirmed", &id);
    assert_heard(&event["data"]["heard"]);
    assert_eq!(event["data"]["remote_hangup"], false, "{event}");

    sipp.wait().assert_ok(1);
    let callback = wait_call(&d, WAIT, "the callback", |c| {
        c["id"] == id.as_str() && c["state"] == "callback"
    });
    assert_eq!(
        callback["recall"],
        json!({"number": UNIT, "tenant": "demo"})
    );
    assert_heard(&callback["heard"]);
    let (status, queues) = api(&d, "GET", "/api/v1/queues", None);
    assert_eq!(status, 200, "{queues}");
    let entry = &queues["queues"][0]["calls"][0];
    assert_eq!(
        (&entry["id"], &entry["state"]),
        (&json!(id), &json!("callback"))
    );
    wait_journalled(&d, "alarmgate.call.callback", &id);
    assert_no_kissoff(&d);
    assert_eq!(d.metric(m::ALARMS_UNCONFIRMED, &[]), Some(1.0));
    assert!(d.wait_metric_at_least(m::CALLBACKS_OPEN, &[], 1.0, WAIT));

    d.kill_and_restart();
    let again = wait_call(&d, WAIT, "the callback listed again after a restart", |c| {
        c["id"] == id.as_str() && c["state"] == "callback"
    });
    assert_eq!(again["recall"], callback["recall"], "{again}");
    assert_heard(&again["heard"]);
    let path = format!("/api/v1/calls/{id}/disposition");
    let (status, v) = api(&d, "POST", &path, Some(json!({"disposition": "technical"})));
    assert_eq!(status, 204, "{v}");
    let resolved = wait_journalled(&d, "alarmgate.call.callback_resolved", &id);
    assert_eq!(resolved["data"]["resolution"], "disposition", "{resolved}");
    let (_, calls) = api(&d, "GET", "/api/v1/calls", None);
    assert_eq!(calls["calls"], json!([]), "the callback left the list");
    let closed = poll_until(WAIT, || d.metric(m::CALLBACKS_OPEN, &[]) == Some(0.0));
    assert!(closed, "{:?}", d.metric(m::CALLBACKS_OPEN, &[]));
}

/// The unit hangs up a second after its last attempt (before the quiet-line
/// time): a callback at once, its `alarm.unconfirmed` marked `remote_hangup`.
#[test]
fn unconfirmed_alarm_whose_unit_hangs_up_first_leaves_a_callback() {
    let test = "unconfirmed_alarm_whose_unit_hangs_up_first_leaves_a_callback";
    let Some(d) = daemon(test) else {
        return;
    };
    let mut run = d.sipp("rfc2833_cid_unconfirmed.xml").timeout_s(60);
    run.scenario = scenario(&d, 1_000);
    run.run().assert_ok(1);
    let callback = wait_call(&d, WAIT, "the callback", |c| c["state"] == "callback");
    assert_eq!(callback["class"], "unconfirmed");
    assert_eq!(callback["caller"], UNIT);
    assert_heard(&callback["heard"]);
    let id = callback["id"].as_str().unwrap_or_default().to_string();
    let event = wait_journalled(&d, "alarmgate.alarm.unconfirmed", &id);
    assert_eq!(event["data"]["remote_hangup"], true, "{event}");
    wait_journalled(&d, "alarmgate.call.callback", &id);
    assert_no_kissoff(&d);
}
