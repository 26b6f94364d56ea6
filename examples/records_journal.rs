//! The journal for the call-records benchmark (BENCHMARKS.md, "Call
//! records"): 100,000 synthetic calls of tenant `bench` in November 2026
//! (`records::synth`: 20,000 callers, plan seed 9, payload seed 7; the
//! same journal the ignored test `write_benchmark_journal` wrote before this
//! example replaced it, built by a release binary in seconds).
//!
//! `cargo run --release --example records_journal -- DIR [calls]` (default
//! 100,000 calls) writes `DIR/journal` (unsynced) and `DIR/bench.toml`, a
//! config whose `[records] path` is `DIR/records.sqlite`.

use alarmgate::journal::{Journal, JournalConfig, SyncMode};
use alarmgate::records::synth::{self, Rng};
use std::path::PathBuf;

/// 2026-10-31T23:00Z .. 2026-11-30T23:00Z (November in Copenhagen), in ms.
const NOV_2026: (i64, i64) = (1_793_487_600_000, 1_796_079_600_000);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("records_journal DIR [calls]");
        std::process::exit(2);
    };
    let n = args
        .get(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000u64)
        .min(10_000_000);
    let calls = synth::plan("bench", n, NOV_2026.0, NOV_2026.1, 20_000, 9);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let journal = Journal::open(JournalConfig {
        dir: dir.join("journal"),
        segment_bytes: 1 << 20,
        sync: SyncMode::Never,
    })
    .expect("journal");
    let mut rng = Rng::new(7);
    let mut last = 0;
    for chunk in calls.chunks(1000) {
        let pending: Vec<_> = chunk
            .iter()
            .flat_map(|c| synth::payloads("bench", c, &mut rng))
            .map(|p| journal.append(p))
            .collect();
        last = rt.block_on(async {
            let mut l = last;
            for p in pending {
                l = p.await.expect("append");
            }
            l
        });
    }
    journal.close();
    let config = format!(
        "[alarm]\njournal_dir = \"{}\"\n[records]\npath = \"{}\"\n[[trunks]]\nname = \"t\"\nallow = [\"127.0.0.0/8\"]\n[[tenants]]\nid = \"bench\"\nname = \"Bench\"\ndids = [\"100\"]\n",
        dir.join("journal").display(),
        dir.join("records.sqlite").display()
    );
    std::fs::write(dir.join("bench.toml"), config).expect("config");
    println!("{n} calls, {last} events in {}", dir.display());
}
