//! Supervision of silent units: a unit that stops reporting is the alarm a
//! centre most often misses.
//!
//! Every supervised unit — a `(tenant, protocol, account)`: a Contact ID or
//! DC-09 account, a SCAIP `cid` — has an expected reporting interval and a
//! grace. Any report of the unit (`alarmgate.alarm.received` or
//! `alarmgate.unit.heartbeat` in the journal; with `reports = "tests"` only
//! periodic tests: Contact ID 602, SCAIP `PI`, DC-09 `NULL`) moves its
//! deadline to `report + interval + grace`. A unit still silent at its
//! deadline raises `alarmgate.unit.fail_to_report` **once**, listed for
//! its tenant's operators as a technical data alarm; the next report
//! raises `alarmgate.unit.restored`.
//!
//! | file | role |
//! |---|---|
//! | [`types`] | unit keys, policies, the settings built from the dialplan |
//! | [`core`] | the [`Supervisor`]: reports in, raise/restore out, in simulated time |
//! | [`records`] | journal records to observations, observations' event payloads |
//!
//! The core is pure: it takes wall-clock times as values (the journal's
//! event times, `now` from the driver) and never reads a clock. The driver
//! is `crate::runtime::supervision`.

pub mod core;
pub mod records;
pub mod types;

pub use self::core::{Output, Supervisor, UnitView};
pub use records::Observed;
pub use types::{
    Override, ReportKind, SupervisionSettings, TenantPolicy, UnitAccount, UnitKey, UnitState,
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_records;
