//! The promise under a full disk: an alarm that could not be stored is not
//! acknowledged. The journal lives on a 64 KiB tmpfs that the test fills;
//! a simulated unit then sends a 602 and must get no kissoff, the node must
//! report not-ready, and a new call must get 503 so a unit fails over.
//!
//! Mounting needs root (as CI and the test command run); where mounting is
//! not allowed the test prints a SKIP notice.

use crate::harness::{http_get, need_sipp, Config, Daemon};
use alarmgate::telemetry::metrics as m;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A small tmpfs, unmounted and removed on drop.
struct TinyFs {
    path: PathBuf,
}

impl TinyFs {
    fn mount(kib: u32) -> Option<Self> {
        let path = std::env::temp_dir().join(format!("alarmgate-tinyfs-{}", std::process::id()));
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
    fn fill(&self) {
        let mut f = fs::File::create(self.path.join("filler")).expect("create filler");
        let block = [0u8; 1024];
        while f.write_all(&block).and_then(|()| f.sync_all()).is_ok() {}
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = fs::remove_dir(&self.path);
    }
}

fn simulate(target: &str, dir: &Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args(["simulate", "device", target, "-m", "1234 18 1 602 00 000"])
        .args([
            "--attempts",
            "2",
            "--seed",
            "7",
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
