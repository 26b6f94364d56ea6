//! Per-test temp dirs and the daemon's config file for a test.

use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;

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
    pub(super) fn render(&self, journal_dir: &Path) -> String {
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
            r#"# written by tests/interop/harness/config.rs
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
