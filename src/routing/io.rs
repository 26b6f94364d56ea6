//! What goes into the router (calls, commands, outcomes) and what comes out
//! (actions for the switchboard, events for the journal), and its errors.

use super::plan::OverflowTo;
use super::types::{CallClass, CallRef, OperatorId, QueueId, TargetId};
use crate::alarm::EventCode;
use crate::labels::{Caller, TenantId};
use serde::Serialize;
use serde_json::Value;

/// CloudEvents type of [`RoutingEvent::Queued`].
pub const CALL_QUEUED: &str = "alarmgate.call.queued";
/// CloudEvents type of [`RoutingEvent::Offered`].
pub const CALL_OFFERED: &str = "alarmgate.call.offered";
/// CloudEvents type of [`RoutingEvent::Answered`].
pub const CALL_ANSWERED: &str = "alarmgate.call.answered";
/// CloudEvents type of [`RoutingEvent::Overflowed`].
pub const CALL_OVERFLOWED: &str = "alarmgate.call.overflowed";
/// CloudEvents type of [`RoutingEvent::OperatorState`].
pub const OPERATOR_STATE: &str = "alarmgate.operator.state";

/// A call that needs a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingCall {
    /// The device call.
    pub call: CallRef,
    /// The tenant the call belongs to.
    pub tenant: TenantId,
    /// The queue to wait in; `None` (or an unknown queue) = the tenant's default.
    pub queue: Option<QueueId>,
    /// The priority class.
    pub class: CallClass,
    /// The Contact ID event code that asked for a person, if any.
    pub event_code: Option<EventCode>,
    /// The caller (From user or account), for the API.
    pub caller: Caller,
}

/// A change of operator state asked for through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorCommand {
    /// Log in: available.
    Login,
    /// Log out; a ringing offer is cancelled and the call offered to the next.
    Logout,
    /// Available again (ends a pause or wrap-up early; logs in).
    Available,
    /// Pause with a reason; a ringing offer is cancelled.
    Pause {
        /// Shown in the API and the event.
        reason: String,
    },
}

/// What became of an offer (the outgoing leg to the operator's phone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferOutcome {
    /// 180/183: the phone rings (informational).
    Ringing,
    /// 2xx: the operator answered; bridge the call.
    Answered,
    /// 486/600: busy; the next operator at once.
    Busy,
    /// 603 (or another 4xx): declined; the next operator at once.
    Declined,
    /// Transport error, timeout or 5xx: the phone is unreachable.
    Unreachable,
}

/// What the switchboard must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutingAction {
    /// Ring `operator`'s phone for `call`.
    Offer {
        /// The waiting call.
        call: CallRef,
        /// Whose phone to ring.
        operator: OperatorId,
    },
    /// Stop ringing (CANCEL the leg); the router has moved on.
    CancelOffer {
        /// The call.
        call: CallRef,
        /// Whose phone rang.
        operator: OperatorId,
    },
    /// Forward `call` to an external target over its trunk.
    Forward {
        /// The call.
        call: CallRef,
        /// Where to.
        target: TargetId,
    },
    /// Give up a forward in progress (it timed out, or the call is gone).
    CancelForward {
        /// The call.
        call: CallRef,
        /// The target being called.
        target: TargetId,
    },
    /// A direct offer (recall) failed: the router has forgotten the call.
    Release {
        /// The call.
        call: CallRef,
    },
}

/// Why a call overflowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowReason {
    /// `AfterWaiting`: waited too long.
    AfterWaiting,
    /// `NoOperatorsLoggedIn`.
    NoOperatorsLoggedIn,
    /// `LongerThan`: the queue was too long.
    LongerThan,
    /// A forward failed: on to the tenant's last resort.
    ForwardFailed,
    /// The last resort failed earlier: periodic retry.
    LastResortRetry,
    /// A reload removed the call's queue and tenant: to the last resort.
    Reconfigured,
}

/// Payload of `alarmgate.call.queued`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallQueued {
    /// The call.
    pub call: CallRef,
    /// Its tenant.
    pub tenant: TenantId,
    /// The queue it waits in.
    pub queue: QueueId,
    /// Its class.
    pub class: CallClass,
    /// The event code, if any.
    pub event_code: Option<EventCode>,
    /// Its base priority in the queue.
    pub priority: i64,
    /// The caller.
    pub caller: Caller,
}

/// Payload of `alarmgate.call.offered` and `alarmgate.call.answered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallOffer {
    /// The call.
    pub call: CallRef,
    /// The operator.
    pub operator: OperatorId,
    /// The queue, `None` for a direct offer.
    pub queue: Option<QueueId>,
    /// Milliseconds since the call was queued.
    pub waited_ms: u64,
}

/// Payload of `alarmgate.call.overflowed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallOverflowed {
    /// The call.
    pub call: CallRef,
    /// Where it was.
    pub from: OverflowTo,
    /// Where it goes.
    pub to: OverflowTo,
    /// Why.
    pub reason: OverflowReason,
    /// Milliseconds since the call was queued.
    pub waited_ms: u64,
}

/// Payload of `alarmgate.operator.state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorStateChanged {
    /// The operator.
    pub operator: OperatorId,
    /// The state left.
    pub from: super::operator::OperatorState,
    /// The state entered.
    pub to: super::operator::OperatorState,
    /// Why (`api`, `answered`, `ring-no-answer`, `unreachable`, ...).
    pub reason: String,
}

/// Something that happened, for the journal and the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RoutingEvent {
    /// A call entered a queue.
    Queued(CallQueued),
    /// A call was offered to an operator.
    Offered(CallOffer),
    /// An operator answered.
    Answered(CallOffer),
    /// A call moved to another queue or to an external target.
    Overflowed(CallOverflowed),
    /// An operator's state changed.
    OperatorState(OperatorStateChanged),
}

impl RoutingEvent {
    /// The CloudEvents `type`.
    pub fn event_type(&self) -> &'static str {
        match self {
            RoutingEvent::Queued(_) => CALL_QUEUED,
            RoutingEvent::Offered(_) => CALL_OFFERED,
            RoutingEvent::Answered(_) => CALL_ANSWERED,
            RoutingEvent::Overflowed(_) => CALL_OVERFLOWED,
            RoutingEvent::OperatorState(_) => OPERATOR_STATE,
        }
    }

    /// The CloudEvents `subject`: the call number or the operator.
    pub fn subject(&self) -> String {
        match self {
            RoutingEvent::Queued(e) => e.call.to_string(),
            RoutingEvent::Offered(e) | RoutingEvent::Answered(e) => e.call.to_string(),
            RoutingEvent::Overflowed(e) => e.call.to_string(),
            RoutingEvent::OperatorState(e) => e.operator.to_string(),
        }
    }

    /// The CloudEvents `data`.
    pub fn data(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A request the router refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// No such operator in the plan.
    #[error("unknown operator {operator}")]
    UnknownOperator {
        /// The name given.
        operator: OperatorId,
    },
    /// The router does not know the call (or no longer).
    #[error("unknown call {call}")]
    UnknownCall {
        /// The call.
        call: CallRef,
    },
    /// The call is already routed.
    #[error("call {call} is already routed")]
    CallExists {
        /// The call.
        call: CallRef,
    },
    /// No tenant of that name: the call cannot be queued.
    #[error("unknown tenant {:?}", tenant.as_str())]
    UnknownTenant {
        /// The name given.
        tenant: TenantId,
    },
    /// The call is not offered to that operator (a stale or crossed result):
    /// hang up that leg.
    #[error("call {call} is not offered to {operator}")]
    NoSuchOffer {
        /// The call.
        call: CallRef,
        /// The operator.
        operator: OperatorId,
    },
    /// The call is not being forwarded to that target.
    #[error("call {call} is not forwarded to {target}")]
    NoSuchForward {
        /// The call.
        call: CallRef,
        /// The target.
        target: TargetId,
    },
    /// The command does not apply in the operator's state.
    #[error("operator {operator} cannot go from {from} to {to}")]
    InvalidTransition {
        /// The operator.
        operator: OperatorId,
        /// The current state's name.
        from: &'static str,
        /// The asked state's name.
        to: &'static str,
    },
    /// A direct offer to an operator who is not available with a reachable phone.
    #[error("operator {operator} is not available ({state})")]
    NotAvailable {
        /// The operator.
        operator: OperatorId,
        /// The current state's name, or `unreachable`.
        state: &'static str,
    },
}
