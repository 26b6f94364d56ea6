//! The router: the public inputs of the engine. Each input changes state,
//! then `settle` offers what can be offered and overflows what must move;
//! actions, events and the next deadline are polled.

use super::io::{OfferOutcome, RoutingAction, RoutingError, RoutingEvent, WaitingCall};
use super::operator::{Operator, OperatorState};
use super::plan::{Plan, PlanError};
use super::queue::{Call, CallState, WaitingLists};
use super::types::{CallRef, OperatorId, TargetId};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A deadline: look at this operator or call again at that time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    Operator(OperatorId),
    Call(CallRef),
}

/// The routing engine (sans-IO): see the module docs of [`crate::routing`].
#[derive(Debug)]
pub struct Router {
    pub(crate) plan: Plan,
    /// Reference point for the integer priority keys.
    pub(crate) epoch: Instant,
    pub(crate) operators: HashMap<OperatorId, Operator>,
    /// Free operators (available, reachable) by `idle_since`: longest idle first.
    pub(crate) free: BTreeSet<(Instant, OperatorId)>,
    pub(crate) calls: HashMap<CallRef, Call>,
    pub(crate) waiting: WaitingLists,
    pub(crate) timers: BTreeSet<(Instant, Timer)>,
    pub(crate) actions: VecDeque<RoutingAction>,
    pub(crate) events: VecDeque<RoutingEvent>,
    pub(crate) next_seq: u64,
}

impl Router {
    /// A router for `plan`; every operator starts logged out and unreachable.
    pub fn new(plan: Plan, now: Instant) -> Result<Self, PlanError> {
        plan.validate()?;
        let operators = plan
            .operators
            .iter()
            .map(|p| (p.id.clone(), Operator::new(p.clone(), &plan.queues, now)))
            .collect();
        Ok(Self {
            plan,
            epoch: now,
            operators,
            free: BTreeSet::new(),
            calls: HashMap::new(),
            waiting: WaitingLists::default(),
            timers: BTreeSet::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            next_seq: 0,
        })
    }

    /// The plan in force.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Queues a call that needs a person, in `queue` or the tenant's default
    /// queue. Refused only for an unknown tenant or a call already routed.
    pub fn enqueue(&mut self, now: Instant, call: WaitingCall) -> Result<(), RoutingError> {
        if self.calls.contains_key(&call.call) {
            return Err(RoutingError::CallExists { call: call.call });
        }
        let Some(tenant) = self.plan.tenant(call.tenant.as_str()).cloned() else {
            return Err(RoutingError::UnknownTenant {
                tenant: call.tenant,
            });
        };
        let queue = match &call.queue {
            Some(q) if self.plan.queue(q).is_some() => q.clone(),
            _ => tenant.default_queue.clone(),
        };
        let id = call.call;
        let record = self.new_call(now, call, tenant.last_resort);
        self.calls.insert(id, record);
        self.join_queue(now, id, &queue);
        self.emit_queued(id);
        self.settle(now);
        Ok(())
    }

    /// The device call is gone (hung up while waiting, ringing, connected or
    /// forwarded): the router forgets it; an operator on it goes to wrap-up.
    pub fn call_gone(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        match c.state.clone() {
            CallState::Waiting => self.leave_queue(call),
            CallState::Ringing { operator, .. } => {
                self.actions.push_back(RoutingAction::CancelOffer {
                    call,
                    operator: operator.clone(),
                });
                self.set_state(now, &operator, OperatorState::Available, "caller-gone");
            }
            CallState::Connected { operator } => self.start_wrap_up(now, &operator, c.wrap_up),
            CallState::Forwarding { target, done, .. } => {
                if !done {
                    self.actions
                        .push_back(RoutingAction::CancelForward { call, target });
                }
            }
        }
        self.calls.remove(&call);
        self.settle(now);
    }

    /// A bridged call is over (either side hung up): the operator goes to wrap-up.
    pub fn connected_ended(&mut self, now: Instant, call: CallRef) {
        if matches!(
            self.calls.get(&call).map(|c| &c.state),
            Some(CallState::Connected { .. })
        ) {
            self.call_gone(now, call);
        }
    }

    /// The registrar reports whether `operator` has a live contact. Becoming
    /// reachable logs in an operator with `login_on_register` and ends an
    /// unreachable mark from a failed offer; becoming unreachable cancels a
    /// ringing offer (re-offered at once).
    pub fn set_reachable(
        &mut self,
        now: Instant,
        operator: &OperatorId,
        reachable: bool,
    ) -> Result<(), RoutingError> {
        let op = self.operator(operator)?;
        let (was, login) = (op.reachable, op.plan.login_on_register);
        let logged_out = op.state == OperatorState::LoggedOut;
        if was == reachable && (!reachable || op.failed_until.is_none()) {
            return Ok(());
        }
        self.update_op(operator, |o| {
            o.reachable = reachable;
            o.failed_until = None;
        });
        if reachable && !was && login && logged_out {
            self.login(now, operator, "registered");
        } else if !reachable && login {
            // Logged in by its phone, logged out with its last phone gone
            // (unregistered, expired, or silent to keep-alives).
            let to = OperatorState::LoggedOut;
            if !self.cancel_ringing(now, operator, to.clone(), "unregistered") {
                self.logout_if_idle(now, operator);
            }
        } else if !reachable {
            self.cancel_ringing(now, operator, OperatorState::Available, "unreachable");
        }
        self.settle(now);
        Ok(())
    }

    /// Logs out an operator who is not on a call (on a call, the end of
    /// the call is the exit; the operator is then unreachable and not offered more).
    fn logout_if_idle(&mut self, now: Instant, operator: &OperatorId) {
        let idle = matches!(
            self.operators.get(operator).map(|o| &o.state),
            Some(OperatorState::Available | OperatorState::WrapUp | OperatorState::Paused { .. })
        );
        if idle {
            self.set_state(now, operator, OperatorState::LoggedOut, "unregistered");
        }
    }

    /// What became of the offer of `call` to `operator`. `Err(NoSuchOffer)`
    /// means the router had moved on: hang up that leg.
    pub fn offer_result(
        &mut self,
        now: Instant,
        call: CallRef,
        operator: &OperatorId,
        outcome: OfferOutcome,
    ) -> Result<(), RoutingError> {
        let ringing = self.calls.get(&call).is_some_and(
            |c| matches!(&c.state, CallState::Ringing { operator: o, .. } if o == operator),
        );
        if !ringing {
            return Err(RoutingError::NoSuchOffer {
                call,
                operator: operator.clone(),
            });
        }
        match outcome {
            OfferOutcome::Ringing => return Ok(()),
            OfferOutcome::Answered => self.answered(now, call, operator),
            OfferOutcome::Busy | OfferOutcome::Declined => {
                let reason = if outcome == OfferOutcome::Busy {
                    "busy"
                } else {
                    "declined"
                };
                self.update_op(operator, |o| o.refuse(call, now));
                self.schedule(
                    now + super::operator::REFUSAL_HOLDOFF,
                    Timer::Operator(operator.clone()),
                );
                self.offer_failed(now, call, operator, OperatorState::Available, reason);
            }
            OfferOutcome::Unreachable => {
                let until = now + super::operator::UNREACHABLE_RECHECK;
                self.update_op(operator, |o| o.failed_until = Some(until));
                self.schedule(until, Timer::Operator(operator.clone()));
                self.offer_failed(now, call, operator, OperatorState::Available, "unreachable");
            }
        }
        self.settle(now);
        Ok(())
    }

    /// The result of a forward: answered by the target (`ok`) or failed, in
    /// which case the call goes on to the tenant's last resort.
    pub fn forward_result(
        &mut self,
        now: Instant,
        call: CallRef,
        target: &TargetId,
        ok: bool,
    ) -> Result<(), RoutingError> {
        let forwarding = self.calls.get(&call).is_some_and(|c| {
            matches!(&c.state, CallState::Forwarding { target: t, done: false, .. } if t == target)
        });
        if !forwarding {
            return Err(RoutingError::NoSuchForward {
                call,
                target: target.clone(),
            });
        }
        if ok {
            if let Some(c) = self.calls.get_mut(&call) {
                c.state = CallState::Forwarding {
                    target: target.clone(),
                    deadline: now,
                    done: true,
                };
                c.since = now;
            }
        } else {
            self.forward_failed(now, call, target);
        }
        self.settle(now);
        Ok(())
    }

    /// Rings `operator` (available, reachable) with `call`: a waiting call
    /// the operator picks, or a new recall. A failed direct offer of a new
    /// call yields [`RoutingAction::Release`].
    pub fn direct_offer(
        &mut self,
        now: Instant,
        call: CallRef,
        operator: &OperatorId,
    ) -> Result<(), RoutingError> {
        let op = self.operator(operator)?;
        if !op.is_free() {
            let state = if op.phone_ok() {
                op.state.name()
            } else {
                "unreachable"
            };
            return Err(RoutingError::NotAvailable {
                operator: operator.clone(),
                state,
            });
        }
        match self.calls.get(&call).map(|c| &c.state) {
            Some(CallState::Waiting) => self.leave_queue(call),
            Some(_) => return Err(RoutingError::CallExists { call }),
            None => self.add_direct_call(now, call, operator),
        }
        self.offer(now, call, operator);
        self.settle(now);
        Ok(())
    }

    /// Fires every deadline due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, timer)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::Operator(id) => self.operator_timer(now, &id),
                Timer::Call(call) => self.call_timer(now, call),
            }
        }
        self.settle(now);
    }

    /// The next deadline (ring timeouts, wrap-up ends, refusals running out,
    /// overflow times, forward timeouts, last-resort retries).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The next action for the switchboard.
    pub fn poll_action(&mut self) -> Option<RoutingAction> {
        self.actions.pop_front()
    }

    /// The next event for the journal.
    pub fn poll_event(&mut self) -> Option<RoutingEvent> {
        self.events.pop_front()
    }

    /// The state of one operator.
    pub fn operator_state(&self, operator: &OperatorId) -> Option<&OperatorState> {
        self.operators.get(operator).map(|o| &o.state)
    }

    /// Operators in each state, by [`OperatorState::NAMES`] (zeros included).
    pub fn operator_state_counts(&self) -> [(&'static str, usize); 6] {
        let mut counts = OperatorState::NAMES.map(|name| (name, 0));
        for operator in self.operators.values() {
            let name = operator.state.name();
            if let Some(slot) = counts.iter_mut().find(|(n, _)| *n == name) {
                slot.1 += 1;
            }
        }
        counts
    }

    /// Number of calls waiting (not offered, not forwarded) in all queues.
    pub fn waiting_count(&self) -> usize {
        self.waiting.total()
    }

    pub(crate) fn operator(&self, id: &OperatorId) -> Result<&Operator, RoutingError> {
        self.operators
            .get(id)
            .ok_or_else(|| RoutingError::UnknownOperator {
                operator: id.clone(),
            })
    }

    pub(crate) fn schedule(&mut self, at: Instant, timer: Timer) {
        self.timers.insert((at, timer));
    }

    pub(crate) fn new_call(
        &mut self,
        now: Instant,
        info: WaitingCall,
        last_resort: TargetId,
    ) -> Call {
        self.next_seq += 1;
        Call {
            info,
            queue: None,
            seq: self.next_seq,
            enqueued_at: now,
            queued_since: now,
            since: now,
            state: CallState::Waiting,
            base: 0,
            key: 0,
            ring_timeout: Duration::ZERO,
            wrap_up: Duration::ZERO,
            visited: Vec::new(),
            retry_at: None,
            last_resort,
            direct: false,
        }
    }
}
