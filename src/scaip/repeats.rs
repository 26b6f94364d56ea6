//! Retransmitted SCAIP requests: a unit that did not get our `<mrs>` (lost
//! on UDP, or late) sends its MESSAGE again with the same `ref`. That is
//! the same alarm: it must not be journalled, queued or listed twice. Pure,
//! in simulated time.
//!
//! A request is [`Seen::New`] the first time; [`Seen::InFlight`] while its
//! store is pending (the `<mrs>` comes when the journal answers); and
//! [`Seen::Answered`] once it was acknowledged, with the same `<mrs>` to
//! send again, for [`RepeatConfig::window`]. A request that was *not*
//! stored (snu 5/6) is forgotten, so its retransmission is stored anew.
//! Memory is bounded: at most [`RepeatConfig::max`] requests are kept,
//! the oldest dropped first.

use super::response::Mrs;
use crate::labels::TenantId;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long and how many requests are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepeatConfig {
    /// A repeat within this of the answer gets the same answer.
    pub window: Duration,
    /// At most this many requests remembered.
    pub max: usize,
}

impl Default for RepeatConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(300),
            max: 10_000,
        }
    }
}

/// A request's identity: the unit (`cid` in its tenant) and its `ref`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestKey {
    tenant: TenantId,
    cid: String,
    reference: String,
}

impl RequestKey {
    /// The key of request `reference` of unit `cid` in `tenant`.
    pub fn new(tenant: &TenantId, cid: &str, reference: &str) -> Self {
        Self {
            tenant: tenant.clone(),
            cid: cid.to_owned(),
            reference: reference.to_owned(),
        }
    }
}

/// What a request is.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// Not seen (or forgotten): decide and store it.
    New,
    /// Its store is pending: its `<mrs>` follows; do nothing more.
    InFlight,
    /// Acknowledged: send this `<mrs>` again, store nothing.
    Answered(Box<Mrs>),
}

#[derive(Debug, Clone)]
enum State {
    InFlight,
    Answered(Box<Mrs>),
}

/// The remembered requests.
#[derive(Debug, Default)]
pub struct Repeats {
    config: RepeatConfig,
    known: HashMap<RequestKey, (u64, State)>,
    /// (expiry, generation, key), oldest first.
    order: VecDeque<(Instant, u64, RequestKey)>,
    generation: u64,
}

impl Repeats {
    /// An empty memory with `config`.
    pub fn new(config: RepeatConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// What `key` is at `now`.
    pub fn check(&mut self, now: Instant, key: &RequestKey) -> Seen {
        self.expire(now);
        match self.known.get(key) {
            None => Seen::New,
            Some((_, State::InFlight)) => Seen::InFlight,
            Some((_, State::Answered(mrs))) => Seen::Answered(mrs.clone()),
        }
    }

    /// `key`'s store is pending.
    pub fn in_flight(&mut self, now: Instant, key: RequestKey) {
        self.remember(now, key, State::InFlight);
    }

    /// `key` was answered with `mrs`: remembered when it was acknowledged
    /// (`snu=0`), forgotten otherwise (a repeat is stored anew).
    pub fn answered(&mut self, now: Instant, key: RequestKey, mrs: &Mrs) {
        if mrs.status == super::Status::Ok {
            self.remember(now, key, State::Answered(Box::new(mrs.clone())));
        } else {
            self.known.remove(&key);
        }
    }

    /// Requests remembered.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// Nothing remembered.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    fn remember(&mut self, now: Instant, key: RequestKey, state: State) {
        if self.config.max == 0 {
            return;
        }
        self.expire(now);
        while self.known.len() >= self.config.max && !self.known.contains_key(&key) {
            let Some((_, generation, old)) = self.order.pop_front() else {
                break;
            };
            self.forget(generation, &old);
        }
        self.generation += 1;
        let expiry = now + self.config.window;
        self.order.push_back((expiry, self.generation, key.clone()));
        self.known.insert(key, (self.generation, state));
    }

    fn expire(&mut self, now: Instant) {
        while let Some((expiry, generation, key)) = self.order.front().cloned() {
            if expiry > now {
                break;
            }
            self.order.pop_front();
            self.forget(generation, &key);
        }
    }

    /// Drops `key` if `generation` is still its latest entry.
    fn forget(&mut self, generation: u64, key: &RequestKey) {
        if self.known.get(key).is_some_and(|(g, _)| *g == generation) {
            self.known.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaip::Status;

    fn key(r: &str) -> RequestKey {
        RequestKey::new(&TenantId::from("demo"), "26317", r)
    }

    fn ok(r: &str) -> Mrs {
        Mrs::new(r, Status::Ok)
    }

    #[test]
    fn a_repeat_is_in_flight_then_answered_the_same_until_the_window_passes() {
        let t0 = crate::clock::epoch();
        let mut r = Repeats::new(RepeatConfig {
            window: Duration::from_secs(300),
            max: 10,
        });
        assert_eq!(r.check(t0, &key("1")), Seen::New);
        r.in_flight(t0, key("1"));
        assert_eq!(r.check(t0, &key("1")), Seen::InFlight);
        r.answered(t0, key("1"), &ok("1"));
        let later = t0 + Duration::from_secs(299);
        assert_eq!(r.check(later, &key("1")), Seen::Answered(Box::new(ok("1"))));
        assert_eq!(r.check(later, &key("2")), Seen::New, "another ref");
        let other_unit = RequestKey::new(&TenantId::from("demo"), "999", "1");
        assert_eq!(r.check(later, &other_unit), Seen::New, "another unit");
        assert_eq!(r.check(t0 + Duration::from_secs(300), &key("1")), Seen::New);
        assert!(r.is_empty(), "expired in simulated time");
    }

    #[test]
    fn what_was_not_stored_is_forgotten_so_its_repeat_is_stored() {
        let t0 = crate::clock::epoch();
        let mut r = Repeats::new(RepeatConfig::default());
        r.in_flight(t0, key("1"));
        r.answered(t0, key("1"), &Mrs::new("1", Status::NotTreated));
        assert_eq!(r.check(t0, &key("1")), Seen::New);
        r.in_flight(t0, key("2"));
        r.answered(t0, key("2"), &Mrs::new("2", Status::Busy));
        assert_eq!(r.check(t0, &key("2")), Seen::New);
    }

    #[test]
    fn memory_is_bounded_oldest_first() {
        let t0 = crate::clock::epoch();
        let mut r = Repeats::new(RepeatConfig {
            window: Duration::from_secs(300),
            max: 3,
        });
        for n in 0..10 {
            let at = t0 + Duration::from_secs(n);
            r.in_flight(at, key(&n.to_string()));
            r.answered(at, key(&n.to_string()), &ok(&n.to_string()));
            assert!(r.len() <= 3);
            assert!(r.order.len() <= 2 * 3 + 2, "{}", r.order.len());
        }
        let now = t0 + Duration::from_secs(10);
        assert_eq!(r.check(now, &key("6")), Seen::New);
        assert!(matches!(r.check(now, &key("9")), Seen::Answered(_)));
    }
}
