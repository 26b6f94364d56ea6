//! `[bus]`: forwarding the journal's events to NATS JetStream.
//!
//! Absent, no bus is used: every event still lands in the local journal
//! (`alarm.journal_dir`), readable with `alarmgate events` and
//! `GET /api/v1/events`. Present, a forwarder task publishes every journal
//! record, in journal order, to the subject `alarmgate.<tenant>.<type>` of
//! `stream`, with `Nats-Msg-Id` = the event id, and waits for the server's
//! ack; it never blocks calls or kissoffs (see `crate::bus`).

use serde::Deserialize;
use std::time::Duration;

use super::validate::Findings;
use super::Problem;

/// `[bus] storage`: where the stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BusStorage {
    /// On disk (JetStream `file`). The default.
    #[default]
    File,
    /// In the server's memory only (lost when the server restarts).
    Memory,
}

/// `[bus]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// The NATS server(s): one URL or several separated by commas
    /// (`nats://host:4222`). Default `"nats://127.0.0.1:4222"`.
    pub url: String,
    /// The JetStream stream, created at start when missing (and checked when
    /// present). Letters, digits, `-` and `_`. Default `"ALARMGATE"`.
    pub stream: String,
    /// The stream's storage when it is created: `"file"` or `"memory"`. Default `"file"`.
    pub storage: BusStorage,
    /// The stream's replicas when it is created (1, 3 or 5 in a cluster). Default 1.
    pub replicas: u32,
    /// The stream's duplicate window in seconds: a publish whose
    /// `Nats-Msg-Id` the server saw within it is dropped as a duplicate.
    /// Keep it above the longest retry horizon (restart plus `retry_max_ms`).
    /// Default 600.
    pub duplicate_window_s: u64,
    /// How long to wait for the server's ack of one publish before retrying,
    /// in milliseconds. Default 5000.
    pub ack_timeout_ms: u64,
    /// Publishes in flight (sent, ack not yet received). 1 is strict
    /// one-at-a-time. Default 64.
    pub max_inflight: u32,
    /// First retry delay after an error, in milliseconds; doubled per failure. Default 100.
    pub retry_initial_ms: u64,
    /// Longest retry delay, in milliseconds. Default 5000.
    pub retry_max_ms: u64,
}

/// The default NATS URL.
pub const DEFAULT_BUS_URL: &str = "nats://127.0.0.1:4222";
/// The default stream name.
pub const DEFAULT_BUS_STREAM: &str = "ALARMGATE";

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_BUS_URL.to_string(),
            stream: DEFAULT_BUS_STREAM.to_string(),
            storage: BusStorage::File,
            replicas: 1,
            duplicate_window_s: 600,
            ack_timeout_ms: 5000,
            max_inflight: 64,
            retry_initial_ms: 100,
            retry_max_ms: 5000,
        }
    }
}

impl BusConfig {
    /// `duplicate_window_s` as a duration.
    pub fn duplicate_window(&self) -> Duration {
        Duration::from_secs(self.duplicate_window_s)
    }

    /// `ack_timeout_ms` as a duration.
    pub fn ack_timeout(&self) -> Duration {
        Duration::from_millis(self.ack_timeout_ms)
    }

    /// `retry_initial_ms` as a duration.
    pub fn retry_initial(&self) -> Duration {
        Duration::from_millis(self.retry_initial_ms)
    }

    /// `retry_max_ms` as a duration.
    pub fn retry_max(&self) -> Duration {
        Duration::from_millis(self.retry_max_ms)
    }

    pub(crate) fn check(&self, out: &mut Findings) {
        let invalid = |out: &mut Findings, key: &str, value: String, expected| {
            out.push(format!("bus.{key}"), Problem::Invalid { value, expected });
        };
        let urls_ok = !self.url.trim().is_empty()
            && self.url.split(',').all(|u| {
                let u = u.trim();
                ["nats://", "tls://"].iter().any(|p| u.starts_with(p)) && u.len() > 7
            });
        if !urls_ok {
            let expected = "nats://host:port or tls://host:port, several separated by commas";
            invalid(out, "url", self.url.clone(), expected);
        }
        let name_ok = !self.stream.is_empty()
            && self.stream.len() <= 64
            && self
                .stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            let expected = "1 to 64 letters, digits, '-' or '_'";
            invalid(out, "stream", self.stream.clone(), expected);
        }
        if !(1..=5).contains(&self.replicas) {
            invalid(out, "replicas", self.replicas.to_string(), "1 to 5");
        }
        if self.duplicate_window_s == 0 {
            let expected = "at least 1 (0 would turn server-side deduplication off)";
            invalid(out, "duplicate_window_s", "0".into(), expected);
        }
        if !(100..=600_000).contains(&self.ack_timeout_ms) {
            let value = self.ack_timeout_ms.to_string();
            invalid(out, "ack_timeout_ms", value, "100 to 600000");
        }
        if !(1..=4096).contains(&self.max_inflight) {
            let value = self.max_inflight.to_string();
            invalid(out, "max_inflight", value, "1 to 4096");
        }
        if self.retry_initial_ms == 0 {
            invalid(out, "retry_initial_ms", "0".into(), "at least 1");
        }
        if self.retry_max_ms < self.retry_initial_ms {
            let detail = format!(
                "retry_max_ms ({}) is below retry_initial_ms ({})",
                self.retry_max_ms, self.retry_initial_ms
            );
            out.push("bus.retry_max_ms", Problem::Conflict { detail });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let mut out = Findings::default();
        BusConfig::default().check(&mut out);
        assert!(out.is_empty(), "{:?}", out.into_vec());
    }

    #[test]
    fn bad_values_are_reported_by_key() {
        let cfg = BusConfig {
            url: "http://x".into(),
            stream: "a.b".into(),
            replicas: 0,
            duplicate_window_s: 0,
            max_inflight: 0,
            retry_initial_ms: 500,
            retry_max_ms: 100,
            ..BusConfig::default()
        };
        let mut out = Findings::default();
        cfg.check(&mut out);
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "bus.url",
                "bus.stream",
                "bus.replicas",
                "bus.duplicate_window_s",
                "bus.max_inflight",
                "bus.retry_max_ms"
            ]
        );
    }
}
