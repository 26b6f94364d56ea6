//! A token bucket for the new-call rate, in simulated-time-friendly form.
//!
//! Implemented as the Generic Cell Rate Algorithm (GCRA, ITU-T I.371), which
//! is a token bucket expressed as one "theoretical arrival time": no floating
//! point, no refill loop, exact in simulated time.

use std::time::{Duration, Instant};

/// Admits at most `rate_per_s` calls per second on average, with bursts of up
/// to `burst` calls at once after a quiet period.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    /// Time between tokens; `None` means unlimited.
    interval: Option<Duration>,
    /// How far ahead of `now` the theoretical arrival time may run:
    /// `(burst - 1) * interval`.
    tolerance: Duration,
    /// When the bucket would be full again; `None` before the first call.
    tat: Option<Instant>,
}

impl RateLimiter {
    /// A bucket refilling `rate_per_s` tokens a second and holding `burst`
    /// (a burst of 0 is treated as 1). A rate of 0 means unlimited.
    pub fn new(rate_per_s: u32, burst: u32) -> Self {
        let interval = (rate_per_s > 0).then(|| Duration::from_secs(1) / rate_per_s);
        let tolerance = interval.map_or(Duration::ZERO, |t| t * burst.max(1).saturating_sub(1));
        Self {
            interval,
            tolerance,
            tat: None,
        }
    }

    /// True when unlimited (rate 0).
    pub fn is_unlimited(&self) -> bool {
        self.interval.is_none()
    }

    /// Takes one token if there is one. Time going backwards is treated as
    /// no time passing.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        let Some(interval) = self.interval else {
            return true;
        };
        let tat = self.tat.map_or(now, |tat| tat.max(now));
        if tat.saturating_duration_since(now) > self.tolerance {
            return false;
        }
        self.tat = Some(tat + interval);
        true
    }

    /// How long until the next token, zero when one is available now.
    pub fn wait_time(&self, now: Instant) -> Duration {
        match self.tat {
            Some(tat) => tat
                .saturating_duration_since(now)
                .saturating_sub(self.tolerance),
            None => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn count(limiter: &mut RateLimiter, now: Instant, attempts: u32) -> u32 {
        (0..attempts).filter(|_| limiter.try_acquire(now)).count() as u32
    }

    #[test]
    fn unlimited_always_admits() {
        let mut r = RateLimiter::new(0, 0);
        assert!(r.is_unlimited());
        assert_eq!(count(&mut r, epoch(), 10_000), 10_000);
    }

    #[test]
    fn burst_then_empty() {
        let mut r = RateLimiter::new(10, 10);
        assert_eq!(count(&mut r, epoch(), 50), 10);
        assert!(!r.try_acquire(epoch()));
        assert_eq!(r.wait_time(epoch()), ms(100));
    }

    #[test]
    fn exactly_n_per_second_at_steady_state() {
        let mut r = RateLimiter::new(10, 10);
        let t0 = epoch();
        assert_eq!(count(&mut r, t0, 10), 10);
        // Offer 100 calls a second, one every 10 ms, for 3 seconds.
        let admitted = (1..=300u64)
            .filter(|i| r.try_acquire(t0 + ms(10 * i)))
            .count();
        assert_eq!(admitted, 30);
    }

    #[test]
    fn refill_is_gradual_and_capped_at_burst() {
        let mut r = RateLimiter::new(10, 5);
        let t0 = epoch();
        assert_eq!(count(&mut r, t0, 20), 5);
        assert_eq!(count(&mut r, t0 + ms(99), 5), 0);
        assert_eq!(count(&mut r, t0 + ms(100), 5), 1);
        // After a long quiet period the bucket holds `burst` tokens, no more.
        assert_eq!(count(&mut r, t0 + Duration::from_secs(60), 20), 5);
    }

    #[test]
    fn burst_of_one_spaces_calls() {
        let mut r = RateLimiter::new(2, 0);
        let t0 = epoch();
        assert!(r.try_acquire(t0));
        assert!(!r.try_acquire(t0 + ms(499)));
        assert!(r.try_acquire(t0 + ms(500)));
    }

    #[test]
    fn time_going_backwards_does_not_mint_tokens() {
        let mut r = RateLimiter::new(1, 1);
        let t0 = epoch() + Duration::from_secs(10);
        assert!(r.try_acquire(t0));
        assert!(!r.try_acquire(t0 - Duration::from_secs(5)));
        assert!(r.try_acquire(t0 + Duration::from_secs(1)));
    }
}
