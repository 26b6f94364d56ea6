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

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    const BASE: &str = r#"
[[trunks]]
name = "t"
allow = ["127.0.0.0/8"]
[[tenants]]
id = "oslo"
name = "Oslo"
dids = ["100"]
"#;

    fn problems(extra: &str) -> Vec<String> {
        match load_str(&format!("{BASE}{extra}"), "t.toml") {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn tenant_extract_and_frequent_caller_keys_are_checked_with_their_line() {
        let good = "timezone = \"Europe/Oslo\"\nlanguage = \"nb\"\n[tenants.frequent_callers]\nper_24h = 5\n";
        assert_eq!(problems(good), Vec::<String>::new());
        let config = load_str(&format!("{BASE}{good}"), "t.toml").expect("valid");
        let t = config.tenant("oslo").expect("tenant");
        assert_eq!(t.language, crate::records::report::Language::Nb);
        let f = t
            .frequent_callers
            .as_ref()
            .expect("thresholds")
            .thresholds();
        assert_eq!(f.limits, [Some(5), None, None]);
        assert!(f.counts("voice") && !f.counts("technical"));
        let bad_zone = problems("timezone = \"Europe/Atlantis\"\n");
        assert!(
            bad_zone
                .iter()
                .any(|e| e.starts_with("t.toml:9") && e.contains("tenants[0].timezone")),
            "{bad_zone:?}"
        );
        let none = problems("[tenants.frequent_callers]\nclasses = []\n");
        assert!(
            none.iter()
                .any(|e| e.contains("tenants[0].frequent_callers:")
                    || e.contains("tenants[0].frequent_callers ")),
            "{none:?}"
        );
        assert!(
            none.iter().any(|e| e.contains("frequent_callers.classes")),
            "{none:?}"
        );
        assert!(problems("[tenants.frequent_callers]\nper_7d = 0\n")
            .iter()
            .any(|e| e.contains("frequent_callers.per_7d")));
        assert!(!problems("language = \"sv\"\n").is_empty());
        assert!(
            !problems("[tenants.frequent_callers]\nper_day = 3\n").is_empty(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn the_records_path_defaults_beside_the_journal() {
        let config = load_str(
            &format!("[alarm]\njournal_dir = \"/srv/ag/journal\"\n{BASE}"),
            "t.toml",
        )
        .expect("valid");
        assert_eq!(
            config.records_path(),
            std::path::PathBuf::from("/srv/ag/records.sqlite")
        );
        assert!(config.records.enabled);
        let off = load_str(
            &format!("[records]\nenabled = false\npath = \"/x/r.db\"\n{BASE}"),
            "t.toml",
        )
        .expect("valid");
        assert_eq!(
            (off.records.enabled, off.records_path()),
            (false, std::path::PathBuf::from("/x/r.db"))
        );
        assert!(load_str(&format!("[records]\nsize = 1\n{BASE}"), "t.toml").is_err());
    }
}
