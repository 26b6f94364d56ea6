//! An alarm that reaches the centre as data, with no call to answer: a
//! SCAIP MESSAGE whose voice call never came, a SIA DC-09 frame, a unit
//! that failed to report. The receivers (and supervision) hand one
//! [`DataAlarm`] to the switchboard once it is durable in the journal; the
//! switchboard lists it for the operators of its tenant's default queue
//! with the one-click recall of the unit (see `switchboard::callbacks`).
//!
//! The contract every protocol keeps: the alarm is journalled first
//! (`alarmgate.alarm.received` with its `protocol` and raw fields, durable
//! before any acknowledgement), then handed over; the switchboard's list is
//! what operators see, the journal is what is kept.

use crate::alarm::EventCode;
use crate::labels::{CallLabels, Caller};
use crate::routing::CallClass;
use serde::{Deserialize, Serialize};

/// The protocol that carried an alarm (the `protocol` field of
/// `alarmgate.alarm.received`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Ademco Contact ID in a voice call (DTMF in-band or RFC 4733).
    ContactId,
    /// SCAIP (CLC/TS 50134-9): SIP MESSAGE with an XML body.
    Scaip,
    /// SIA DC-09 over TCP or UDP.
    Dc09,
    /// Raised by the centre itself: a supervised unit failed to report.
    Supervision,
}

impl Protocol {
    /// The name in events and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContactId => "contact_id",
            Self::Scaip => "scaip",
            Self::Dc09 => "dc09",
            Self::Supervision => "supervision",
        }
    }
}

/// One alarm for a person with no call attached.
#[derive(Debug, Clone, PartialEq)]
pub struct DataAlarm {
    /// `call_id`: the alarm's public id (unique, such as
    /// `dc09-<receiver>-<account>-<seq>-<random>`; the subject of its
    /// events); the tenant; `caller`: the unit's number, or its account
    /// when the protocol carries no number.
    pub labels: CallLabels,
    /// The protocol that carried it.
    pub protocol: Protocol,
    /// The unit's id within its protocol (Contact ID / DC-09 account, SCAIP `cid`).
    pub account: String,
    /// The priority class the operators see.
    pub class: CallClass,
    /// The Contact ID event code, when the protocol carries one.
    pub event_code: Option<EventCode>,
    /// The decoded fields the operator needs (event name, zone, device
    /// type, location...), as shown by `GET /api/v1/calls` under `alarm`.
    pub fields: serde_json::Value,
    /// The number a recall calls, when the unit has one.
    pub recall: Option<Caller>,
}
