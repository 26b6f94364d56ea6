//! Blocking sources that keep failing authentication.
//!
//! A source is an IPv4 address or an IPv6 /64 (one host usually owns a
//! whole /64, so counting single IPv6 addresses would let it rotate).
//! `fail_limit` failures within `fail_window` (counted from the first
//! failure of the window) block the source for `block_for`; a success does
//! not clear the count. At most `max_tracked` sources are tracked: when the
//! table is full, finished entries go first, then the unblocked source whose
//! window is oldest, then (only if every entry is blocked) the block that
//! ends soonest. Two deadline queues (windows of unblocked sources, ends of
//! blocks) find what is over and the next victim in O(log n), so neither
//! the timer nor a REGISTER from a new source walks every tracked source.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::timer_queue::TimerQueue;

/// The failure counter of one source.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    window_start: Instant,
    blocked_until: Option<Instant>,
}

/// Failure counts and blocks per source.
#[derive(Debug)]
pub(crate) struct Blocker {
    limit: u32,
    window: Duration,
    block_for: Duration,
    max_tracked: usize,
    sources: HashMap<IpAddr, Record>,
    /// Unblocked sources at the end of their window (stale: see `live`).
    windows: TimerQueue<IpAddr>,
    /// Blocked sources at the end of their block.
    blocks: TimerQueue<IpAddr>,
}

impl Blocker {
    pub(crate) fn new(
        limit: u32,
        window: Duration,
        block_for: Duration,
        max_tracked: usize,
    ) -> Self {
        Self {
            limit,
            window,
            block_for,
            max_tracked,
            sources: HashMap::new(),
            windows: TimerQueue::default(),
            blocks: TimerQueue::default(),
        }
    }

    /// When `ip`'s block ends, if it is blocked at `now`.
    pub(crate) fn blocked_until(&self, now: Instant, ip: IpAddr) -> Option<Instant> {
        let until = self.sources.get(&source_key(ip))?.blocked_until?;
        (now < until).then_some(until)
    }

    /// Counts a failure; returns the end of the block it starts, if it does.
    pub(crate) fn record_failure(&mut self, now: Instant, ip: IpAddr) -> Option<Instant> {
        let key = source_key(ip);
        if !self.sources.contains_key(&key) {
            self.make_room(now);
        }
        let fresh = Record {
            failures: 0,
            window_start: now,
            blocked_until: None,
        };
        let record = self.sources.entry(key).or_insert(fresh);
        if record.blocked_until.is_some_and(|until| now < until) {
            return None;
        }
        if record.failures == 0
            || record.blocked_until.is_some()
            || now >= record.window_start + self.window
        {
            *record = fresh;
            self.windows.arm(now + self.window, key);
        }
        record.failures += 1;
        if record.failures < self.limit {
            return None;
        }
        let until = now + self.block_for;
        record.blocked_until = Some(until);
        self.blocks.arm(until, key);
        Some(until)
    }

    /// Drops entries whose window and block are over: only those, through
    /// the queues.
    pub(crate) fn purge(&mut self, now: Instant) {
        let window = self.window;
        for blocked in [false, true] {
            loop {
                let (queue, sources) = self.split(blocked);
                let Some((at, ip)) = queue.pop_due(now) else {
                    break;
                };
                if sources
                    .get(&ip)
                    .is_some_and(|r| live(r, blocked, at, window))
                {
                    sources.remove(&ip);
                }
            }
        }
        self.prune();
    }

    fn split(&mut self, blocked: bool) -> (&mut TimerQueue<IpAddr>, &mut HashMap<IpAddr, Record>) {
        match blocked {
            true => (&mut self.blocks, &mut self.sources),
            false => (&mut self.windows, &mut self.sources),
        }
    }

    /// Drops stale entries at the heads of both queues.
    fn prune(&mut self) {
        let (sources, window) = (&self.sources, self.window);
        let is_live = |blocked| {
            move |at: Instant, ip: &IpAddr| {
                sources
                    .get(ip)
                    .is_some_and(|r| live(r, blocked, at, window))
            }
        };
        self.windows.prune(is_live(false));
        self.blocks.prune(is_live(true));
    }

    /// Sources blocked at `now`, with the end of their block, sorted.
    pub(crate) fn blocked(&self, now: Instant) -> Vec<(IpAddr, Instant)> {
        let mut out: Vec<_> = self
            .sources
            .iter()
            .filter_map(|(ip, r)| r.blocked_until.filter(|u| now < *u).map(|u| (*ip, u)))
            .collect();
        out.sort();
        out
    }

    /// Tracked sources (for tests of the bound).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sources.len()
    }

    fn make_room(&mut self, now: Instant) {
        if self.sources.len() < self.max_tracked {
            return;
        }
        self.purge(now);
        if self.sources.len() < self.max_tracked {
            return;
        }
        // After the prune both heads are live: the oldest unblocked window,
        // else the block that ends soonest.
        let victim = self.windows.pop().or_else(|| self.blocks.pop());
        if let Some((_, ip)) = victim {
            self.sources.remove(&ip);
        }
        self.prune();
    }

    /// Queue entries held, stale ones included (for tests of the bound).
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.windows.len() + self.blocks.len()
    }
}

/// True when a queue entry at `at` is `r`'s current deadline: the end of
/// its window while unblocked, or of its block.
fn live(r: &Record, blocked: bool, at: Instant, window: Duration) -> bool {
    match (blocked, r.blocked_until) {
        (true, until) => until == Some(at),
        (false, None) => r.window_start + window == at,
        (false, Some(_)) => false,
    }
}

/// IPv4 as is (IPv4-mapped IPv6 too), IPv6 cut to its /64.
pub(crate) fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    const S: Duration = Duration::from_secs(1);

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn limit_within_window_blocks_then_it_ends() {
        let mut b = Blocker::new(3, 10 * S, 60 * S, 16);
        let a = ip("192.0.2.1");
        let t = epoch();
        assert_eq!(b.record_failure(t, a), None);
        assert_eq!(b.record_failure(t + 9 * S, a), None);
        assert_eq!(b.record_failure(t + 10 * S, a), None, "window restarted");
        assert_eq!(b.record_failure(t + 11 * S, a), None);
        let until = b.record_failure(t + 12 * S, a);
        assert_eq!(until, Some(t + 72 * S));
        assert_eq!(b.blocked_until(t + 71 * S, a), until);
        assert_eq!(b.blocked_until(t + 72 * S, a), None);
        assert_eq!(b.blocked_until(t + 20 * S, ip("192.0.2.2")), None);
        assert_eq!(b.record_failure(t + 72 * S, a), None, "fresh count");
        b.purge(t + 200 * S);
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn ipv6_counts_per_64_and_the_table_is_bounded() {
        let mut b = Blocker::new(2, 10 * S, 60 * S, 4);
        let t = epoch();
        b.record_failure(t, ip("2001:db8:1:2::1"));
        assert!(b.record_failure(t, ip("2001:db8:1:2::ffff")).is_some());
        assert!(b.blocked_until(t, ip("2001:db8:1:2:abcd::9")).is_some());
        assert!(b.blocked_until(t, ip("2001:db8:1:3::1")).is_none());
        assert_eq!(source_key(ip("::ffff:192.0.2.9")), ip("192.0.2.9"));
        for n in 0..1000u32 {
            b.record_failure(t + S, IpAddr::from(n.to_be_bytes()));
        }
        assert_eq!(b.len(), 4);
        assert!(
            b.blocked_until(t + S, ip("2001:db8:1:2::1")).is_some(),
            "the block survives churn of unblocked sources"
        );
    }
}
