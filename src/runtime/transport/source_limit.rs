//! Per-source accounting of stream connections (TCP and TLS now, WebSocket
//! later): one source cannot take the whole global connection budget.
//!
//! A pure state machine: it takes the source address and `now`, keeps a
//! count per [`SourceKey`] (an IPv4 address, or an IPv6 /64, since one
//! subscriber usually holds a whole /64), and answers [`Verdict`]s. The
//! caller asks before it takes a global permit, so a source over its limit
//! is refused without touching the global budget, and calls
//! [`SourceLimiter::release`] when the connection is gone.
//!
//! Sources inside a trusted network (a carrier trunk's addresses, whose SBC
//! legitimately opens many connections) get their own, higher limit. The
//! verdict says when to log a refusal: once when a source reaches its limit,
//! then at most once per [`LOG_EVERY`] while it stays there.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::admission::IpNet;
use crate::config::DEFAULT_PER_SOURCE;

/// Least time between two log lines about the same source at its limit.
pub const LOG_EVERY: Duration = Duration::from_secs(60);

/// What the connections of one source are counted under: an IPv4 address,
/// or the /64 an IPv6 address lies in (IPv4-mapped IPv6 counts as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceKey(IpAddr);

impl SourceKey {
    /// The key `ip` is counted under.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !(u128::from(u64::MAX));
                Self(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            v4 => Self(v4),
        }
    }
}

impl fmt::Display for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// How many connections a source may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePolicy {
    /// Open connections per source outside `trusted`.
    pub per_source: usize,
    /// Networks with their own limit (the trunks' `allow` networks).
    pub trusted: Vec<IpNet>,
    /// Open connections per source inside `trusted`.
    pub trusted_per_source: usize,
}

impl Default for SourcePolicy {
    fn default() -> Self {
        Self {
            per_source: DEFAULT_PER_SOURCE,
            trusted: Vec::new(),
            trusted_per_source: DEFAULT_PER_SOURCE,
        }
    }
}

impl SourcePolicy {
    /// The limit for a connection from `ip` (at least 1).
    pub fn limit_for(&self, ip: IpAddr) -> usize {
        let limit = if self.trusted.iter().any(|net| net.contains(ip)) {
            self.trusted_per_source
        } else {
            self.per_source
        };
        limit.max(1)
    }
}

/// The answer to [`SourceLimiter::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Counted; release `key` when the connection ends.
    Admitted(SourceKey),
    /// The source holds `limit` connections already: close this one at once.
    Refused {
        /// The source.
        key: SourceKey,
        /// Its limit.
        limit: usize,
        /// Write one log line now; `refused` connections since the last one.
        log: Option<u64>,
    },
}

/// The open-connection count of one source.
#[derive(Debug, Default)]
struct Entry {
    open: usize,
    /// Refusals not yet logged.
    unlogged: u64,
    /// When the last refusal log line was written.
    logged_at: Option<Instant>,
}

/// Open connections per source.
#[derive(Debug, Default)]
pub struct SourceLimiter {
    policy: SourcePolicy,
    sources: HashMap<SourceKey, Entry>,
}

impl SourceLimiter {
    /// An empty limiter.
    pub fn new(policy: SourcePolicy) -> Self {
        Self {
            policy,
            sources: HashMap::new(),
        }
    }

    /// Counts a new connection from `ip`, or refuses it.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Verdict {
        let key = SourceKey::of(ip);
        let limit = self.policy.limit_for(ip);
        let entry = self.sources.entry(key).or_default();
        if entry.open < limit {
            entry.open += 1;
            return Verdict::Admitted(key);
        }
        entry.unlogged += 1;
        let due = entry
            .logged_at
            .is_none_or(|at| now.saturating_duration_since(at) >= LOG_EVERY);
        let log = due.then(|| {
            entry.logged_at = Some(now);
            std::mem::take(&mut entry.unlogged)
        });
        Verdict::Refused { key, limit, log }
    }

    /// A connection counted under `key` has ended.
    pub fn release(&mut self, key: SourceKey) {
        if let Some(entry) = self.sources.get_mut(&key) {
            entry.open = entry.open.saturating_sub(1);
            if entry.open == 0 {
                self.sources.remove(&key);
            }
        }
    }

    /// Open connections counted under `key`.
    pub fn open(&self, key: SourceKey) -> usize {
        self.sources.get(&key).map_or(0, |e| e.open)
    }

    /// Sources with at least one open connection.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn limiter(per_source: usize) -> SourceLimiter {
        SourceLimiter::new(SourcePolicy {
            per_source,
            trusted: vec!["192.0.2.0/24".parse().unwrap()],
            trusted_per_source: 5,
        })
    }

    #[test]
    fn keys_are_v4_addresses_and_v6_slash_64s() {
        let a = SourceKey::of(ip("2001:db8:1:2::1"));
        assert_eq!(a, SourceKey::of(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(a, SourceKey::of(ip("2001:db8:1:3::1")));
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        let v4 = SourceKey::of(ip("10.0.0.1"));
        assert_eq!(v4, SourceKey::of(ip("::ffff:10.0.0.1")), "mapped = IPv4");
        assert_ne!(v4, SourceKey::of(ip("10.0.0.2")));
    }

    #[test]
    fn a_source_at_its_limit_does_not_stop_others() {
        let (mut l, now) = (limiter(2), epoch());
        let a = ip("198.51.100.1");
        assert!(matches!(l.admit(a, now), Verdict::Admitted(_)));
        assert!(matches!(l.admit(a, now), Verdict::Admitted(_)));
        assert!(matches!(l.admit(a, now), Verdict::Refused { limit: 2, .. }));
        assert!(matches!(
            l.admit(ip("198.51.100.2"), now),
            Verdict::Admitted(_)
        ));
        // The /64 shares one count.
        assert!(matches!(
            l.admit(ip("2001:db8::1"), now),
            Verdict::Admitted(_)
        ));
        assert!(matches!(
            l.admit(ip("2001:db8::2"), now),
            Verdict::Admitted(_)
        ));
        assert!(matches!(
            l.admit(ip("2001:db8::3"), now),
            Verdict::Refused { .. }
        ));
    }

    #[test]
    fn release_frees_a_slot_and_forgets_empty_sources() {
        let (mut l, now) = (limiter(1), epoch());
        let a = ip("198.51.100.1");
        let Verdict::Admitted(key) = l.admit(a, now) else {
            panic!("first connection refused");
        };
        assert!(matches!(l.admit(a, now), Verdict::Refused { .. }));
        l.release(key);
        assert_eq!((l.open(key), l.sources()), (0, 0));
        assert!(matches!(l.admit(a, now), Verdict::Admitted(_)));
        l.release(key);
        l.release(key); // a second release of the same key is harmless
        assert_eq!(l.open(key), 0);
    }

    #[test]
    fn trusted_networks_have_their_own_limit() {
        let (mut l, now) = (limiter(1), epoch());
        let sbc = ip("192.0.2.10");
        for _ in 0..5 {
            assert!(matches!(l.admit(sbc, now), Verdict::Admitted(_)));
        }
        assert!(matches!(
            l.admit(sbc, now),
            Verdict::Refused { limit: 5, .. }
        ));
    }

    #[test]
    fn refusals_are_logged_once_a_minute_per_source_with_a_count() {
        let (mut l, t0) = (limiter(1), epoch());
        let (a, b) = (ip("198.51.100.1"), ip("198.51.100.2"));
        let log = |v| match v {
            Verdict::Refused { log, .. } => log,
            Verdict::Admitted(_) => panic!("admitted over the limit"),
        };
        assert!(matches!(l.admit(a, t0), Verdict::Admitted(_)));
        assert!(matches!(l.admit(b, t0), Verdict::Admitted(_)));
        assert_eq!(log(l.admit(a, t0)), Some(1), "the first refusal is logged");
        for s in 1..60 {
            let now = t0 + Duration::from_secs(s);
            assert_eq!(log(l.admit(a, now)), None, "at {s} s");
            assert_eq!(log(l.admit(b, now)).is_some(), s == 1, "b at {s} s");
        }
        assert_eq!(
            log(l.admit(a, t0 + LOG_EVERY)),
            Some(60),
            "59 held back + this one"
        );
    }
}
