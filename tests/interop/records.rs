//! Call records against the real daemon (issue 12); the month's extract
//! is `records_month`, which uses these helpers.
//!
//! - SIGKILL while the projection writes, then a deleted database: after
//!   each restart the records equal a rebuild from the journal, row for row.

use crate::harness::{http_get, journal_records, metric_sum, need_sipp, poll_until, Daemon};
use crate::operators::{api, Plan, NOWHERE};
use alarmgate::journal::{Journal, JournalConfig, JournalReader, SyncMode};
use alarmgate::records::{follow, frequent::Detector, report, synth, CallRecord, Store};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) const UNIT: &str = "4512345678";
pub(crate) const SCOPED: &str = "records-scoped-token";
pub(crate) const WAIT: Duration = Duration::from_secs(60);
const DISPOSITIONS: [Option<&str>; 6] = [
    Some("emergency"),
    Some("reassurance"),
    Some("false_alarm"),
    Some("recall"),
    Some("technical"),
    None,
];

pub(crate) fn daemon(test: &str) -> Option<Daemon> {
    daemon_with(test, "")
}

/// [`daemon`] with `extra` whole tables appended to its config.
pub(crate) fn daemon_with(test: &str, extra: &str) -> Option<Daemon> {
    if !need_sipp(test) {
        return None;
    }
    let mut cfg = Plan::new(&["op1"], NOWHERE).config();
    cfg.extra.push_str(extra);
    cfg.tenant_keys.push_str("timezone = \"Europe/Copenhagen\"\nlanguage = \"da\"\n[tenants.frequent_callers]\nper_24h = 3\n");
    let scoped = alarmgate::config::token_sha256_line(SCOPED);
    cfg.extra.push_str(&format!(
        "[[api.tokens]]\nname = \"demo-only\"\n{scoped}\ntenants = [\"demo\"]\n\n"
    ));
    Daemon::start(test, &cfg)
}

/// `n` plain calls from the unit, each held 300 ms; their Call-IDs.
pub(crate) fn real_calls(d: &Daemon, n: u32) -> Vec<String> {
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

pub(crate) fn subjects(journal: &Path, kind: &str) -> Vec<String> {
    let records = journal_records(journal).into_iter();
    records
        .filter(|r| r["type"] == kind)
        .filter_map(|r| r["subject"].as_str().map(str::to_string))
        .collect()
}

pub(crate) fn dispose(d: &Daemon, ids: &[String]) {
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
pub(crate) fn this_month() -> String {
    let tz = jiff::tz::TimeZone::get("Europe/Copenhagen").expect("tz");
    jiff::Timestamp::now()
        .to_zoned_datetime(tz)
        .strftime("%Y-%m")
        .to_string()
}

pub(crate) fn bounds(month: &str) -> (i64, i64) {
    let tz = jiff::tz::TimeZone::get("Europe/Copenhagen").expect("tz");
    report::month_bounds(report::Month::parse(month).expect("month"), &tz).expect("bounds")
}

/// Writes `n` synthetic calls of the month into the stopped daemon's journal.
pub(crate) fn inject(journal: &Path, month: &str, n: u64) -> u64 {
    let (from, to) = bounds(month);
    inject_calls(journal, &synth::plan("demo", n, from, to, 200, 11))
}

/// Writes `calls` into the stopped daemon's journal; the last seq.
pub(crate) fn inject_calls(journal: &Path, calls: &[synth::Planned]) -> u64 {
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
