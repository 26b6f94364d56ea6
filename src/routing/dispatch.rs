//! Matching waiting calls with free operators, and moving calls in and out
//! of their queues.
//!
//! A decision looks at every queue with waiting calls; in each, the best
//! call that some free eligible operator has not refused is paired with the
//! longest-idle such operator. The pair whose call has the highest effective
//! priority (then the earliest arrival) wins. The free operators are an
//! index ordered by idle time, so a decision costs O(queues × free operators
//! scanned) plus O(log n) to take the call, independent of the queue lengths
//! in the usual case (refusals aside).

use super::io::{CallOffer, CallQueued, RoutingAction, RoutingEvent};
use super::operator::OperatorState;
use super::plan::QueuePlan;
use super::queue::{effective, millis, order_key, CallState, Entry};
use super::router::{Router, Timer};
use super::types::{CallRef, OperatorId, QueueId};
use std::cmp::Reverse;
use std::time::Instant;

/// How a candidate call ranks: effective priority, then earliest arrival.
type Rank = (i64, Reverse<u64>);

impl Router {
    /// After every input: offer what can be offered, overflow what must
    /// move, until nothing changes. Terminates: a call never re-enters a
    /// queue it has visited, and a forward takes it out of the queues.
    pub(crate) fn settle(&mut self, now: Instant) {
        loop {
            self.dispatch(now);
            if !self.overflow_pass(now) {
                break;
            }
        }
    }

    /// Offers calls to free operators while a pair exists.
    pub(crate) fn dispatch(&mut self, now: Instant) {
        while !self.free.is_empty() {
            let Some((entry, queue, operator)) = self.best_match(now) else {
                return;
            };
            self.waiting.remove(&queue, &entry);
            self.offer(now, entry.2, &operator);
        }
    }

    /// The best (call, operator) pair over all queues, if any.
    fn best_match(&self, now: Instant) -> Option<(Entry, QueueId, OperatorId)> {
        let now_ms = millis(now.saturating_duration_since(self.epoch));
        let mut best: Option<(Rank, Entry, QueueId, OperatorId)> = None;
        for queue in self.waiting.busy_queues() {
            let Some((entry, op)) = self.match_in_queue(queue, now) else {
                continue;
            };
            let aging = self.queue_plan(queue).map_or(0, |q| q.aging_per_s);
            let rank = (effective(entry.0, aging, now_ms), Reverse(entry.1));
            if best.as_ref().is_none_or(|b| rank > b.0) {
                best = Some((rank, entry, queue.clone(), op));
            }
        }
        best.map(|(_, entry, queue, op)| (entry, queue, op))
    }

    /// The best call of `queue` with the longest-idle free operator that may take it.
    fn match_in_queue(&self, queue: &QueueId, now: Instant) -> Option<(Entry, OperatorId)> {
        for entry in self.waiting.iter(queue) {
            let mut any_eligible = false;
            for (_, id) in &self.free {
                let Some(op) = self
                    .operators
                    .get(id)
                    .filter(|o| o.eligible.contains(queue))
                else {
                    continue;
                };
                any_eligible = true;
                if !op.has_refused(entry.2, now) {
                    return Some((*entry, id.clone()));
                }
            }
            if !any_eligible {
                return None;
            }
        }
        None
    }

    /// Rings `operator` with `call` (already out of its waiting list).
    pub(crate) fn offer(&mut self, now: Instant, call: CallRef, operator: &OperatorId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let deadline = now + c.ring_timeout;
        c.state = CallState::Ringing {
            operator: operator.clone(),
            deadline,
        };
        c.since = now;
        let (queue, waited_ms) = (c.queue.clone(), c.waited_ms(now));
        self.set_state(now, operator, OperatorState::Ringing { call }, "offered");
        self.update_op(operator, |o| o.deadline = Some(deadline));
        self.schedule(deadline, Timer::Operator(operator.clone()));
        self.actions.push_back(RoutingAction::Offer {
            call,
            operator: operator.clone(),
        });
        let offer = CallOffer {
            call,
            operator: operator.clone(),
            queue,
            waited_ms,
        };
        self.events.push_back(RoutingEvent::Offered(offer));
    }

    /// The plan of a queue.
    pub(crate) fn queue_plan(&self, queue: &QueueId) -> Option<&QueuePlan> {
        self.plan.queue(queue)
    }

    /// Puts a call into `queue` (a first enqueue or an overflow): priority,
    /// ring timeout and wrap-up from that queue; waiting from now in it.
    pub(crate) fn join_queue(&mut self, now: Instant, call: CallRef, queue: &QueueId) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.queue = Some(queue.clone());
            c.queued_since = now;
            c.visited.push(queue.clone());
        }
        self.rekey(call);
        self.requeue(now, call);
    }

    /// Recomputes a call's priority and timings from its queue's plan.
    pub(crate) fn rekey(&mut self, call: CallRef) {
        let epoch = self.epoch;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(q) = c.queue.as_ref().and_then(|q| self.plan.queue(q)) else {
            return;
        };
        c.base = q.base_priority(c.info.class, c.info.event_code.as_ref());
        let enqueued_ms = millis(c.enqueued_at.saturating_duration_since(epoch));
        c.key = order_key(c.base, q.aging_per_s, enqueued_ms);
        (c.ring_timeout, c.wrap_up) = (q.ring_timeout, q.wrap_up);
    }

    /// Takes a waiting call out of its list (its state is then set by the caller).
    pub(crate) fn leave_queue(&mut self, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if let (CallState::Waiting, Some(q)) = (&c.state, &c.queue) {
            let entry = c.entry();
            let q = q.clone();
            self.waiting.remove(&q, &entry);
        }
    }

    /// Back to waiting in its queue (after a failed offer or forward), then
    /// the time-based overflow rules and the last-resort retry are reviewed.
    pub(crate) fn requeue(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.state = CallState::Waiting;
        c.since = now;
        let entry = c.entry();
        match c.queue.clone() {
            Some(q) if self.plan.queue(&q).is_some() => self.waiting.insert(&q, entry),
            _ => return self.reseat(now, call),
        }
        self.review_waiting(now, call);
    }

    /// Emits `alarmgate.call.queued` for a new call.
    pub(crate) fn emit_queued(&mut self, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(queue) = c.queue.clone() else {
            return;
        };
        let i = &c.info;
        let queued = CallQueued {
            call,
            tenant: i.tenant.clone(),
            queue,
            class: i.class,
            event_code: i.event_code.clone(),
            priority: c.base,
            caller: i.caller.clone(),
        };
        self.events.push_back(RoutingEvent::Queued(queued));
    }

    /// A call's deadline: an overflow time, a forward timeout, a retry.
    pub(crate) fn call_timer(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        match c.state.clone() {
            CallState::Waiting => self.review_waiting(now, call),
            CallState::Forwarding {
                target,
                deadline,
                done: false,
            } if deadline <= now => {
                self.actions.push_back(RoutingAction::CancelForward {
                    call,
                    target: target.clone(),
                });
                self.forward_failed(now, call, &target);
            }
            _ => {}
        }
    }
}
