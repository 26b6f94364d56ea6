//! Load measurements for the overload screen ([`crate::admission::load`]):
//! the media workers publish how late their ticks ran, the SIP driver
//! measures its own queue delay, and the driver feeds both to the admission
//! core with the time they were measured.
//!
//! The media side is two atomics: each worker adds its tick's lateness and
//! counts the tick, and the driver takes both (`swap(0)`) every
//! [`SAMPLE_EVERY`], so a sample is the mean lateness of the workers' ticks
//! since the previous one (a mean, not the worst: one scheduling hiccup on a
//! shared machine is not a lagging media engine). Lock-free and a few
//! nanoseconds per tick.

use crate::admission::load::QueueDelay;
use crate::admission::Priority;
use crate::call::CallCore;
use crate::clock;
use crate::telemetry::metrics as m;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the driver samples the media lag and sets the gauges.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The media ticks' summed lateness since the driver's last sample, µs.
static MEDIA_TICK_LATE_US: AtomicU64 = AtomicU64::new(0);
/// The media ticks since the driver's last sample.
static MEDIA_TICKS: AtomicU64 = AtomicU64::new(0);

/// A media worker's tick that was due at `due` runs now.
pub fn media_tick(due: tokio::time::Instant) {
    let late = clock::now().saturating_duration_since(due.into_std());
    let micros = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
    MEDIA_TICK_LATE_US.fetch_add(micros, Ordering::Relaxed);
    MEDIA_TICKS.fetch_add(1, Ordering::Relaxed);
}

/// The mean lateness of the ticks since the last call (none: zero), and resets it.
fn take_media_tick_lag() -> Duration {
    let ticks = MEDIA_TICKS.swap(0, Ordering::Relaxed);
    let late = MEDIA_TICK_LATE_US.swap(0, Ordering::Relaxed);
    Duration::from_micros(late.checked_div(ticks).unwrap_or(0))
}

/// The SIP driver's side: its queue delay and the sampling cadence.
#[derive(Debug, Default)]
pub struct LoadMeter {
    queue: QueueDelay,
    sampled: Option<Instant>,
    /// Whether (alarm, normal) calls were limited at the last sample.
    limited: (bool, bool),
}

impl LoadMeter {
    /// Before a batch: `backlog` messages wait behind the one at hand.
    pub fn before_batch(&mut self, core: &mut CallCore, now: Instant, backlog: usize) {
        let lag = self.queue.estimate(backlog);
        core.admission_mut().observe_sip_lag(now, lag);
        self.sample(core, now);
    }

    /// After a batch of `messages`, served since `started`.
    pub fn after_batch(&mut self, messages: usize, started: Instant, now: Instant) {
        self.queue
            .record_batch(messages, now.saturating_duration_since(started));
    }

    /// Every [`SAMPLE_EVERY`]: the media lag into the core, and the gauges.
    pub fn sample(&mut self, core: &mut CallCore, now: Instant) {
        let due = self
            .sampled
            .is_none_or(|at| now.saturating_duration_since(at) >= SAMPLE_EVERY);
        if !due {
            return;
        }
        self.sampled = Some(now);
        let admission = core.admission_mut();
        admission.observe_media_lag(now, take_media_tick_lag());
        let (sip, media) = admission.lags();
        metrics::gauge!(m::SIP_DRIVER_LAG).set(sip.as_secs_f64());
        metrics::gauge!(m::MEDIA_TICK_LAG).set(media.as_secs_f64());
        let limited = (
            admission.shedding(now, Priority::Alarm),
            admission.shedding(now, Priority::Normal),
        );
        for (priority, on) in [(Priority::Alarm, limited.0), (Priority::Normal, limited.1)] {
            metrics::gauge!(m::OVERLOAD_SHEDDING, "priority" => priority.as_str())
                .set(f64::from(u8::from(on)));
        }
        if limited != self.limited {
            let rate = admission.normal_rate().map(|r| r.round());
            let (sip_ms, media_ms) = (sip.as_millis(), media.as_millis());
            tracing::warn!(
                alarm = limited.0,
                normal = limited.1,
                ?rate,
                sip_ms,
                media_ms,
                "overload: new calls limited"
            );
            self.limited = limited;
        }
    }
}
