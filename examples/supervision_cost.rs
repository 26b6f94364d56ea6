//! The cost of supervising 100,000 units (BENCHMARKS.md, "Supervision cost").
//!
//! `cargo run --release --example supervision_cost [units] [days]`
//!
//! The restore at start (`runtime::supervision::rebuild`, the whole journal
//! read back) on a real journal on disk, in two steps so the page cache can
//! be emptied of the journal's files in between (a cold start):
//!
//! `cargo run --release --example supervision_cost -- write-journal DIR [units] [days] [others]`
//! `cargo run --release --example supervision_cost -- replay DIR`
//!
//! `write-journal` appends `days` daily reports of every unit (DC-09
//! `alarm.received`, the payload the receivers write) and `others` records
//! of another type after each (call events: what a replay skips), unsynced;
//! `replay` times the rebuild: wall, CPU, records and bytes per second,
//! peak RSS.
//!
//! Simulated time: every unit reports once a day (a 602 test) at its own
//! second of the day, 1 % of the units never report again after day 0;
//! policy 24 h + 1 h grace. The supervisor is swept once per simulated
//! second, as the driver would at worst. Measured in wall-clock time: the
//! cost of a report, of a sweep (most pop nothing), the memory held (RSS
//! growth, units and timer entries), and the cost of a rebuild per journal
//! record (JSON parse of a real `alarm.received` payload, then observe).
//! Wall-clock figures include time spent waiting for a CPU on a loaded
//! machine; the process CPU (utime + stime) of each phase is printed too.

// A benchmark measures real time (clippy.toml holds the cores to simulated time).
#![allow(clippy::disallowed_methods)]

use alarmgate::alarm::report::Protocol;
use alarmgate::labels::TenantId;
use alarmgate::routing::CallClass;
use alarmgate::supervision::records::{self, observe};
use alarmgate::supervision::{
    Observed, ReportKind, SupervisionSettings, Supervisor, TenantPolicy, UnitKey,
};
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const DAY: u64 = 86_400;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:"));
    let kib = line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok());
    kib.unwrap_or(0)
}

fn settings() -> SupervisionSettings {
    let policy = TenantPolicy {
        interval: Duration::from_secs(DAY),
        grace: Duration::from_secs(3600),
        enrol_reporting: true,
        tests_only: false,
        class: CallClass::Technical,
    };
    let tenants = (0..10).map(|t| (TenantId::new(format!("tenant-{t}")), policy.clone()));
    SupervisionSettings {
        tenants: tenants.collect(),
        units: Default::default(),
    }
}

fn key(i: u64) -> UnitKey {
    let tenant = format!("tenant-{}", i % 10);
    UnitKey::new(&tenant, Protocol::Dc09, &format!("{i:06}"))
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("write-journal") => return restore::write(&argv[1..]),
        Some("replay") => return restore::replay(&argv[1..]),
        _ => {}
    }
    let args: Vec<u64> = argv.iter().filter_map(|a| a.parse().ok()).collect();
    let units = args.first().copied().unwrap_or(100_000);
    let days = args.get(1).copied().unwrap_or(3);
    let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let keys: Vec<UnitKey> = (0..units).map(key).collect();
    let rss0 = rss_kib();
    let cpu0 = restore::cpu_ticks();
    let mut sup = Supervisor::new(settings(), t0, Instant::now());
    let (mut report_time, mut reports) = (Duration::ZERO, 0u64);
    let (mut sweep_time, mut sweeps, mut worst_sweep) = (Duration::ZERO, 0u64, Duration::ZERO);
    let mut raised = 0u64;
    // Units report at second (i * DAY / units) of each day.
    let mut next = 0u64;
    for second in 0..days * DAY {
        let now = t0 + Duration::from_secs(second);
        let of_day = second % DAY;
        let started = Instant::now();
        while next < units && next * DAY / units <= of_day {
            let silent = next.is_multiple_of(100) && second >= DAY;
            if !silent {
                let k = keys[next as usize].clone();
                let kind = ReportKind::Test;
                sup.observe(Observed::Report {
                    key: k,
                    at: now,
                    kind,
                });
                reports += 1;
            }
            next += 1;
        }
        report_time += started.elapsed();
        if of_day == DAY - 1 {
            next = 0;
        }
        let started = Instant::now();
        sup.handle_timeout(now);
        while sup.poll_output().is_some() {
            raised += 1;
        }
        let took = started.elapsed();
        sweep_time += took;
        worst_sweep = worst_sweep.max(took);
        sweeps += 1;
    }
    let rss1 = rss_kib();
    let sim_cpu = (restore::cpu_ticks() - cpu0) as f64 / 100.0;
    let (held, timers) = sup.sizes();
    println!("units {units}, {days} simulated days, {reports} reports, {sweeps} sweeps (1/s), {raised} fail_to_report");
    println!(
        "held: {held} units, {timers} timer entries; RSS growth {} KiB ({:.0} B/unit)",
        rss1 - rss0,
        (rss1 - rss0) as f64 * 1024.0 / units as f64
    );
    println!(
        "report: {:.0} ns mean",
        report_time.as_nanos() as f64 / reports.max(1) as f64
    );
    println!(
        "sweep: {:.0} ns mean, worst {} us",
        sweep_time.as_nanos() as f64 / sweeps as f64,
        worst_sweep.as_micros()
    );
    println!(
        "process CPU over the simulation (reports + sweeps + the loop): {sim_cpu:.2} s = {:.0} ns per report or sweep",
        1e9 * sim_cpu / (reports + sweeps) as f64
    );
    rebuild_cost(&keys, t0);
}

/// Rebuild: a journal of reports, parsed and observed.
fn rebuild_cost(keys: &[UnitKey], t0: SystemTime) {
    let n = 1_000_000usize;
    let payloads: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let k = &keys[i % keys.len()];
            let data = json!({"tenant": k.tenant, "protocol": "dc09", "account": k.account,
                "event_code": "602", "classification": "test", "raw": "#1234|NRP000", "calling_number": ""});
            let at = t0 + Duration::from_secs(i as u64 / 10);
            alarmgate::events::record("node", "dc09-x", records::ALARM_RECEIVED, at, i as u128, data)
        })
        .collect();
    let other = alarmgate::events::record(
        "node",
        "c",
        "alarmgate.call.started",
        t0,
        1,
        json!({"tenant": "tenant-1"}),
    );
    let mut sup = Supervisor::rebuilding(settings(), t0, Instant::now());
    let (started, c0) = (Instant::now(), restore::cpu_ticks());
    for p in &payloads {
        if let Some(o) = observe(p) {
            sup.observe(o);
        }
    }
    sup.finish_replay();
    let per_report = started.elapsed().as_nanos() as f64 / n as f64;
    let cpu_report = (restore::cpu_ticks() - c0) as f64 * 1e7 / n as f64;
    let (started, c0) = (Instant::now(), restore::cpu_ticks());
    let skipped = (0..n).filter(|_| observe(&other).is_some()).count();
    let per_other = started.elapsed().as_nanos() as f64 / n as f64;
    let cpu_other = (restore::cpu_ticks() - c0) as f64 * 1e7 / n as f64;
    println!("rebuild, process CPU: {cpu_report:.0} ns per report record, {cpu_other:.0} ns per other record (10 ms ticks)");
    println!("rebuild: {per_report:.0} ns per report record, {per_other:.0} ns per other record ({skipped} misread); 9,000,000 reports (100,000 units x 90 days) = {:.1} s", per_report * 9e6 / 1e9);
}

/// The restore at start, on a journal on disk.
mod restore {
    use super::*;
    use alarmgate::journal::{Journal, JournalConfig, SyncMode};
    use std::path::PathBuf;

    fn num(args: &[String], i: usize, default: u64) -> u64 {
        args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    /// This process's utime + stime in clock ticks (100 per second here).
    pub fn cpu_ticks() -> u64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        // After the command: state, then numbers; utime and stime are the 12th and 13th.
        let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        field(11) + field(12)
    }

    fn hwm_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let line = status.lines().find(|l| l.starts_with("VmHWM:"));
        line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    }

    /// `write-journal DIR [units] [days] [others]`.
    pub fn write(args: &[String]) {
        let Some(dir) = args.first().map(PathBuf::from) else {
            return eprintln!("write-journal DIR [units] [days] [others]");
        };
        let (units, days, others) = (num(args, 1, 100_000), num(args, 2, 5), num(args, 3, 1));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let journal = Journal::open(JournalConfig {
            dir: dir.clone(),
            segment_bytes: 64 << 20,
            sync: SyncMode::Never,
        })
        .expect("journal");
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (mut pending, mut last, mut id) = (Vec::new(), 0u64, 0u128);
        for i in 0..units * days {
            let k = key(i % units);
            let at = t0 + Duration::from_secs(i * DAY / units);
            let data = json!({"tenant": k.tenant, "protocol": "dc09", "account": k.account,
                "event_code": "602", "classification": "test", "raw": "#1234|NRP000", "calling_number": ""});
            id += 1;
            pending.push(journal.append(alarmgate::events::record(
                "node",
                "dc09-x",
                records::ALARM_RECEIVED,
                at,
                id,
                data,
            )));
            for _ in 0..others {
                id += 1;
                let call = json!({"tenant": k.tenant, "call_id": format!("c{id}"), "caller": "+4512345678", "did": "112"});
                pending.push(journal.append(alarmgate::events::record(
                    "node",
                    "c",
                    "alarmgate.call.started",
                    at,
                    id,
                    call,
                )));
            }
            if pending.len() >= 10_000 {
                last = rt.block_on(async {
                    let mut l = 0;
                    for p in pending.drain(..) {
                        l = p.await.expect("append");
                    }
                    l
                });
            }
        }
        last = rt.block_on(async {
            let mut l = last;
            for p in pending.drain(..) {
                l = p.await.expect("append");
            }
            l
        });
        journal.close();
        println!("{units} units x {days} days, {others} other record(s) per report: {last} records in {}", dir.display());
    }

    /// `replay DIR`: the rebuild, timed.
    pub fn replay(args: &[String]) {
        let Some(dir) = args.first().map(PathBuf::from) else {
            return eprintln!("replay DIR");
        };
        let bytes: u64 = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let fresh = Supervisor::rebuilding(settings(), t0, Instant::now());
        let (c0, started) = (cpu_ticks(), Instant::now());
        let Ok((sup, next)) = alarmgate::runtime::supervision::rebuild(fresh, &dir, u64::MAX)
        else {
            return eprintln!("replay failed");
        };
        let wall = started.elapsed().as_secs_f64();
        let cpu = (cpu_ticks() - c0) as f64 / 100.0;
        let records = next.saturating_sub(1);
        let (held, timers) = sup.sizes();
        println!(
            "replayed {records} records ({:.0} MiB) in {wall:.2} s wall, {cpu:.2} s CPU: {:.0} records/s, {:.0} MiB/s, {:.2} us CPU per record; {held} units, {timers} timers; peak RSS {} MiB",
            bytes as f64 / 1048576.0,
            records as f64 / wall,
            bytes as f64 / 1048576.0 / wall,
            1e6 * cpu / records.max(1) as f64,
            hwm_kib() / 1024
        );
    }
}
