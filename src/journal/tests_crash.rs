//! Crash simulation (a child process killed with SIGKILL mid-append) and the
//! `#[ignore]`d measurement behind BENCHMARKS.md.

// Wall-clock latencies of a real child process (clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::tests::{config, read_all, TempDir};
use super::*;

/// Set in the child: the journal directory to append to until killed.
const CHILD_ENV: &str = "ALARMGATE_JOURNAL_CRASH_CHILD_DIR";
/// Durable appends the parent waits to see before it kills the child.
const KILL_AFTER: usize = 2000;
/// Small segments, so that the child rolls several times before it dies.
const CHILD_SEGMENT_BYTES: u64 = 8 << 10;

/// Not a test of its own: the body of the child process, idle unless
/// [`CHILD_ENV`] is set.
#[test]
fn crash_child() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child_appends_until_killed(PathBuf::from(dir));
    }
}

/// Four tasks append in a loop; each prints `durable <seq> <payload> end`
/// only after its append resolved.
fn child_appends_until_killed(dir: PathBuf) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let j = Journal::open(config(&dir, CHILD_SEGMENT_BYTES)).expect("child open");
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..4 {
            let j = j.clone();
            tasks.spawn(async move {
                for i in 0..50_000 {
                    let payload = format!("w{w}-{i}");
                    let seq = j
                        .append(payload.clone().into_bytes())
                        .await
                        .expect("child append");
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "durable {seq} {payload} end").expect("stdout");
                }
            });
        }
        tasks.join_all().await;
    });
}

fn parse_durable(line: &str) -> Option<(u64, String)> {
    let mut words = line.split(' ');
    let (tag, seq, payload, end) = (words.next()?, words.next()?, words.next()?, words.next()?);
    (tag == "durable" && end == "end").then(|| Some((seq.parse().ok()?, payload.to_owned())))?
}

#[test]
fn sigkill_mid_append_loses_no_acknowledged_record() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let tmp = TempDir::new("crash");
    let acknowledged = run_and_kill_child(tmp.path());
    assert!(
        acknowledged.len() >= KILL_AFTER,
        "child acknowledged only {}",
        acknowledged.len()
    );
    let j = Journal::open(config(tmp.path(), CHILD_SEGMENT_BYTES)).expect("recover after SIGKILL");
    let last = j.last_durable_seq();
    eprintln!(
        "child acknowledged {}, journal holds {last}: {:?}",
        acknowledged.len(),
        j.recovery()
    );
    let stored: HashMap<u64, Vec<u8>> = read_all(tmp.path(), 1)
        .into_iter()
        .map(|r| (r.seq, r.payload))
        .collect();
    assert_eq!(stored.len() as u64, last, "seqs 1..={last} all present");
    for (seq, payload) in &acknowledged {
        assert_eq!(
            stored.get(seq).map(Vec::as_slice),
            Some(payload.as_bytes()),
            "seq {seq}"
        );
    }
    assert_eq!(
        j.append(b"after".to_vec())
            .await_blocking()
            .expect("append"),
        last + 1
    );
    j.close();
}

/// Starts the child, kills it with SIGKILL after [`KILL_AFTER`] durable
/// appends, and returns every (seq, payload) it reported durable.
fn run_and_kill_child(dir: &Path) -> Vec<(u64, String)> {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "journal::tests_crash::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut acknowledged = Vec::new();
    while acknowledged.len() < KILL_AFTER {
        match lines.next() {
            Some(Ok(line)) => acknowledged.extend(parse_durable(&line)),
            _ => break,
        }
    }
    child.kill().expect("SIGKILL");
    acknowledged.extend(
        lines
            .map_while(Result::ok)
            .filter_map(|l| parse_durable(&l)),
    );
    child.wait().expect("reap child");
    acknowledged
}

/// Blocking wait for an append future outside a runtime.
trait AwaitBlocking: std::future::Future + Sized {
    fn await_blocking(self) -> Self::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(self)
    }
}

impl<F: std::future::Future> AwaitBlocking for F {}

/// Appends/s and append latency percentiles with `writers` concurrent tasks.
async fn measure(dir: &Path, writers: usize, per_writer: usize) -> String {
    let j = Journal::open(config(dir, DEFAULT_SEGMENT_BYTES)).expect("open");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..writers {
        let j = j.clone();
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(per_writer);
            for i in 0..per_writer {
                let t = Instant::now();
                j.append(
                    format!("{{\"account\":\"1234\",\"qualifier\":1,\"code\":130,\"zone\":{i}}}")
                        .into_bytes(),
                )
                .await
                .expect("append");
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let mut lat: Vec<Duration> = tasks.join_all().await.into_iter().flatten().collect();
    let elapsed = started.elapsed();
    lat.sort_unstable();
    let pct = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)];
    let stats = j.stats();
    j.close();
    format!(
        "writers {writers:>2}: {:>7.0} appends/s, p50 {:?}, p99 {:?}, {} appends in {} syncs ({:.1}/sync)",
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(50),
        pct(99),
        stats.records_written,
        stats.syncs,
        stats.records_written as f64 / stats.syncs.max(1) as f64
    )
}

/// `cargo test --release --lib journal::tests_crash::bench -- --ignored --nocapture`
/// (set TMPDIR to put the journal on the disk to measure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement for BENCHMARKS.md, not a test"]
async fn bench_append_latency_and_recovery_scan() {
    for (writers, per_writer) in [(1, 2000), (64, 200)] {
        let tmp = TempDir::new("bench");
        println!("{}", measure(tmp.path(), writers, per_writer).await);
    }
    let tmp = TempDir::new("bench-scan");
    let fast = JournalConfig {
        sync: SyncMode::Never,
        ..config(tmp.path(), DEFAULT_SEGMENT_BYTES)
    };
    let j = Journal::open(fast).expect("open");
    let pending: Vec<_> = (0..200_000).map(|_| j.append(vec![b'x'; 300])).collect();
    for p in pending {
        p.await.expect("append");
    }
    j.close();
    let t = Instant::now();
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("reopen");
    let r = j.recovery().clone();
    println!(
        "recovery scan: {} records, {} segments in {:?}",
        r.records,
        r.segments,
        t.elapsed()
    );
    j.close();
}
