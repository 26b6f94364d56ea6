//! The projection without SQLite: events in, rows out.

use super::event::JournalEvent;
use super::project::{apply, changes, CallRecord};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(crate) const T0: i64 = 1_793_520_000_000; // 2026-11-01T09:20:00Z

pub(crate) fn ev(seq: u64, kind: &str, subject: &str, at_s: i64, data: Value) -> JournalEvent {
    JournalEvent {
        seq,
        kind: format!("alarmgate.{kind}"),
        subject: subject.into(),
        time_ms: T0 + at_s * 1000,
        data,
    }
}

/// Applies events in order to an in-memory table.
pub(crate) fn project(events: &[JournalEvent]) -> BTreeMap<String, CallRecord> {
    let mut rows: BTreeMap<String, CallRecord> = BTreeMap::new();
    for change in events.iter().flat_map(changes) {
        let row = rows
            .entry(change.call_id.clone())
            .or_insert_with(|| CallRecord::new(&change.call_id));
        apply(row, &change);
    }
    rows
}

/// A full alarm call: decoded, queued, answered by op-1 after 12 s, ended, given a disposition.
pub(crate) fn alarm_call(seq: u64, id: &str, caller: &str, at_s: i64) -> Vec<JournalEvent> {
    let t = json!({"tenant": "aarhus", "calling_number": caller});
    vec![
        ev(seq, "call.started", id, at_s, t.clone()),
        ev(
            seq + 1,
            "alarm.received",
            id,
            at_s + 3,
            json!({"tenant": "aarhus", "calling_number": caller, "protocol": "contact_id", "account": "1234", "qualifier": "1", "event_code": "101", "event_name": "Personal emergency", "classification": "voice"}),
        ),
        ev(
            seq + 2,
            "call.queued",
            id,
            at_s + 4,
            json!({"call": 7, "tenant": "aarhus", "queue": "q1", "class": "emergency", "caller": caller, "priority": 100}),
        ),
        ev(
            seq + 3,
            "call.offered",
            id,
            at_s + 5,
            json!({"call": 7, "operator": "op-1", "queue": "q1", "waited_ms": 1000, "tenant": "aarhus"}),
        ),
        ev(
            seq + 4,
            "call.answered",
            id,
            at_s + 12,
            json!({"call": 7, "operator": "op-1", "queue": "q1", "waited_ms": 8000, "tenant": "aarhus"}),
        ),
        ev(
            seq + 5,
            "call.ended",
            id,
            at_s + 72,
            json!({"reason": "remote_bye", "duration_ms": 72000, "answered": true, "tenant": "aarhus", "calling_number": caller}),
        ),
        ev(
            seq + 6,
            "call.disposition",
            id,
            at_s + 90,
            json!({"tenant": "aarhus", "disposition": "reassurance", "note": "talked; fine", "by": "console"}),
        ),
    ]
}

#[test]
fn an_alarm_call_becomes_one_complete_row() {
    let rows = project(&alarm_call(1, "c1@unit", "4512345678", 0));
    assert_eq!(rows.len(), 1);
    let r = &rows["c1@unit"];
    assert_eq!(
        (r.tenant.as_str(), r.caller.as_str(), r.account.as_deref()),
        ("aarhus", "4512345678", Some("1234"))
    );
    assert_eq!(r.protocol, "contact_id");
    assert_eq!(r.received_ms, Some(T0));
    assert_eq!(r.answered_ms, Some(T0 + 12_000));
    assert_eq!((r.wait_ms, r.talk_ms), (Some(12_000), Some(60_000)));
    assert_eq!(r.class.as_deref(), Some("emergency"));
    assert_eq!(r.events, ["1101 Personal emergency"]);
    assert_eq!(r.operators, ["op-1"]);
    assert_eq!(r.queue.as_deref(), Some("q1"));
    assert_eq!(r.end_reason.as_deref(), Some("remote_bye"));
    assert_eq!(
        (
            r.disposition.as_deref(),
            r.note.as_deref(),
            r.disposition_by.as_deref()
        ),
        (Some("reassurance"), Some("talked; fine"), Some("console"))
    );
    assert_eq!((r.first_seq, r.last_seq), (1, 7));
    assert!(r.is_complete() && r.needs_person());
}

#[test]
fn a_settled_test_alarm_needs_no_person_and_counts_as_technical() {
    let id = "t1@unit";
    let rows = project(&[
        ev(
            1,
            "call.started",
            id,
            0,
            json!({"tenant": "aarhus", "calling_number": "555"}),
        ),
        ev(
            2,
            "alarm.received",
            id,
            2,
            json!({"tenant": "aarhus", "calling_number": "555", "qualifier": "1", "event_code": "602", "event_name": "Periodic test report", "classification": "test", "account": "9"}),
        ),
        ev(3, "alarm.acknowledged", id, 2, json!({"tenant": "aarhus"})),
        ev(
            4,
            "call.ended",
            id,
            4,
            json!({"reason": "settled", "duration_ms": 4000, "answered": true, "tenant": "aarhus", "calling_number": "555"}),
        ),
    ]);
    let r = &rows[id];
    assert_eq!(r.class.as_deref(), Some("technical"));
    assert!(!r.needs_person());
    assert_eq!((r.answered_ms, r.wait_ms, r.talk_ms), (None, None, None));
    assert_eq!(
        super::report::Category::of(r),
        super::report::Category::Technical
    );
}

#[test]
fn overflow_forwarding_and_a_second_operator_are_kept_in_order() {
    let id = "o1@unit";
    let rows = project(&[
        ev(
            1,
            "call.queued",
            id,
            0,
            json!({"tenant": "aarhus", "queue": "q1", "class": "voice", "caller": "77"}),
        ),
        ev(
            2,
            "call.overflowed",
            id,
            30,
            json!({"from": {"kind": "queue", "id": "q1"}, "to": {"kind": "queue", "id": "q2"}, "reason": "after_waiting", "waited_ms": 30000}),
        ),
        ev(
            3,
            "call.overflowed",
            id,
            60,
            json!({"from": {"kind": "queue", "id": "q2"}, "to": {"kind": "target", "id": "night"}, "reason": "after_waiting", "waited_ms": 60000}),
        ),
        ev(
            4,
            "call.answered",
            id,
            61,
            json!({"operator": "op-2", "waited_ms": 61000}),
        ),
        ev(
            5,
            "call.answered",
            id,
            70,
            json!({"operator": "op-3", "waited_ms": 70000}),
        ),
    ]);
    let r = &rows[id];
    assert_eq!(
        r.overflows,
        [
            "queue:q1 -> queue:q2 (after_waiting)",
            "queue:q2 -> target:night (after_waiting)"
        ]
    );
    assert_eq!(r.forwarded_to.as_deref(), Some("night"));
    assert_eq!(r.operators, ["op-2", "op-3"]);
    assert_eq!(r.wait_ms, Some(61_000), "the first answer counts");
}

#[test]
fn a_callback_resolved_by_a_recall_links_both_rows() {
    let rows = project(&[
        ev(
            1,
            "alarm.unconfirmed",
            "u1",
            0,
            json!({"tenant": "aarhus", "calling_number": "88"}),
        ),
        ev(
            2,
            "call.callback",
            "u1",
            5,
            json!({"tenant": "aarhus", "calling_number": "88"}),
        ),
        ev(
            3,
            "call.offered",
            "r1",
            100,
            json!({"call": "recall-1", "operator": "op-1", "tenant": "aarhus", "calling_number": "88"}),
        ),
        ev(
            4,
            "call.callback_resolved",
            "u1",
            100,
            json!({"tenant": "aarhus", "calling_number": "88", "resolution": "recalled", "recall_id": "r1", "by": "console"}),
        ),
        ev(
            5,
            "call.answered",
            "r1",
            104,
            json!({"call": "recall-1", "operator": "op-1", "tenant": "aarhus", "calling_number": "88"}),
        ),
        ev(
            6,
            "recall.connected",
            "r1",
            110,
            json!({"call": "recall-1", "tenant": "aarhus", "calling_number": "88"}),
        ),
        ev(
            7,
            "recall.ended",
            "r1",
            170,
            json!({"call": "recall-1", "tenant": "aarhus", "calling_number": "88", "reason": "operator_leg_ended", "connected": true}),
        ),
        ev(
            8,
            "call.disposition",
            "r1",
            200,
            json!({"tenant": "aarhus", "disposition": "recall", "by": "console"}),
        ),
    ]);
    let (u, r) = (&rows["u1"], &rows["r1"]);
    assert!(u.callback);
    assert_eq!(u.class.as_deref(), Some("unconfirmed"));
    assert_eq!(u.recalled_by.as_deref(), Some("r1"));
    assert_eq!(
        (r.protocol.as_str(), r.class.as_deref(), r.caller.as_str()),
        ("recall", Some("recall"), "88")
    );
    assert_eq!(r.recall_of.as_deref(), Some("u1"));
    assert_eq!(r.operators, ["op-1"]);
    assert_eq!(
        r.wait_ms,
        Some(10_000),
        "the recall request to the unit's answer"
    );
    assert_eq!(r.talk_ms, Some(60_000), "the unit's answer to the end");
    assert_eq!(r.end_reason.as_deref(), Some("operator_leg_ended"));
    assert!(r.is_complete());
    assert_eq!(
        super::report::Category::of(r),
        super::report::Category::Recall
    );
}

#[test]
fn events_about_no_call_change_nothing() {
    let rows = project(&[
        ev(
            1,
            "operator.state",
            "op-1",
            0,
            json!({"operator": "op-1", "from": "logged_out", "to": "available"}),
        ),
        ev(
            2,
            "caller.frequent",
            "4512",
            0,
            json!({"tenant": "aarhus", "calling_number": "4512"}),
        ),
    ]);
    assert!(rows.is_empty());
}

#[test]
fn a_data_alarm_is_a_whole_call_in_one_event() {
    let rows = project(&[ev(
        1,
        "alarm.received",
        "dc09-1",
        0,
        json!({"tenant": "aarhus", "calling_number": "acct-5", "protocol": "dc09", "account": "5", "event_code": "100", "classification": "voice"}),
    )]);
    let r = &rows["dc09-1"];
    assert_eq!(
        (r.protocol.as_str(), r.events.as_slice()),
        ("dc09", ["100".to_string()].as_slice())
    );
    assert!(r.is_complete());
}
