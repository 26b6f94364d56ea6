//! Calls as the engine keeps them, and the ordered waiting lists.
//!
//! Priority: a call's effective priority at time `t` is
//! `base × 1000 + aging_per_s × ms_waited(t)` (milli-points, integers only).
//! Within one queue every call ages at the same rate, so the order never
//! changes while calls wait: each queue is a `BTreeSet` keyed by the static
//! `key = aging × enqueued_ms − base × 1000` (smaller first), then by arrival
//! sequence (FIFO among equals). Only across queues (an operator serving
//! several) are effective priorities compared, at decision time, between the
//! queues' heads. Waiting time counts from the first enqueue, so a call that
//! overflows keeps its seniority.

use super::io::WaitingCall;
use super::types::{CallRef, OperatorId, QueueId, TargetId};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallState {
    /// In its queue, not offered.
    Waiting,
    /// Offered to `operator` until `deadline`.
    Ringing {
        operator: OperatorId,
        deadline: Instant,
    },
    /// Bridged to `operator`.
    Connected { operator: OperatorId },
    /// Forwarded to `target`; `done` once the target answered.
    Forwarding {
        target: TargetId,
        deadline: Instant,
        done: bool,
    },
}

/// One routed call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub info: WaitingCall,
    /// The queue it waits in (`None`: a direct offer).
    pub queue: Option<QueueId>,
    /// Arrival order, FIFO tie-break.
    pub seq: u64,
    /// First enqueue; waiting and aging count from here.
    pub enqueued_at: Instant,
    /// When it entered its current queue (for `AfterWaiting`).
    pub queued_since: Instant,
    /// When the current state began.
    pub since: Instant,
    pub state: CallState,
    /// Base priority in the current queue.
    pub base: i64,
    /// The order key in the current queue (see the module docs).
    pub key: i64,
    /// Ring timeout and wrap-up of the current queue (or the direct offer).
    pub ring_timeout: Duration,
    pub wrap_up: Duration,
    /// Queues the call has waited in; overflow never returns to one.
    pub visited: Vec<QueueId>,
    /// The tenant's last resort failed: overflow rules are done, only the
    /// periodic retry at `retry_at` remains.
    pub retry_at: Option<Instant>,
    /// The tenant's last-resort target (kept if the tenant disappears).
    pub last_resort: TargetId,
    /// A direct offer (recall): never waits; a failed offer releases it.
    pub direct: bool,
}

impl Call {
    /// The current operator (ringing or connected).
    pub fn operator(&self) -> Option<&OperatorId> {
        match &self.state {
            CallState::Ringing { operator, .. } | CallState::Connected { operator } => {
                Some(operator)
            }
            _ => None,
        }
    }

    /// Milliseconds since the first enqueue.
    pub fn waited_ms(&self, now: Instant) -> u64 {
        millis(now.saturating_duration_since(self.enqueued_at))
    }

    /// The order entry of this call in its queue.
    pub fn entry(&self) -> Entry {
        (self.key, self.seq, self.info.call)
    }
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The static order key of a call in a queue aging at `aging_per_s`.
pub(crate) fn order_key(base: i64, aging_per_s: u32, enqueued_ms: u64) -> i64 {
    let aged =
        i64::from(aging_per_s).saturating_mul(i64::try_from(enqueued_ms).unwrap_or(i64::MAX));
    aged.saturating_sub(base.saturating_mul(1000))
}

/// The effective priority (milli-points) at `now_ms` of a call with `key`.
pub(crate) fn effective(key: i64, aging_per_s: u32, now_ms: u64) -> i64 {
    let aged = i64::from(aging_per_s).saturating_mul(i64::try_from(now_ms).unwrap_or(i64::MAX));
    aged.saturating_sub(key)
}

/// A call's place in a queue: (key, seq, call).
pub(crate) type Entry = (i64, u64, CallRef);

/// The waiting calls of every queue, in serving order.
#[derive(Debug, Clone, Default)]
pub(crate) struct WaitingLists {
    lists: HashMap<QueueId, BTreeSet<Entry>>,
}

impl WaitingLists {
    /// Adds a waiting call.
    pub fn insert(&mut self, queue: &QueueId, entry: Entry) {
        self.lists.entry(queue.clone()).or_default().insert(entry);
    }

    /// Removes a call; true if it was there.
    pub fn remove(&mut self, queue: &QueueId, entry: &Entry) -> bool {
        self.lists.get_mut(queue).is_some_and(|l| l.remove(entry))
    }

    /// The waiting calls of `queue`, best first.
    pub fn iter(&self, queue: &QueueId) -> impl DoubleEndedIterator<Item = &Entry> {
        self.lists.get(queue).into_iter().flatten()
    }

    /// True if `entry` waits in `queue` (for the invariant checks).
    #[cfg(test)]
    pub fn contains(&self, queue: &QueueId, entry: &Entry) -> bool {
        self.lists.get(queue).is_some_and(|l| l.contains(entry))
    }

    /// The number of waiting calls in `queue`.
    pub fn len(&self, queue: &QueueId) -> usize {
        self.lists.get(queue).map_or(0, BTreeSet::len)
    }

    /// Queues with at least one waiting call.
    pub fn busy_queues(&self) -> impl Iterator<Item = &QueueId> {
        self.lists
            .iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(q, _)| q)
    }

    /// The total number of waiting calls.
    pub fn total(&self) -> usize {
        self.lists.values().map(BTreeSet::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_key_ranks_like_the_effective_priority() {
        // An emergency (100) queued at 10 s against a voice call (50) queued at 0,
        // both aging 1 point/s: the emergency leads until 50 s of difference.
        let voice = order_key(50, 1, 0);
        let emergency = order_key(100, 1, 10_000);
        assert!(emergency < voice);
        let now = 20_000;
        assert!(effective(emergency, 1, now) > effective(voice, 1, now));
        assert_eq!(effective(voice, 1, now), 50_000 + 20_000);
        let late_emergency = order_key(100, 1, 60_000);
        assert!(late_emergency > voice);
    }

    #[test]
    fn lists_keep_fifo_among_equals() {
        let mut w = WaitingLists::default();
        let q = QueueId::new("q");
        w.insert(&q, (0, 2, CallRef::device(2)));
        w.insert(&q, (0, 1, CallRef::device(1)));
        w.insert(&q, (-5, 3, CallRef::device(3)));
        let order: Vec<CallRef> = w.iter(&q).map(|e| e.2).collect();
        assert_eq!(order, [3, 1, 2].map(CallRef::device));
        assert!(w.remove(&q, &(0, 1, CallRef::device(1))));
        assert_eq!((w.len(&q), w.total()), (2, 2));
    }
}
