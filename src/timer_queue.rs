//! One deadline queue for the sans-IO cores: a min-heap of `(deadline, key)`
//! with lazy cancellation.
//!
//! Arming is O(log n) and never searches. Nothing is removed early: a
//! re-armed or cancelled timer leaves its old entry, and the owner judges it
//! stale when it pops (or drops stale heads with [`TimerQueue::prune`]).
//! Entries due at the same instant pop in the order they were armed.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Instant;

/// Pending deadlines of keys `K`, earliest first.
#[derive(Debug)]
pub struct TimerQueue<K> {
    heap: BinaryHeap<Reverse<Entry<K>>>,
    seq: u64,
}

#[derive(Debug)]
struct Entry<K> {
    at: Instant,
    seq: u64,
    key: K,
}

impl<K> PartialEq for Entry<K> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<K> Eq for Entry<K> {}

impl<K> PartialOrd for Entry<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Entry<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<K> TimerQueue<K> {
    /// Arms `key` at `at`.
    pub fn arm(&mut self, at: Instant, key: K) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            key,
        }));
    }

    /// The earliest deadline, possibly of a stale entry.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, K)> {
        match self.heap.peek() {
            Some(Reverse(e)) if e.at <= now => self.heap.pop().map(|Reverse(e)| (e.at, e.key)),
            _ => None,
        }
    }

    /// Removes and returns the earliest entry, due or not.
    pub fn pop(&mut self) -> Option<(Instant, K)> {
        self.heap.pop().map(|Reverse(e)| (e.at, e.key))
    }

    /// Drops stale entries at the head, as judged by `live`.
    pub fn prune(&mut self, live: impl Fn(Instant, &K) -> bool) {
        while let Some(Reverse(e)) = self.heap.peek() {
            if live(e.at, &e.key) {
                return;
            }
            self.heap.pop();
        }
    }

    /// Every entry held, stale ones included, in no order.
    pub fn entries(&self) -> impl Iterator<Item = (Instant, &K)> + '_ {
        self.heap.iter().map(|Reverse(e)| (e.at, &e.key))
    }

    /// Entries held, stale ones included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_then_arming_order_and_only_when_due() {
        let t0 = crate::clock::epoch();
        let mut q = TimerQueue::default();
        q.arm(t0 + Duration::from_secs(2), "late");
        q.arm(t0 + Duration::from_secs(1), "first");
        q.arm(t0 + Duration::from_secs(1), "second");
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(q.pop_due(t0), None);
        let due: Vec<_> = std::iter::from_fn(|| q.pop_due(t0 + Duration::from_secs(1)))
            .map(|(_, k)| k)
            .collect();
        assert_eq!(due, vec!["first", "second"]);
        q.prune(|_, k| *k != "late");
        assert!(q.is_empty());
    }
}
