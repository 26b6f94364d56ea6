//! Test machinery: free loopback ports, per-test temp dirs and configs, the
//! daemon as a child process (killed on drop, its log printed when the test
//! fails), a hand-written HTTP/1.0 client for `/readyz` and `/metrics`, and
//! runners for SIPp and the pjsua2 peer. Every wait polls a condition against
//! a deadline; nothing sleeps a fixed time to wait for something.

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
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

// ---------------------------------------------------------------- peers

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

/// The Python interpreter that has pjsua2, if any.
pub fn python() -> Option<PathBuf> {
    static PY: OnceLock<Option<PathBuf>> = OnceLock::new();
    PY.get_or_init(|| {
        let py = std::env::var_os("ALARMGATE_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join(".venv/bin/python"));
        let ok = Command::new(&py)
            .args(["-c", "import pjsua2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(py)
    })
    .clone()
}

/// True when pjsua2 can run; otherwise a SKIP (or a failure under `ALARMGATE_REQUIRE_PEERS=1`).
pub fn need_pjsua2(test: &str) -> bool {
    if python().is_some() {
        return true;
    }
    assert!(
        !env_on("ALARMGATE_REQUIRE_PEERS"),
        "{test}: no Python with pjsua2 and ALARMGATE_REQUIRE_PEERS=1 (run tests/run.sh)"
    );
    skip(
        test,
        "pjsua2 not installed (.venv/bin/pip install pjsua2-python, or run tests/run.sh)",
    );
    false
}

// ---------------------------------------------------------------- ports and dirs

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

fn claim(port: u16) -> bool {
    let mut g = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    g.get_or_insert_with(HashSet::new).insert(port)
}

/// Gives back ports a finished test no longer uses. Without this, the
/// daemons' 200-port RTP blocks of a long suite (80+ daemons) would use up
/// the whole 10000-31999 range and later tests could find no free block.
fn unclaim(ports: std::ops::Range<u16>) {
    let mut g = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(set) = g.as_mut() {
        for port in ports {
            set.remove(&port);
        }
    }
}

/// A loopback port free for both UDP and TCP right now, never handed out twice
/// by this process.
pub fn free_port() -> u16 {
    for _ in 0..500 {
        let Ok(tcp) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = tcp.local_addr() else { continue };
        let port = addr.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() && claim(port) {
            return port;
        }
    }
    panic!("no free loopback port for UDP and TCP");
}

/// The first port of `len` consecutive loopback UDP ports free right now, in
/// 10000..=31999 (below Linux's ephemeral range), spread by pid so parallel
/// test processes and tests rarely meet.
pub fn free_udp_block(len: u16) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span: u32 = 22_000;
    let start = (std::process::id() * 7919) % span;
    for _ in 0..400 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let offset = (start + n * (u32::from(len) + 10)) % (span - u32::from(len));
        let base = 10_000 + offset as u16;
        let all_free = (base..base + len).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok());
        if all_free && (base..base + len).all(claim) {
            return base;
        }
    }
    panic!("no block of {len} free UDP ports");
}

/// True once something on this host has bound loopback `port` (UDP) or
/// listens on it (TCP), read from /proc/net so that probing disturbs nothing.
pub fn port_bound(port: u16, tcp: bool) -> bool {
    let table = if tcp {
        "/proc/net/tcp"
    } else {
        "/proc/net/udp"
    };
    let hex = format!(":{port:04X}");
    fs::read_to_string(table).is_ok_and(|t| {
        t.lines().skip(1).any(|l| {
            let mut f = l.split_whitespace();
            let local = f.nth(1).unwrap_or("");
            let state = f.nth(1).unwrap_or("");
            local.ends_with(&hex) && (!tcp || state == "0A")
        })
    })
}

/// A per-test directory under the temp dir; removed on drop unless
/// `ALARMGATE_KEEP_TMP=1` or the test is failing.
pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new(test: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "alarmgate-interop-{}-{n}-{test}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create test dir");
        Self { path }
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if thread::panicking() || env_on("ALARMGATE_KEEP_TMP") {
            eprintln!("interop: kept {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

// ---------------------------------------------------------------- config

/// The knobs tests turn; everything else is the documented test config.
#[derive(Debug, Clone)]
pub struct Config {
    pub max_duration_s: u64,
    pub max_concurrent: u32,
    pub shutdown_grace_s: u64,
    /// `[calls] answer_delay_ms`; written only when set.
    pub answer_delay_ms: Option<u64>,
    /// A digest-authenticated device (username, password): loopback is then
    /// on no trunk, so calls from the tests must authenticate (MD5 first).
    pub auth_device: Option<(String, String)>,
    /// Also listen for SIP over TLS (a dev certificate made with `alarmgate certs dev`).
    pub tls: bool,
    /// Also listen for SIP over UDP on [::1], same port.
    pub ipv6: bool,
    /// TOML appended to the rendered config as it is (whole tables only).
    pub extra: String,
    /// Keys written inside `[media]`, as they are (`rtp_source = "latch"\n`).
    pub media_keys: String,
    /// Keys written inside the `demo` tenant's table, as they are
    /// (`default_queue = "main"\nlast_resort = "partner"\n`).
    pub tenant_keys: String,
    /// An `[alarm]` table (None: none is written, and the daemon's default
    /// `var/journal` lands in the test dir, its working directory). Leave it
    /// None when `extra` carries its own `[alarm]`.
    pub alarm: Option<AlarmOpts>,
    /// `[[trunks]]` tables written instead of the default `loopback` trunk
    /// (None: the default, all of loopback, or 192.0.2.0/24 with `auth_device`).
    pub trunks: Option<String>,
}

/// `[alarm]` as the tests write it; the journal is always `<test dir>/journal`
/// ([`Daemon::journal_dir`]).
#[derive(Debug, Clone)]
pub struct AlarmOpts {
    /// `contact_id`: run the Contact ID receiver on every answered call.
    pub contact_id: bool,
    /// `settle_technical`: hang up calls whose alarms were all technical/test.
    pub settle_technical: bool,
}

impl Default for AlarmOpts {
    fn default() -> Self {
        Self {
            contact_id: true,
            settle_technical: true,
        }
    }
}

impl AlarmOpts {
    fn render(&self, journal_dir: &Path) -> String {
        format!(
            "[alarm]\ncontact_id = {}\nsettle_technical = {}\njournal_dir = \"{}\"\n",
            self.contact_id,
            self.settle_technical,
            journal_dir.display()
        )
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_duration_s: 0,
            max_concurrent: 2000,
            shutdown_grace_s: 5,
            answer_delay_ms: None,
            auth_device: None,
            tls: false,
            ipv6: false,
            extra: String::new(),
            media_keys: String::new(),
            tenant_keys: String::new(),
            alarm: None,
            trunks: None,
        }
    }
}

impl Config {
    pub fn render(
        &self,
        sip_port: u16,
        http_port: u16,
        rtp: (u16, u16),
        extra_listeners: &str,
    ) -> String {
        let (rtp_min, rtp_max) = rtp;
        let delay = self
            .answer_delay_ms
            .map(|d| format!("answer_delay_ms = {d}\n"))
            .unwrap_or_default();
        let (trunk, auth) = match &self.auth_device {
            None => (r#"["127.0.0.0/8", "::1/128"]"#.to_string(), String::new()),
            Some((user, password)) => (
                r#"["192.0.2.0/24"]"#.to_string(),
                format!(
                    "[auth]\nrealm = \"alarmgate\"\nalgorithms = [\"MD5\", \"SHA-256\"]\n[[auth.devices]]\nusername = \"{user}\"\n{}",
                    alarmgate::config::device_ha1_lines(user, "alarmgate", password)
                ),
            ),
        };
        let trunks = self
            .trunks
            .clone()
            .unwrap_or_else(|| format!("[[trunks]]\nname = \"loopback\"\nallow = {trunk}\n"));
        format!(
            r#"# written by tests/interop/harness.rs
[node]
name = "test"

[log]
format = "human"
level = "info"

[http]
listen = "127.0.0.1:{http_port}"

[sip]
user_agent = "alarmgate"
advertise = "127.0.0.1"

[[sip.listen]]
transport = "udp"
addr = "127.0.0.1:{sip_port}"

[[sip.listen]]
transport = "tcp"
addr = "127.0.0.1:{sip_port}"
{extra_listeners}

[media]
rtp_port_min = {rtp_min}
rtp_port_max = {rtp_max}
hold = "silence"
{media_keys}

[calls]
max_duration_s = {max_duration_s}
max_concurrent = {max_concurrent}
max_per_second = 0
retry_after_s = 5
shutdown_grace_s = {shutdown_grace_s}
{delay}
{auth}
{trunks}

[[tenants]]
id = "demo"
name = "Demo Kommune"
dids = ["112", "+4570000112"]
codecs = ["PCMA", "PCMU"]
{tenant_keys}
{extra}
"#,
            extra = self.extra,
            tenant_keys = self.tenant_keys,
            media_keys = self.media_keys,
            max_duration_s = self.max_duration_s,
            max_concurrent = self.max_concurrent,
            shutdown_grace_s = self.shutdown_grace_s,
        )
    }
}

// ---------------------------------------------------------------- HTTP

/// `method path` over HTTP/1.0 with an optional bearer token and JSON body;
/// returns (status, body).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    json_body: Option<&str>,
) -> Option<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = json_body.unwrap_or("");
    let kind = if json_body.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{auth}{kind}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// `GET path` over HTTP/1.0; returns (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_request(port, "GET", path, None, None)
}

/// Sums the samples of `name` whose label set contains every `labels` pair
/// (`("method", "INVITE")` matches `method="INVITE"`). None when no sample matched.
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (label_part, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once('}') {
                Some((l, v)) => (l, v),
                None => continue,
            },
            None if rest.starts_with(' ') => ("", rest),
            None => continue,
        };
        let wanted = labels
            .iter()
            .all(|(k, v)| label_part.contains(&format!("{k}=\"{v}\"")));
        let value: Option<f64> = value.split_whitespace().next().and_then(|v| v.parse().ok());
        if let (true, Some(v)) = (wanted, value) {
            found = Some(found.unwrap_or(0.0) + v);
        }
    }
    found
}

// ---------------------------------------------------------------- the daemon

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

// ---------------------------------------------------------------- SIPp

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

// ---------------------------------------------------------------- pjsua2

/// Runs `tests/peers/pj_call.py` with `args`; returns (exit code, parsed JSON
/// of its last stdout line, full output).
pub fn pj_call(
    dir: &Path,
    args: &[String],
    timeout: Duration,
) -> (Option<i32>, serde_json::Value, String) {
    let py = python().expect("pjsua2 python (call need_pjsua2 first)");
    let out_path = dir.join(format!("pj_call-{}.txt", free_port()));
    let out = fs::File::create(&out_path).expect("pj out");
    let err = out.try_clone().expect("dup");
    let mut child = Command::new(py)
        .arg(repo().join("tests/peers/pj_call.py"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn pj_call.py");
    let mut status = None;
    poll_until(timeout, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let text = fs::read_to_string(&out_path).unwrap_or_default();
    let json = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    (status.and_then(|s| s.code()), json, text)
}

// ---------------------------------------------------------------- Python peers (pjsua2 + spandsp)

/// True when Debian's libspandsp (the Contact ID oracle, `libspandsp-dev`)
/// loads from the pjsua2 Python through `tests/peers/spandsp_cid.py`;
/// otherwise a SKIP (or a failure under `ALARMGATE_REQUIRE_PEERS=1`).
pub fn need_spandsp(test: &str) -> bool {
    if !need_pjsua2(test) {
        return false;
    }
    static HAVE: OnceLock<bool> = OnceLock::new();
    let have = *HAVE.get_or_init(|| {
        let py = python().expect("checked by need_pjsua2");
        Command::new(py)
            .args(["-c", "import spandsp_cid"])
            .env("PYTHONPATH", repo().join("tests/peers"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if have {
        return true;
    }
    assert!(
        !env_on("ALARMGATE_REQUIRE_PEERS"),
        "{test}: libspandsp does not load and ALARMGATE_REQUIRE_PEERS=1 (apt-get install libspandsp-dev)"
    );
    skip(
        test,
        "libspandsp not installed (apt-get install libspandsp-dev, or run tests/run.sh)",
    );
    false
}

/// A `tests/peers/*.py` script running in the background (killed on drop).
pub struct PyPeer {
    child: Child,
    out: PathBuf,
    deadline: Instant,
}

/// What a Python peer said: its exit code, its last JSON line, all its output.
#[derive(Debug)]
pub struct PeerResult {
    pub code: Option<i32>,
    pub json: serde_json::Value,
    pub output: String,
}

impl PyPeer {
    /// Starts `tests/peers/<script>` with `args` in `dir` (output in a file
    /// there); it is killed if still running `timeout` from now when waited for.
    pub fn spawn(script: &str, dir: &Path, args: &[String], timeout: Duration) -> PyPeer {
        let py = python().expect("pjsua2 python (call need_pjsua2 first)");
        let stem = script.trim_end_matches(".py");
        let out = dir.join(format!("{stem}-{}.txt", free_port()));
        let file = fs::File::create(&out).expect("peer output");
        let err = file.try_clone().expect("dup");
        let child = Command::new(py)
            .arg(repo().join("tests/peers").join(script))
            .args(args)
            .env("PYTHONPATH", repo().join("tests/peers"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {script}: {e}"));
        PyPeer {
            child,
            out,
            deadline: Instant::now() + timeout,
        }
    }

    /// Its output so far.
    pub fn output(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits for exit (killing it past its deadline); the last JSON line parsed.
    pub fn wait(mut self) -> PeerResult {
        let mut status = None;
        poll_until(
            self.deadline.saturating_duration_since(Instant::now()),
            || {
                status = self.child.try_wait().ok().flatten();
                status.is_some()
            },
        );
        let output = self.output();
        let json = output
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(serde_json::Value::Null);
        PeerResult {
            code: status.and_then(|s| s.code()),
            json,
            output,
        }
    }
}

impl Drop for PyPeer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Every record of the journal in `dir`, parsed as JSON (panics on damage).
pub fn journal_records(dir: &Path) -> Vec<serde_json::Value> {
    let reader = alarmgate::journal::JournalReader::open(dir)
        .unwrap_or_else(|e| panic!("open journal {}: {e}", dir.display()));
    reader
        .read_from(1)
        .map(|r| {
            let record = r.unwrap_or_else(|e| panic!("journal {}: {e}", dir.display()));
            serde_json::from_slice(&record.payload).unwrap_or_else(|e| {
                panic!(
                    "journal record {} is not JSON ({e}): {:?}",
                    record.seq,
                    String::from_utf8_lossy(&record.payload)
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sum_matches_labels_and_sums() {
        let text = "# HELP x\nalarmgate_sip_requests_received_total{method=\"INVITE\",transport=\"udp\"} 3\n\
                    alarmgate_sip_requests_received_total{method=\"INVITE\",transport=\"tcp\"} 2\n\
                    alarmgate_sip_requests_received_total{method=\"BYE\"} 1\nalarmgate_calls_active 0\n";
        let m = "alarmgate_sip_requests_received_total";
        assert_eq!(metric_sum(text, m, &[("method", "INVITE")]), Some(5.0));
        assert_eq!(metric_sum(text, m, &[("method", "ACK")]), None);
        assert_eq!(metric_sum(text, "alarmgate_calls_active", &[]), Some(0.0));
        assert_eq!(metric_sum(text, "alarmgate_calls", &[]), None);
    }

    #[test]
    fn last_count_reads_the_cumulative_column() {
        let screen = "  Successful call        |        0                  |        0\n\
                      Successful call        |        1                  |        7\n";
        assert_eq!(last_count(screen, "Successful call"), 7);
    }
}
