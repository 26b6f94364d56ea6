//! The blocker's queues against the walk they replaced: a seeded random run
//! of failures from a pool of sources larger than the table, with time
//! passing and purges, checked step by step against a naive blocker (a map
//! purged by `retain`, the victim found by `min_by_key`): same blocks, same
//! sources tracked, and no stale queue entry kept at the end.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::blocker::{source_key, Blocker};
use crate::clock::epoch;

const LIMIT: u32 = 3;
const WINDOW: Duration = Duration::from_secs(10);
const BLOCK: Duration = Duration::from_secs(60);
const MAX: usize = 8;

/// (failures, window start, blocked until): the old algorithm, verbatim.
#[derive(Default)]
struct Naive(HashMap<IpAddr, (u32, Instant, Option<Instant>)>);

impl Naive {
    fn purge(&mut self, now: Instant) {
        self.0.retain(|_, (_, start, until)| match until {
            Some(until) => now < *until,
            None => now < *start + WINDOW,
        });
    }

    fn record_failure(&mut self, now: Instant, ip: IpAddr) -> Option<Instant> {
        let key = source_key(ip);
        if !self.0.contains_key(&key) && self.0.len() >= MAX {
            self.purge(now);
            let victim = self.0.iter().filter(|_| self.0.len() >= MAX);
            let victim =
                victim.min_by_key(|(_, (_, start, until))| (until.is_some(), *until, *start));
            if let Some(ip) = victim.map(|(ip, _)| *ip) {
                self.0.remove(&ip);
            }
        }
        let r = self.0.entry(key).or_insert((0, now, None));
        if r.2.is_some_and(|until| now < until) {
            return None;
        }
        if r.2.is_some() || now >= r.1 + WINDOW {
            *r = (0, now, None);
        }
        r.0 += 1;
        if r.0 < LIMIT {
            return None;
        }
        r.2 = Some(now + BLOCK);
        r.2
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn the_blocker_queues_match_the_naive_walk() {
    for seed in [3_u64, 0x5eed_1234, 0xfeed_f00d] {
        let mut rng = Rng(seed);
        let mut b = Blocker::new(LIMIT, WINDOW, BLOCK, MAX);
        let mut naive = Naive::default();
        let mut now = epoch();
        let mut blocks = 0;
        for step in 0..5_000 {
            now += Duration::from_millis(rng.below(3_000));
            let ip = IpAddr::from([192, 0, 2, rng.below(20) as u8]);
            if rng.below(10) == 0 {
                b.purge(now);
                naive.purge(now);
            } else {
                let got = b.record_failure(now, ip);
                assert_eq!(
                    got,
                    naive.record_failure(now, ip),
                    "seed {seed} step {step}"
                );
                blocks += usize::from(got.is_some());
            }
            assert_eq!(b.len(), naive.0.len(), "seed {seed} step {step}");
            for probe in 0..20u8 {
                let ip = IpAddr::from([192, 0, 2, probe]);
                let want = naive.0.get(&ip).and_then(|r| r.2).filter(|u| now < *u);
                assert_eq!(b.blocked_until(now, ip), want, "seed {seed} step {step}");
            }
        }
        assert!(blocks > 50, "seed {seed}: only {blocks} blocks");
        b.purge(now + BLOCK + WINDOW);
        assert_eq!((b.len(), b.queued()), (0, 0), "seed {seed}");
    }
}
