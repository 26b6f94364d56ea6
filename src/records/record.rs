//! One call record: what the projection knows about one citizen call.

use serde::Serialize;

/// One row per citizen call. Times are Unix milliseconds (UTC); durations
/// milliseconds. Lists keep the order events arrived in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// The call's id: the SIP Call-ID (the events' subject).
    pub call_id: String,
    /// The tenant (municipality) id.
    pub tenant: String,
    /// The calling number (the unit's or the citizen's).
    pub caller: String,
    /// The alarm account (Contact ID account, unit id), when one decoded.
    pub account: Option<String>,
    /// `voice` (a call without decoded alarm), `contact_id`, `scaip`,
    /// `dc09`, or `recall` (the centre called out).
    pub protocol: String,
    /// When the call reached the centre (its first event).
    pub received_ms: Option<i64>,
    /// When an operator answered (a recall: when the citizen's unit answered).
    pub answered_ms: Option<i64>,
    /// When the call ended.
    pub ended_ms: Option<i64>,
    /// Received to answered by an operator (a recall: the operator's
    /// recall request to the unit's answer).
    pub wait_ms: Option<i64>,
    /// Answered to ended (a recall: the unit's answer to the end).
    pub talk_ms: Option<i64>,
    /// The routing class (`emergency`, `voice`, `recall`, `technical`,
    /// `unconfirmed`); for an alarm no person needed, from its classification.
    pub class: Option<String>,
    /// Decoded alarm events (`1602 Periodic test report`), in order.
    pub events: Vec<String>,
    /// The queue the call waited in.
    pub queue: Option<String>,
    /// Operators who answered it, in order.
    pub operators: Vec<String>,
    /// Overflows (`queue:a -> target:b (after_waiting)`), in order.
    pub overflows: Vec<String>,
    /// The external target it was forwarded to, if any (the last one).
    pub forwarded_to: Option<String>,
    /// Why the call ended (`remote_bye`, `settled`, ...).
    pub end_reason: Option<String>,
    /// The disposition (`emergency`, `reassurance`, `false_alarm`,
    /// `recall`, `technical`): the last one given.
    pub disposition: Option<String>,
    /// The disposition's note.
    pub note: Option<String>,
    /// Who gave the disposition (the API token's name).
    pub disposition_by: Option<String>,
    /// The unit hung up before a person took an unconfirmed alarm: kept as a callback.
    pub callback: bool,
    /// This call is a recall of that call's id (a callback resolved by it).
    pub recall_of: Option<String>,
    /// This call (a callback) was resolved by that recall's id.
    pub recalled_by: Option<String>,
    /// The recording's path (`alarmgate.recording.stored`; a call bridged
    /// twice, e.g. requeued to a second operator: the last one).
    pub recording: Option<String>,
    /// The journal seq of the first and the last event applied to the row.
    pub first_seq: u64,
    /// See `first_seq`.
    pub last_seq: u64,
    /// The recording's SHA-256 (hex) as stored.
    pub recording_sha256: Option<String>,
    /// The recording's duration, milliseconds.
    pub recording_duration_ms: Option<i64>,
}

impl CallRecord {
    /// An empty record for `call_id`.
    pub fn new(call_id: &str) -> Self {
        Self {
            call_id: call_id.to_string(),
            ..Self::default()
        }
    }

    /// True when a person handled (or should handle) the call: it waited
    /// in a queue, an operator answered, or it is a recall or callback.
    pub fn needs_person(&self) -> bool {
        self.queue.is_some()
            || !self.operators.is_empty()
            || self.callback
            || matches!(self.class.as_deref(), Some("recall" | "unconfirmed"))
    }

    /// True when the call is over (ended, or a data alarm, which is whole in one event).
    pub fn is_complete(&self) -> bool {
        self.ended_ms.is_some()
            || !matches!(
                self.protocol.as_str(),
                "voice" | "contact_id" | "recall" | ""
            )
    }
}
