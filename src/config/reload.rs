//! SIGHUP: reading the dialplan again while calls go on.
//!
//! [`reload`] reads and validates the file exactly as at start; the daemon
//! keeps the running config when it fails. What a reload can change in
//! place is the routing side (tenants, queues, operators, targets, trunks'
//! outbound settings, API tokens); sockets, the journal, the bus, admission
//! and the registrar's settings are set up once, and
//! [`Config::restart_needed`] names what changed but waits for a restart,
//! so the daemon can say so.

use std::path::Path;

use super::{load_file, Config, ConfigErrors};
use crate::admission::IpNet;
use crate::alarm::classify::ClassRule;

/// Reads and validates the dialplan at `path` for a reload.
///
/// # Errors
/// Every problem found, as [`load_file`] reports them; the caller keeps the
/// config it runs on.
pub fn reload(path: &Path) -> Result<Config, ConfigErrors> {
    load_file(path)
}

impl Config {
    /// The sections and keys that differ between `self` (running) and
    /// `new` but only take effect at the next start: `node`, `log`, `http`,
    /// `sip`, `media`, `calls`, `alarm`, `bus`, `cluster`, `auth`, `registrar`, `dc09`,
    /// `api.console_ws_url`, `records`, `trunks.allow`, `tenants.classify`,
    /// `supervision` (`[tenants.supervision]`, `[[units]]`), `recording`,
    /// `tenants.recording`. Empty when a reload applies in full.
    pub fn restart_needed(&self, new: &Config) -> Vec<&'static str> {
        let checks = [
            ("node", self.node != new.node),
            ("log", self.log != new.log),
            ("http", self.http != new.http),
            ("sip", self.sip != new.sip),
            ("media", self.media != new.media),
            ("calls", self.calls != new.calls),
            ("alarm", self.alarm != new.alarm),
            ("bus", self.bus != new.bus),
            ("cluster", self.cluster != new.cluster),
            ("records", self.records != new.records),
            ("auth", self.auth != new.auth),
            ("registrar", self.registrar != new.registrar),
            (
                "api.console_ws_url",
                self.api.console_ws_url != new.api.console_ws_url,
            ),
            ("dc09", self.dc09 != new.dc09),
            ("trunks.allow", allow_lists(self) != allow_lists(new)),
            (
                "tenants.classify",
                classify_rules(self) != classify_rules(new),
            ),
            (
                "supervision",
                self.supervision_settings() != new.supervision_settings(),
            ),
            ("recording", self.recording != new.recording),
            (
                "tenants.recording",
                self.recording_tenants() != new.recording_tenants(),
            ),
        ];
        checks
            .into_iter()
            .filter(|(_, changed)| *changed)
            .map(|(name, _)| name)
            .collect()
    }
}

fn allow_lists(c: &Config) -> Vec<(&str, &[IpNet])> {
    c.trunks
        .iter()
        .map(|t| (t.name.as_str(), t.allow.as_slice()))
        .collect()
}

fn classify_rules(c: &Config) -> Vec<(&str, &[ClassRule])> {
    c.tenants
        .iter()
        .map(|t| (t.id.as_str(), t.classify.as_slice()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dialplans() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dialplans")
    }

    #[test]
    fn reload_reads_and_validates() {
        let config = reload(&dialplans().join("centre.toml")).expect("valid");
        assert_eq!(config.operators.len(), 4);
        let missing = reload(&dialplans().join("nope.toml")).expect_err("missing file");
        assert_eq!(missing.len(), 1);
    }

    #[test]
    fn restart_needed_names_the_fixed_sections() {
        let running = reload(&dialplans().join("default.toml")).expect("valid");
        let mut new = running.clone();
        assert!(running.restart_needed(&new).is_empty());
        new.operators.pop();
        new.queues[0].ring_timeout_s = 5;
        assert!(running.restart_needed(&new).is_empty());
        new.media.rtp_port_min = 20002;
        new.node.name = "other".into();
        assert_eq!(running.restart_needed(&new), ["node", "media"]);
        new.trunks[0].allow.pop();
        new.registrar.max_contacts = 2;
        let needed = running.restart_needed(&new);
        assert_eq!(needed, ["node", "media", "registrar", "trunks.allow"]);
    }
}
