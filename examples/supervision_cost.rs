//! The cost of supervising 100,000 units (BENCHMARKS.md, "Supervision cost").
//!
//! `cargo run --release --example supervision_cost [units] [days]`
//!
//! Simulated time: every unit reports once a day (a 602 test) at its own
//! second of the day, 1 % of the units never report again after day 0;
//! policy 24 h + 1 h grace. The supervisor is swept once per simulated
//! second, as the driver would at worst. Measured in wall-clock time: the
//! cost of a report, of a sweep (most pop nothing), the memory held (RSS
//! growth, units and timer entries), and the cost of a rebuild per journal
//! record (JSON parse of a real `alarm.received` payload, then observe).

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
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let units = args.first().copied().unwrap_or(100_000);
    let days = args.get(1).copied().unwrap_or(3);
    let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let keys: Vec<UnitKey> = (0..units).map(key).collect();
    let rss0 = rss_kib();
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
    let started = Instant::now();
    for p in &payloads {
        if let Some(o) = observe(p) {
            sup.observe(o);
        }
    }
    sup.finish_replay();
    let per_report = started.elapsed().as_nanos() as f64 / n as f64;
    let started = Instant::now();
    let skipped = (0..n).filter(|_| observe(&other).is_some()).count();
    let per_other = started.elapsed().as_nanos() as f64 / n as f64;
    println!("rebuild: {per_report:.0} ns per report record, {per_other:.0} ns per other record ({skipped} misread); 9,000,000 reports (100,000 units x 90 days) = {:.1} s", per_report * 9e6 / 1e9);
}
