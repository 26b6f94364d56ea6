//! What the API shows: operators, calls and queues as the switchboard sees
//! them right now. The switchboard fills these from the routing engine's
//! snapshot, the registrar and the call core; the API serialises them as is.
//!
//! Times are ages in whole seconds (`in_state_s`, `waited_s`), so the engine
//! never needs a wall clock; ids are the names from the dialplan, and a call's
//! public id is its SIP Call-ID.

use crate::alarm::heard::HeardSummary;
use crate::alarm::report::Protocol;
use crate::alarm::types::EventCode;
use crate::labels::{Caller, TenantId};
use crate::routing::{CallClass, OperatorId, QueueId, TargetId};
use serde::{Deserialize, Serialize};

/// An operator's state, as the routing engine keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorState {
    /// Not taking calls (the API, or not registered with `login_on_register`).
    LoggedOut,
    /// Logged in and free.
    Available,
    /// A call is being offered: the softphone rings.
    Ringing,
    /// Bridged with a call.
    OnCall,
    /// After a call, for the queue's wrap-up time.
    WrapUp,
    /// Logged in, not taking calls; `reason` says why (`ring-no-answer`, a break).
    Paused,
}

/// One operator (`GET /api/v1/operators`, `GET /api/v1/operators/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorView {
    /// The operator's id (`[[operators]] id`, the SIP user name).
    pub id: OperatorId,
    /// The display name from the dialplan.
    pub name: String,
    /// The current state.
    pub state: OperatorState,
    /// Seconds in the current state.
    pub in_state_s: u64,
    /// Why paused (`ring-no-answer`, or the reason given to the API); `None` otherwise.
    #[serde(default)]
    pub reason: Option<String>,
    /// The public id of the call offered to or bridged with the operator.
    #[serde(default)]
    pub current_call: Option<String>,
    /// Live registered contacts (softphones) of the operator.
    pub contacts: u32,
}

/// Where a call is in the switchboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// In a queue, no operator ringing.
    Waiting,
    /// Offered to an operator whose softphone rings.
    Ringing,
    /// Bridged with an operator.
    Connected,
    /// Being forwarded to an external target (overflow, last resort).
    Forwarding,
    /// An unconfirmed alarm whose unit hung up before a person took it: a
    /// data-only entry an operator resolves with a recall (`POST
    /// /api/v1/calls` with its `recall` fields) or a disposition.
    Callback,
}

/// One call that needs or has a person (`GET /api/v1/calls`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallView {
    /// The public id: the device call's SIP Call-ID.
    pub id: String,
    /// The tenant (municipality) the call belongs to.
    pub tenant: TenantId,
    /// The caller (the From user part: the unit's number).
    pub caller: Caller,
    /// The priority class the call is routed with.
    pub class: CallClass,
    /// The Contact ID event code that made it a call for a person, if any.
    #[serde(default)]
    pub event_code: Option<EventCode>,
    /// Where the call is.
    pub state: CallState,
    /// The queue it waits in (or was answered from).
    #[serde(default)]
    pub queue: Option<QueueId>,
    /// The operator ringing or connected.
    #[serde(default)]
    pub operator: Option<OperatorId>,
    /// The external target while forwarding.
    #[serde(default)]
    pub target: Option<TargetId>,
    /// Seconds since the call first needed a person (a callback: since the
    /// unit hung up).
    pub waited_s: u64,
    /// Class `unconfirmed`: what was heard of the alarm that never decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heard: Option<HeardSummary>,
    /// A data alarm (state `callback`): the protocol that carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// A data alarm: the unit's id within its protocol (account, SCAIP `cid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// A data alarm: its decoded fields (event name, zone, device, location...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<serde_json::Value>,
    /// A callback: the number and tenant `POST /api/v1/calls` takes (with
    /// the operator's id) to call the unit back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<RecallTarget>,
}

/// Whom a recall calls (`POST /api/v1/calls` body without the operator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallTarget {
    /// The number to call (the unit's calling number).
    pub number: Caller,
    /// The tenant whose recall trunk carries the call.
    pub tenant: TenantId,
}

/// A call's place in a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuedCall {
    /// 1 = the next call an operator gets.
    pub position: u32,
    /// The call's public id.
    pub id: String,
    /// Its priority class.
    pub class: CallClass,
    /// Its Contact ID event code, if any.
    #[serde(default)]
    pub event_code: Option<EventCode>,
    /// `waiting`, `ringing`, or `callback` (listed after the calls).
    pub state: CallState,
    /// Seconds waited.
    pub waited_s: u64,
}

/// One queue (`GET /api/v1/queues`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueView {
    /// The queue's id (`[[queues]] id`).
    pub id: QueueId,
    /// The tenant it serves.
    pub tenant: TenantId,
    /// Calls waiting or ringing in it.
    pub waiting: u32,
    /// Those calls, in the order operators get them.
    pub calls: Vec<QueuedCall>,
    /// Operators serving the queue who are available now.
    pub operators_available: u32,
    /// Operators serving the queue, in any state.
    pub operators_total: u32,
}

/// The answer to a recall (`POST /api/v1/calls`, 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallAccepted {
    /// The public id (SIP Call-ID) of the new call, the leg to the operator.
    pub id: String,
}

/// `GET /api/v1/operators`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorList {
    /// Every configured operator.
    pub operators: Vec<OperatorView>,
}

/// `GET /api/v1/calls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallList {
    /// Calls waiting, ringing, connected or forwarding.
    pub calls: Vec<CallView>,
}

/// `GET /api/v1/queues`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueList {
    /// Every configured queue.
    pub queues: Vec<QueueView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_serialise_in_snake_case() {
        let json = serde_json::to_string(&[OperatorState::LoggedOut, OperatorState::WrapUp]);
        assert_eq!(json.ok().as_deref(), Some(r#"["logged_out","wrap_up"]"#));
        let json = serde_json::to_string(&CallState::Forwarding);
        assert_eq!(json.ok().as_deref(), Some(r#""forwarding""#));
    }

    #[test]
    fn call_view_round_trips_with_an_event_code() {
        let view = CallView {
            id: "a84b4c76e66710@198.51.100.7".into(),
            tenant: "aarhus".into(),
            caller: "4512345678".into(),
            class: CallClass::Emergency,
            event_code: EventCode::new("101").ok(),
            state: CallState::Waiting,
            queue: Some(QueueId::new("aarhus-main")),
            operator: None,
            target: None,
            waited_s: 7,
            heard: None,
            protocol: None,
            account: None,
            alarm: None,
            recall: None,
        };
        let json = serde_json::to_value(&view).unwrap_or_default();
        assert_eq!(json["event_code"], "101");
        assert_eq!(json["class"], "emergency");
        assert!(json.get("heard").is_none() && json.get("recall").is_none());
        let back: Result<CallView, _> = serde_json::from_value(json);
        assert_eq!(back.ok(), Some(view));
    }
}
