//! Journal records to observations: what counts as a report, its time.

use super::records::{self, Observed};
use super::tests::{t0, unit};
use super::ReportKind;
use serde_json::json;
use std::time::Duration;

fn record(kind: &str, data: serde_json::Value) -> Vec<u8> {
    crate::events::record("n", "s", kind, t0(), 99, data)
}

#[test]
fn an_alarm_of_any_protocol_is_a_report_at_its_event_time() {
    let data = json!({"tenant": "demo", "protocol": "contact_id", "account": "1234",
        "event_code": "602", "classification": "test"});
    let got = records::observe(&record(records::ALARM_RECEIVED, data));
    let kind = ReportKind::Test;
    assert_eq!(
        got,
        Some(Observed::Report {
            key: unit("1234"),
            at: t0(),
            kind
        })
    );
    let data = json!({"tenant": "demo", "protocol": "dc09", "account": "1234",
        "classification": "voice"});
    let got = records::observe(&record(records::ALARM_RECEIVED, data));
    assert!(matches!(
        got,
        Some(Observed::Report {
            kind: ReportKind::Other,
            ..
        })
    ));
}

#[test]
fn a_heartbeat_is_a_test_and_other_events_are_skipped() {
    let data = json!({"tenant": "demo", "protocol": "scaip", "account": "cid-1"});
    let got = records::observe(&record(records::UNIT_HEARTBEAT, data.clone()));
    assert!(matches!(
        got,
        Some(Observed::Report {
            kind: ReportKind::Test,
            ..
        })
    ));
    assert_eq!(
        records::observe(&record("alarmgate.call.started", data)),
        None
    );
    assert_eq!(records::observe(b"not json alarmgate.unit."), None);
    let missing_account = json!({"tenant": "demo", "protocol": "dc09"});
    assert_eq!(
        records::observe(&record(records::UNIT_HEARTBEAT, missing_account)),
        None
    );
}

#[test]
fn a_fail_to_report_record_carries_its_deadline() {
    let deadline = t0() + Duration::from_secs(90_000);
    let data = json!({"tenant": "demo", "protocol": "contact_id", "account": "1234",
        "deadline_ms": 1_800_090_000_000u64});
    let got = records::observe(&record(records::UNIT_FAIL_TO_REPORT, data));
    assert_eq!(
        got,
        Some(Observed::Raised {
            key: unit("1234"),
            deadline
        })
    );
}

#[test]
fn the_type_decides_not_a_mention_in_the_data() {
    let data = json!({"tenant": "demo", "protocol": "dc09", "account": "1",
        "note": "alarmgate.unit.heartbeat alarmgate.alarm.received"});
    assert_eq!(
        records::observe(&record("alarmgate.call.started", data)),
        None
    );
}
