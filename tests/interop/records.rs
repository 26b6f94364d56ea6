//! Call records against the real daemon (issue 12).
//!
//! - Real calls (SIPp, the same unit number) with dispositions through the
//!   API, then, with the daemon stopped, a month of synthetic calls written
//!   into its journal with the journal writer: `alarmgate report calls`
//!   (CSV, JSON, XLSX) catches the records up and its counts equal an
//!   independent count over the journal's events; Python's csv module (`;`)
//!   and openpyxl read the files. While it ran, the API served the extract
//!   (a tenant-scoped token: 403 for another tenant), the unit crossed its
//!   tenant's 3-calls-a-day threshold once (`alarmgate.caller.frequent`)
//!   and `GET /api/v1/callers/frequent` listed it.
//! - SIGKILL while the projection writes, then a deleted database: after
//!   each restart the records equal a rebuild from the journal, row for row.

use crate::harness::{
    http_get, http_request, journal_records, metric_sum, need_sipp, poll_until, Daemon,
};
use crate::operators::{api, Plan, NOWHERE};
use alarmgate::journal::{Journal, JournalConfig, JournalReader, SyncMode};
use alarmgate::records::{follow, frequent::Detector, report, synth, CallRecord, Store};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const UNIT: &str = "4512345678";
const SCOPED: &str = "records-scoped-token";
const WAIT: Duration = Duration::from_secs(60);
const DISPOSITIONS: [Option<&str>; 6] = [
    Some("emergency"),
    Some("reassurance"),
    Some("false_alarm"),
    Some("recall"),
    Some("technical"),
    None,
];

fn daemon(test: &str) -> Option<Daemon> {
    if !need_sipp(test) {
        return None;
    }
    let mut cfg = Plan::new(&["op1"], NOWHERE).config();
    cfg.tenant_keys.push_str("timezone = \"Europe/Copenhagen\"\nlanguage = \"da\"\n[tenants.frequent_callers]\nper_24h = 3\n");
    let scoped = alarmgate::config::token_sha256_line(SCOPED);
    cfg.extra.push_str(&format!(
        "[[api.tokens]]\nname = \"demo-only\"\n{scoped}\ntenants = [\"demo\"]\n\n"
    ));
    Daemon::start(test, &cfg)
}

/// `n` plain calls from the unit, each held 300 ms; their Call-IDs.
fn real_calls(d: &Daemon, n: u32) -> Vec<String> {
    d.sipp("uac_basic.xml")
        .calls(n)
        .rate(5, n)
        .hold_ms(300)
        .timeout_s(120)
        .run()
        .assert_ok(n);
    let mut ids = Vec::new();
    poll_until(WAIT, || {
        ids = subjects(&d.journal_dir, "alarmgate.call.ended");
        ids.len() >= n as usize
    });
    assert_eq!(ids.len(), n as usize, "every call ended in the journal");
    ids
}

fn subjects(journal: &Path, kind: &str) -> Vec<String> {
    let records = journal_records(journal).into_iter();
    records
        .filter(|r| r["type"] == kind)
        .filter_map(|r| r["subject"].as_str().map(str::to_string))
        .collect()
}

fn dispose(d: &Daemon, ids: &[String]) {
    for (i, id) in ids.iter().enumerate() {
        let Some(disposition) = DISPOSITIONS[i % DISPOSITIONS.len()] else {
            continue;
        };
        let body = json!({"disposition": disposition, "note": format!("real call {i}; ok")});
        let (status, v) = api(
            d,
            "POST",
            &format!("/api/v1/calls/{id}/disposition"),
            Some(body),
        );
        assert_eq!(status, 204, "{id}: {v}");
    }
}

/// The current month in Copenhagen.
fn this_month() -> String {
    let tz = jiff::tz::TimeZone::get("Europe/Copenhagen").expect("tz");
    jiff::Timestamp::now()
        .to_zoned_datetime(tz)
        .strftime("%Y-%m")
        .to_string()
}

fn bounds(month: &str) -> (i64, i64) {
    let tz = jiff::tz::TimeZone::get("Europe/Copenhagen").expect("tz");
    report::month_bounds(report::Month::parse(month).expect("month"), &tz).expect("bounds")
}

/// Category counts from the journal's events alone: a call is every subject
/// with `call.started` or `alarm.received`, received at its first event;
/// its category is its last disposition's, `technical` for a test alarm
/// never queued, else open.
fn independent_count(journal: &Path, month: &str) -> BTreeMap<String, u64> {
    let (from, to) = bounds(month);
    let mut first: HashMap<String, i64> = HashMap::new();
    let mut disposition: HashMap<String, String> = HashMap::new();
    let (mut queued, mut test_alarm) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    for r in journal_records(journal) {
        let (kind, subject) = (
            r["type"].as_str().unwrap_or(""),
            r["subject"].as_str().unwrap_or("").to_string(),
        );
        let at = r["time"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or(0, |t| t.as_millisecond());
        match kind {
            "alarmgate.call.started" | "alarmgate.alarm.received" => {
                first.entry(subject.clone()).or_insert(at);
                if r["data"]["classification"] == "test" {
                    test_alarm.insert(subject);
                }
            }
            "alarmgate.call.queued" => drop(queued.insert(subject)),
            "alarmgate.call.disposition" => drop(disposition.insert(
                subject,
                r["data"]["disposition"].as_str().unwrap_or("").to_string(),
            )),
            _ => {}
        }
    }
    let mut counts = BTreeMap::new();
    for (subject, at) in first.iter().filter(|(_, at)| **at >= from && **at < to) {
        let _ = at;
        let key = match disposition.get(subject) {
            Some(d) => d.clone(),
            None if test_alarm.contains(subject) && !queued.contains(subject) => "technical".into(),
            None => "open".into(),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// Writes `n` synthetic calls of the month into the stopped daemon's journal.
fn inject(journal: &Path, month: &str, n: u64) -> u64 {
    let (from, to) = bounds(month);
    let calls = synth::plan("demo", n, from, to, 200, 11);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let config = JournalConfig {
            dir: journal.to_path_buf(),
            segment_bytes: 4 << 20,
            sync: SyncMode::Never,
        };
        let j = Journal::open(config).expect("journal");
        let mut rng = synth::Rng::new(5);
        let pending: Vec<_> = calls
            .iter()
            .flat_map(|c| synth::payloads("demo", c, &mut rng))
            .map(|p| j.append(p))
            .collect();
        let mut last = 0;
        for p in pending {
            last = p.await.expect("append");
        }
        j.close();
        last
    })
}

fn report_cli(d: &Daemon, month: &str, format: &str) -> PathBuf {
    let out = d.dir.path.join(format!("extract.{format}"));
    let status = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args([
            "report", "calls", "--tenant", "demo", "--month", month, "--format", format, "--out",
        ])
        .arg(&out)
        .arg("--config")
        .arg(d.config_path())
        .current_dir(&d.dir.path)
        .status()
        .expect("run alarmgate report");
    assert!(
        status.success(),
        "alarmgate report calls --format {format}: {status}"
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
print(json.dumps({"csv_rows": len(body), "csv_cats": cats, "widths": sorted(set(len(r) for r in rows)),
  "first_category": body[0][1] if body else None, "wait_sample": next((r[5] for r in body if r[5]), ""),
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

#[test]
fn real_and_injected_calls_give_an_extract_equal_to_an_independent_count() {
    let test = "real_and_injected_calls_give_an_extract_equal_to_an_independent_count";
    let Some(mut d) = daemon(test) else { return };
    let ids = real_calls(&d, 24);
    dispose(&d, &ids);
    let month = this_month();
    let path = format!("/api/v1/reports/calls?tenant=demo&month={month}&format=json");
    let mut x = Value::Null;
    poll_until(WAIT, || {
        x = api(&d, "GET", &path, None).1;
        x["calls"]
            .as_array()
            .is_some_and(|c| c.iter().filter(|c| c["disposition"].is_string()).count() == 20)
    });
    assert_eq!(x["totals"]["calls"], 24, "{x}");
    assert_eq!(
        x["calls"][0]["category"], "uden disposition",
        "open calls first"
    );
    let scoped = |tenant: &str| {
        http_request(
            d.http_port,
            "GET",
            &format!("/api/v1/reports/calls?tenant={tenant}&month={month}"),
            Some(SCOPED),
            None,
        )
        .map(|r| r.0)
    };
    assert_eq!(scoped("demo"), Some(200));
    assert_eq!(scoped("other"), Some(403));
    let frequent = subjects(&d.journal_dir, "alarmgate.caller.frequent");
    assert_eq!(frequent, [UNIT], "one crossing of 3 calls in 24 h");
    let (status, list) = api(&d, "GET", "/api/v1/callers/frequent?tenant=demo", None);
    assert_eq!(
        (
            status,
            &list["callers"][0]["caller"],
            &list["callers"][0]["calls_24h"]
        ),
        (200, &json!(UNIT), &json!(24)),
        "{list}"
    );
    assert!(!d.metrics().contains(UNIT), "no caller number in /metrics");
    assert_eq!(
        metric_sum(&d.metrics(), follow::APPLIED_SEQ, &[]).map(|v| v > 0.0),
        Some(true)
    );

    d.sigterm();
    assert!(d.wait_exit(WAIT).is_some_and(|s| s.success()), "clean stop");
    inject(&d.journal_dir, &month, 3000);
    let (csv, xlsx, json_path) = (
        report_cli(&d, &month, "csv"),
        report_cli(&d, &month, "xlsx"),
        report_cli(&d, &month, "json"),
    );
    let expected = independent_count(&d.journal_dir, &month);
    let total: u64 = expected.values().sum();
    assert_eq!(total, 3024);
    let x: Value = serde_json::from_slice(&std::fs::read(json_path).expect("json")).expect("parse");
    assert_eq!(x["totals"]["calls"], total);
    for (key, n) in x["totals"]["by_category"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c[0].as_str().unwrap_or("").to_string(),
                c[2].as_u64().unwrap_or(0),
            )
        })
    {
        let key = if key == "false_alarm" {
            "false_alarm".to_string()
        } else {
            key
        };
        assert_eq!(
            n,
            expected.get(&key).copied().unwrap_or(0),
            "{key}: {expected:?}"
        );
    }
    let py = read_with_python(&csv, &xlsx);
    assert_eq!(py["csv_rows"], total);
    assert_eq!(py["xlsx_rows"], total);
    assert_eq!(py["xlsx_total"], total);
    assert_eq!(py["widths"], json!([24]), "every row has every column");
    assert_eq!(py["first_category"], "uden disposition");
    assert!(
        py["wait_sample"].as_str().is_some_and(|w| !w.contains('.')),
        "decimal comma: {py}"
    );
    assert_eq!(py["sheets"], json!(["Opkald", "Totaler"]));
    assert!(py["p50"].is_number(), "{py}");
    for (key, label) in LABELS {
        assert_eq!(
            py["csv_cats"][label].as_u64().unwrap_or(0),
            expected.get(key).copied().unwrap_or(0),
            "{label}"
        );
    }
}

/// Starts the daemon again on its own config and directory.
fn restart(d: &Daemon) -> Child {
    let log = std::fs::OpenOptions::new()
        .append(true)
        .open(&d.log)
        .expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .arg("run")
        .arg("--config")
        .arg(d.config_path())
        .current_dir(&d.dir.path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn");
    assert!(
        poll_until(WAIT, || matches!(
            http_get(d.http_port, "/readyz"),
            Some((200, _))
        )),
        "restarted daemon not ready"
    );
    child
}

fn applied(d: &Daemon) -> f64 {
    http_get(d.http_port, "/metrics")
        .and_then(|(_, text)| metric_sum(&text, follow::APPLIED_SEQ, &[]))
        .unwrap_or(0.0)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

fn rows(db: &Path) -> Vec<CallRecord> {
    Store::open_read(db).and_then(|s| s.all()).expect("rows")
}

fn rebuilt(journal: &Path, scratch: &Path) -> Vec<CallRecord> {
    let mut store = Store::open(scratch).expect("scratch store");
    let reader = JournalReader::open(journal).expect("reader");
    follow::catch_up(
        &mut store,
        &reader,
        u64::MAX,
        &mut Detector::default(),
        u64::MAX,
    )
    .expect("rebuild");
    store.all().expect("rows")
}

#[test]
fn sigkill_mid_projection_and_a_deleted_database_leave_records_equal_to_a_rebuild() {
    let test = "sigkill_mid_projection_and_a_deleted_database_leave_records_equal_to_a_rebuild";
    let Some(mut d) = daemon(test) else { return };
    let ids = real_calls(&d, 6);
    dispose(&d, &ids);
    d.sigterm();
    assert!(d.wait_exit(WAIT).is_some_and(|s| s.success()), "clean stop");
    let last = inject(&d.journal_dir, &this_month(), 12_000) as f64;
    let db = d.dir.path.join("records.sqlite");

    let mut child = restart(&d);
    // The first batches are committed: kill while later ones are written.
    let committed = || {
        Store::open_read(&db)
            .and_then(|s| s.applied_seq())
            .unwrap_or(0)
    };
    assert!(poll_until(WAIT, || committed() > 0), "no batch committed");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let at_kill = Store::open_read(&db)
        .and_then(|s| s.applied_seq())
        .expect("applied") as f64;
    assert!(
        at_kill < last,
        "the projection had finished before the kill ({at_kill} of {last}); raise the volume"
    );

    let child = restart(&d);
    assert!(
        poll_until(WAIT, || applied(&d) >= last),
        "caught up after SIGKILL: {} of {last}",
        applied(&d)
    );
    stop(child);
    let after_kill = rows(&db);
    let scratch = d.dir.path.join("scratch.sqlite");
    assert_eq!(
        after_kill,
        rebuilt(&d.journal_dir, &scratch),
        "after SIGKILL: row for row"
    );

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let child = restart(&d);
    assert!(
        poll_until(WAIT, || applied(&d) >= last),
        "rebuilt after deletion: {} of {last}",
        applied(&d)
    );
    stop(child);
    assert_eq!(
        rows(&db),
        after_kill,
        "a deleted database is rebuilt row for row"
    );
}
