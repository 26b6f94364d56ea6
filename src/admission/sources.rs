//! INVITE rate limits per untrusted source (a source on no trunk: an IP
//! device that must pass digest authentication, or someone pretending to be
//! one).
//!
//! One token bucket ([`RateLimiter`]) per source: an IPv4 address, or an IPv6
//! /64 (one subscriber's prefix; single IPv6 addresses are free to mint).
//! Memory is bounded without scans: the buckets live in two generations; a
//! lookup moves a bucket from the old generation into the current one, and
//! the generations rotate every `period` (the old one is dropped whole). A
//! bucket left alone for a whole period would have refilled anyway, since
//! `period` is at least the time to refill a burst, so nothing is forgotten
//! that mattered. A current generation that reaches `max_sources` rotates
//! early, which bounds memory under a flood of spoofed addresses too.

use super::rate::RateLimiter;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Most sources held in one generation.
pub const MAX_SOURCES: usize = 65_536;

/// The key of a source: IPv4 addresses as they are (IPv4-mapped IPv6 too),
/// IPv6 by /64.
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Per-source token buckets in two generations.
#[derive(Debug, Clone)]
pub struct SourceLimits {
    rate: u32,
    burst: u32,
    period: Duration,
    max_sources: usize,
    current: HashMap<IpAddr, RateLimiter>,
    previous: HashMap<IpAddr, RateLimiter>,
    rotated: Option<Instant>,
}

impl SourceLimits {
    /// `rate` INVITEs a second per source with bursts of `burst`; a rate of
    /// 0 means unlimited.
    pub fn new(rate: u32, burst: u32, max_sources: usize) -> Self {
        let refill = Duration::from_secs(u64::from(burst.max(1)) / u64::from(rate.max(1)) + 1);
        Self {
            rate,
            burst,
            period: refill.max(Duration::from_secs(10)),
            max_sources: max_sources.max(1),
            current: HashMap::new(),
            previous: HashMap::new(),
            rotated: None,
        }
    }

    /// Takes one token from `source`'s bucket; false when it is empty.
    pub fn try_acquire(&mut self, now: Instant, source: IpAddr) -> bool {
        if self.rate == 0 {
            return true;
        }
        self.rotate_if_due(now);
        let key = source_key(source);
        let bucket = match self.current.get_mut(&key) {
            Some(bucket) => bucket,
            None => {
                let bucket = self
                    .previous
                    .remove(&key)
                    .unwrap_or_else(|| RateLimiter::new(self.rate, self.burst));
                self.current.entry(key).or_insert(bucket)
            }
        };
        bucket.try_acquire(now)
    }

    fn rotate_if_due(&mut self, now: Instant) {
        let since = self.rotated.get_or_insert(now);
        let due = now.saturating_duration_since(*since) >= self.period;
        if due || self.current.len() >= self.max_sources {
            self.previous = std::mem::take(&mut self.current);
            self.rotated = Some(now);
        }
    }

    /// Sources held now (both generations).
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// True when no source is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn admitted(l: &mut SourceLimits, now: Instant, src: &str, n: u32) -> u32 {
        (0..n).filter(|_| l.try_acquire(now, ip(src))).count() as u32
    }

    #[test]
    fn each_source_has_its_own_bucket() {
        let mut l = SourceLimits::new(5, 10, MAX_SOURCES);
        let t0 = epoch();
        assert_eq!(admitted(&mut l, t0, "198.51.100.1", 100), 10);
        assert_eq!(admitted(&mut l, t0, "198.51.100.2", 3), 3);
        // Refills at 5 a second.
        assert_eq!(
            admitted(&mut l, t0 + Duration::from_secs(1), "198.51.100.1", 100),
            5
        );
    }

    #[test]
    fn ipv6_counts_by_slash_64_and_mapped_v4_as_v4() {
        let mut l = SourceLimits::new(1, 2, MAX_SOURCES);
        let t0 = epoch();
        assert_eq!(admitted(&mut l, t0, "2001:db8:1:2::1", 1), 1);
        assert_eq!(admitted(&mut l, t0, "2001:db8:1:2:ffff::9", 5), 1);
        assert_eq!(admitted(&mut l, t0, "2001:db8:1:3::1", 5), 2);
        assert_eq!(admitted(&mut l, t0, "192.0.2.1", 1), 1);
        assert_eq!(admitted(&mut l, t0, "::ffff:192.0.2.1", 5), 1);
    }

    #[test]
    fn generations_bound_memory_and_keep_busy_sources() {
        let mut l = SourceLimits::new(5, 10, 100);
        let t0 = epoch();
        for i in 0..1000u32 {
            let src = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            l.try_acquire(t0, src);
        }
        assert!(l.len() <= 200, "{} sources held", l.len());
        // A drained bucket stays drained across a rotation (period 11 s here).
        let mut l = SourceLimits::new(1, 10, MAX_SOURCES);
        assert_eq!(admitted(&mut l, t0, "198.51.100.7", 20), 10);
        let t1 = t0 + Duration::from_millis(10_900);
        assert_eq!(
            admitted(&mut l, t1, "198.51.100.7", 20),
            10,
            "refilled: 10.9 s at 1/s"
        );
        let t2 = t0 + Duration::from_secs(11);
        assert_eq!(admitted(&mut l, t2, "198.51.100.8", 1), 1, "rotates");
        assert_eq!(
            admitted(&mut l, t2, "198.51.100.7", 20),
            0,
            "not reset by the rotation"
        );
    }

    #[test]
    fn zero_rate_is_unlimited_and_holds_nothing() {
        let mut l = SourceLimits::new(0, 0, MAX_SOURCES);
        assert_eq!(admitted(&mut l, epoch(), "198.51.100.1", 1000), 1000);
        assert!(l.is_empty());
    }
}
