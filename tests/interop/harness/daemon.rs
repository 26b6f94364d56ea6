//! The daemon as a child process: started on free ports, waited for until
//! ready, killed on drop, its log printed when the test fails.

use super::ports::unclaim;
use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

/// `[[sip.listen]]` entries for TLS (certificate made by `alarmgate certs dev`
/// into `dir`) and IPv6, as the config asks; the TLS port if any.
fn extra_listeners(cfg: &Config, sip_port: u16, dir: &Path) -> (Option<u16>, String) {
    let mut extra = String::new();
    let mut tls_port = None;
    if cfg.tls {
        let status = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
            .args(["certs", "dev", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .status()
            .expect("run alarmgate certs dev");
        assert!(status.success(), "alarmgate certs dev failed");
        let port = free_port();
        tls_port = Some(port);
        extra.push_str(&format!(
            "[[sip.listen]]\ntransport = \"tls\"\naddr = \"127.0.0.1:{port}\"\ncert = \"{}\"\nkey = \"{}\"\n",
            dir.join("dev-cert.pem").display(),
            dir.join("dev-key.pem").display()
        ));
    }
    if cfg.ipv6 {
        extra.push_str(&format!(
            "[[sip.listen]]\ntransport = \"udp\"\naddr = \"[::1]:{sip_port}\"\n"
        ));
    }
    (tls_port, extra)
}

/// A running alarmgate. Killed on drop; on a failing test its log is printed.
pub struct Daemon {
    pub name: String,
    pub sip_port: u16,
    /// The TLS listener's port, when `Config::tls`.
    pub tls_port: Option<u16>,
    pub http_port: u16,
    pub log: PathBuf,
    /// Where the daemon's journal is (with [`Config::alarm`], `<test dir>/journal`).
    pub journal_dir: PathBuf,
    child: Child,
    exited: Option<ExitStatus>,
    pub dir: TestDir,
    /// The first of the daemon's RTP ports, given back when it is dropped.
    rtp_min: u16,
}

impl Daemon {
    /// Writes the config, starts `alarmgate run`, waits (up to 60 s) for
    /// `/readyz` to answer 200. Returns None (after a SKIP notice) when the
    /// binary exits 0 without serving, i.e. `run` is not implemented yet,
    /// unless `ALARMGATE_REQUIRE_DAEMON=1`. Panics on any other failure.
    pub fn start(test: &str, cfg: &Config) -> Option<Daemon> {
        let dir = TestDir::new(test);
        let (sip_port, http_port) = (free_port(), free_port());
        let rtp_min = free_udp_block(200);
        let (tls_port, mut extra) = extra_listeners(cfg, sip_port, &dir.path);
        let journal_dir = match &cfg.alarm {
            Some(alarm) => {
                let j = dir.path.join("journal");
                extra.push_str(&alarm.render(&j));
                j
            }
            None => dir.path.join("var/journal"),
        };
        let config = dir.path.join("alarmgate.toml");
        fs::write(
            &config,
            cfg.render(sip_port, http_port, (rtp_min, rtp_min + 199), &extra),
        )
        .expect("write config");
        let log = dir.path.join("daemon.log");
        let out = fs::File::create(&log).expect("create daemon log");
        let err = out.try_clone().expect("dup daemon log");
        let child = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
            .arg("run")
            .arg("--config")
            .arg(&config)
            .current_dir(&dir.path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn alarmgate");
        let mut d = Daemon {
            name: test.to_string(),
            sip_port,
            tls_port,
            http_port,
            log,
            journal_dir,
            child,
            exited: None,
            dir,
            rtp_min,
        };
        let mut ready = false;
        poll_until(Duration::from_secs(60), || {
            if d.poll_exit().is_some() {
                return true;
            }
            ready = matches!(http_get(http_port, "/readyz"), Some((200, _)));
            ready
        });
        if ready {
            return Some(d);
        }
        match d.exited {
            Some(st) if st.success() && !env_on("ALARMGATE_REQUIRE_DAEMON") => {
                skip(
                    test,
                    "`alarmgate run` exited 0 without serving: the daemon is not implemented yet",
                );
                None
            }
            Some(st) => panic!(
                "{test}: alarmgate exited before ready ({st}); log:\n{}",
                d.log_text()
            ),
            None => panic!(
                "{test}: /readyz not 200 within 60 s; log:\n{}",
                d.log_text()
            ),
        }
    }

    fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// The daemon's RTP port range, inclusive.
    pub fn rtp_range(&self) -> (u16, u16) {
        (self.rtp_min, self.rtp_min + 199)
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `/metrics` text (empty when it does not answer 200).
    pub fn metrics(&self) -> String {
        match http_get(self.http_port, "/metrics") {
            Some((200, body)) => body,
            _ => String::new(),
        }
    }

    /// [`metric_sum`] on a fresh scrape.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        metric_sum(&self.metrics(), name, labels)
    }

    /// Polls `/metrics` until `name{labels}` reaches at least `min`.
    pub fn wait_metric_at_least(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        min: f64,
        timeout: Duration,
    ) -> bool {
        poll_until(timeout, || {
            self.metric(name, labels).is_some_and(|v| v >= min)
        })
    }

    /// The daemon's process id (for SIGKILL/SIGSTOP/SIGCONT in the cluster tests).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (through `kill`, std has no signals).
    pub fn sigterm(&self) {
        let st = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -TERM failed");
    }

    /// Sends SIGHUP (reload the config file).
    pub fn sighup(&self) {
        let st = Command::new("kill")
            .arg("-HUP")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -HUP failed");
    }

    /// The config file the daemon runs on (rewrite it, then [`Daemon::sighup`]).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path.join("alarmgate.toml")
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        poll_until(timeout, || self.poll_exit().is_some());
        self.exited
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        self.poll_exit().is_none()
    }

    /// A SIPp run aimed at this daemon.
    pub fn sipp(&self, scenario_file: &str) -> Sipp {
        Sipp::new(scenario_file, self.sip_port, &self.dir.path)
    }

    /// SIGKILL, then the same daemon again on the same config, directory
    /// and journal (its log appended); waits up to 60 s for `/readyz`.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.respawn();
    }

    /// The daemon's RTP ports (`media.rtp_port_min..=rtp_port_max`).
    pub fn rtp_ports(&self) -> std::ops::RangeInclusive<u16> {
        self.rtp_min..=self.rtp_min.saturating_add(199)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.poll_exit().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The process is gone: its RTP ports are free for the next tests.
        unclaim(self.rtp_min..self.rtp_min.saturating_add(200));
        if thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(300).collect();
            eprintln!(
                "----- {} daemon log (last {} lines) -----",
                self.name,
                tail.len()
            );
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
            eprintln!("----- end of {} daemon log -----", self.name);
        }
    }
}

impl Daemon {
    /// Stops the daemon (SIGTERM, SIGKILL after 15 s), keeps it down for
    /// `down_for`, then starts it again on the same config and ports (the
    /// journal stays), waiting up to 60 s for `/readyz`. Panics if it does
    /// not come back.
    pub fn restart(&mut self, down_for: Duration) {
        if self.alive() {
            self.sigterm();
            if self.wait_exit(Duration::from_secs(15)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        thread::sleep(down_for);
        self.respawn();
    }

    /// Starts the stopped daemon again on the same config and ports (its
    /// log appended), waiting up to 60 s for `/readyz`; panics if it does
    /// not come back.
    fn respawn(&mut self) {
        let out = fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .expect("reopen daemon log");
        let err = out.try_clone().expect("dup daemon log");
        self.child = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
            .arg("run")
            .arg("--config")
            .arg(self.config_path())
            .current_dir(&self.dir.path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("respawn alarmgate");
        self.exited = None;
        let port = self.http_port;
        let ready = poll_until(Duration::from_secs(60), || {
            self.poll_exit().is_some() || matches!(http_get(port, "/readyz"), Some((200, _)))
        });
        assert!(
            ready && self.alive(),
            "{}: no /readyz after the restart; log:\n{}",
            self.name,
            self.log_text()
        );
    }
}
