//! Supervision end to end with a short interval: spandsp's Contact ID
//! sender (a unit nobody here wrote) sends a 602 periodic test; the unit is
//! listed by `GET /api/v1/units`; then silence: `alarmgate.unit.fail_to_report`
//! in the journal, the unit overdue in the API and the metric, and a
//! fail-to-report entry for the operators in `GET /api/v1/calls`; then a
//! second test: `alarmgate.unit.restored`.

use crate::harness::{
    http_request, journal_records, need_spandsp, poll_until, Daemon, PeerResult, PyPeer,
};
use crate::operators::{Plan, NOWHERE, TOKEN};
use alarmgate::telemetry::metrics as m;
use serde_json::Value;
use std::time::Duration;

/// Generous: the machine is shared; the deadline itself is 12 s after a report.
const WAIT: Duration = Duration::from_secs(60);

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// spandsp's sender dials the daemon with one 602 test from account 1234.
fn periodic_test(d: &Daemon) -> PeerResult {
    let uri = format!("sip:112@127.0.0.1:{}", d.sip_port);
    let (port, rtp) = (
        crate::harness::free_port().to_string(),
        crate::harness::free_udp_block(20).to_string(),
    );
    let mut a = strings(&["device", "--uri", &uri, "--local-port", &port]);
    a.extend(strings(&["--rtp-port", &rtp, "--timeout", "45"]));
    a.extend(strings(&["-m", "1234 18 1 602 00 000"]));
    let r = PyPeer::spawn("cid_peer.py", &d.dir.path, &a, Duration::from_secs(70)).wait();
    eprintln!("{}: spandsp unit: {}", d.name, r.json);
    r
}

fn units(d: &Daemon, query: &str) -> Vec<Value> {
    let path = format!("/api/v1/units{query}");
    let answer = http_request(d.http_port, "GET", &path, Some(TOKEN), None);
    let body = answer.map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str::<Vec<Value>>(&body).unwrap_or_default()
}

fn events(d: &Daemon, kind: &str) -> Vec<Value> {
    let all = journal_records(&d.journal_dir);
    all.into_iter().filter(|r| r["type"] == kind).collect()
}

fn overdue_metric(d: &Daemon) -> Option<f64> {
    d.metric(m::UNITS_OVERDUE, &[("tenant", "demo")])
}

#[test]
fn a_silent_unit_fails_to_report_and_is_restored_by_its_next_test() {
    let test = "a_silent_unit_fails_to_report_and_is_restored_by_its_next_test";
    if !need_spandsp(test) {
        return;
    }
    // One operator (not logged in) serving the demo tenant's queue: the
    // fail-to-report entry is listed for the tenant's operators.
    let mut cfg = Plan::new(&["anna"], NOWHERE).config();
    cfg.tenant_keys
        .push_str("supervision = { interval_s = 10, grace_s = 2 }\n");
    let Some(d) = Daemon::start(test, &cfg) else {
        return;
    };
    let first = periodic_test(&d);
    assert_eq!(
        first.json["acknowledged"].as_u64(),
        Some(1),
        "{}",
        first.json
    );
    let listed = poll_until(WAIT, || {
        units(&d, "").iter().any(|u| u["account"] == "1234")
    });
    assert!(listed, "unit listed: {:?}", units(&d, ""));
    let unit = units(&d, "?tenant=demo")
        .into_iter()
        .next()
        .unwrap_or_default();
    assert_eq!(
        (&unit["protocol"], &unit["interval_s"], &unit["grace_s"]),
        (&"contact_id".into(), &10.into(), &2.into()),
        "{unit}"
    );

    // Silence: overdue 12 s after the test, raised once.
    let raised = poll_until(WAIT, || {
        !events(&d, "alarmgate.unit.fail_to_report").is_empty()
    });
    assert!(raised, "fail_to_report journalled:\n{}", d.log_text());
    let overdue = units(&d, "?state=overdue");
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert!(
        poll_until(WAIT, || overdue_metric(&d) == Some(1.0)),
        "{}",
        d.metrics()
    );
    assert_eq!(
        d.metric(m::UNITS_SUPERVISED, &[("tenant", "demo")]),
        Some(1.0)
    );
    let calls = http_request(d.http_port, "GET", "/api/v1/calls", Some(TOKEN), None);
    let calls = calls.map(|(_, b)| b).unwrap_or_default();
    assert!(
        calls.contains("\"supervision\""),
        "listed for operators: {calls}"
    );
    let ftr = events(&d, "alarmgate.unit.fail_to_report");
    assert_eq!(ftr.len(), 1, "raised once: {ftr:?}");
    assert_eq!(
        (&ftr[0]["data"]["account"], &ftr[0]["data"]["protocol"]),
        (&"1234".into(), &"contact_id".into())
    );

    // The next test restores it.
    let second = periodic_test(&d);
    assert_eq!(
        second.json["acknowledged"].as_u64(),
        Some(1),
        "{}",
        second.json
    );
    let restored = poll_until(WAIT, || !events(&d, "alarmgate.unit.restored").is_empty());
    assert!(restored, "restored journalled:\n{}", d.log_text());
    assert_eq!(events(&d, "alarmgate.unit.fail_to_report").len(), 1);
}
