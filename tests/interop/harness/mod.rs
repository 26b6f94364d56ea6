//! Test machinery: free loopback ports, per-test temp dirs and configs, the
//! daemon as a child process (killed on drop, its log printed when the test
//! fails), a hand-written HTTP/1.0 client for `/readyz` and `/metrics`, and
//! runners for SIPp and the pjsua2 peer. Every wait polls a condition against
//! a deadline; nothing sleeps a fixed time to wait for something.
//!
//! Split by concern; every item is re-exported here, so tests call
//! `harness::…` as before.

mod config;
mod daemon;
mod http;
mod journal;
mod nats_cluster;
mod peers;
mod ports;
mod sipp;

pub use config::*;
pub use daemon::*;
pub use http::*;
pub use journal::*;
pub use nats_cluster::*;
pub use peers::*;
pub use ports::*;
pub use sipp::*;

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

/// How often a poll loop looks again.
pub const POLL: Duration = Duration::from_millis(50);

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scenario file in `tests/sipp/`.
pub fn scenario(name: &str) -> PathBuf {
    repo().join("tests/sipp").join(name)
}

fn env_on(name: &str) -> bool {
    std::env::var(name).map(|v| v == "1").unwrap_or(false)
}

/// Prints a SKIP notice (and appends it to `ALARMGATE_SKIP_LOG`).
pub fn skip(test: &str, why: &str) {
    let line = format!("interop: SKIP {test}: {why}");
    eprintln!("{line}");
    if let Ok(path) = std::env::var("ALARMGATE_SKIP_LOG") {
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Polls `cond` every [`POLL`] until it is true or `timeout` passes.
pub fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}
