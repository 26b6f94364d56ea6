//! What the closed-loop receiver benchmarks (`dc09_load`, `scaip_load`)
//! share: N sender threads each keep one request outstanding on its own
//! socket, each request's send time and answer time are kept, and the
//! summary splits the run into a warm-up and the steady state after it.
//! The daemon under test is watched through `/proc/<pid>` (CPU ticks and
//! RSS at the end of the warm-up and at the end), so its CPU per answered
//! message is the steady state's, not the start's.
//!
//! Everything is bounded: the run's seconds, the connections, and each
//! connection's message count.

// A benchmark measures real time (clippy.toml holds the cores to simulated time).
#![allow(clippy::disallowed_methods, dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most seconds a run may last.
pub const MAX_SECONDS: u64 = 3600;
/// The most sender threads.
pub const MAX_CONNS: usize = 512;

/// One request: when it went out (seconds since the start), how long its
/// answer took, and what the answer was (`"ACK"`, `"none"`, ...).
#[derive(Debug, Clone)]
pub struct Sample {
    pub at_s: f64,
    pub latency_us: u64,
    pub answer: String,
    pub ok: bool,
}

/// Options every load example takes (`--key value` pairs).
#[derive(Debug, Clone)]
pub struct Common {
    pub conns: usize,
    pub sources: u8,
    pub seconds: u64,
    pub warmup: u64,
    pub max_per_conn: u64,
    pub pid: Option<u32>,
}

impl Common {
    /// Reads the shared options from `args` (`--conns`, `--sources`,
    /// `--seconds`, `--warmup`, `--max-per-conn`, `--pid`), bounded.
    pub fn parse(args: &[String]) -> Self {
        let num = |name: &str, default: u64| -> u64 {
            arg(args, name).map_or(default, |v| v.parse().unwrap_or(default))
        };
        let seconds = num("--seconds", 60).clamp(1, MAX_SECONDS);
        Self {
            conns: (num("--conns", 1) as usize).clamp(1, MAX_CONNS),
            sources: num("--sources", 1).clamp(1, 250) as u8,
            seconds,
            warmup: num("--warmup", 0).min(seconds.saturating_sub(1)),
            max_per_conn: num("--max-per-conn", 10_000_000).max(1),
            pid: arg(args, "--pid").and_then(|v| v.parse().ok()),
        }
    }

    /// Connection `i`'s source address: 127.0.0.1 .. 127.0.0.`sources`.
    pub fn source(&self, i: usize) -> IpAddr {
        let last = 1 + (i % usize::from(self.sources)) as u8;
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }
}

/// The value after `name` in `args`.
pub fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).map(String::as_str)
}

/// A process's CPU (utime + stime, clock ticks) and RSS (KiB).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSnap {
    pub ticks: u64,
    pub rss_kib: u64,
    pub at: Option<Instant>,
}

pub fn snap(pid: Option<u32>) -> ProcSnap {
    let Some(pid) = pid else {
        return ProcSnap::default();
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    ProcSnap {
        ticks: field(11) + field(12),
        rss_kib: rss,
        at: Some(Instant::now()),
    }
}

fn clk_tck() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output();
    out.ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Runs `conns` sender threads until `seconds` have passed (each stops
/// at its next request after that, or after `max_per_conn`), snapping the
/// daemon at the end of the warm-up; returns every sample and the snaps.
pub fn run<F>(common: &Common, sender: F) -> (Vec<Sample>, ProcSnap, ProcSnap, f64)
where
    F: Fn(usize, Instant, Instant, &AtomicBool) -> Vec<Sample> + Send + Sync + 'static,
{
    let start = Instant::now();
    let end = start + Duration::from_secs(common.seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let sender = Arc::new(sender);
    let threads: Vec<_> = (0..common.conns)
        .map(|i| {
            let (sender, stop) = (Arc::clone(&sender), Arc::clone(&stop));
            std::thread::spawn(move || sender(i, start, end, &stop))
        })
        .collect();
    let warm = start + Duration::from_secs(common.warmup);
    std::thread::sleep(warm.saturating_duration_since(Instant::now()));
    let at_warm = snap(common.pid);
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let at_end = snap(common.pid);
    stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    for t in threads {
        samples.extend(t.join().unwrap_or_default());
    }
    let elapsed = start.elapsed().as_secs_f64();
    (samples, at_warm, at_end, elapsed)
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return -1.0;
    }
    let i = ((p * sorted.len() as f64) as usize).min(sorted.len() - 1);
    sorted[i] as f64 / 1000.0
}

/// One JSON line: the whole run and the steady state after the warm-up
/// (answered requests per second, latency p50/p99/max in ms, answers by
/// kind, the daemon's CPU and RSS).
pub fn summary(
    label: &str,
    common: &Common,
    samples: &[Sample],
    warm: ProcSnap,
    end: ProcSnap,
) -> serde_json::Value {
    let steady: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at_s >= common.warmup as f64)
        .collect();
    let span = (common.seconds - common.warmup) as f64;
    let ok = steady.iter().filter(|s| s.ok).count();
    let mut lat: Vec<u64> = steady
        .iter()
        .filter(|s| s.ok)
        .map(|s| s.latency_us)
        .collect();
    lat.sort_unstable();
    let mut kinds = std::collections::BTreeMap::<String, u64>::new();
    for s in samples {
        *kinds.entry(s.answer.clone()).or_default() += 1;
    }
    let tck = clk_tck();
    let secs = match (warm.at, end.at) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    let cpu_s = end.ticks.saturating_sub(warm.ticks) as f64 / tck;
    serde_json::json!({
        "run": label,
        "conns": common.conns, "sources": common.sources,
        "seconds": common.seconds, "warmup_s": common.warmup,
        "sent": samples.len(), "answers": kinds,
        "all_ok": samples.iter().all(|s| s.ok),
        "steady": {
            "sent": steady.len(), "ok": ok,
            "per_s": (ok as f64 / span).round(),
            "latency_ms": {"p50": pct(&lat, 0.50), "p99": pct(&lat, 0.99), "max": pct(&lat, 1.0)},
            "daemon_cpu_pct": if secs > 0.0 { (100.0 * cpu_s / secs).round() } else { -1.0 },
            "daemon_cpu_us_per_msg": if ok > 0 { (1e6 * cpu_s / ok as f64).round() } else { -1.0 },
            "daemon_rss_mib_after_warmup": warm.rss_kib / 1024,
            "daemon_rss_mib_end": end.rss_kib / 1024,
        },
    })
}
