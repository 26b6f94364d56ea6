//! The names and settings of supervision: which unit, how often it must
//! report, what is raised when it does not.

use crate::alarm::report::Protocol;
use crate::labels::TenantId;
use crate::newtype::string_newtype;
use crate::routing::CallClass;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

string_newtype!(
    /// A unit's id within its protocol: Contact ID / DC-09 account, SCAIP `cid`.
    #[derive(Serialize)]
    UnitAccount
);

/// One supervised unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnitKey {
    /// Its tenant.
    pub tenant: TenantId,
    /// The protocol it reports over.
    pub protocol: Protocol,
    /// Its account (or SCAIP `cid`).
    pub account: UnitAccount,
}

impl UnitKey {
    /// A key from its parts.
    pub fn new(tenant: &str, protocol: Protocol, account: &str) -> Self {
        Self {
            tenant: TenantId::new(tenant),
            protocol,
            account: UnitAccount::new(account),
        }
    }
}

/// Whether a report is a periodic test (Contact ID 602, SCAIP `PI`, DC-09
/// `NULL`) or any other message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// A periodic test or heartbeat.
    Test,
    /// Any other message (an alarm, a restore, a status).
    Other,
}

/// A tenant's supervision: `[tenants.supervision]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantPolicy {
    /// How often a unit must report.
    pub interval: Duration,
    /// How much later than that it may be before it is overdue.
    pub grace: Duration,
    /// Supervise every unit of the tenant that reported once.
    pub enrol_reporting: bool,
    /// Only periodic tests count as reports (else any message does).
    pub tests_only: bool,
    /// The class (and so the priority) of the listed fail-to-report alarm.
    pub class: CallClass,
}

/// A `[[units]]` entry: a unit supervised with its own interval or grace,
/// or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// `supervised = false`: never supervised, even when enrolled.
    pub supervised: bool,
    /// Its interval, else the tenant's.
    pub interval: Option<Duration>,
    /// Its grace, else the tenant's.
    pub grace: Option<Duration>,
}

/// Everything the supervisor is told by the dialplan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SupervisionSettings {
    /// Per tenant with a `[tenants.supervision]`.
    pub tenants: HashMap<TenantId, TenantPolicy>,
    /// Per unit listed in `[[units]]`.
    pub units: HashMap<UnitKey, Override>,
}

/// What one unit's supervision resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Expected reporting interval.
    pub interval: Duration,
    /// Grace after it.
    pub grace: Duration,
    /// Only periodic tests count.
    pub tests_only: bool,
    /// The class of the fail-to-report alarm.
    pub class: CallClass,
}

impl Policy {
    /// How long after a report the unit becomes overdue.
    pub fn allowance(&self) -> Duration {
        self.interval.saturating_add(self.grace)
    }
}

/// The interval where a `[[units]]` entry names a tenant with no
/// supervision section and no interval of its own (config validation
/// requires one; this only guards the core).
const FALLBACK_INTERVAL: Duration = Duration::from_secs(86_400);
/// The grace of a `[[units]]` entry without one whose tenant has none.
const FALLBACK_GRACE: Duration = Duration::from_secs(3_600);

impl SupervisionSettings {
    /// The policy of `key`, or `None` when it is not supervised. `reported`:
    /// the unit has reported (enrolment by the tenant's option).
    pub fn policy(&self, key: &UnitKey, reported: bool) -> Option<Policy> {
        let tenant = self.tenants.get(&key.tenant);
        let listed = self.units.get(key);
        if listed.is_some_and(|o| !o.supervised) {
            return None;
        }
        let enrolled = reported && tenant.is_some_and(|t| t.enrol_reporting);
        if listed.is_none() && !enrolled {
            return None;
        }
        let own = |field: fn(&Override) -> Option<Duration>| listed.and_then(field);
        Some(Policy {
            interval: own(|o| o.interval)
                .or(tenant.map(|t| t.interval))
                .unwrap_or(FALLBACK_INTERVAL),
            grace: own(|o| o.grace)
                .or(tenant.map(|t| t.grace))
                .unwrap_or(FALLBACK_GRACE),
            tests_only: tenant.is_some_and(|t| t.tests_only),
            class: tenant.map_or(CallClass::Technical, |t| t.class),
        })
    }
}

/// A unit's state as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitState {
    /// Reporting within its interval.
    Ok,
    /// Listed but never heard since supervision started; not yet overdue.
    Waiting,
    /// Missed its deadline: `fail_to_report` raised.
    Overdue,
}

impl UnitState {
    /// The name in the API and its `state=` filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Waiting => "waiting",
            Self::Overdue => "overdue",
        }
    }
}
