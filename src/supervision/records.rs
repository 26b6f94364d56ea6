//! The journal as supervision reads and writes it.
//!
//! Read: `alarmgate.alarm.received` and `alarmgate.unit.heartbeat` are
//! reports (a heartbeat, or an alarm classified `test` such as Contact ID
//! 602, is a periodic test); `alarmgate.unit.fail_to_report` and
//! `alarmgate.unit.restored` are supervision's own records, read back on
//! a rebuild. A report's time is its event id's (UUIDv7: the milliseconds
//! of the event), so a rebuilt deadline is the one the live node had.
//!
//! Written: the same two records, data `{tenant, protocol, account, ...}`,
//! subject `unit:<tenant>:<protocol>:<account>`.

use super::core::Output;
use super::types::{ReportKind, UnitKey};
use crate::alarm::report::Protocol;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Any alarm of any protocol, stored.
pub const ALARM_RECEIVED: &str = crate::events::ALARM_RECEIVED;
/// A unit's heartbeat (DC-09 `NULL`, SCAIP `PI`).
pub const UNIT_HEARTBEAT: &str = "alarmgate.unit.heartbeat";
/// A supervised unit missed its deadline.
pub const UNIT_FAIL_TO_REPORT: &str = "alarmgate.unit.fail_to_report";
/// An overdue unit reported again.
pub const UNIT_RESTORED: &str = "alarmgate.unit.restored";

/// A journal record supervision cares about.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// The unit reported at `at`.
    Report {
        /// The unit.
        key: UnitKey,
        /// When (the event's time).
        at: SystemTime,
        /// A periodic test or any message.
        kind: ReportKind,
    },
    /// `fail_to_report` was raised for the deadline `deadline`.
    Raised {
        /// The unit.
        key: UnitKey,
        /// The deadline it missed.
        deadline: SystemTime,
    },
    /// `restored` was journalled.
    Restored {
        /// The unit.
        key: UnitKey,
    },
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    tenant: Option<String>,
    protocol: Option<Protocol>,
    account: Option<String>,
    classification: Option<String>,
    deadline_ms: Option<u64>,
}

/// What a journal record means to supervision, if anything. Records of
/// other types are skipped before any JSON is parsed.
pub fn observe(payload: &[u8]) -> Option<Observed> {
    if !interesting(payload) {
        return None;
    }
    let event: Envelope = serde_json::from_slice(payload).ok()?;
    let data = event.data;
    let key = UnitKey::new(&data.tenant?, data.protocol?, data.account.as_deref()?);
    match event.kind.as_str() {
        ALARM_RECEIVED | UNIT_HEARTBEAT => {
            let test =
                event.kind == UNIT_HEARTBEAT || data.classification.as_deref() == Some("test");
            let kind = if test {
                ReportKind::Test
            } else {
                ReportKind::Other
            };
            let at = uuid_time(&event.id)?;
            Some(Observed::Report { key, at, kind })
        }
        UNIT_FAIL_TO_REPORT => {
            let deadline = UNIX_EPOCH + Duration::from_millis(data.deadline_ms?);
            Some(Observed::Raised { key, deadline })
        }
        UNIT_RESTORED => Some(Observed::Restored { key }),
        _ => None,
    }
}

/// True when the record may be one of ours. Our envelope's keys are sorted,
/// so `"type"` is the last one: look at the record's end first, and search
/// the whole record only when the type is not there (another layout).
fn interesting(payload: &[u8]) -> bool {
    const KEY: &[u8] = b"\"type\":\"";
    let tail = payload
        .get(payload.len().saturating_sub(96)..)
        .unwrap_or(payload);
    let kinds = [ALARM_RECEIVED, "alarmgate.unit."];
    match find(tail, KEY).and_then(|at| tail.get(at + KEY.len()..)) {
        Some(kind) => kinds.iter().any(|k| kind.starts_with(k.as_bytes())),
        None => kinds.iter().any(|k| contains(payload, k.as_bytes())),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The time in a UUIDv7 (its top 48 bits, Unix milliseconds).
pub fn uuid_time(id: &str) -> Option<SystemTime> {
    let hex: String = id.chars().filter(|c| *c != '-').take(12).collect();
    let ms = u64::from_str_radix(&hex, 16)
        .ok()
        .filter(|_| hex.len() == 12)?;
    Some(UNIX_EPOCH + Duration::from_millis(ms))
}

/// The subject of a unit's records.
pub fn subject(key: &UnitKey) -> String {
    let (t, p, a) = (&key.tenant, key.protocol.as_str(), &key.account);
    format!("unit:{t}:{p}:{a}")
}

fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn rfc3339(t: SystemTime) -> String {
    crate::events::rfc3339(t.duration_since(UNIX_EPOCH).unwrap_or_default())
}

/// The type and data of the record an output is journalled as.
pub fn record_data(output: &Output) -> (&'static str, &UnitKey, Value) {
    match output {
        Output::Raise {
            key,
            deadline,
            last_report,
            policy,
        } => (
            UNIT_FAIL_TO_REPORT,
            key,
            json!({
                "tenant": key.tenant,
                "protocol": key.protocol,
                "account": key.account,
                "deadline": rfc3339(*deadline),
                "deadline_ms": ms(*deadline),
                "last_report": last_report.map(rfc3339),
                "interval_s": policy.interval.as_secs(),
                "grace_s": policy.grace.as_secs(),
                "class": policy.class,
            }),
        ),
        Output::Restore { key, at, missed } => (
            UNIT_RESTORED,
            key,
            json!({
                "tenant": key.tenant,
                "protocol": key.protocol,
                "account": key.account,
                "report": rfc3339(*at),
                "missed_deadline": missed.map(rfc3339),
            }),
        ),
    }
}
