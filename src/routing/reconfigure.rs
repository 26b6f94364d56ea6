//! A new plan without dropping a call (SIGHUP reload).
//!
//! Calls keep their state, seniority and visited queues; waiting calls are
//! re-ranked under the new priorities (a queue that disappeared sends its
//! calls to the tenant's default queue). Operators keep their state and
//! reachability; an operator removed from the plan is logged out, a ringing
//! offer of theirs cancelled and the call re-offered; one on a call is
//! kept, serving no queue, until the call ends (or the operator returns).

use super::operator::{Operator, OperatorState};
use super::plan::{Plan, PlanError};
use super::queue::{CallState, WaitingLists};
use super::router::Router;
use super::types::{CallRef, OperatorId};
use std::collections::hash_map::Entry;
use std::time::Instant;

impl Router {
    /// Replaces the plan. An invalid plan is refused and the old one kept.
    pub fn reconfigure(&mut self, now: Instant, plan: Plan) -> Result<(), PlanError> {
        plan.validate()?;
        self.plan = plan;
        self.reconcile_operators(now);
        self.reconcile_calls(now);
        self.settle(now);
        Ok(())
    }

    fn reconcile_operators(&mut self, now: Instant) {
        let gone: Vec<OperatorId> = self
            .operators
            .iter()
            .filter(|(id, o)| !o.retired && self.plan.operators.iter().all(|p| &p.id != *id))
            .map(|(id, _)| id)
            .cloned()
            .collect();
        for id in gone {
            self.remove_operator(now, &id);
        }
        let (plans, queues) = (self.plan.operators.clone(), self.plan.queues.clone());
        for p in plans {
            // Replanning never changes whether an operator is free.
            match self.operators.entry(p.id.clone()) {
                Entry::Occupied(mut e) => {
                    e.get_mut().retired = false;
                    e.get_mut().replan(p, &queues);
                }
                Entry::Vacant(e) => {
                    e.insert(Operator::new(p, &queues, now));
                }
            }
        }
    }

    fn remove_operator(&mut self, now: Instant, id: &OperatorId) {
        if let Some(o) = self.operators.get_mut(id) {
            if matches!(o.state, OperatorState::OnCall { .. }) {
                o.retired = true;
                o.eligible.clear();
                return;
            }
        }
        if !self.cancel_ringing(now, id, OperatorState::LoggedOut, "removed") {
            self.set_state(now, id, OperatorState::LoggedOut, "removed");
        }
        self.update_op(id, |o| o.reachable = false);
        self.operators.remove(id);
    }

    /// Re-ranks every call under the new plan and rebuilds the waiting lists.
    fn reconcile_calls(&mut self, now: Instant) {
        self.waiting = WaitingLists::default();
        let mut refs: Vec<(u64, CallRef)> =
            self.calls.values().map(|c| (c.seq, c.info.call)).collect();
        refs.sort_unstable();
        for (_, call) in refs {
            self.refresh_last_resort(call);
            self.rekey(call);
            let waiting = self
                .calls
                .get(&call)
                .is_some_and(|c| c.state == CallState::Waiting);
            if waiting {
                self.requeue(now, call);
            }
        }
    }

    fn refresh_last_resort(&mut self, call: CallRef) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some(t) = self.plan.tenant(c.info.tenant.as_str()) {
            c.last_resort = t.last_resort.clone();
        }
    }
}
