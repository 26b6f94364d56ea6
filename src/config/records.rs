//! `[records]` (the call-records database) and the per-tenant extract and
//! frequent-caller keys: `timezone`, `language`, `[tenants.frequent_callers]`.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;

use super::validate::Findings;
use super::{Problem, Tenant};
use crate::records::frequent::Thresholds;
use crate::routing::CallClass;

/// `[records]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordsConfig {
    /// Keep call records (one row per call, projected from the journal).
    /// Default `true`.
    pub enabled: bool,
    /// The SQLite file. Default: `records.sqlite` beside `alarm.journal_dir`
    /// (in its parent directory). Derived data: deleting it makes the next
    /// start rebuild it from the journal.
    pub path: Option<PathBuf>,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: None,
        }
    }
}

impl RecordsConfig {
    pub(crate) fn check(&self, out: &mut Findings) {
        if self
            .path
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty() || p.is_dir())
        {
            let value = format!("{:?}", self.path);
            out.push(
                "records.path",
                Problem::Invalid {
                    value,
                    expected: "a file path",
                },
            );
        }
    }
}

/// `[tenants.frequent_callers]`: when a caller counts as frequent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequentCallers {
    /// Calls within the last 24 hours. Optional.
    #[serde(default)]
    pub per_24h: Option<u32>,
    /// Calls within the last 7 days. Optional.
    #[serde(default)]
    pub per_7d: Option<u32>,
    /// Calls within the last 30 days (a rolling month). Optional.
    #[serde(default)]
    pub per_month: Option<u32>,
    /// The call classes that count. Default `["emergency", "voice", "unconfirmed"]`
    /// (technical alarms and recalls do not).
    #[serde(default = "default_classes")]
    pub classes: Vec<CallClass>,
}

fn default_classes() -> Vec<CallClass> {
    vec![
        CallClass::Emergency,
        CallClass::Voice,
        CallClass::Unconfirmed,
    ]
}

impl FrequentCallers {
    /// As the detector takes them.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            limits: [self.per_24h, self.per_7d, self.per_month],
            classes: self
                .classes
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
        }
    }
}

/// The default tenant time zone.
pub const DEFAULT_TIMEZONE: &str = "Europe/Copenhagen";

pub(crate) fn default_timezone() -> String {
    DEFAULT_TIMEZONE.to_string()
}

/// Checks one tenant's `timezone` and `frequent_callers`.
pub(crate) fn check_tenant_records(t: &Tenant, path: &str, out: &mut Findings) {
    if jiff::tz::TimeZone::get(&t.timezone).is_err() {
        let value = t.timezone.clone();
        let expected = "an IANA time zone such as \"Europe/Copenhagen\" or \"Europe/Oslo\"";
        out.push(
            format!("{path}.timezone"),
            Problem::Invalid { value, expected },
        );
    }
    let Some(f) = &t.frequent_callers else { return };
    let keys = [
        ("per_24h", f.per_24h),
        ("per_7d", f.per_7d),
        ("per_month", f.per_month),
    ];
    for (key, v) in keys {
        if v == Some(0) {
            out.push(
                format!("{path}.frequent_callers.{key}"),
                Problem::Invalid {
                    value: "0".into(),
                    expected: "at least 1",
                },
            );
        }
    }
    if keys.iter().all(|(_, v)| v.is_none()) {
        let value = "no threshold".to_string();
        let expected = "at least one of per_24h, per_7d, per_month";
        out.push(
            format!("{path}.frequent_callers"),
            Problem::Invalid { value, expected },
        );
    }
    if f.classes.is_empty() {
        let expected = "at least one class";
        out.push(
            format!("{path}.frequent_callers.classes"),
            Problem::Invalid {
                value: "[]".into(),
                expected,
            },
        );
    }
}

/// Every tenant's thresholds, by tenant id (tenants without: absent).
pub fn frequent_thresholds(tenants: &[Tenant]) -> HashMap<String, Thresholds> {
    tenants
        .iter()
        .filter_map(|t| {
            t.frequent_callers
                .as_ref()
                .map(|f| (t.id.clone(), f.thresholds()))
        })
        .collect()
}

impl super::Config {
    /// The call-records database file: `records.path`, else
    /// `records.sqlite` in the parent of `alarm.journal_dir`.
    pub fn records_path(&self) -> PathBuf {
        if let Some(path) = &self.records.path {
            return path.clone();
        }
        let parent = self
            .alarm
            .journal_dir
            .parent()
            .unwrap_or(std::path::Path::new(""));
        parent.join("records.sqlite")
    }
}
