//! Names shared by the operator side: operators, queues, external targets,
//! and the priority class a waiting call is routed with.

use serde::{Deserialize, Serialize};
use std::fmt;

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

/// A call inside the routing engine: the device call's `CallHandle.0` (or a
/// recall's handle), so the switchboard can map it back without a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallRef(pub u64);

impl fmt::Display for CallRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
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
}
