//! Every field of the call record, one test per gap that was
//! found: a recall's talk time, the recording's path, hash and duration, a
//! SCAIP alarm and its voice call as one row (also across batches and for
//! the frequent-caller count), DC-09 SIA events, answer times without
//! recalls, and the schema migration that added the columns.

use super::follow::catch_up;
use super::frequent::{Detector, Thresholds};
use super::report::{self, Category, Language, Month};
use super::store::{Store, MIGRATIONS};
use super::tests_project::{ev, project, T0};
use super::tests_store::Temp;
use super::JournalEvent;
use crate::journal::{Journal, JournalConfig, JournalReader, SyncMode};
use serde_json::json;
use std::collections::HashMap;

#[test]
fn a_recall_the_unit_never_answered_has_an_end_and_no_talk_time() {
    let t = json!({"call": "recall-2", "tenant": "aarhus", "calling_number": "88"});
    let mut ended = t.clone();
    ended["reason"] = json!("unit_leg_ended");
    ended["connected"] = json!(false);
    let mut answered = t.clone();
    answered["operator"] = json!("op-1");
    let rows = project(&[
        ev(1, "call.offered", "r2", 0, t.clone()),
        ev(2, "call.answered", "r2", 3, answered),
        ev(3, "recall.ended", "r2", 40, ended),
    ]);
    let r = &rows["r2"];
    assert_eq!(
        (r.protocol.as_str(), r.operators.as_slice()),
        ("recall", ["op-1".to_string()].as_slice())
    );
    assert_eq!((r.answered_ms, r.wait_ms, r.talk_ms), (None, None, None));
    assert_eq!(r.ended_ms, Some(T0 + 40_000));
    assert!(r.is_complete());
    assert_eq!(Category::of(r), Category::Open, "no disposition yet");
}

#[test]
fn a_stored_recording_gives_the_row_its_path_hash_and_duration() {
    let rows = project(&[
        ev(
            1,
            "call.started",
            "c1",
            0,
            json!({"tenant": "aarhus", "calling_number": "88"}),
        ),
        ev(
            2,
            "recording.stored",
            "c1",
            90,
            json!({"tenant": "aarhus", "recording_id": "ab", "path": "/rec/aarhus/ab.wav", "sha256": "00ff", "bytes": 1044, "duration_s": 61.24, "frames_dropped": 0}),
        ),
    ]);
    let r = &rows["c1"];
    assert_eq!(r.recording.as_deref(), Some("/rec/aarhus/ab.wav"));
    assert_eq!(r.recording_sha256.as_deref(), Some("00ff"));
    assert_eq!(r.recording_duration_ms, Some(61_240));
}

#[test]
fn a_dc09_sia_event_without_a_contact_id_twin_keeps_its_code_and_text() {
    let rows = project(&[ev(
        1,
        "alarm.received",
        "dc09-7-3-ab",
        0,
        json!({"tenant": "aarhus", "protocol": "dc09", "account": "7", "sia_code": "BA", "zone": "5", "text": "Burglary", "classification": "voice", "dc09": {"id": "SIA-DCS"}}),
    )]);
    let r = &rows["dc09-7-3-ab"];
    assert_eq!(
        (r.protocol.as_str(), r.account.as_deref()),
        ("dc09", Some("7"))
    );
    assert_eq!(r.events, ["SIA BA Burglary"]);
    assert_eq!(r.class.as_deref(), Some("voice"));
}

/// A SCAIP alarm that wanted voice, its voice call, the link, the call's life.
fn scaip_linked() -> Vec<JournalEvent> {
    let who = json!({"tenant": "aarhus", "calling_number": "4511"});
    vec![
        ev(
            1,
            "alarm.received",
            "scaip-1883-ab",
            0,
            json!({"tenant": "aarhus", "calling_number": "4511", "protocol": "scaip", "account": "26317", "event_code": "101", "event_name": "Personal emergency", "classification": "voice", "scaip": {"ref": "1883"}}),
        ),
        ev(2, "call.started", "v1@unit", 4, who.clone()),
        ev(
            3,
            "alarm.linked",
            "scaip-1883-ab",
            4,
            json!({"tenant": "aarhus", "call_id": "v1@unit", "protocol": "scaip", "account": "26317"}),
        ),
        ev(
            4,
            "call.queued",
            "v1@unit",
            4,
            json!({"tenant": "aarhus", "caller": "4511", "class": "emergency", "queue": "q1"}),
        ),
        ev(
            5,
            "call.answered",
            "v1@unit",
            10,
            json!({"tenant": "aarhus", "operator": "op-1"}),
        ),
        ev(
            6,
            "call.ended",
            "v1@unit",
            70,
            json!({"tenant": "aarhus", "calling_number": "4511", "reason": "remote_bye", "duration_ms": 70000, "answered": true}),
        ),
        ev(
            7,
            "call.disposition",
            "v1@unit",
            80,
            json!({"tenant": "aarhus", "disposition": "emergency", "by": "desk"}),
        ),
    ]
}

#[test]
fn a_scaip_alarm_linked_to_its_voice_call_is_one_row_in_any_batching() {
    let tmp = Temp::new("scaip-one-row");
    let events = scaip_linked();
    let mut whole = Store::open(&tmp.join("whole.sqlite")).expect("store");
    whole.apply_batch(&events, 0, 7).expect("one batch");
    let rows = whole.all().expect("rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(
        (r.call_id.as_str(), r.protocol.as_str()),
        ("v1@unit", "scaip")
    );
    assert_eq!(
        (r.account.as_deref(), r.events.as_slice()),
        (
            Some("26317"),
            ["101 Personal emergency".to_string()].as_slice()
        )
    );
    assert_eq!(
        (r.received_ms, r.wait_ms, r.talk_ms),
        (Some(T0), Some(10_000), Some(60_000))
    );
    assert_eq!(
        (r.class.as_deref(), r.disposition.as_deref()),
        (Some("emergency"), Some("emergency"))
    );
    for cut in 1..events.len() {
        let mut split = Store::open(&tmp.join(&format!("cut{cut}.sqlite"))).expect("store");
        let (a, b) = events.split_at(cut);
        split.apply_batch(a, 0, cut as u64).expect("first");
        split.apply_batch(b, cut as u64, 7).expect("second");
        assert_eq!(split.all().expect("rows"), rows, "cut after event {cut}");
    }
    // An event about the alarm's id after the link lands on the one row.
    let late = ev(
        8,
        "call.disposition",
        "scaip-1883-ab",
        90,
        json!({"tenant": "aarhus", "disposition": "false_alarm", "by": "desk"}),
    );
    whole.apply_batch(&[late], 7, 8).expect("late");
    let rows = whole.all().expect("rows");
    assert_eq!(
        (rows.len(), rows[0].disposition.as_deref()),
        (1, Some("false_alarm"))
    );
}

#[tokio::test]
async fn a_scaip_alarm_and_its_voice_call_count_once_as_a_frequent_caller() {
    let tmp = Temp::new("scaip-frequent");
    let journal = Journal::open(JournalConfig {
        dir: tmp.join("journal"),
        segment_bytes: 1 << 20,
        sync: SyncMode::Never,
    })
    .expect("journal");
    let mut last = 0;
    for e in scaip_linked() {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(e.time_ms as u64);
        let bytes = crate::events::record("n1", &e.subject, &e.kind, time, 1, e.data);
        last = journal.append(bytes).await.expect("append");
    }
    journal.close();
    let limits = Thresholds {
        limits: [Some(2), None, None],
        classes: vec!["emergency".into(), "voice".into()],
    };
    let mut detector = Detector::new(HashMap::from([("aarhus".to_string(), limits)]));
    let mut store = Store::open(&tmp.join("r.sqlite")).expect("store");
    let reader = JournalReader::open(tmp.join("journal")).expect("reader");
    let progress = catch_up(&mut store, &reader, last, &mut detector, 0).expect("catch up");
    assert!(
        progress.crossings.is_empty(),
        "counted twice: {:?}",
        progress.crossings
    );
    assert_eq!(store.all().expect("rows").len(), 1);
}

#[test]
fn answer_times_are_the_centres_not_a_recalls_wait_for_its_unit() {
    let mut answered = super::CallRecord::new("c1");
    (answered.protocol, answered.received_ms) = ("voice".into(), Some(T0));
    (answered.answered_ms, answered.wait_ms) = (Some(T0 + 5_000), Some(5_000));
    let mut recall = super::CallRecord::new("r1");
    (recall.protocol, recall.received_ms) = ("recall".into(), Some(T0));
    (recall.answered_ms, recall.wait_ms) = (Some(T0 + 40_000), Some(40_000));
    let x = november(vec![answered, recall]);
    assert_eq!(
        (x.answer_time.answered, x.answer_time.max_s),
        (1, Some(5.0))
    );
}

#[test]
fn a_version_1_database_migrates_keeping_its_rows() {
    let tmp = Temp::new("migrate-v1");
    let db = tmp.join("r.sqlite");
    {
        let conn = rusqlite::Connection::open(&db).expect("raw");
        conn.execute_batch(MIGRATIONS[0]).expect("v1 schema");
        conn.pragma_update(None, "user_version", 1).expect("v1");
        conn.execute_batch("INSERT INTO calls (call_id, tenant, caller, protocol, received_ms, events, operators, overflows, callback, recording, first_seq, last_seq) VALUES ('c1', 'aarhus', '88', 'voice', 5, '[]', '[]', '[]', 0, '/rec/a.wav', 1, 2); UPDATE applied SET seq = 2;").expect("a v1 row");
    }
    let store = Store::open(&db).expect("migrates");
    let rows = store.all().expect("rows");
    assert_eq!(
        (rows.len(), rows[0].recording.as_deref()),
        (1, Some("/rec/a.wav"))
    );
    assert_eq!(
        (
            rows[0].recording_sha256.as_ref(),
            rows[0].recording_duration_ms
        ),
        (None, None)
    );
    assert_eq!(store.applied_seq().expect("seq"), 2);
}

#[test]
fn every_column_has_a_heading_and_the_recording_fields_are_in_the_csv() {
    let mut r = super::CallRecord::new("c1");
    (r.tenant, r.received_ms) = ("aarhus".into(), Some(T0));
    (r.recording, r.recording_sha256) = (Some("/rec/a.wav".into()), Some("00ff".into()));
    r.recording_duration_ms = Some(61_240);
    let x = november(vec![r]);
    let cells = report::csv::cells(&x.calls[0]);
    assert_eq!(cells.len(), report::lang::headings(Language::Nb).len());
    let csv = String::from_utf8(report::csv::write(&x)).expect("utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].contains("Optagelse SHA-256;Optagelse varighed (s)"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("/rec/a.wav;00ff;61,24;"), "{}", lines[1]);
}

#[test]
fn a_data_alarm_listed_for_operators_keeps_its_class_and_waits_for_a_person() {
    let rows = project(&[
        ev(
            1,
            "alarm.received",
            "dc09-1001-4-ab",
            0,
            json!({"tenant": "aarhus", "protocol": "dc09", "account": "1001", "qualifier": "1", "event_code": "101", "event_name": "Personal emergency", "classification": "voice"}),
        ),
        ev(
            2,
            "call.callback",
            "dc09-1001-4-ab",
            0,
            json!({"tenant": "aarhus", "calling_number": "", "class": "emergency", "protocol": "dc09", "account": "1001", "queue": "q1"}),
        ),
    ]);
    let r = &rows["dc09-1001-4-ab"];
    assert_eq!((r.class.as_deref(), r.callback), (Some("emergency"), true));
    assert_eq!(r.events, ["1101 Personal emergency"]);
    assert!(r.needs_person());
    assert_eq!(Category::of(r), Category::Open);
}

#[test]
fn a_units_fail_to_report_and_a_withdrawn_scaip_alarm_are_rows_with_what_happened() {
    let rows = project(&[
        ev(
            1,
            "call.callback",
            "ftr-aarhus-dc09-4711-99",
            0,
            json!({"tenant": "aarhus", "calling_number": "4711", "class": "technical", "protocol": "supervision", "account": "4711", "alarm": {"event_name": "Fail to report"}, "queue": "q1"}),
        ),
        ev(
            2,
            "alarm.received",
            "scaip-7-ab",
            10,
            json!({"tenant": "aarhus", "calling_number": "4511", "protocol": "scaip", "account": "26317", "event_code": "101", "event_name": "Personal emergency", "classification": "voice"}),
        ),
        ev(
            3,
            "alarm.withdrawn",
            "scaip-7-ab",
            20,
            json!({"tenant": "aarhus", "protocol": "scaip", "account": "26317", "withdrawn_by": "unit"}),
        ),
    ]);
    let ftr = &rows["ftr-aarhus-dc09-4711-99"];
    assert_eq!(
        (ftr.protocol.as_str(), ftr.account.as_deref()),
        ("supervision", Some("4711"))
    );
    assert_eq!(
        (ftr.events.as_slice(), ftr.class.as_deref()),
        (["Fail to report".to_string()].as_slice(), Some("technical"))
    );
    let re = &rows["scaip-7-ab"];
    assert_eq!(
        (re.end_reason.as_deref(), re.ended_ms),
        (Some("withdrawn"), Some(T0 + 20_000))
    );
}

/// The November 2026 extract of `rows` (Copenhagen, Danish).
fn november(rows: Vec<super::CallRecord>) -> report::Extract {
    let tz = jiff::tz::TimeZone::get("Europe/Copenhagen").expect("tz");
    let month = Month::parse("2026-11").expect("month");
    report::extract(
        "aarhus",
        month,
        &tz,
        "Europe/Copenhagen",
        Language::Da,
        rows,
    )
}
