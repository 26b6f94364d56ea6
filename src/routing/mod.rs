//! The operator side's routing engine, sans-IO: queues per tenant, operator
//! state, priorities with aging, offers, overflow and forwarding.
//!
//! The [`Router`] takes inputs with the time they happened (`now`), never
//! reads a clock, and hands out [`RoutingAction`]s for the switchboard (ring
//! a phone, cancel, forward), [`RoutingEvent`]s for the journal
//! (`alarmgate.call.queued/offered/answered/overflowed`,
//! `alarmgate.operator.state`) and its next deadline (`poll_timeout`).
//!
//! Rules, in short:
//! - A free operator (available, with a reachable phone) that serves a
//!   queue and has its skills is offered that queue's best call; among free
//!   operators the longest idle (since login or the end of their last call)
//!   goes first. Across queues the call with the highest effective priority
//!   (base by class or event code, plus aging per second waited) wins; FIFO
//!   among equals.
//! - Ring timeout: the operator is paused (`ring-no-answer`) and the call
//!   offered to the next. Busy or declined: the next at once, and that
//!   operator is not offered the same call for [`REFUSAL_HOLDOFF`].
//!   Unreachable: the operator leaves the rotation until the registrar
//!   reports it reachable again (or, if the registrar still holds the phone
//!   alive, for [`UNREACHABLE_RECHECK`]); the call is re-offered at once.
//! - After a connected call the operator wraps up for the queue's time.
//! - Overflow rules move waiting calls to another queue or forward them to
//!   an external target; a failed forward goes to the tenant's last resort,
//!   and a failed last resort is retried every [`LAST_RESORT_RETRY`] while
//!   the call stays queued. No call is ever dropped by the router.
//!
//! See `queue` for how priorities with aging are ordered cheaply.

mod dispatch;
pub mod io;
pub mod operator;
mod overflow;
pub mod plan;
mod queue;
mod reconfigure;
mod router;
mod transitions;
pub mod types;
mod validate;
pub mod view;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_counts;
#[cfg(test)]
mod tests_overflow;
#[cfg(test)]
mod tests_random;

pub use io::{
    CallOffer, CallOverflowed, CallQueued, OfferOutcome, OperatorCommand, OperatorStateChanged,
    OverflowReason, RoutingAction, RoutingError, RoutingEvent, WaitingCall, CALL_ANSWERED,
    CALL_OFFERED, CALL_OVERFLOWED, CALL_QUEUED, OPERATOR_STATE,
};
pub use operator::{OperatorState, REFUSAL_HOLDOFF, UNREACHABLE_RECHECK};
pub use overflow::{FORWARD_TIMEOUT, LAST_RESORT_RETRY};
pub use plan::{
    ClassPriorities, OperatorPlan, OverflowRule, OverflowTo, OverflowWhen, Plan, QueuePlan,
    TargetPlan, TenantPlan, RING_NO_ANSWER,
};
pub use router::Router;
pub use transitions::DIRECT_RING_TIMEOUT;
pub use types::{CallClass, CallRef, OperatorId, QueueId, RecallId, TargetId};
pub use validate::PlanError;
pub use view::{CallPhase, CallView, OperatorView, QueueView, RouterView, WaitingView};
