//! A DC-09 alarm ends with the operators like a Contact ID alarm: a pendant
//! alarm (ADM-CID 101) from a DC-09 unit is ACKed, then listed by
//! `GET /api/v1/calls` for the tenant's queue (op1's pjsua2 softphone is
//! registered and available) as a data alarm with its decoded fields; a
//! periodic test (602) from the same unit is stored and ACKed, never listed.

use crate::dc09::{dc09_tables, frame, now_ts, tcp_exchange, text};
use crate::harness::{free_port, journal_records, need_pjsua2, Daemon};
use crate::operators::{calls, operator_opts, operator_phone, wait_call, Plan, NOWHERE, SHORT};
use std::time::Duration;

#[test]
fn dc09_pendant_alarm_is_listed_for_the_operators_with_its_fields() {
    const TEST: &str = "dc09_pendant_alarm_is_listed_for_the_operators_with_its_fields";
    if !need_pjsua2(TEST) {
        return;
    }
    let port = free_port();
    let mut cfg = Plan::new(&["op1"], NOWHERE).config();
    cfg.extra.push_str(&dc09_tables(port));
    let Some(d) = Daemon::start(TEST, &cfg) else {
        return;
    };
    let _op1 = operator_phone(&d, operator_opts("op1"));
    let wait = Duration::from_secs(10);
    let test = frame(&format!(
        "\"ADM-CID\"0001R1L2#1001[#1001|1602 00 000]_{}",
        now_ts()
    ));
    assert!(text(&tcp_exchange(port, &test, wait)).contains("\"ACK\"0001R1L2#1001[]"));
    let pendant = frame(&format!(
        "\"ADM-CID\"0002R1L2#1001[#1001|1101 01 004]_{}",
        now_ts()
    ));
    let ack = tcp_exchange(port, &pendant, wait);
    assert!(
        text(&ack).contains("\"ACK\"0002R1L2#1001[]"),
        "{}",
        text(&ack)
    );
    let call = wait_call(&d, SHORT, "from DC-09", |c| c["protocol"] == "dc09");
    assert_eq!(call["account"], "1001", "{call}");
    assert_eq!(call["class"], "emergency", "{call}");
    assert_eq!(call["alarm"]["event_code"], "101", "{call}");
    assert_eq!(call["alarm"]["zone"], "004", "{call}");
    assert_eq!(call["alarm"]["group"], "01", "{call}");
    let id = call["id"].as_str().unwrap_or_default();
    assert!(id.starts_with("dc09-1001-0002-"), "{call}");
    // The journal holds both; the alarm under the id the operators see.
    let records = journal_records(&d.journal_dir);
    assert!(records
        .iter()
        .any(|r| r["subject"] == id && r["type"] == "alarmgate.alarm.received"));
    let dc09 = calls(&d)
        .into_iter()
        .filter(|c| c["protocol"] == "dc09")
        .count();
    assert_eq!(dc09, 1, "the 602 test report must not be listed");
}
