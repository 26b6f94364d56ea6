//! Snapshots for the HTTP API (`GET /api/v1/queues`, `/operators`,
//! `/calls`): plain serde views, durations in milliseconds relative to the
//! `now` the snapshot was taken at.

use super::operator::OperatorState;
use super::queue::{effective, millis, Call, CallState};
use super::router::Router;
use super::types::{CallClass, CallRef, OperatorId, QueueId, TargetId};
use crate::alarm::EventCode;
use crate::labels::{Caller, TenantId};
use serde::Serialize;
use std::time::Instant;

/// Everything the router holds right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterView {
    /// Queues in plan order, with their waiting calls best first.
    pub queues: Vec<QueueView>,
    /// Operators in plan order.
    pub operators: Vec<OperatorView>,
    /// Every routed call, oldest first.
    pub calls: Vec<CallView>,
}

/// One queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueView {
    /// The queue.
    pub id: QueueId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Waiting (not yet offered) calls, in serving order.
    pub waiting: Vec<WaitingView>,
    /// Operators of the queue logged in with a reachable phone.
    pub operators_logged_in: usize,
    /// Operators of the queue available with a reachable phone.
    pub operators_available: usize,
}

/// A waiting call in a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingView {
    /// The call.
    pub call: CallRef,
    /// Its class.
    pub class: CallClass,
    /// Effective priority now (base plus aging), in points.
    pub priority: i64,
    /// Milliseconds since it was first queued.
    pub waited_ms: u64,
}

/// One operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorView {
    /// The operator.
    pub id: OperatorId,
    /// The state (`{"state": "paused", "reason": ...}` flattened).
    #[serde(flatten)]
    pub state: OperatorState,
    /// Milliseconds in the state.
    pub in_state_ms: u64,
    /// A phone has a live registration.
    pub reachable: bool,
    /// The call ringing or connected.
    pub call: Option<CallRef>,
}

/// Where a call is, for the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPhase {
    /// In a queue.
    Waiting,
    /// Offered to an operator.
    Ringing,
    /// Bridged to an operator.
    Connected,
    /// Forwarded (or being forwarded) to an external target.
    Forwarding,
}

/// One routed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallView {
    /// The call.
    pub call: CallRef,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its queue (`None` for a direct offer).
    pub queue: Option<QueueId>,
    /// Its class.
    pub class: CallClass,
    /// The event code, if any.
    pub event_code: Option<EventCode>,
    /// The caller.
    pub caller: Caller,
    /// Where it is.
    pub state: CallPhase,
    /// The operator ringing or connected.
    pub operator: Option<OperatorId>,
    /// The forward target.
    pub target: Option<TargetId>,
    /// Milliseconds since it was first queued.
    pub waited_ms: u64,
    /// Milliseconds in the current state.
    pub in_state_ms: u64,
}

impl Router {
    /// A serde-serialisable view of queues, operators and calls at `now`.
    pub fn snapshot(&self, now: Instant) -> RouterView {
        let mut calls: Vec<&Call> = self.calls.values().collect();
        calls.sort_by_key(|c| c.seq);
        RouterView {
            queues: self
                .plan
                .queues
                .iter()
                .map(|q| self.queue_view(now, &q.id))
                .collect(),
            operators: self
                .plan
                .operators
                .iter()
                .filter_map(|p| self.operator_view(now, &p.id))
                .collect(),
            calls: calls.into_iter().map(|c| call_view(now, c)).collect(),
        }
    }

    fn queue_view(&self, now: Instant, id: &QueueId) -> QueueView {
        let now_ms = millis(now.saturating_duration_since(self.epoch));
        let aging = self.queue_plan(id).map_or(0, |q| q.aging_per_s);
        let waiting = self
            .waiting
            .iter(id)
            .filter_map(|e| self.calls.get(&e.2).map(|c| (e, c)))
            .map(|(e, c)| WaitingView {
                call: e.2,
                class: c.info.class,
                priority: effective(e.0, aging, now_ms) / 1000,
                waited_ms: c.waited_ms(now),
            })
            .collect();
        let members = || self.operators.values().filter(|o| o.eligible.contains(id));
        QueueView {
            id: id.clone(),
            tenant: self
                .queue_plan(id)
                .map(|q| q.tenant.clone())
                .unwrap_or_default(),
            waiting,
            operators_logged_in: members().filter(|o| o.is_present()).count(),
            operators_available: members().filter(|o| o.is_free()).count(),
        }
    }

    fn operator_view(&self, now: Instant, id: &OperatorId) -> Option<OperatorView> {
        let o = self.operators.get(id)?;
        Some(OperatorView {
            id: id.clone(),
            state: o.state.clone(),
            in_state_ms: millis(now.saturating_duration_since(o.since)),
            reachable: o.phone_ok(),
            call: o.state.call(),
        })
    }
}

fn call_view(now: Instant, c: &Call) -> CallView {
    let (state, target) = match &c.state {
        CallState::Waiting => (CallPhase::Waiting, None),
        CallState::Ringing { .. } => (CallPhase::Ringing, None),
        CallState::Connected { .. } => (CallPhase::Connected, None),
        CallState::Forwarding { target, .. } => (CallPhase::Forwarding, Some(target.clone())),
    };
    CallView {
        call: c.info.call,
        tenant: c.info.tenant.clone(),
        queue: c.queue.clone(),
        class: c.info.class,
        event_code: c.info.event_code.clone(),
        caller: c.info.caller.clone(),
        state,
        operator: c.operator().cloned(),
        target,
        waited_ms: c.waited_ms(now),
        in_state_ms: millis(now.saturating_duration_since(c.since)),
    }
}
