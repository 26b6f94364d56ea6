//! Journal retention in the running daemon. The journal is filled before the
//! daemon starts with 120 events in small segments whose files were last
//! written 10 days ago; the daemon runs with `journal_max_age_days = 1`.
//!
//! - without a bus, the first pass (at start) deletes every closed segment;
//! - with a bus that is down, the same segments are held (nothing was
//!   acknowledged), counted in the held gauge; once the bus is back and has
//!   acknowledged them, the next pass (30 s later) deletes them.

use super::{need_nats, Nats, STREAM};
use crate::harness::{poll_until, Config, Daemon, TestDir};
use alarmgate::journal::retention::{JOURNAL_SEGMENTS, RETENTION_HELD, RETENTION_SEGMENTS};
use alarmgate::journal::{Journal, JournalConfig, SyncMode};
use alarmgate::telemetry::metrics as m;
use std::path::Path;
use std::time::{Duration, SystemTime};

const EVENTS: u64 = 120;
const TEN_DAYS: Duration = Duration::from_secs(10 * 86_400);

/// Writes the old events in ~8 KiB segments, dates every segment file 10
/// days back; returns how many segments there are.
fn prefill(dir: &Path) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let j = Journal::open(JournalConfig {
            dir: dir.to_path_buf(),
            segment_bytes: 8 * 1024,
            sync: SyncMode::Always,
        })
        .expect("open journal");
        let then = SystemTime::now() - TEN_DAYS;
        for i in 0..EVENTS {
            let data = serde_json::json!({"tenant": "demo", "reason": "remote_bye", "duration_ms": 1000, "answered": true});
            let call = format!("old-{i}@127.0.0.1");
            let event = alarmgate::events::record(
                "old",
                &call,
                "alarmgate.call.ended",
                then,
                u128::from(i),
                data,
            );
            j.append(event).await.expect("append");
        }
        j.close();
    });
    let files = segments(dir);
    for p in &files {
        let f = std::fs::File::options()
            .write(true)
            .open(p)
            .expect("segment");
        f.set_modified(SystemTime::now() - TEN_DAYS)
            .expect("set mtime");
    }
    files.len()
}

fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "seg"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn config(journal: &Path, bus: &str) -> Config {
    Config {
        extra: format!(
            "[alarm]\njournal_dir = \"{}\"\njournal_max_age_days = 1\n\n{bus}",
            journal.display()
        ),
        ..Config::default()
    }
}

#[test]
fn retention_deletes_old_segments_at_start_without_a_bus() {
    let test = "retention_deletes_old_segments_at_start_without_a_bus";
    let dir = TestDir::new(test);
    let journal = dir.path.join("journal");
    let n = prefill(&journal);
    assert!(n >= 4, "{n} segments");
    let Some(d) = Daemon::start(test, &config(&journal, "")) else {
        return;
    };
    let closed = (n - 1) as f64;
    assert!(
        d.wait_metric_at_least(RETENTION_SEGMENTS, &[], closed, Duration::from_secs(20)),
        "every closed old segment deleted"
    );
    assert_eq!(segments(&journal).len(), 1, "the newest segment stays");
    assert_eq!(d.metric(JOURNAL_SEGMENTS, &[]), Some(1.0));
    assert_eq!(d.metric(RETENTION_HELD, &[]), Some(0.0));
}

#[test]
fn retention_holds_segments_until_the_bus_acknowledged_them() {
    let test = "retention_holds_segments_until_the_bus_acknowledged_them";
    let Some(bin) = need_nats(test) else { return };
    let dir = TestDir::new(test);
    let mut nats = Nats::start(bin, &dir.path);
    nats.down(); // the bus is out when the daemon starts
    let journal = dir.path.join("journal");
    let n = prefill(&journal);
    let bus = format!(
        "[bus]\nurl = \"{}\"\nstream = \"{STREAM}\"\nretry_initial_ms = 100\nretry_max_ms = 500\n",
        nats.url()
    );
    let Some(d) = Daemon::start(test, &config(&journal, &bus)) else {
        return;
    };
    let closed = (n - 1) as f64;
    assert!(
        poll_until(Duration::from_secs(20), || d.metric(RETENTION_HELD, &[])
            == Some(closed)),
        "old segments held while the bus has acknowledged nothing: {:?}",
        d.metric(RETENTION_HELD, &[])
    );
    assert_eq!(segments(&journal).len(), n, "nothing deleted");
    assert_eq!(d.metric(RETENTION_SEGMENTS, &[]).unwrap_or(0.0), 0.0);
    nats.up();
    assert!(
        d.wait_metric_at_least(
            m::BUS_ACKED_SEQ,
            &[],
            EVENTS as f64,
            Duration::from_secs(30)
        ),
        "the bus took the old events"
    );
    // the next pass, at most 30 s after the first
    assert!(
        d.wait_metric_at_least(RETENTION_SEGMENTS, &[], closed, Duration::from_secs(45)),
        "deleted once acknowledged"
    );
    assert_eq!(segments(&journal).len(), 1);
    assert_eq!(d.metric(RETENTION_HELD, &[]), Some(0.0));
}
