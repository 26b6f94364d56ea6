//! A month through the real daemon (issue 12): a few hundred real calls
//! (SIPp, one unit number), Contact ID alarm calls (the simulator: settled
//! test alarms and emergencies) and DC-09 alarms (the simulator), with
//! dispositions through the API; then, with the daemon stopped, volume
//! written into its journal for this month, for a DST month (October 2026)
//! and for a leap-day month (February 2028), calls at each month's edges
//! included. `alarmgate report calls` gives, for each month, counts equal
//! to an independent count over the journal's events (the month bounds
//! written out in UTC, not computed by the code under test); Python's csv
//! module (`;`) and openpyxl read every CSV and XLSX. While it ran, the API
//! served the extract (a tenant-scoped token: 403 for another tenant),
//! every protocol had its rows with decoded events, each frequent caller
//! crossed its tenant's 3-calls-a-day threshold once
//! (`alarmgate.caller.frequent`) and `GET /api/v1/callers/frequent` listed
//! the unit.

use crate::dc09::dc09_tables;
use crate::harness::{free_port, http_request, journal_records, metric_sum, poll_until, Daemon};
use crate::operators::api;
use crate::records::{
    bounds, daemon_with, dispose, inject, inject_calls, real_calls, subjects, this_month, SCOPED,
    UNIT, WAIT,
};
use alarmgate::records::{follow, synth};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Real SIPp calls: a few hundred, bounded at 10 a second, 3 at a time.
const REAL: u32 = 300;
/// The simulator's units: settled test alarms and emergencies.
const TEST_UNIT: &str = "4599000602";
const EMERGENCY_UNIT: &str = "4599000101";
const DC09_ACCOUNT: &str = "1001";
const DC09_ALARMS: u32 = 6;
/// A DST month and a leap-day month, with their bounds in UTC (Copenhagen).
const EDGE_MONTHS: [(&str, &str, &str); 2] = [
    ("2026-10", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"),
    ("2028-02", "2028-01-31T23:00:00Z", "2028-02-29T23:00:00Z"),
];

fn ms(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .expect("timestamp")
        .as_millisecond()
}

/// `calls` Contact ID calls from `from_user`, each carrying `message`.
fn simulate_device(d: &Daemon, from_user: &str, calls: u32, message: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args([
            "simulate",
            "device",
            &format!("sip:112@127.0.0.1:{}", d.sip_port),
        ])
        .args(["-m", message, "--from-user", from_user])
        .args([
            "--calls",
            &calls.to_string(),
            "--rate",
            "2",
            "--concurrency",
            "3",
        ])
        .args(["--json", "--seed", &from_user[6..]])
        .current_dir(&d.dir.path)
        .stdin(Stdio::null())
        .output()
        .expect("simulate device");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        v["summary"]["messages_acknowledged"],
        calls,
        "every {message} acknowledged: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn simulate_dc09(port: u16) {
    let status = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args(["simulate", "dc09", "--to", &format!("127.0.0.1:{port}")])
        .args(["--scenario", "burst", "--account", DC09_ACCOUNT])
        .args(["--count", &DC09_ALARMS.to_string()])
        .stdin(Stdio::null())
        .status()
        .expect("simulate dc09");
    assert!(status.success(), "every DC-09 alarm ACKed: {status}");
}

/// The Call-IDs of the alarm calls from `caller`.
fn alarm_calls(journal: &Path, caller: &str) -> Vec<String> {
    let mut ids: Vec<String> = journal_records(journal)
        .into_iter()
        .filter(|r| r["type"] == "alarmgate.alarm.received")
        .filter(|r| r["data"]["calling_number"] == caller)
        .filter_map(|r| r["subject"].as_str().map(str::to_string))
        .collect();
    ids.dedup();
    ids
}

/// Category counts from the journal's events alone, for calls first seen
/// in `[from, to)`: a call is every subject with `call.started` or
/// `alarm.received`; its category is its last disposition's, `technical`
/// for a test alarm never queued nor listed, else open.
fn independent_count(journal: &Path, (from, to): (i64, i64)) -> BTreeMap<String, u64> {
    let mut first: HashMap<String, i64> = HashMap::new();
    let mut disposition: HashMap<String, String> = HashMap::new();
    let (mut person, mut test_alarm) = (HashSet::new(), HashSet::new());
    for r in journal_records(journal) {
        let kind = r["type"].as_str().unwrap_or("");
        let subject = r["subject"].as_str().unwrap_or("").to_string();
        let at = r["time"].as_str().map_or(0, ms);
        match kind {
            "alarmgate.call.started" | "alarmgate.alarm.received" => {
                first.entry(subject.clone()).or_insert(at);
                if r["data"]["classification"] == "test" {
                    test_alarm.insert(subject);
                }
            }
            "alarmgate.call.queued" | "alarmgate.call.callback" => drop(person.insert(subject)),
            "alarmgate.call.disposition" => drop(disposition.insert(
                subject,
                r["data"]["disposition"].as_str().unwrap_or("").to_string(),
            )),
            _ => {}
        }
    }
    let mut counts = BTreeMap::new();
    for subject in first
        .iter()
        .filter(|(_, at)| (from..to).contains(*at))
        .map(|(s, _)| s)
    {
        let key = match disposition.get(subject) {
            Some(d) => d.clone(),
            None if test_alarm.contains(subject) && !person.contains(subject) => "technical".into(),
            None => "open".into(),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

fn report_cli(d: &Daemon, month: &str, format: &str) -> PathBuf {
    let out = d.dir.path.join(format!("extract-{month}.{format}"));
    let status = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args(["report", "calls", "--tenant", "demo", "--month", month])
        .args(["--format", format, "--out"])
        .arg(&out)
        .arg("--config")
        .arg(d.config_path())
        .current_dir(&d.dir.path)
        .status()
        .expect("run alarmgate report");
    assert!(
        status.success(),
        "alarmgate report calls --month {month} --format {format}: {status}"
    );
    out
}

const LABELS: [(&str, &str); 6] = [
    ("emergency", "nødkald"),
    ("reassurance", "tryghedskald"),
    ("false_alarm", "fejlkald"),
    ("recall", "genkald"),
    ("technical", "teknisk"),
    ("open", "uden disposition"),
];

fn python() -> String {
    std::env::var("ALARMGATE_PYTHON").unwrap_or_else(|_| ".venv/bin/python".into())
}

/// Python reads the CSV (`;`, BOM) and the XLSX (openpyxl): rows and categories.
fn read_with_python(csv: &Path, xlsx: &Path) -> Value {
    let script = r#"
import csv, json, sys, collections, openpyxl
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline=""), delimiter=";"))
head, body = rows[0], rows[1:]
cats = collections.Counter(r[head.index("Kategori")] for r in body)
wb = openpyxl.load_workbook(sys.argv[2], read_only=True)
calls = list(wb["Opkald"].iter_rows(values_only=True))
totals = {r[0]: r[1] for r in wb["Totaler"].iter_rows(values_only=True) if r[0] is not None}
wait = head.index("Ventetid (s)")
print(json.dumps({"csv_rows": len(body), "csv_cats": cats, "widths": sorted(set(len(r) for r in rows)),
  "first_category": body[0][1] if body else None, "wait_sample": next((r[wait] for r in body if r[wait]), ""),
  "xlsx_rows": len(calls) - 1, "sheets": wb.sheetnames, "xlsx_total": totals.get("I alt"), "p50": totals.get("p50")}))
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(csv)
        .arg(xlsx)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python json")
}

/// The month's extract from the CLI in every format equals `expected`,
/// and Python reads its CSV and XLSX.
fn check_month(d: &Daemon, month: &str, expected: &BTreeMap<String, u64>) -> Value {
    let total: u64 = expected.values().sum();
    let (csv, xlsx, json_path) = (
        report_cli(d, month, "csv"),
        report_cli(d, month, "xlsx"),
        report_cli(d, month, "json"),
    );
    let x: Value = serde_json::from_slice(&std::fs::read(json_path).expect("json")).expect("parse");
    assert_eq!(x["totals"]["calls"], total, "{month}");
    let by_category = x["totals"]["by_category"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for c in &by_category {
        let (key, n) = (c[0].as_str().unwrap_or(""), c[2].as_u64().unwrap_or(0));
        assert_eq!(
            n,
            expected.get(key).copied().unwrap_or(0),
            "{month} {key}: {expected:?}"
        );
    }
    let days: u64 = x["totals"]["by_day"]
        .as_array()
        .map_or(0, |d| d.iter().map(|d| d[1].as_u64().unwrap_or(0)).sum());
    assert_eq!(
        days, total,
        "{month}: every call on one local day of the month"
    );
    let py = read_with_python(&csv, &xlsx);
    assert_eq!(
        (&py["csv_rows"], &py["xlsx_rows"], &py["xlsx_total"]),
        (&json!(total), &json!(total), &json!(total)),
        "{month}"
    );
    assert_eq!(py["widths"], json!([26]), "every row has every column");
    assert_eq!(py["sheets"], json!(["Opkald", "Totaler"]));
    assert!(
        py["wait_sample"].as_str().is_some_and(|w| !w.contains('.')),
        "decimal comma: {py}"
    );
    for (key, label) in LABELS {
        let want = expected.get(key).copied().unwrap_or(0);
        assert_eq!(
            py["csv_cats"][label].as_u64().unwrap_or(0),
            want,
            "{month} {label}"
        );
    }
    x
}

/// Synthetic calls for a past or future month, ids unique to it, plus
/// four at its edges: a millisecond before, the first and the last
/// millisecond, and the next month's first.
fn month_volume(month: &str, (from, to): (i64, i64), n: u64) -> Vec<synth::Planned> {
    let mut calls = synth::plan("demo", n, from, to, 50, 3);
    let edges = [from - 1, from, to - 1, to];
    calls.extend(edges.iter().enumerate().map(|(i, &at_ms)| synth::Planned {
        id: format!("edge-{i}"),
        caller: "4500000000".into(),
        at_ms,
        disposition: Some("reassurance"),
        settled_test: false,
    }));
    for c in &mut calls {
        c.id = format!("{month}-{}", c.id);
    }
    calls
}

/// Live traffic: real calls, alarm calls and DC-09 alarms, with dispositions.
fn live_traffic(d: &Daemon, dc09_port: u16) -> u64 {
    let ids = real_calls(d, REAL);
    dispose(d, &ids);
    simulate_device(d, TEST_UNIT, 10, "1234 18 1 602 00 000");
    simulate_device(d, EMERGENCY_UNIT, 8, "1234 18 1 101 01 003");
    dispose(d, &alarm_calls(&d.journal_dir, EMERGENCY_UNIT));
    simulate_dc09(dc09_port);
    u64::from(REAL) + 10 + 8 + u64::from(DC09_ALARMS)
}

/// What the API showed while the daemon ran.
fn check_api(d: &Daemon, month: &str, total: u64) {
    let path = format!("/api/v1/reports/calls?tenant=demo&month={month}&format=json");
    let mut x = Value::Null;
    let done = poll_until(WAIT, || {
        x = api(d, "GET", &path, None).1;
        x["totals"]["calls"] == total
            && x["calls"].as_array().is_some_and(|c| {
                c.iter().filter(|c| c["disposition"].is_string()).count() == 250 + 7
            })
    });
    assert!(done, "the API's extract caught up: {}", x["totals"]);
    assert_eq!(
        x["calls"][0]["category"], "uden disposition",
        "open calls first"
    );
    let calls = x["calls"].as_array().cloned().unwrap_or_default();
    let of = |protocol: &str| {
        calls
            .iter()
            .filter(|c| c["protocol"] == protocol)
            .cloned()
            .collect::<Vec<_>>()
    };
    let (cid, dc09) = (of("contact_id"), of("dc09"));
    assert_eq!(
        (cid.len(), dc09.len()),
        (18, DC09_ALARMS as usize),
        "rows per protocol"
    );
    assert!(
        cid.iter().all(|c| c["account"] == "1234"
            && c["events"][0]
                .as_str()
                .is_some_and(|e| e.starts_with("1602") || e.starts_with("1101"))),
        "{cid:?}"
    );
    assert!(
        dc09.iter().all(|c| c["account"] == DC09_ACCOUNT
            && c["events"][0]
                .as_str()
                .is_some_and(|e| e.starts_with("1101"))),
        "{dc09:?}"
    );
    let tests: Vec<_> = cid.iter().filter(|c| c["caller"] == TEST_UNIT).collect();
    assert_eq!(tests.len(), 10);
    assert!(
        tests
            .iter()
            .all(|c| c["category"] == "teknisk" && c["queue"].is_null()),
        "settled test alarms are technical: {tests:?}"
    );
    let scoped = |tenant: &str| {
        let path = format!("/api/v1/reports/calls?tenant={tenant}&month={month}");
        http_request(d.http_port, "GET", &path, Some(SCOPED), None).map(|r| r.0)
    };
    assert_eq!((scoped("demo"), scoped("other")), (Some(200), Some(403)));
}

fn check_frequent(d: &Daemon) {
    let mut crossed = subjects(&d.journal_dir, "alarmgate.caller.frequent");
    crossed.sort();
    // The DC-09 panel (no calling number) is counted by its account since
    // the alarm core gives every protocol's alarm a `calling_number` (the
    // unit's number or account): its six alarms in a day cross too.
    assert_eq!(
        crossed,
        [DC09_ACCOUNT, UNIT, EMERGENCY_UNIT],
        "each frequent caller crossed 3 calls in 24 h once"
    );
    let (status, list) = api(d, "GET", "/api/v1/callers/frequent?tenant=demo", None);
    let first = &list["callers"][0];
    assert_eq!(
        (status, &first["caller"], &first["calls_24h"]),
        (200, &json!(UNIT), &json!(REAL)),
        "{list}"
    );
    assert!(!d.metrics().contains(UNIT), "no caller number in /metrics");
    let applied = metric_sum(&d.metrics(), follow::APPLIED_SEQ, &[]);
    assert_eq!(applied.map(|v| v > 0.0), Some(true));
}

#[test]
fn a_month_of_real_and_injected_calls_gives_extracts_equal_to_an_independent_count() {
    let test = "a_month_of_real_and_injected_calls_gives_extracts_equal_to_an_independent_count";
    let dc09_port = free_port();
    let Some(mut d) = daemon_with(test, &dc09_tables(dc09_port)) else {
        return;
    };
    let month = this_month();
    let live = live_traffic(&d, dc09_port);
    check_api(&d, &month, live);
    check_frequent(&d);
    d.sigterm();
    assert!(d.wait_exit(WAIT).is_some_and(|s| s.success()), "clean stop");

    inject(&d.journal_dir, &month, 3000);
    let edges: Vec<_> = EDGE_MONTHS
        .iter()
        .map(|(m, from, to)| (*m, (ms(from), ms(to))))
        .collect();
    for (m, range) in &edges {
        inject_calls(&d.journal_dir, &month_volume(m, *range, 300));
    }
    let expected = independent_count(&d.journal_dir, bounds(&month));
    assert_eq!(expected.values().sum::<u64>(), live + 3000);
    check_month(&d, &month, &expected);
    for (m, range) in edges {
        let expected = independent_count(&d.journal_dir, range);
        assert_eq!(
            expected.values().sum::<u64>(),
            302,
            "{m}: 300 and the two edge calls inside"
        );
        let x = check_month(&d, m, &expected);
        let last_day = x["totals"]["by_day"]
            .as_array()
            .and_then(|d| d.last().cloned());
        let want = if m == "2028-02" {
            "2028-02-29"
        } else {
            "2026-10-31"
        };
        assert_eq!(last_day.map(|d| d[0].clone()), Some(json!(want)), "{m}");
    }
}
