//! SIPp: whether it is installed, and bounded client runs with their
//! counts read from its screen.

use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn sipp_present() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        Command::new("sipp")
            .arg("-v")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// True when SIPp can run; otherwise a SKIP (or a failure under `ALARMGATE_REQUIRE_PEERS=1`).
pub fn need_sipp(test: &str) -> bool {
    if sipp_present() {
        return true;
    }
    assert!(
        !env_on("ALARMGATE_REQUIRE_PEERS"),
        "{test}: sipp not found and ALARMGATE_REQUIRE_PEERS=1 (apt-get install sip-tester)"
    );
    skip(
        test,
        "sipp not installed (apt-get install sip-tester, or run tests/run.sh)",
    );
    false
}

/// One SIPp client run (`-m` calls, always bounded by `-timeout`).
#[derive(Debug, Clone)]
pub struct Sipp {
    pub scenario: PathBuf,
    pub port: u16,
    pub service: String,
    pub tcp: bool,
    /// Call over IPv6 loopback ([::1]) instead of 127.0.0.1.
    pub ipv6: bool,
    pub calls: u32,
    pub rate: u32,
    pub limit: u32,
    pub hold_ms: u64,
    pub timeout_s: u64,
    pub extra: Vec<String>,
    pub dir: PathBuf,
}

/// What a SIPp run reported.
#[derive(Debug)]
pub struct SippResult {
    pub status: Option<i32>,
    pub successful: u64,
    pub failed: u64,
    pub report: String,
}

impl SippResult {
    /// Panics unless SIPp exited 0 with `calls` successful and no failed call.
    pub fn assert_ok(&self, calls: u32) {
        assert!(
            self.status == Some(0) && self.failed == 0 && self.successful == u64::from(calls),
            "sipp: exit {:?}, {} successful / {} failed, wanted {calls} successful\n{}",
            self.status,
            self.successful,
            self.failed,
            self.report
        );
    }
}

/// A SIPp client in flight.
pub struct SippRun {
    child: Child,
    dir: PathBuf,
    tag: String,
    deadline: Instant,
}

impl Sipp {
    pub fn new(scenario_file: &str, port: u16, dir: &Path) -> Self {
        Sipp {
            scenario: scenario(scenario_file),
            port,
            service: "112".into(),
            tcp: false,
            ipv6: false,
            calls: 1,
            rate: 10,
            limit: 1,
            hold_ms: 0,
            timeout_s: 30,
            extra: Vec::new(),
            dir: dir.to_path_buf(),
        }
    }
    pub fn service(mut self, s: &str) -> Self {
        self.service = s.into();
        self
    }
    pub fn tcp(mut self) -> Self {
        self.tcp = true;
        self
    }
    pub fn ipv6(mut self) -> Self {
        self.ipv6 = true;
        self
    }
    pub fn calls(mut self, n: u32) -> Self {
        self.calls = n;
        self
    }
    pub fn rate(mut self, r: u32, limit: u32) -> Self {
        self.rate = r;
        self.limit = limit;
        self
    }
    pub fn hold_ms(mut self, ms: u64) -> Self {
        self.hold_ms = ms;
        self
    }
    pub fn timeout_s(mut self, s: u64) -> Self {
        self.timeout_s = s;
        self
    }
    pub fn arg(mut self, a: &str) -> Self {
        self.extra.push(a.into());
        self
    }

    /// Starts SIPp as a client in its own sub-directory of the test dir (its traces land there).
    pub fn spawn(&self) -> SippRun {
        self.start(false)
    }

    /// Starts SIPp as a stand-in server on `self.port` (a scenario that begins with a recv).
    pub fn spawn_uas(&self) -> SippRun {
        self.start(true)
    }

    fn start(&self, uas: bool) -> SippRun {
        static N: AtomicU32 = AtomicU32::new(0);
        let stem = self
            .scenario
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("sipp");
        let tag = format!("{stem}-{}", N.fetch_add(1, Ordering::Relaxed));
        let dir = self.dir.join(&tag);
        fs::create_dir_all(&dir).expect("sipp dir");
        let out = fs::File::create(dir.join("stdout.txt")).expect("sipp stdout");
        let err = out.try_clone().expect("dup");
        let local = if uas { self.port } else { free_port() };
        let media = free_udp_block(4);
        let mut cmd = Command::new("sipp");
        let ip = if self.ipv6 { "::1" } else { "127.0.0.1" };
        if !uas {
            let host = if self.ipv6 { "[::1]" } else { "127.0.0.1" };
            cmd.arg(format!("{host}:{}", self.port));
            cmd.args([
                "-s",
                &self.service,
                "-r",
                &self.rate.to_string(),
                "-l",
                &self.limit.to_string(),
            ]);
            cmd.args(["-d", &self.hold_ms.to_string(), "-timeout_error"]);
        }
        cmd.arg("-sf")
            .arg(&self.scenario)
            .args([
                "-i",
                ip,
                "-p",
                &local.to_string(),
                "-mp",
                &media.to_string(),
            ])
            .args(["-t", if self.tcp { "t1" } else { "u1" }])
            .args(["-m", &self.calls.to_string()])
            .args(["-timeout", &format!("{}s", self.timeout_s)])
            .args(["-nostdin", "-trace_err", "-trace_stat"])
            .args(&self.extra)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd.spawn().expect("spawn sipp");
        SippRun {
            child,
            dir,
            tag,
            deadline: Instant::now() + Duration::from_secs(self.timeout_s + 15),
        }
    }

    /// Runs to completion.
    pub fn run(&self) -> SippResult {
        self.spawn().wait()
    }
}

impl SippRun {
    /// Waits for exit (SIPp's own -timeout bounds it; past a margin it is killed).
    pub fn wait(mut self) -> SippResult {
        let mut status = None;
        poll_until(
            self.deadline.saturating_duration_since(Instant::now()),
            || {
                status = self.child.try_wait().ok().flatten();
                status.is_some()
            },
        );
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let stdout = fs::read_to_string(self.dir.join("stdout.txt")).unwrap_or_default();
        let successful = last_count(&stdout, "Successful call");
        let failed = last_count(&stdout, "Failed call");
        let mut report = format!("--- sipp {} ({}) ---\n", self.tag, self.dir.display());
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with("_errors.log") {
                    let t = fs::read_to_string(e.path()).unwrap_or_default();
                    report.push_str(&format!("{name}:\n{}\n", tail(&t, 6000)));
                }
            }
        }
        report.push_str(&format!("stdout (tail):\n{}\n", tail(&stdout, 3000)));
        SippResult {
            status: status.and_then(|s| s.code()),
            successful,
            failed,
            report,
        }
    }
}

fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The cumulative (last column) count of the last `label` row on SIPp's screen.
fn last_count(screen: &str, label: &str) -> u64 {
    screen
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.rsplit('|').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_count_reads_the_cumulative_column() {
        let screen = "  Successful call        |        0                  |        0\n\
                      Successful call        |        1                  |        7\n";
        assert_eq!(last_count(screen, "Successful call"), 7);
    }
}
