//! `[recording]` and the tenants' `recording` keys: call recording
//! (journalled communication, see `crate::recording`).
//!
//! A tenant with `recording = true` has both parties of each bridged call
//! written to one stereo WAV file under `[recording] dir`, kept for its
//! `recording_retention_days` unless a legal hold keeps it longer.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;

use super::routing::Tenant;
use super::validate::Findings;
use super::Problem;
use crate::labels::TenantId;
use crate::recording::TenantRecording;

/// Default days a recording is kept (three months, as Danish practice suggests).
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// `[recording]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingConfig {
    /// Where recordings are written, one directory per tenant (created when
    /// missing; relative paths are from the working directory). Default
    /// `"var/recordings"`.
    pub dir: PathBuf,
    /// Audio frames (20 ms of one call, 640 bytes) that may wait for the
    /// writer, all calls together; beyond this audio is dropped and counted,
    /// never waited for. Default 3000 (60 call-seconds, about 2 MB).
    pub queue_frames: u32,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("var/recordings"),
            queue_frames: 3000,
        }
    }
}

impl RecordingConfig {
    pub(crate) fn check(&self, out: &mut Findings) {
        if self.dir.as_os_str().is_empty() {
            let (value, expected) = (String::new(), "a directory path");
            out.push("recording.dir", Problem::Invalid { value, expected });
        }
        if !(50..=1_000_000).contains(&self.queue_frames) {
            let value = self.queue_frames.to_string();
            let expected = "50 to 1000000";
            out.push(
                "recording.queue_frames",
                Problem::Invalid { value, expected },
            );
        }
    }
}

pub(crate) fn default_retention_days() -> u32 {
    DEFAULT_RETENTION_DAYS
}

/// Checks each tenant's `recording_retention_days`.
pub(crate) fn check_tenants(tenants: &[Tenant], out: &mut Findings) {
    for (i, t) in tenants.iter().enumerate() {
        if !(1..=3650).contains(&t.recording_retention_days) {
            let value = t.recording_retention_days.to_string();
            let expected = "1 to 3650 days";
            let key = format!("tenants[{i}].recording_retention_days");
            out.push(key, Problem::Invalid { value, expected });
        }
    }
}

/// Every tenant's recording settings.
pub fn tenant_settings(tenants: &[Tenant]) -> HashMap<TenantId, TenantRecording> {
    tenants
        .iter()
        .map(|t| {
            let settings = TenantRecording {
                enabled: t.recording,
                retention_days: t.recording_retention_days,
            };
            (TenantId::new(t.id.as_str()), settings)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;
    use crate::labels::TenantId;

    const BASE: &str = r#"
[[trunks]]
name = "lan"
allow = ["10.0.0.0/8"]

[[tenants]]
id = "odense"
name = "Odense"
dids = ["1"]
"#;

    #[test]
    fn recording_is_off_by_default_and_kept_90_days() {
        let config = load_str(BASE, "t.toml").expect("valid");
        let t = &config.recording_tenants()[&TenantId::new("odense")];
        assert!(!t.enabled);
        assert_eq!(t.retention_days, 90);
        assert_eq!(config.recording.dir.to_string_lossy(), "var/recordings");
    }

    #[test]
    fn bad_values_are_reported_with_their_line_and_key() {
        let text = format!(
            "{BASE}recording = true\nrecording_retention_days = 0\n\n[recording]\ndir = \"\"\nqueue_frames = 10\n"
        );
        let errors = load_str(&text, "t.toml").expect_err("invalid").errors;
        let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.key.as_str())).collect();
        assert_eq!(
            found,
            [
                (11, "tenants[0].recording_retention_days"),
                (14, "recording.dir"),
                (15, "recording.queue_frames"),
            ]
        );
    }
}
