//! Names shared by the operator side: operators, queues, external targets,
//! and the priority class a waiting call is routed with.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::call::CallHandle;
use crate::newtype::string_newtype;

string_newtype!(
    /// An operator, as named in `[[operators]]`; also the SIP user name its
    /// softphones register with.
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    OperatorId
);
string_newtype!(
    /// A queue, as named in `[[queues]]`.
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    QueueId
);
string_newtype!(
    /// An external SIP target (partner centre, night staff), as named in `[[targets]]`.
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    TargetId
);

/// A recall an operator placed through the API: numbered by the
/// switchboard on its own, apart from device calls' handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecallId(pub u64);

/// A call inside the routing engine: a device call (its `CallHandle`, so
/// the switchboard can map it back without a table) or a recall. The two
/// cannot be confused: they are different variants, not number ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallRef {
    /// A call from a device (an alarm unit, a citizen).
    Device(CallHandle),
    /// A recall placed by an operator.
    Recall(RecallId),
}

impl CallRef {
    /// The device call with handle number `n`.
    pub fn device(n: u64) -> Self {
        CallRef::Device(CallHandle(n))
    }
}

/// In events: a device call as its handle's number (as before recalls were
/// a variant), a recall as `"recall-<n>"`.
impl Serialize for CallRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            CallRef::Device(handle) => serializer.serialize_u64(handle.0),
            CallRef::Recall(_) => serializer.collect_str(self),
        }
    }
}

impl fmt::Display for CallRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallRef::Device(handle) => write!(f, "{}", handle.0),
            CallRef::Recall(id) => write!(f, "recall-{}", id.0),
        }
    }
}

/// What kind of call waits: sets the base priority (emergency first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallClass {
    /// A decoded alarm that needs a person now (medical, fire, panic, 1xx).
    Emergency,
    /// A voice call without an alarm event, or an alarm class that asks for talk.
    Voice,
    /// A recall placed by an operator.
    Recall,
    /// Technical or test alarms that still reached a queue (settling disabled).
    Technical,
    /// An alarm was attempted but its message never decoded (checksum
    /// failures, digits missing): never acknowledged to the unit, served at
    /// least as urgently as any decoded alarm by default.
    Unconfirmed,
}

impl CallClass {
    /// The label used in events, metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            CallClass::Emergency => "emergency",
            CallClass::Voice => "voice",
            CallClass::Recall => "recall",
            CallClass::Technical => "technical",
            CallClass::Unconfirmed => "unconfirmed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_serialise_as_plain_strings() {
        let id = OperatorId::new("op-1");
        assert_eq!(serde_json::to_string(&id).ok().as_deref(), Some("\"op-1\""));
        assert_eq!(CallClass::Emergency.as_str(), "emergency");
    }

    #[test]
    fn a_recall_and_a_device_call_of_the_same_number_are_different_calls() {
        let (device, recall) = (CallRef::device(1), CallRef::Recall(RecallId(1)));
        assert_ne!(device, recall);
        let json = serde_json::json!({"d": device, "r": recall});
        assert_eq!(json.to_string(), r#"{"d":1,"r":"recall-1"}"#);
    }
}
