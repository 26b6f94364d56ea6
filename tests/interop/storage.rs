//! The promise under a full disk: an alarm that could not be stored is not
//! acknowledged. The journal lives on a 64 KiB tmpfs that the test fills;
//! a simulated unit then sends a 602 and must get no kissoff, the node must
//! report not-ready, and a new call must get 503 so a unit fails over.
//!
//! And the way back: once the filler is deleted the journal heals by itself
//! (no restart), `/readyz` turns 200, and a new alarm gets its kissoff and is
//! in the journal after the records from before the outage.
//!
//! Mounting needs root (as CI and the test command run); where mounting is
//! not allowed the test prints a SKIP notice.

use crate::harness::{http_get, need_sipp, poll_until, skip, Config, Daemon};
use alarmgate::journal::JournalReader;
use alarmgate::telemetry::metrics as m;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A small tmpfs, unmounted and removed on drop.
pub(crate) struct TinyFs {
    pub(crate) path: PathBuf,
}

impl TinyFs {
    pub(crate) fn mount(kib: u32) -> Option<Self> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let name = format!("alarmgate-tinyfs-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = fs::remove_dir(&path);
            return None;
        }
        Some(Self { path })
    }

    /// Writes until the file system refuses (ENOSPC).
    pub(crate) fn fill(&self) {
        let mut f = fs::File::create(self.path.join("filler")).expect("create filler");
        let block = [0u8; 1024];
        while f.write_all(&block).and_then(|()| f.sync_all()).is_ok() {}
    }

    /// Deletes the filler: the space is back.
    pub(crate) fn empty(&self) {
        fs::remove_file(self.path.join("filler")).expect("remove filler");
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = fs::remove_dir(&self.path);
    }
}

fn simulate(target: &str, dir: &Path) -> (Option<i32>, serde_json::Value) {
    simulate_message(target, dir, "1234 18 1 602 00 000", 3)
}

/// The simulator's seed (hence its Call-ID) from the account, so that each
/// call of a test is a new call, not a retransmission of the last one.
fn seed_of(message: &str) -> &str {
    match message.split_whitespace().next() {
        Some("1234") | None => "7",
        Some(account) => account,
    }
}

fn simulate_message(
    target: &str,
    dir: &Path,
    message: &str,
    attempts: u32,
) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args(["simulate", "device", target, "-m", message])
        .args([
            "--attempts",
            &attempts.to_string(),
            "--seed",
            seed_of(message),
            "--json",
            "--call-timeout-s",
            "40",
        ])
        .current_dir(dir)
        .output()
        .expect("run alarmgate simulate device");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), json)
}

#[test]
fn full_disk_means_no_kissoff_not_ready_and_503() {
    if !need_sipp("full_disk_means_no_kissoff_not_ready_and_503") {
        return;
    }
    let Some(tiny) = TinyFs::mount(64) else {
        eprintln!(
            "interop: SKIP full_disk_means_no_kissoff_not_ready_and_503: cannot mount a tmpfs here"
        );
        return;
    };
    let journal = tiny.path.join("journal");
    let cfg = Config {
        extra: format!("[alarm]\njournal_dir = \"{}\"\n", journal.display()),
        ..Config::default()
    };
    let Some(d) = Daemon::start("full_disk_means_no_kissoff_not_ready_and_503", &cfg) else {
        return;
    };
    tiny.fill();
    let target = format!("sip:112@127.0.0.1:{}", d.sip_port);
    let (code, report) = simulate(&target, &d.dir.path);
    assert_eq!(code, Some(1), "the unit must not be acknowledged: {report}");
    let acked = report["summary"]["messages_acknowledged"].as_u64();
    assert_eq!(acked, Some(0), "no kissoff without storage: {report}");
    assert_eq!(d.metric(m::ALARMS_ACKNOWLEDGED, &[]).unwrap_or(0.0), 0.0);
    assert!(d.metric(m::ALARMS_STORE_FAILED, &[]).unwrap_or(0.0) >= 1.0);
    assert!(
        matches!(http_get(d.http_port, "/readyz"), Some((503, _))),
        "the node must not be ready"
    );
    d.sipp("uac_503.xml").run().assert_ok(1);
    assert!(
        d.metric(m::ADMISSION_REFUSALS, &[("reason", "storage")])
            .unwrap_or(0.0)
            >= 1.0
    );
}

/// The accounts of the `alarm.received` events in the journal at `dir`.
fn journalled_accounts(dir: &Path) -> Vec<String> {
    let Ok(reader) = JournalReader::open(dir) else {
        return Vec::new();
    };
    reader
        .read_from(1)
        .map_while(Result::ok)
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.payload).ok())
        .filter(|v| {
            v["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("alarm.received"))
        })
        .filter_map(|v| v["data"]["account"].as_str().map(str::to_string))
        .collect()
}

fn ready(d: &Daemon) -> Option<u16> {
    http_get(d.http_port, "/readyz").map(|(status, _)| status)
}

#[test]
fn journal_heals_by_itself_after_a_disk_full() {
    const TEST: &str = "journal_heals_by_itself_after_a_disk_full";
    if !need_sipp(TEST) {
        return;
    }
    let Some(tiny) = TinyFs::mount(1024) else {
        return skip(TEST, "cannot mount a tmpfs here");
    };
    let journal = tiny.path.join("journal");
    let cfg = Config {
        extra: format!("[alarm]\njournal_dir = \"{}\"\n", journal.display()),
        ..Config::default()
    };
    let Some(d) = Daemon::start(TEST, &cfg) else {
        return;
    };
    let target = format!("sip:112@127.0.0.1:{}", d.sip_port);
    // Units repeat a message that did not get through (as real ones do):
    // under heavy machine load a first attempt may decode partially.
    let (code, report) = simulate_message(&target, &d.dir.path, "1111 18 1 602 00 000", 3);
    assert_eq!(code, Some(0), "stored before the outage: {report}");
    tiny.fill();
    // The newest segment's last page may still hold a few small records, so
    // calls go on (each journals call.started, call.ended and, if decoded,
    // its alarm) until an append fails; at most 8.
    let mut acked = Vec::new();
    let full = (0..8).any(|i| {
        let account = format!("{}", 2000 + i);
        let (code, _) = simulate_message(
            &target,
            &d.dir.path,
            &format!("{account} 18 1 602 00 000"),
            1,
        );
        if code == Some(0) {
            acked.push(account);
        }
        poll_until(Duration::from_secs(3), || ready(&d) == Some(503))
    });
    assert!(
        full,
        "appends must fail on the full disk; log:\n{}",
        d.log_text()
    );
    // Probes keep failing while the disk is full: still not ready later.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ready(&d), Some(503), "a failing probe must not turn ready");
    tiny.empty();
    let emptied = Instant::now();
    assert!(
        poll_until(Duration::from_secs(20), || ready(&d) == Some(200)),
        "/readyz must turn 200 by itself once space is back; log:\n{}",
        d.log_text()
    );
    eprintln!(
        "{TEST}: ready again {:?} after the filler was deleted",
        emptied.elapsed()
    );
    let (code, report) = simulate_message(&target, &d.dir.path, "3333 18 1 602 00 000", 3);
    assert_eq!(code, Some(0), "kissoff after healing: {report}");
    let accounts = journalled_accounts(&journal);
    assert_eq!(
        accounts.first().map(String::as_str),
        Some("1111"),
        "the record from before the outage is still there: {accounts:?}"
    );
    assert!(
        acked.iter().all(|a| accounts.contains(a)),
        "every alarm acknowledged before the outage is kept: {acked:?} in {accounts:?}"
    );
    assert!(
        accounts.iter().any(|a| a == "3333"),
        "stored after healing: {accounts:?}"
    );
    assert_eq!(d.metric(alarmgate::journal::OUTAGES, &[]), Some(1.0));
    assert_eq!(
        d.metric("alarmgate_journal_outage_seconds_count", &[]),
        Some(1.0)
    );
}
