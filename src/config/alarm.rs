//! `[alarm]`: the Contact ID receiver on answered calls, and where decoded
//! alarms are made durable before they are acknowledged.
//!
//! Every decoded message is appended to the journal in `journal_dir` and
//! synced to disk before its kissoff starts; if the journal cannot write, no
//! kissoff is sent (the unit retries or fails over) and `/readyz` turns 503.
//!
//! The same journal keeps every event (call events too, with or without the
//! Contact ID receiver); `journal_*` keys size its segments and bound it by
//! age and by size (see `crate::journal::retention`).

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

use super::validate::Findings;
use super::Problem;
use crate::journal::{JournalConfig, RetentionPolicy, SyncMode};

/// `[alarm]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlarmConfig {
    /// Run the Contact ID receiver (handshake, digits, kissoff) on every
    /// answered call. Off, calls are only answered and held. Default `true`.
    pub contact_id: bool,
    /// The journal directory (created when missing; relative paths are from
    /// the working directory). Default `"var/journal"`.
    pub journal_dir: PathBuf,
    /// Hang up calls whose every message was technical, test or cancel once
    /// acknowledged and the line went quiet (the gateway settles them).
    /// Off, such calls stay up until the unit hangs up. Default `true`.
    pub settle_technical: bool,
    /// Segment file size in MiB: a segment rolls when the next record would
    /// take it past this. Retention deletes whole segments. Default 64.
    pub journal_segment_mb: u64,
    /// Delete closed segments sealed more than this many days ago (0: no
    /// age limit). Default 0.
    pub journal_max_age_days: u64,
    /// Delete the oldest closed segments while the journal is larger than
    /// this many MiB (0: no size limit). Default 0.
    pub journal_max_mb: u64,
}

impl Default for AlarmConfig {
    fn default() -> Self {
        Self {
            contact_id: true,
            journal_dir: PathBuf::from("var/journal"),
            settle_technical: true,
            journal_segment_mb: 64,
            journal_max_age_days: 0,
            journal_max_mb: 0,
        }
    }
}

const MIB: u64 = 1 << 20;

impl AlarmConfig {
    /// The journal as the daemon opens it (sync always).
    pub fn journal_config(&self) -> JournalConfig {
        JournalConfig {
            dir: self.journal_dir.clone(),
            segment_bytes: self.journal_segment_mb * MIB,
            sync: SyncMode::Always,
        }
    }

    /// The retention limits.
    pub fn retention(&self) -> RetentionPolicy {
        let days = self.journal_max_age_days;
        RetentionPolicy {
            max_age: (days > 0).then(|| Duration::from_secs(days * 86_400)),
            max_bytes: (self.journal_max_mb > 0).then(|| self.journal_max_mb * MIB),
        }
    }

    pub(crate) fn check(&self, out: &mut Findings) {
        let invalid = |out: &mut Findings, key: &str, value: u64, expected| {
            let value = value.to_string();
            out.push(format!("alarm.{key}"), Problem::Invalid { value, expected });
        };
        if self.journal_dir.as_os_str().is_empty() {
            let expected = "a directory path";
            let value = String::new();
            out.push("alarm.journal_dir", Problem::Invalid { value, expected });
        }
        if !(1..=1024).contains(&self.journal_segment_mb) {
            invalid(
                out,
                "journal_segment_mb",
                self.journal_segment_mb,
                "1 to 1024",
            );
        }
        if self.journal_max_age_days > 36_500 {
            let expected = "0 (no age limit) to 36500";
            invalid(
                out,
                "journal_max_age_days",
                self.journal_max_age_days,
                expected,
            );
        }
        let max = self.journal_max_mb;
        if max > 0 && max < 2 * self.journal_segment_mb {
            let detail = format!(
                "journal_max_mb ({max}) must be 0 (no limit) or at least twice journal_segment_mb ({}): the newest segment is never deleted",
                self.journal_segment_mb
            );
            out.push("alarm.journal_max_mb", Problem::Conflict { detail });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_keep_everything() {
        let cfg = AlarmConfig::default();
        let mut out = Findings::default();
        cfg.check(&mut out);
        assert!(out.is_empty(), "{:?}", out.into_vec());
        assert_eq!(cfg.retention(), RetentionPolicy::default());
        assert_eq!(cfg.journal_config().segment_bytes, 64 << 20);
    }

    #[test]
    fn retention_keys_become_limits() {
        let cfg = AlarmConfig {
            journal_segment_mb: 16,
            journal_max_age_days: 30,
            journal_max_mb: 1024,
            ..AlarmConfig::default()
        };
        let policy = cfg.retention();
        assert_eq!(policy.max_age, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(policy.max_bytes, Some(1 << 30));
        assert_eq!(cfg.journal_config().segment_bytes, 16 << 20);
    }

    #[test]
    fn bad_values_are_reported_by_key() {
        let cfg = AlarmConfig {
            journal_dir: PathBuf::new(),
            journal_segment_mb: 2000,
            journal_max_age_days: 40_000,
            journal_max_mb: 1,
            ..AlarmConfig::default()
        };
        let mut out = Findings::default();
        cfg.check(&mut out);
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "alarm.journal_dir",
                "alarm.journal_segment_mb",
                "alarm.journal_max_age_days",
                "alarm.journal_max_mb"
            ]
        );
        let small = AlarmConfig {
            journal_max_mb: 127,
            ..AlarmConfig::default()
        };
        let mut out = Findings::default();
        small.check(&mut out);
        assert_eq!(out.into_vec().len(), 1, "127 MiB < 2 x 64 MiB segments");
    }
}
