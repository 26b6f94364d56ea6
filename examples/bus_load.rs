//! Events through the journal alone, and through journal + NATS JetStream
//! (BENCHMARKS.md, "Events throughput"; `bench/bus_load.sh` runs the set).
//!
//! ```sh
//! cargo run --release --example bus_load -- --dir var/bench-journal --events 20000 --producers 64
//! cargo run --release --example bus_load -- --dir var/bench-journal --events 20000 --producers 64 --nats nats://127.0.0.1:4222
//! cargo run --release --example bus_load -- --dir var/bench-journal --events 3000 --rate 200 --nats nats://127.0.0.1:4222
//! ```
//!
//! Each event is an `alarmgate.alarm.received` CloudEvent of the daemon's
//! shape and size (decoded fields, 16 digits of forensics). The journal is
//! the daemon's: `fdatasync` per group commit (`--no-sync` to skip), in
//! `--dir` (emptied first; put it on the disk the daemon would use).
//!
//! - closed loop (default): `--producers` tasks append one event each and
//!   wait for it to be durable before the next, as alarm calls do; the
//!   throughput is events per second over the run;
//! - open loop (`--rate R`): one append every 1/R s, whatever the journal
//!   does, for latency at a steady load.
//!
//! Latencies per event, p50/p99/max: append called to durable (what the
//! daemon waits for between a decoded message and its kissoff) and, with
//! `--nats`, append called to the bus's ack (the forwarder of the daemon,
//! `alarmgate::bus::Forwarder`, publishing to stream `ALARMGATE_BENCH`).
//! One JSON line on stdout.

// A benchmark measures real time (clippy.toml holds the cores to simulated time).
#![allow(clippy::disallowed_methods)]

use alarmgate::bus::Forwarder;
use alarmgate::config::BusConfig;
use alarmgate::journal::{Journal, JournalConfig, JournalHandle, SyncMode};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

struct Args {
    dir: std::path::PathBuf,
    events: u64,
    producers: u64,
    rate: Option<f64>,
    nats: Option<String>,
    inflight: u32,
    sync: bool,
}

fn args() -> Args {
    let mut a = Args {
        dir: "var/bench-journal".into(),
        events: 20_000,
        producers: 64,
        rate: None,
        nats: None,
        inflight: 64,
        sync: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&flag));
        match flag.as_str() {
            "--dir" => a.dir = value().into(),
            "--events" => a.events = value().parse().unwrap_or_else(|_| usage("--events")),
            "--producers" => a.producers = value().parse().unwrap_or_else(|_| usage("--producers")),
            "--rate" => a.rate = Some(value().parse().unwrap_or_else(|_| usage("--rate"))),
            "--nats" => a.nats = Some(value()),
            "--inflight" => a.inflight = value().parse().unwrap_or_else(|_| usage("--inflight")),
            "--no-sync" => a.sync = false,
            other => usage(other),
        }
    }
    a
}

fn usage(bad: &str) -> ! {
    eprintln!(
        "bus_load: bad or missing argument near {bad}; see the doc comment of examples/bus_load.rs"
    );
    std::process::exit(64)
}

/// An alarm.received event of the daemon's shape.
fn alarm_event(n: u64) -> Vec<u8> {
    let digits: Vec<_> = (0..16)
        .map(|i| json!({"digit": "1", "ms": 52 + i % 5, "level_dbm0": -9.8, "twist_db": 1.2, "snr_db": 31.0}))
        .collect();
    let data = json!({
        "tenant": "bench", "calling_number": format!("+4712{n:06}"), "protocol": "contact_id",
        "raw": "1234181602000000", "account": "1234", "qualifier": 1, "event_code": 602,
        "event_name": "Periodic test report", "group": "00", "zone": "000", "class": "test",
        "forensics": {"dtmf": "inband", "digits": digits, "packets_lost": 0, "retries": 0},
    });
    let call_id = format!("bench-{n}@127.0.0.1");
    alarmgate::events::record(
        "bench",
        &call_id,
        alarmgate::events::ALARM_RECEIVED,
        SystemTime::now(),
        u128::from(n) << 20 | 0xbe7c,
        data,
    )
}

type Times = Arc<Mutex<HashMap<u64, Instant>>>;

/// Appends event `n`, records when the append was called and when it was durable.
async fn one(journal: &JournalHandle, n: u64, started: &Times, durable: &Mutex<Vec<f64>>) {
    let t = Instant::now();
    match journal.append(alarm_event(n)).await {
        Ok(seq) => {
            let waited = t.elapsed().as_secs_f64();
            if let Ok(mut d) = durable.lock() {
                d.push(waited);
            }
            if let Ok(mut s) = started.lock() {
                s.insert(seq, t);
            }
        }
        Err(err) => {
            eprintln!("bus_load: append failed: {err}");
            std::process::exit(1);
        }
    }
}

fn percentiles(mut v: Vec<f64>) -> serde_json::Value {
    if v.is_empty() {
        return serde_json::Value::Null;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] * 1000.0;
    json!({"p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0), "n": v.len()})
}

#[tokio::main]
async fn main() {
    let a = args();
    let _ = std::fs::remove_dir_all(&a.dir);
    let journal = Journal::open(JournalConfig {
        dir: a.dir.clone(),
        segment_bytes: 64 << 20,
        sync: if a.sync {
            SyncMode::Always
        } else {
            SyncMode::Never
        },
    })
    .unwrap_or_else(|e| {
        eprintln!("bus_load: {e}");
        std::process::exit(1)
    });
    let forwarder = a.nats.as_ref().map(|url| {
        let cfg = BusConfig {
            url: url.clone(),
            stream: "ALARMGATE_BENCH".into(),
            max_inflight: a.inflight,
            ..BusConfig::default()
        };
        Forwarder::start(cfg, "bench", journal.clone())
    });
    // when each seq was acknowledged by the bus
    let acked_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let watcher = forwarder.as_ref().map(|f| {
        let (mut rx, acked_at) = (f.acked(), Arc::clone(&acked_at));
        tokio::spawn(async move {
            let mut last = *rx.borrow_and_update();
            while rx.changed().await.is_ok() {
                let now = Instant::now();
                let seq = *rx.borrow_and_update();
                if let Ok(mut m) = acked_at.lock() {
                    for s in last + 1..=seq {
                        m.insert(s, now);
                    }
                }
                last = seq;
            }
        })
    });
    if forwarder.is_some() {
        // wait for the connection: the first event must not wait for it
        one(&journal, u64::MAX, &Times::default(), &Mutex::default()).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked_at.lock().map(|m| m.is_empty()).unwrap_or(false) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Ok(mut m) = acked_at.lock() {
            m.clear();
        }
    }
    let first_seq = journal.last_durable_seq() + 1;
    let syncs0 = journal.stats().syncs;
    let started: Times = Arc::default();
    let durable: Arc<Mutex<Vec<f64>>> = Arc::default();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    match a.rate {
        None => {
            for p in 0..a.producers {
                let (j, s, d) = (journal.clone(), Arc::clone(&started), Arc::clone(&durable));
                let (events, producers) = (a.events, a.producers);
                tasks.push(tokio::spawn(async move {
                    for n in (p..events).step_by(producers as usize) {
                        one(&j, n, &s, &d).await;
                    }
                }));
            }
        }
        Some(rate) => {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            for n in 0..a.events {
                tick.tick().await;
                let (j, s, d) = (journal.clone(), Arc::clone(&started), Arc::clone(&durable));
                tasks.push(tokio::spawn(async move { one(&j, n, &s, &d).await }));
            }
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    let journal_s = t0.elapsed().as_secs_f64();
    let last_seq = journal.last_durable_seq();
    let mut bus_s = None;
    if let Some(f) = forwarder {
        let deadline = Instant::now() + Duration::from_secs(300);
        while *f.acked().borrow() < last_seq && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        bus_s = Some(t0.elapsed().as_secs_f64());
        f.stop(Duration::from_secs(5)).await;
    }
    if let Some(w) = watcher {
        w.abort();
    }
    let (started, acked_at) = (
        started.lock().map(|m| m.clone()).unwrap_or_default(),
        acked_at.lock().map(|m| m.clone()).unwrap_or_default(),
    );
    let to_ack: Vec<f64> = (first_seq..=last_seq)
        .filter_map(|s| {
            Some(
                acked_at
                    .get(&s)?
                    .duration_since(*started.get(&s)?)
                    .as_secs_f64(),
            )
        })
        .collect();
    let n = last_seq + 1 - first_seq;
    let syncs = journal.stats().syncs - syncs0;
    let durable = durable.lock().map(|d| d.clone()).unwrap_or_default();
    let report = json!({
        "mode": if bus_s.is_some() { "journal+bus" } else { "journal" },
        "load": match a.rate { Some(r) => format!("open loop {r}/s"), None => format!("closed loop, {} producers", a.producers) },
        "events": n,
        "event_bytes": alarm_event(0).len(),
        "sync": a.sync,
        "syncs": syncs,
        "events_per_sync": if syncs > 0 { n as f64 / syncs as f64 } else { 0.0 },
        "journal_events_per_s": n as f64 / journal_s,
        "bus_events_per_s": bus_s.map(|s| n as f64 / s),
        "bus_acked": to_ack.len(),
        "append_to_durable": percentiles(durable),
        "append_to_bus_ack": percentiles(to_ack),
    });
    println!("{report}");
    journal.close();
}
