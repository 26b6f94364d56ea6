//! Operator state: the public state names and the engine's record of one
//! operator (its state, since when, idle since when, reachability, and the
//! calls it recently refused).
//!
//! Every state has an exit: `Ringing` ends by an answer, a refusal or the ring
//! timeout; `OnCall` by `connected_ended`/`call_gone`; `WrapUp` by its timer;
//! `Paused` and `LoggedOut` by the API (or a phone registering).

use super::plan::{OperatorPlan, QueuePlan};
use super::types::{CallRef, QueueId};
use serde::Serialize;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How long an operator who refused a call (busy, declined) is not offered
/// that same call again.
pub const REFUSAL_HOLDOFF: Duration = Duration::from_secs(10);

/// How long a phone that failed an offer (transport error, timeout, 5xx)
/// stays out of the rotation when the registrar does not report on it: its
/// keep-alives remove a dead phone within two intervals; a phone the
/// registrar still holds alive after this is tried again.
pub const UNREACHABLE_RECHECK: Duration = Duration::from_secs(30);

/// Where an operator is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OperatorState {
    /// Not taking calls.
    LoggedOut,
    /// Waiting for a call.
    Available,
    /// The phone rings with `call`.
    Ringing {
        /// The offered call.
        call: CallRef,
    },
    /// Talking on `call`.
    OnCall {
        /// The connected call.
        call: CallRef,
    },
    /// After a call, until the queue's wrap-up time has passed.
    WrapUp,
    /// Paused with a reason.
    Paused {
        /// `ring-no-answer`, or what the operator gave.
        reason: String,
    },
}

impl OperatorState {
    /// Every state's name, in the order of [`OperatorState::name`]'s match
    /// (the `state` label of the `alarmgate_operators` gauge).
    pub const NAMES: [&'static str; 6] = [
        "logged_out",
        "available",
        "ringing",
        "on_call",
        "wrap_up",
        "paused",
    ];

    /// The state's name, as in the API.
    pub fn name(&self) -> &'static str {
        match self {
            OperatorState::LoggedOut => "logged_out",
            OperatorState::Available => "available",
            OperatorState::Ringing { .. } => "ringing",
            OperatorState::OnCall { .. } => "on_call",
            OperatorState::WrapUp => "wrap_up",
            OperatorState::Paused { .. } => "paused",
        }
    }

    /// The call the operator is ringing with or talking on.
    pub fn call(&self) -> Option<CallRef> {
        match self {
            OperatorState::Ringing { call } | OperatorState::OnCall { call } => Some(*call),
            _ => None,
        }
    }
}

/// The engine's record of one operator.
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    pub plan: OperatorPlan,
    pub state: OperatorState,
    /// When the current state began.
    pub since: Instant,
    /// When the operator last became idle (login or end of a call): the
    /// longest-idle rule orders by this.
    pub idle_since: Instant,
    /// The registrar reports a live contact.
    pub reachable: bool,
    /// An offer failed as unreachable: out of the rotation until then (or
    /// until the registrar reports the phone reachable).
    pub failed_until: Option<Instant>,
    /// The end of the ring timeout (`Ringing`) or of wrap-up (`WrapUp`).
    pub deadline: Option<Instant>,
    /// Queues whose calls this operator may be offered (served, skills held).
    pub eligible: HashSet<QueueId>,
    /// Calls the operator refused, and until when they are not re-offered.
    pub refused: Vec<(CallRef, Instant)>,
    /// Removed from the plan while on a call: kept (serving no queue) until
    /// the call ends, then forgotten.
    pub retired: bool,
}

impl Operator {
    /// A logged-out, unreachable operator.
    pub fn new(plan: OperatorPlan, queues: &[QueuePlan], now: Instant) -> Self {
        let mut op = Self {
            plan,
            state: OperatorState::LoggedOut,
            since: now,
            idle_since: now,
            reachable: false,
            failed_until: None,
            deadline: None,
            eligible: HashSet::new(),
            refused: Vec::new(),
            retired: false,
        };
        op.replan(op.plan.clone(), queues);
        op
    }

    /// Takes a new plan; state is kept, eligibility recomputed.
    pub fn replan(&mut self, plan: OperatorPlan, queues: &[QueuePlan]) {
        self.eligible = queues
            .iter()
            .filter(|q| plan.queues.contains(&q.id) && plan.has_skills(&q.skills))
            .map(|q| q.id.clone())
            .collect();
        self.plan = plan;
    }

    /// The phone is registered and has not just failed an offer.
    pub fn phone_ok(&self) -> bool {
        self.reachable && self.failed_until.is_none()
    }

    /// Available with a reachable phone: may be offered a call.
    pub fn is_free(&self) -> bool {
        self.phone_ok() && self.state == OperatorState::Available
    }

    /// Logged in (any state but `LoggedOut`) with a reachable phone.
    pub fn is_present(&self) -> bool {
        self.phone_ok() && self.state != OperatorState::LoggedOut
    }

    /// True while the operator's refusal of `call` holds.
    pub fn has_refused(&self, call: CallRef, now: Instant) -> bool {
        self.refused
            .iter()
            .any(|&(c, until)| c == call && until > now)
    }

    /// Records a refusal of `call` until `now + REFUSAL_HOLDOFF`.
    pub fn refuse(&mut self, call: CallRef, now: Instant) {
        self.refused.retain(|&(c, until)| c != call && until > now);
        self.refused.push((call, now + REFUSAL_HOLDOFF));
    }

    /// Ends an unreachable mark that has run out.
    pub fn expire_failure(&mut self, now: Instant) {
        if self.failed_until.is_some_and(|t| t <= now) {
            self.failed_until = None;
        }
    }

    /// Forgets refusals that have run out; returns true if any did.
    pub fn expire_refusals(&mut self, now: Instant) -> bool {
        let before = self.refused.len();
        self.refused.retain(|&(_, until)| until > now);
        before != self.refused.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_hold_for_the_holdoff_then_expire() {
        let now = crate::clock::epoch();
        let q = QueuePlan::new("q", "t", Duration::from_secs(5), Duration::ZERO);
        let mut op = Operator::new(OperatorPlan::new("a", &["q"]), &[q], now);
        op.refuse(CallRef::device(1), now);
        assert!(op.has_refused(CallRef::device(1), now));
        assert!(!op.has_refused(CallRef::device(2), now));
        let later = now + REFUSAL_HOLDOFF;
        assert!(op.expire_refusals(later));
        assert!(!op.has_refused(CallRef::device(1), later));
        assert!(op.eligible.contains(&QueueId::new("q")));
    }

    #[test]
    fn skills_limit_eligibility() {
        let now = crate::clock::epoch();
        let mut q = QueuePlan::new("q", "t", Duration::from_secs(5), Duration::ZERO);
        q.skills = vec!["nurse".into()];
        let op = Operator::new(OperatorPlan::new("a", &["q"]), &[q], now);
        assert!(op.eligible.is_empty());
        let json = serde_json::to_string(&OperatorState::Paused { reason: "x".into() });
        assert_eq!(
            json.ok().as_deref(),
            Some(r#"{"state":"paused","reason":"x"}"#)
        );
    }
}
