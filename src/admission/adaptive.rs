//! The adaptive admission rate of normal calls: admit about what the node can
//! serve, shed only the excess.
//!
//! An on/off gate under a sustained storm admits nothing while shut and
//! everything while open, so goodput collapses to the share of time it is
//! open. Instead, once the lag is hot, normal calls pass a token bucket whose
//! rate follows the lag (AIMD, as TCP does with a window): every
//! [`ADJUST_EVERY`] it grows by a tenth (and one call) while the lag is below
//! half the threshold, holds while it is between half and the threshold (a
//! dead band, so it settles), and while it is above, it shrinks to 3/4 of
//! what was really admitted, at most once per [`SHRINK_EVERY`]: the lag is
//! a queue that takes time to drain, and shrinking on every sample while it
//! drains would drive the rate to nothing and leave the node idle. It starts from the rate actually admitted when the lag first went
//! hot, and the limit is lifted once the lag has been calm for `recover`
//! while the calls offered stayed under half the limit (the storm is over),
//! or at once after `recover` without any adjustment (an idle node).
//!
//! **A floor at what the node was serving.** The lag also grows with the
//! calls that are refused (each costs a parse and an answer) and with
//! whatever else loads the machine, so under a long storm it can stay hot
//! whatever is admitted, and shrinking on it alone ratchets the rate down
//! to [`MIN_RATE`]: the node sheds nearly everything while it could serve
//! calls (the goodput collapse the storm test showed). The limit therefore
//! never falls below [`FLOOR_SHARE`] of the highest rate admitted while the
//! lag was not hot, a peak that halves every [`PEAK_HALF_LIFE`] of heat so
//! that a node that really became slower still goes lower in the end.
//! Pure: `now` and the lag verdicts are passed in.

use std::time::{Duration, Instant};

/// How often the rate is adjusted.
pub const ADJUST_EVERY: Duration = Duration::from_millis(100);

/// The shortest time between two decreases.
pub const SHRINK_EVERY: Duration = Duration::from_millis(500);

/// The lowest rate the limit falls to, calls a second.
pub const MIN_RATE: f64 = 1.0;

/// The share of the recently served peak the limit does not fall below.
pub const FLOOR_SHARE: f64 = 0.5;

/// How fast the served peak decays while the lag is hot.
pub const PEAK_HALF_LIFE: Duration = Duration::from_secs(30);

/// What the lag says at an adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heat {
    /// Above the threshold: shrink.
    Hot,
    /// Between half the threshold and the threshold: hold.
    Warm,
    /// At or below half: grow.
    Calm,
}

/// The normal calls' admission rate.
#[derive(Debug, Clone)]
pub struct AdaptiveRate {
    recover: Duration,
    /// Calls a second; `None` while unlimited.
    limit: Option<f64>,
    tokens: f64,
    refilled: Option<Instant>,
    adjusted: Option<Instant>,
    shrunk: Option<Instant>,
    /// Calls admitted and offered since the last adjustment.
    admitted: u32,
    offered: u32,
    /// Smoothed calls a second admitted and offered.
    admitted_rate: f64,
    offered_rate: f64,
    /// Since when the lag is calm and the offered calls light.
    quiet_since: Option<Instant>,
    /// The highest admitted rate while the lag was not hot (decaying while hot).
    served_peak: f64,
}

impl AdaptiveRate {
    /// Unlimited until the lag goes hot; lifted after `recover` of quiet.
    pub fn new(recover: Duration) -> Self {
        Self {
            recover,
            limit: None,
            tokens: 0.0,
            refilled: None,
            adjusted: None,
            shrunk: None,
            admitted: 0,
            offered: 0,
            admitted_rate: 0.0,
            offered_rate: 0.0,
            quiet_since: None,
            served_peak: 0.0,
        }
    }

    /// The limit in force, calls a second; `None` while unlimited.
    pub fn limit(&self) -> Option<f64> {
        self.limit
    }

    /// Adjusts the limit if [`ADJUST_EVERY`] has passed since the last time.
    pub fn adjust(&mut self, now: Instant, heat: Heat) {
        let since = self
            .adjusted
            .map_or(ADJUST_EVERY, |at| now.saturating_duration_since(at));
        if since < ADJUST_EVERY {
            return;
        }
        self.adjusted = Some(now);
        self.measure(since);
        self.track_peak(since, heat);
        if since >= self.recover && heat != Heat::Hot {
            self.limit = None; // idle for a while: nothing to hold back
        }
        let may_shrink = self
            .shrunk
            .is_none_or(|at| now.saturating_duration_since(at) >= SHRINK_EVERY);
        let admitted = self.admitted_rate.max(MIN_RATE * 10.0);
        let next = match (self.limit, heat) {
            (None, Heat::Hot) => Some(admitted * 0.75),
            (None, _) => None,
            (Some(l), Heat::Hot) if may_shrink => Some(l.min(admitted) * 0.75),
            (Some(l), Heat::Hot | Heat::Warm) => Some(l),
            (Some(l), Heat::Calm) => Some(l * 1.1 + 1.0),
        };
        if heat == Heat::Hot && may_shrink {
            self.shrunk = Some(now);
        }
        let floor = (self.served_peak * FLOOR_SHARE).max(MIN_RATE);
        self.limit = next.map(|l| l.max(floor));
        self.lift_when_quiet(now, heat);
    }

    /// The floor's peak: raised by what was admitted while not hot, halved
    /// every [`PEAK_HALF_LIFE`] of heat.
    fn track_peak(&mut self, since: Duration, heat: Heat) {
        if heat == Heat::Hot {
            let halvings = since.as_secs_f64() / PEAK_HALF_LIFE.as_secs_f64();
            self.served_peak *= 0.5f64.powf(halvings);
        } else {
            self.served_peak = self.served_peak.max(self.admitted_rate);
        }
    }

    /// The floor the limit does not fall below now, calls a second.
    pub fn floor(&self) -> f64 {
        (self.served_peak * FLOOR_SHARE).max(MIN_RATE)
    }

    fn measure(&mut self, since: Duration) {
        let secs = since.as_secs_f64().max(1e-3);
        let weight = (secs / 0.5).min(1.0);
        let admitted = f64::from(self.admitted) / secs;
        let offered = f64::from(self.offered) / secs;
        self.admitted_rate += (admitted - self.admitted_rate) * weight;
        self.offered_rate += (offered - self.offered_rate) * weight;
        self.admitted = 0;
        self.offered = 0;
    }

    fn lift_when_quiet(&mut self, now: Instant, heat: Heat) {
        let Some(limit) = self.limit else {
            self.quiet_since = None;
            return;
        };
        if heat != Heat::Calm || self.offered_rate * 2.0 > limit {
            self.quiet_since = None;
            return;
        }
        let quiet = *self.quiet_since.get_or_insert(now);
        if now.saturating_duration_since(quiet) >= self.recover {
            self.limit = None;
            self.quiet_since = None;
        }
    }

    /// One normal call asks to be admitted.
    pub fn try_admit(&mut self, now: Instant) -> bool {
        self.offered = self.offered.saturating_add(1);
        let Some(limit) = self.limit else {
            self.admitted = self.admitted.saturating_add(1);
            return true;
        };
        let burst = (limit / 10.0).max(1.0);
        let dt = self
            .refilled
            .map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
        self.refilled = Some(self.refilled.map_or(now, |at| at.max(now)));
        self.tokens = (self.tokens + dt * limit).min(burst);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        self.admitted = self.admitted.saturating_add(1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    /// Offers `rate` calls a second for `secs`, serving at most `capacity`
    /// a second: the lag is hot when admitted calls exceed it, calm when
    /// they are under 90 % of it. Returns the calls admitted in the last second.
    fn run(r: &mut AdaptiveRate, t0: Instant, rate: u32, capacity: f64, secs: u32) -> u32 {
        let mut last_second = 0;
        let mut window = 0u32;
        let step = Duration::from_secs(1) / rate;
        for i in 0..rate * secs {
            let now = t0 + step * i;
            if r.try_admit(now) {
                window += 1;
                if i >= rate * (secs - 1) {
                    last_second += 1;
                }
            }
            if i % (rate / 10).max(1) == 0 {
                let served = f64::from(window) * 10.0;
                let heat = if served > capacity {
                    Heat::Hot
                } else if served < capacity * 0.9 {
                    Heat::Calm
                } else {
                    Heat::Warm
                };
                r.adjust(now, heat);
                window = 0;
            }
        }
        last_second
    }

    #[test]
    fn unlimited_while_calm() {
        let mut r = AdaptiveRate::new(Duration::from_secs(2));
        assert_eq!(run(&mut r, epoch(), 500, 1000.0, 3), 500);
        assert_eq!(r.limit(), None);
    }

    #[test]
    fn a_storm_at_four_times_capacity_is_admitted_near_capacity() {
        let mut r = AdaptiveRate::new(Duration::from_secs(2));
        let admitted = run(&mut r, epoch(), 2000, 500.0, 20);
        assert!(
            (400..=560).contains(&admitted),
            "admitted {admitted}/s at capacity 500/s"
        );
        assert!(r.limit().is_some());
    }

    #[test]
    fn the_limit_is_lifted_after_the_storm() {
        let mut r = AdaptiveRate::new(Duration::from_secs(2));
        let t0 = epoch();
        run(&mut r, t0, 2000, 500.0, 10);
        assert!(r.limit().is_some());
        let after = t0 + Duration::from_secs(10);
        assert_eq!(run(&mut r, after, 100, 500.0, 6), 100);
        assert_eq!(r.limit(), None, "lifted once quiet for 2 s");
    }

    /// The lag stays hot whatever is admitted (the refused calls and the
    /// rest of the machine load it): the limit stops at half of what was
    /// served before the storm instead of ratcheting down to the minimum,
    /// and the floor itself decays with the heat, halving in 30 s.
    #[test]
    fn a_lag_that_stays_hot_whatever_is_admitted_does_not_collapse_the_rate() {
        let mut r = AdaptiveRate::new(Duration::from_secs(2));
        let t0 = epoch();
        // Served 400/s calmly for 3 s.
        assert_eq!(run(&mut r, t0, 400, 1000.0, 3), 400);
        let start = t0 + Duration::from_secs(3);
        let mut now = start;
        let mut admitted_last_second = 0;
        for i in 0..(5 * 2000u32) {
            now = start + Duration::from_micros(500) * i;
            if r.try_admit(now) && i >= 4 * 2000 {
                admitted_last_second += 1;
            }
            r.adjust(now, Heat::Hot);
        }
        let floor = r.floor();
        assert!((150.0..=200.0).contains(&floor), "floor {floor}");
        assert!(
            admitted_last_second >= 150,
            "{admitted_last_second}/s admitted after 5 s of heat"
        );
        for i in 1..=300u32 {
            r.adjust(now + ADJUST_EVERY * i, Heat::Hot);
        }
        let later = r.floor();
        assert!(
            (later - floor * 0.5).abs() < floor * 0.05,
            "after 30 s more of heat the floor is {later}, was {floor}"
        );
    }

    #[test]
    fn the_limit_never_falls_below_the_minimum() {
        let mut r = AdaptiveRate::new(Duration::from_secs(2));
        let t0 = epoch();
        for i in 0..200u32 {
            r.adjust(t0 + SHRINK_EVERY * i, Heat::Hot);
        }
        assert_eq!(r.limit(), Some(MIN_RATE));
        let admitted = (0..100u32)
            .filter(|i| r.try_admit(t0 + Duration::from_secs(100) + ADJUST_EVERY * *i))
            .count();
        assert!((9..=11).contains(&admitted), "{admitted} in 10 s at 1/s");
    }
}
