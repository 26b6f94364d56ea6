//! Measured load, and the gates that shed new calls by priority.
//!
//! Two lag signals come in from the runtime, as durations with the `now` they
//! were measured at:
//! - the **SIP driver's lag**: how long a message that arrives now waits
//!   before the driver serves it (its backlog times its measured cost per
//!   message, see [`QueueDelay`]);
//! - the **media workers' tick lag**: how late the latest 20 ms ticks ran.
//!
//! Each is smoothed ([`Smoothed`], an exponential average over about
//! [`SMOOTHING`]), and each priority has its own thresholds: normal calls are
//! limited at a small lag, alarm calls only at a large one. Normal calls then
//! pass an [`AdaptiveRate`] that follows the lag (admit about what the node
//! serves, shed the excess); alarm calls pass a [`Gate`] that shuts when
//! either signal passes its threshold and opens again only after both have
//! stayed at or below half of it for `recover` (hysteresis: it does not flap
//! at the edge). Pure: no clock reads; `now` is passed in.

use super::adaptive::{AdaptiveRate, Heat};
use super::Priority;
use std::time::{Duration, Instant};

/// The time constant of the lag averages.
pub const SMOOTHING: Duration = Duration::from_millis(300);

/// Lag thresholds for one priority; a zero threshold is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagLimits {
    /// SIP driver lag above which new calls of this priority are shed.
    pub sip: Duration,
    /// Media tick lag above which new calls of this priority are shed.
    pub media: Duration,
}

impl LagLimits {
    fn exceeded(&self, sip: Duration, media: Duration) -> bool {
        above(sip, self.sip) || above(media, self.media)
    }

    fn calm(&self, sip: Duration, media: Duration) -> bool {
        !above(sip, self.sip / 2) && !above(media, self.media / 2)
    }

    fn heat(&self, sip: Duration, media: Duration) -> Heat {
        if self.exceeded(sip, media) {
            Heat::Hot
        } else if self.calm(sip, media) {
            Heat::Calm
        } else {
            Heat::Warm
        }
    }
}

/// True when `limit` is on (not zero) and `lag` is above it.
fn above(lag: Duration, limit: Duration) -> bool {
    !limit.is_zero() && lag > limit
}

/// An exponential moving average of a duration, in simulated-time form:
/// the weight of a sample grows with the time since the previous one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smoothed {
    micros: f64,
    at: Option<Instant>,
}

impl Smoothed {
    /// Folds in `sample`, measured at `now`. The first sample, and one after
    /// a quiet spell of [`SMOOTHING`] or more, replaces the average.
    pub fn observe(&mut self, now: Instant, sample: Duration) {
        let dt = self
            .at
            .map_or(SMOOTHING, |at| now.saturating_duration_since(at));
        let weight = (dt.as_secs_f64() / SMOOTHING.as_secs_f64()).min(1.0);
        let sample = sample.as_secs_f64() * 1e6;
        self.micros += (sample - self.micros) * weight;
        self.at = Some(self.at.map_or(now, |at| at.max(now)));
    }

    /// The average.
    pub fn get(&self) -> Duration {
        Duration::from_micros(self.micros.max(0.0) as u64)
    }
}

/// One priority's gate: open (admit) or closed (shed), with hysteresis.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    limits: LagLimits,
    recover: Duration,
    shedding: bool,
    /// The last time the lag was not calm (above half the thresholds).
    last_hot: Option<Instant>,
}

impl Gate {
    /// An open gate with these thresholds; it reopens after `recover` of calm.
    pub fn new(limits: LagLimits, recover: Duration) -> Self {
        Self {
            limits,
            recover,
            shedding: false,
            last_hot: None,
        }
    }

    /// Updates the gate with the smoothed lags at `now`.
    pub fn update(&mut self, now: Instant, sip: Duration, media: Duration) {
        if self.limits.exceeded(sip, media) {
            self.shedding = true;
        }
        if !self.limits.calm(sip, media) {
            self.last_hot = Some(now);
            return;
        }
        self.reopen_if_calm(now);
    }

    /// True while new calls of this priority are shed. A gate that has seen
    /// no heat for `recover` opens even without a new sample (an idle node).
    pub fn shedding(&mut self, now: Instant) -> bool {
        self.reopen_if_calm(now);
        self.shedding
    }

    fn reopen_if_calm(&mut self, now: Instant) {
        let calm_for = self
            .last_hot
            .map_or(Duration::MAX, |hot| now.saturating_duration_since(hot));
        if self.shedding && calm_for >= self.recover {
            self.shedding = false;
        }
    }
}

/// Both lag signals, the alarm gate and the normal calls' rate.
#[derive(Debug, Clone)]
pub struct LoadGates {
    sip: Smoothed,
    media: Smoothed,
    alarm: Gate,
    normal_limits: LagLimits,
    normal: AdaptiveRate,
}

impl LoadGates {
    /// Gates with these thresholds, open, with no lag seen yet.
    pub fn new(alarm: LagLimits, normal: LagLimits, recover: Duration) -> Self {
        Self {
            sip: Smoothed::default(),
            media: Smoothed::default(),
            alarm: Gate::new(alarm, recover),
            normal_limits: normal,
            normal: AdaptiveRate::new(recover),
        }
    }

    /// A SIP driver lag sample.
    pub fn observe_sip(&mut self, now: Instant, lag: Duration) {
        self.sip.observe(now, lag);
        self.update(now);
    }

    /// A media tick lag sample.
    pub fn observe_media(&mut self, now: Instant, lag: Duration) {
        self.media.observe(now, lag);
        self.update(now);
    }

    fn update(&mut self, now: Instant) {
        let (sip, media) = self.lags();
        self.alarm.update(now, sip, media);
        self.normal.adjust(now, self.normal_limits.heat(sip, media));
    }

    /// The smoothed (SIP, media) lags.
    pub fn lags(&self) -> (Duration, Duration) {
        (self.sip.get(), self.media.get())
    }

    /// True while new calls of `priority` are limited: alarm calls shed,
    /// or normal calls held to a rate. Normal calls are shed whenever alarm
    /// calls are, whatever their own thresholds say.
    pub fn shedding(&mut self, now: Instant, priority: Priority) -> bool {
        let alarm = self.alarm.shedding(now);
        match priority {
            Priority::Alarm => alarm,
            Priority::Normal => self.normal.limit().is_some() || alarm,
        }
    }

    /// Whether one new call of `priority` may be admitted now (a normal call
    /// takes a token of the adaptive rate).
    pub fn admit(&mut self, now: Instant, priority: Priority) -> bool {
        if self.alarm.shedding(now) {
            return false;
        }
        priority == Priority::Alarm || self.normal.try_admit(now)
    }

    /// The normal calls' rate limit, calls a second; `None` while unlimited.
    pub fn normal_rate(&self) -> Option<f64> {
        self.normal.limit()
    }
}

/// Estimates how long a message arriving now waits in the SIP driver: its
/// backlog times the measured cost of one message (an exponential average
/// over batches, so one slow batch does not dominate).
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueDelay {
    per_message_ns: f64,
}

impl QueueDelay {
    /// A batch of `messages` took `elapsed` to serve.
    pub fn record_batch(&mut self, messages: usize, elapsed: Duration) {
        if messages == 0 {
            return;
        }
        let sample = elapsed.as_nanos() as f64 / messages as f64;
        let weight = (messages as f64 / 256.0).min(1.0);
        self.per_message_ns += (sample - self.per_message_ns) * weight;
    }

    /// The wait of a message behind `backlog` others.
    pub fn estimate(&self, backlog: usize) -> Duration {
        Duration::from_nanos((self.per_message_ns.max(0.0) * backlog as f64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn gates() -> LoadGates {
        let alarm = LagLimits {
            sip: ms(2000),
            media: ms(80),
        };
        let normal = LagLimits {
            sip: ms(50),
            media: ms(20),
        };
        LoadGates::new(alarm, normal, ms(2000))
    }

    #[test]
    fn smoothing_follows_a_step_within_a_few_time_constants() {
        let mut s = Smoothed::default();
        let t0 = epoch();
        s.observe(t0, ms(100));
        assert_eq!(s.get(), ms(100), "the first sample is taken as it is");
        for i in 1..=10 {
            s.observe(t0 + ms(10 * i), Duration::ZERO);
        }
        let after_100ms = s.get();
        assert!(
            after_100ms > ms(20) && after_100ms < ms(80),
            "{after_100ms:?}"
        );
        s.observe(t0 + ms(5000), Duration::ZERO);
        assert_eq!(
            s.get(),
            Duration::ZERO,
            "a quiet spell replaces the average"
        );
    }

    #[test]
    fn normal_shed_first_alarm_only_at_high_lag() {
        let mut g = gates();
        let t0 = epoch();
        g.observe_sip(t0, ms(300));
        assert!(g.shedding(t0, Priority::Normal));
        assert!(!g.shedding(t0, Priority::Alarm));
        g.observe_media(t0, ms(100));
        assert!(g.shedding(t0, Priority::Alarm));
    }

    #[test]
    fn hysteresis_holds_the_gate_until_calm_for_recover() {
        let mut g = gates();
        let t0 = epoch();
        g.observe_media(t0, ms(100));
        assert!(g.shedding(t0, Priority::Alarm));
        // Below the threshold but above half of it: still hot, still shedding.
        for i in 1..=50 {
            g.observe_media(t0 + ms(100 * i), ms(60));
            assert!(g.shedding(t0 + ms(100 * i), Priority::Alarm), "at {i}");
        }
        // Calm (below half) from 5.1 s: open again 2 s after the last hot sample.
        let mut opened = None;
        for i in 51..=100 {
            let now = t0 + ms(100 * i);
            g.observe_media(now, Duration::ZERO);
            if opened.is_none() && !g.shedding(now, Priority::Alarm) {
                opened = Some(i);
            }
        }
        // The average needs a sample to fall below 40 ms, then 2 s of calm.
        let opened = opened.expect("the gate reopens");
        assert!((70..=75).contains(&opened), "reopened at step {opened}");
    }

    #[test]
    fn normal_calls_pass_a_rate_once_the_lag_is_hot() {
        let mut g = gates();
        let t0 = epoch();
        // 100 normal calls a second are admitted while the lag is calm...
        for i in 0..100 {
            let now = t0 + ms(10 * i);
            assert!(g.admit(now, Priority::Normal));
            g.observe_sip(now, Duration::ZERO);
        }
        assert_eq!(g.normal_rate(), None);
        // ...then the lag goes hot: the rate starts at 3/4 of what passed.
        let t1 = t0 + ms(1000);
        g.observe_sip(t1, Duration::from_secs(5));
        let rate = g.normal_rate().expect("limited");
        assert!((60.0..=80.0).contains(&rate), "{rate}");
        assert!(g.shedding(t1, Priority::Normal) && !g.shedding(t1, Priority::Alarm));
        assert!(g.admit(t1, Priority::Alarm));
    }

    #[test]
    fn idle_node_reopens_without_new_samples() {
        let mut g = gates();
        let t0 = epoch();
        g.observe_media(t0, ms(500));
        assert!(g.shedding(t0, Priority::Alarm));
        assert!(g.shedding(t0 + ms(1999), Priority::Alarm));
        assert!(!g.shedding(t0 + ms(2000), Priority::Alarm));
        // The normal rate is lifted at the first sample after the idle spell.
        assert!(g.shedding(t0 + ms(2500), Priority::Normal));
        g.observe_media(t0 + ms(2500), Duration::ZERO);
        assert!(!g.shedding(t0 + ms(2500), Priority::Normal));
    }

    #[test]
    fn zero_thresholds_are_off() {
        let off = LagLimits {
            sip: Duration::ZERO,
            media: Duration::ZERO,
        };
        let mut g = LoadGates::new(off, off, ms(2000));
        g.observe_sip(epoch(), Duration::from_secs(60));
        g.observe_media(epoch(), Duration::from_secs(60));
        assert!(!g.shedding(epoch(), Priority::Normal));
    }

    #[test]
    fn queue_delay_is_backlog_times_cost() {
        let mut q = QueueDelay::default();
        assert_eq!(q.estimate(1000), Duration::ZERO);
        q.record_batch(256, Duration::from_micros(256 * 100));
        assert_eq!(q.estimate(1000), ms(100));
        q.record_batch(0, Duration::from_secs(1));
        assert_eq!(q.estimate(10), Duration::from_millis(1));
    }
}
