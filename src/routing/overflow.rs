//! Overflow and forwarding: the queues' rules evaluated continuously, the
//! forward to an external target, the tenant's last resort, and the
//! periodic retry of the last resort while the call stays queued.
//!
//! `AfterWaiting` rules are deadlines (a call timer at `queued_since + d`);
//! `NoOperatorsLoggedIn` and `LongerThan` are checked after every input.
//! Rules are tried in order; a rule whose destination queue the call has
//! already visited is skipped (no ping-pong). Once the last resort has
//! failed, a call's overflow rules are done: it waits for an operator and
//! the last resort is retried every [`LAST_RESORT_RETRY`].

use super::io::{CallOverflowed, OverflowReason, RoutingAction, RoutingEvent};
use super::plan::{OverflowTo, OverflowWhen};
use super::queue::{Call, CallState};
use super::router::{Router, Timer};
use super::types::{CallRef, QueueId, TargetId};
use std::time::{Duration, Instant};

/// How long a forward may take before it counts as failed.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(90);
/// How often a failed last resort is tried again while the call waits.
pub const LAST_RESORT_RETRY: Duration = Duration::from_secs(20);

impl Router {
    /// Checks the state-based rules of every queue with waiting calls;
    /// true if a call moved.
    pub(crate) fn overflow_pass(&mut self, now: Instant) -> bool {
        let queues: Vec<QueueId> = self
            .waiting
            .busy_queues()
            .filter(|q| {
                self.queue_plan(q)
                    .is_some_and(|p| p.overflow.iter().any(|r| !is_timed(&r.when)))
            })
            .cloned()
            .collect();
        let mut moved = false;
        for q in queues {
            moved |= self.queue_overflow(now, &q);
        }
        moved
    }

    fn queue_overflow(&mut self, now: Instant, queue: &QueueId) -> bool {
        let rules = self
            .queue_plan(queue)
            .map(|p| p.overflow.clone())
            .unwrap_or_default();
        let mut moved = false;
        for rule in rules {
            let (victims, reason) = match rule.when {
                OverflowWhen::NoOperatorsLoggedIn if !self.anyone_present(queue) => (
                    self.movable_calls(queue, &rule.to, usize::MAX, false),
                    OverflowReason::NoOperatorsLoggedIn,
                ),
                OverflowWhen::LongerThan(max) => {
                    let excess = self.waiting.len(queue).saturating_sub(max);
                    (
                        self.movable_calls(queue, &rule.to, excess, true),
                        OverflowReason::LongerThan,
                    )
                }
                _ => continue,
            };
            for call in victims {
                self.move_call(now, call, &rule.to, reason);
                moved = true;
            }
        }
        moved
    }

    /// Up to `limit` waiting calls of `queue` that may move to `to`, best
    /// first (or lowest-ranked first with `from_back`).
    fn movable_calls(
        &self,
        queue: &QueueId,
        to: &OverflowTo,
        limit: usize,
        from_back: bool,
    ) -> Vec<CallRef> {
        let ok =
            |e: &&(i64, u64, CallRef)| self.calls.get(&e.2).is_some_and(|c| self.movable(c, to));
        let iter = self.waiting.iter(queue);
        let picked: Vec<_> = if from_back {
            iter.rev().filter(ok).take(limit).collect()
        } else {
            iter.filter(ok).take(limit).collect()
        };
        picked.into_iter().map(|e| e.2).collect()
    }

    /// True if an operator of `queue` is logged in with a reachable phone.
    fn anyone_present(&self, queue: &QueueId) -> bool {
        self.operators
            .values()
            .any(|o| o.eligible.contains(queue) && o.is_present())
    }

    /// May `c` overflow to `to`: its rules not done, the queue exists and is unvisited.
    fn movable(&self, c: &Call, to: &OverflowTo) -> bool {
        c.retry_at.is_none()
            && match to {
                OverflowTo::Queue(q) => self.plan.queue(q).is_some() && !c.visited.contains(q),
                OverflowTo::Target(_) => true,
            }
    }

    /// A waiting call's time-based review: the last-resort retry if one is
    /// pending, else the `AfterWaiting` rules (due ones move it, the next
    /// one is scheduled).
    pub(crate) fn review_waiting(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self
            .calls
            .get(&call)
            .filter(|c| c.state == CallState::Waiting)
        else {
            return;
        };
        if let Some(at) = c.retry_at {
            return match at <= now {
                true => self.retry_last_resort(now, call),
                false => self.schedule(at, Timer::Call(call)),
            };
        }
        let Some(plan) = c.queue.as_ref().and_then(|q| self.plan.queue(q)) else {
            return;
        };
        let (mut due, mut next) = (None, None::<Instant>);
        for rule in &plan.overflow {
            let OverflowWhen::AfterWaiting(d) = rule.when else {
                continue;
            };
            let at = c.queued_since + d;
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
            } else if due.is_none() && self.movable(c, &rule.to) {
                due = Some(rule.to.clone());
            }
        }
        match (due, next) {
            (Some(to), _) => self.move_call(now, call, &to, OverflowReason::AfterWaiting),
            (None, Some(at)) => self.schedule(at, Timer::Call(call)),
            (None, None) => {}
        }
    }

    /// Moves a waiting call to another queue or forwards it; one event.
    fn move_call(&mut self, now: Instant, call: CallRef, to: &OverflowTo, reason: OverflowReason) {
        let Some(from) = self.calls.get(&call).and_then(|c| c.queue.clone()) else {
            return;
        };
        self.leave_queue(call);
        self.emit_overflow(now, call, OverflowTo::Queue(from), to.clone(), reason);
        match to {
            OverflowTo::Queue(q) => self.join_queue(now, call, q),
            OverflowTo::Target(t) => self.start_forward(now, call, t),
        }
    }

    fn emit_overflow(
        &mut self,
        now: Instant,
        call: CallRef,
        from: OverflowTo,
        to: OverflowTo,
        reason: OverflowReason,
    ) {
        let waited_ms = self.calls.get(&call).map_or(0, |c| c.waited_ms(now));
        let moved = CallOverflowed {
            call,
            from,
            to,
            reason,
            waited_ms,
        };
        self.events.push_back(RoutingEvent::Overflowed(moved));
    }

    /// Starts forwarding a call (already out of its waiting list).
    fn start_forward(&mut self, now: Instant, call: CallRef, target: &TargetId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let deadline = now + FORWARD_TIMEOUT;
        c.state = CallState::Forwarding {
            target: target.clone(),
            deadline,
            done: false,
        };
        c.since = now;
        self.schedule(deadline, Timer::Call(call));
        self.actions.push_back(RoutingAction::Forward {
            call,
            target: target.clone(),
        });
    }

    /// A forward failed: on to the last resort; if that was the last
    /// resort, back to the queue with a retry pending.
    pub(crate) fn forward_failed(&mut self, now: Instant, call: CallRef, target: &TargetId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let last = c.last_resort.clone();
        if *target != last {
            let (from, to) = (
                OverflowTo::Target(target.clone()),
                OverflowTo::Target(last.clone()),
            );
            self.emit_overflow(now, call, from, to, OverflowReason::ForwardFailed);
            return self.start_forward(now, call, &last);
        }
        c.retry_at = Some(now + LAST_RESORT_RETRY);
        self.requeue(now, call);
    }

    fn retry_last_resort(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let last = c.last_resort.clone();
        self.move_call(
            now,
            call,
            &OverflowTo::Target(last),
            OverflowReason::LastResortRetry,
        );
    }

    /// A call whose queue no longer exists (after a reload): to the tenant's
    /// default queue, or, without a tenant, to its last resort.
    pub(crate) fn reseat(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let default = self
            .plan
            .tenant(c.info.tenant.as_str())
            .map(|t| t.default_queue.clone());
        let from = c.queue.clone().map(OverflowTo::Queue);
        match (default, from) {
            (Some(q), _) => self.join_queue(now, call, &q),
            (None, Some(from)) => {
                let last = c.last_resort.clone();
                self.emit_overflow(
                    now,
                    call,
                    from,
                    OverflowTo::Target(last.clone()),
                    OverflowReason::Reconfigured,
                );
                self.start_forward(now, call, &last);
            }
            (None, None) => {}
        }
    }
}

fn is_timed(when: &OverflowWhen) -> bool {
    matches!(when, OverflowWhen::AfterWaiting(_))
}
