//! Operator transitions: API commands, answers, refusals, ring timeouts,
//! wrap-up, and the bookkeeping that keeps the free-operator index and the
//! state-change events in step with every change.

use super::io::WaitingCall;
use super::io::{
    CallOffer, OperatorCommand, OperatorStateChanged, RoutingAction, RoutingError, RoutingEvent,
};
use super::operator::OperatorState;
use super::queue::CallState;
use super::router::{Router, Timer};
use super::types::{CallClass, CallRef, OperatorId, TargetId};
use crate::labels::Caller;
use std::time::{Duration, Instant};

/// Ring timeout of a direct offer when the operator serves no queue.
pub const DIRECT_RING_TIMEOUT: Duration = Duration::from_secs(30);

impl Router {
    /// Changes an operator's state from the API. Logging out or pausing
    /// while ringing cancels the offer (the call goes to the next operator);
    /// an operator on a call cannot log out or pause until it ends.
    pub fn command(
        &mut self,
        now: Instant,
        operator: &OperatorId,
        command: OperatorCommand,
    ) -> Result<(), RoutingError> {
        let state = self.operator(operator)?.state.clone();
        let refuse = |to| {
            Err(RoutingError::InvalidTransition {
                operator: operator.clone(),
                from: state.name(),
                to,
            })
        };
        match (command, &state) {
            (OperatorCommand::Login, OperatorState::LoggedOut) => self.login(now, operator, "api"),
            (OperatorCommand::Login, _) => {}
            (OperatorCommand::Logout, OperatorState::OnCall { .. }) => return refuse("logged_out"),
            (OperatorCommand::Logout, OperatorState::LoggedOut) => {}
            (OperatorCommand::Logout, _) => {
                self.leave_state(now, operator, OperatorState::LoggedOut, "api")
            }
            (
                OperatorCommand::Available,
                OperatorState::Ringing { .. } | OperatorState::OnCall { .. },
            ) => return refuse("available"),
            (OperatorCommand::Available, OperatorState::LoggedOut) => {
                self.login(now, operator, "api")
            }
            (OperatorCommand::Available, _) => {
                self.set_state(now, operator, OperatorState::Available, "api")
            }
            (OperatorCommand::Pause { .. }, OperatorState::OnCall { .. }) => {
                return refuse("paused")
            }
            (OperatorCommand::Pause { reason }, _) => {
                self.leave_state(now, operator, OperatorState::Paused { reason }, "api")
            }
        }
        self.settle(now);
        Ok(())
    }

    /// Logs an operator in: available, idle from now.
    pub(crate) fn login(&mut self, now: Instant, operator: &OperatorId, reason: &str) {
        self.update_op(operator, |o| o.idle_since = now);
        self.set_state(now, operator, OperatorState::Available, reason);
    }

    /// Moves to `to`, cancelling a ringing offer first.
    fn leave_state(
        &mut self,
        now: Instant,
        operator: &OperatorId,
        to: OperatorState,
        reason: &str,
    ) {
        if !self.cancel_ringing(now, operator, to.clone(), reason) {
            self.set_state(now, operator, to, reason);
        }
    }

    /// Sets an operator's state, emitting the change event.
    pub(crate) fn set_state(
        &mut self,
        now: Instant,
        operator: &OperatorId,
        to: OperatorState,
        reason: &str,
    ) {
        let Some(from) = self.operators.get(operator).map(|o| o.state.clone()) else {
            return;
        };
        self.update_op(operator, |o| {
            o.state = to.clone();
            o.since = now;
            o.deadline = None;
        });
        if from != to {
            let (operator, reason) = (operator.clone(), reason.to_owned());
            let change = OperatorStateChanged {
                operator,
                from,
                to,
                reason,
            };
            self.events.push_back(RoutingEvent::OperatorState(change));
        }
    }

    /// Applies `f` to an operator, keeping the free index right.
    pub(crate) fn update_op(
        &mut self,
        operator: &OperatorId,
        f: impl FnOnce(&mut super::operator::Operator),
    ) {
        if let Some(o) = self.operators.get_mut(operator) {
            self.free.remove(&(o.idle_since, operator.clone()));
            f(o);
            if o.is_free() {
                self.free.insert((o.idle_since, operator.clone()));
            }
        }
    }

    /// If the operator rings with a call: cancel the offer, move the operator
    /// to `to` and give the call back. Returns false if it was not ringing.
    pub(crate) fn cancel_ringing(
        &mut self,
        now: Instant,
        operator: &OperatorId,
        to: OperatorState,
        reason: &str,
    ) -> bool {
        let Some(OperatorState::Ringing { call }) =
            self.operators.get(operator).map(|o| o.state.clone())
        else {
            return false;
        };
        self.actions.push_back(RoutingAction::CancelOffer {
            call,
            operator: operator.clone(),
        });
        self.offer_failed(now, call, operator, to, reason);
        true
    }

    /// An offer ended without an answer: the operator goes to `to`, the call
    /// back to its queue (or, for a direct offer, is released).
    pub(crate) fn offer_failed(
        &mut self,
        now: Instant,
        call: CallRef,
        operator: &OperatorId,
        to: OperatorState,
        reason: &str,
    ) {
        self.set_state(now, operator, to, reason);
        self.return_call(now, call);
    }

    /// The operator answered: on call.
    pub(crate) fn answered(&mut self, now: Instant, call: CallRef, operator: &OperatorId) {
        self.set_state(now, operator, OperatorState::OnCall { call }, "answered");
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.state = CallState::Connected {
            operator: operator.clone(),
        };
        c.since = now;
        let (queue, waited_ms) = (c.queue.clone(), c.waited_ms(now));
        let offer = CallOffer {
            call,
            operator: operator.clone(),
            queue,
            waited_ms,
        };
        self.events.push_back(RoutingEvent::Answered(offer));
    }

    /// A connected call ended: wrap-up (or available at once without one).
    pub(crate) fn start_wrap_up(&mut self, now: Instant, operator: &OperatorId, wrap_up: Duration) {
        let on_call = self
            .operator_state(operator)
            .is_some_and(|s| matches!(s, OperatorState::OnCall { .. }));
        if !on_call {
            return;
        }
        if self.operators.get(operator).is_some_and(|o| o.retired) {
            self.set_state(now, operator, OperatorState::LoggedOut, "removed");
            self.operators.remove(operator);
            return;
        }
        // Logged in by its phone, which went away during the call: logged
        // out now, as it would have been at once had it been idle.
        let phone_gone = self
            .operators
            .get(operator)
            .is_some_and(|o| o.plan.login_on_register && !o.reachable);
        if phone_gone {
            return self.set_state(now, operator, OperatorState::LoggedOut, "unregistered");
        }
        self.update_op(operator, |o| o.idle_since = now);
        if wrap_up.is_zero() {
            return self.set_state(now, operator, OperatorState::Available, "call-ended");
        }
        self.set_state(now, operator, OperatorState::WrapUp, "call-ended");
        self.update_op(operator, |o| o.deadline = Some(now + wrap_up));
        self.schedule(now + wrap_up, Timer::Operator(operator.clone()));
    }

    /// An operator's deadline: ring timeout, end of wrap-up, refusals running out.
    pub(crate) fn operator_timer(&mut self, now: Instant, id: &OperatorId) {
        let Some(o) = self.operators.get(id) else {
            return;
        };
        let due = o.deadline.is_some_and(|d| d <= now);
        match o.state.clone() {
            OperatorState::Ringing { call } if due => {
                let reason = o.plan.pause_after_no_answer.clone();
                self.actions.push_back(RoutingAction::CancelOffer {
                    call,
                    operator: id.clone(),
                });
                let paused = OperatorState::Paused {
                    reason: reason.clone(),
                };
                self.offer_failed(now, call, id, paused, &reason);
            }
            OperatorState::WrapUp if due => {
                self.set_state(now, id, OperatorState::Available, "wrap-up-done")
            }
            _ => {}
        }
        self.update_op(id, |o| {
            o.expire_refusals(now);
            o.expire_failure(now);
        });
    }

    /// Registers a recall (or any call unknown to the router) for a direct
    /// offer to `operator`, with the ring timeout and wrap-up of the first
    /// queue the operator serves.
    pub(crate) fn add_direct_call(&mut self, now: Instant, call: CallRef, operator: &OperatorId) {
        let queue = self
            .operators
            .get(operator)
            .and_then(|o| o.plan.queues.iter().find_map(|q| self.plan.queue(q)));
        let tenant = queue.map(|q| q.tenant.clone()).unwrap_or_default();
        let (ring, wrap) = queue.map_or((DIRECT_RING_TIMEOUT, Duration::ZERO), |q| {
            (q.ring_timeout, q.wrap_up)
        });
        let last_resort = self
            .plan
            .tenant(tenant.as_str())
            .map_or(TargetId::new(""), |t| t.last_resort.clone());
        let info = WaitingCall {
            call,
            tenant,
            queue: None,
            class: CallClass::Recall,
            event_code: None,
            caller: Caller::default(),
        };
        let mut c = self.new_call(now, info, last_resort);
        (c.ring_timeout, c.wrap_up, c.direct) = (ring, wrap, true);
        self.calls.insert(call, c);
    }

    /// Gives a call whose offer failed back: requeued, or released if direct.
    pub(crate) fn return_call(&mut self, now: Instant, call: CallRef) {
        if self.calls.get(&call).is_some_and(|c| c.direct) {
            self.calls.remove(&call);
            self.actions.push_back(RoutingAction::Release { call });
        } else {
            self.requeue(now, call);
        }
    }
}
