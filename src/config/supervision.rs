//! `[tenants.supervision]` and `[[units]]`: which units must report, how
//! often, and what is raised when one does not (see `crate::supervision`).

use super::validate::Findings;
use super::{Config, Problem, Tenant};
use crate::alarm::report::Protocol;
use crate::labels::TenantId;
use crate::routing::CallClass;
use crate::supervision::{Override, SupervisionSettings, TenantPolicy, UnitKey};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

/// The longest interval: 31 days.
pub const MAX_INTERVAL_S: u64 = 31 * 86_400;
/// The longest grace: 7 days.
pub const MAX_GRACE_S: u64 = 7 * 86_400;

/// `[tenants.supervision]`: the tenant's units must report.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSupervision {
    /// Expected reporting interval in seconds (the units' periodic test).
    /// 1 to 2678400 (31 days). Default 86400 (24 h).
    #[serde(default = "default_interval")]
    pub interval_s: u64,
    /// Seconds of grace after the interval before a unit is overdue.
    /// 0 to 604800. Default 3600.
    #[serde(default = "default_grace")]
    pub grace_s: u64,
    /// Supervise every unit of the tenant that reported once (as well as
    /// those in `[[units]]`). Default true.
    #[serde(default = "yes")]
    pub enrol_reporting: bool,
    /// `"any"`: any message of the unit counts as a report; `"tests"`:
    /// only periodic tests (Contact ID 60x test codes, SCAIP `PI`, DC-09
    /// `NULL`). Default `"any"`.
    #[serde(default)]
    pub reports: Reports,
    /// The class, and so the priority, of the fail-to-report alarm listed
    /// for operators: `"technical"`, `"voice"` or `"emergency"`. Default
    /// `"technical"`.
    #[serde(default = "technical")]
    pub class: CallClass,
}

/// What counts as a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reports {
    /// Any message.
    #[default]
    Any,
    /// Periodic tests only.
    Tests,
}

/// `[[units]]`: one unit's own supervision.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitEntry {
    /// The `[[tenants]]` id. Required.
    pub tenant: String,
    /// `"contact_id"`, `"scaip"` or `"dc09"`. Required.
    pub protocol: Protocol,
    /// The Contact ID / DC-09 account or SCAIP `cid`. Required.
    pub account: String,
    /// Its interval in seconds, else the tenant's.
    #[serde(default)]
    pub interval_s: Option<u64>,
    /// Its grace in seconds, else the tenant's.
    #[serde(default)]
    pub grace_s: Option<u64>,
    /// `false`: never supervised. Default true.
    #[serde(default = "yes")]
    pub supervised: bool,
}

fn default_interval() -> u64 {
    86_400
}
fn default_grace() -> u64 {
    3_600
}
fn yes() -> bool {
    true
}
fn technical() -> CallClass {
    CallClass::Technical
}

fn invalid(out: &mut Findings, path: String, value: impl ToString, expected: &'static str) {
    let value = value.to_string();
    out.push(path, Problem::Invalid { value, expected });
}

impl TenantSupervision {
    /// Ranges and the class, under `path`.
    pub(crate) fn check(&self, path: &str, out: &mut Findings) {
        check_times(path, Some(self.interval_s), Some(self.grace_s), out);
        let allowed = [CallClass::Technical, CallClass::Voice, CallClass::Emergency];
        if !allowed.contains(&self.class) {
            let value = format!("{:?}", self.class).to_lowercase();
            invalid(
                out,
                format!("{path}.class"),
                value,
                "technical, voice or emergency",
            );
        }
    }

    fn policy(&self) -> TenantPolicy {
        TenantPolicy {
            interval: Duration::from_secs(self.interval_s),
            grace: Duration::from_secs(self.grace_s),
            enrol_reporting: self.enrol_reporting,
            tests_only: self.reports == Reports::Tests,
            class: self.class,
        }
    }
}

fn check_times(path: &str, interval: Option<u64>, grace: Option<u64>, out: &mut Findings) {
    if let Some(i) = interval.filter(|i| !(1..=MAX_INTERVAL_S).contains(i)) {
        invalid(
            out,
            format!("{path}.interval_s"),
            i,
            "1 to 2678400 (31 days)",
        );
    }
    if let Some(g) = grace.filter(|g| *g > MAX_GRACE_S) {
        invalid(out, format!("{path}.grace_s"), g, "0 to 604800 (7 days)");
    }
}

/// Each `[[units]]` entry: a known tenant, a unit protocol, an account, no
/// duplicate, and an interval from somewhere when supervised.
pub(crate) fn check_units(units: &[UnitEntry], tenants: &[Tenant], out: &mut Findings) {
    let mut seen: HashMap<(&str, Protocol, &str), usize> = HashMap::new();
    for (i, u) in units.iter().enumerate() {
        let path = format!("units[{i}]");
        check_times(&path, u.interval_s, u.grace_s, out);
        let tenant = tenants.iter().find(|t| t.id == u.tenant);
        if tenant.is_none() {
            let detail = format!("no [[tenants]] entry has id {:?}", u.tenant);
            out.push(format!("{path}.tenant"), Problem::Conflict { detail });
        }
        if u.protocol == Protocol::Supervision {
            invalid(
                out,
                format!("{path}.protocol"),
                "supervision",
                "contact_id, scaip or dc09",
            );
        }
        let account_ok =
            |a: &str| (1..=64).contains(&a.len()) && a.chars().all(|c| c.is_ascii_graphic());
        if !account_ok(&u.account) {
            let value = format!("{:?}", u.account);
            invalid(
                out,
                format!("{path}.account"),
                value,
                "1 to 64 printable ASCII characters",
            );
        }
        let has_policy = tenant.is_some_and(|t| t.supervision.is_some());
        if u.supervised && u.interval_s.is_none() && !has_policy {
            let because = "when the tenant has no [tenants.supervision]";
            out.push(format!("{path}.interval_s"), Problem::Missing { because });
        }
        let key = (u.tenant.as_str(), u.protocol, u.account.as_str());
        if let Some(first) = seen.insert(key, i) {
            let value = format!("{}/{}/{}", u.tenant, u.protocol.as_str(), u.account);
            let first = format!("units[{first}]");
            out.push(
                format!("{path}.account"),
                Problem::Duplicate { value, first },
            );
        }
    }
}

impl Config {
    /// The supervisor's settings: tenants with `[tenants.supervision]`,
    /// units in `[[units]]`.
    pub fn supervision_settings(&self) -> SupervisionSettings {
        let tenants = self.tenants.iter().filter_map(|t| {
            let policy = t.supervision.as_ref()?.policy();
            Some((TenantId::new(t.id.as_str()), policy))
        });
        let units = self.units.iter().map(|u| {
            let key = UnitKey::new(&u.tenant, u.protocol, &u.account);
            let own = Override {
                supervised: u.supervised,
                interval: u.interval_s.map(Duration::from_secs),
                grace: u.grace_s.map(Duration::from_secs),
            };
            (key, own)
        });
        SupervisionSettings {
            tenants: tenants.collect(),
            units: units.collect(),
        }
    }
}
