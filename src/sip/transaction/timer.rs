//! The deadline queue: a min-heap of (deadline, transaction, timer) with lazy
//! deletion. Re-arming or disarming a timer leaves the old entry in the heap;
//! it is skipped when popped because the transaction's table no longer holds
//! that deadline. No scan of all transactions, O(log n) per timer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::consts::Timer;

/// Internal transaction id, never reused.
pub(crate) type TxId = u64;

/// Pending deadlines, earliest first.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, TxId, Timer)>>,
}

impl TimerQueue {
    /// Adds a deadline.
    pub(crate) fn push(&mut self, at: Instant, id: TxId, timer: Timer) {
        self.heap.push(Reverse((at, id, timer)));
    }

    /// The earliest deadline, possibly stale.
    pub(crate) fn peek(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Pops the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, TxId, Timer)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Drops stale entries at the head, as judged by `live`.
    pub(crate) fn prune(&mut self, live: impl Fn(Instant, TxId, Timer) -> bool) {
        while let Some(Reverse((at, id, timer))) = self.heap.peek() {
            if live(*at, *id, *timer) {
                return;
            }
            self.heap.pop();
        }
    }

    /// Every entry held, stale ones included, in no order (tests only).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> impl Iterator<Item = (Instant, TxId, Timer)> + '_ {
        self.heap.iter().map(|Reverse(e)| *e)
    }

    /// Entries held, stale ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let t0 = crate::clock::epoch();
        let mut q = TimerQueue::default();
        q.push(t0 + Duration::from_secs(2), 1, Timer::B);
        q.push(t0 + Duration::from_secs(1), 2, Timer::A);
        assert_eq!(q.peek(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(q.pop_due(t0), None);
        assert_eq!(q.pop_due(t0 + Duration::from_secs(5)).map(|e| e.1), Some(2));
        q.prune(|_, id, _| id != 1);
        assert_eq!(q.len(), 0);
    }
}
