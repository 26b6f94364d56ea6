//! Load measurements for the overload screen ([`crate::admission::load`]):
//! the media workers publish how late their ticks ran, the SIP driver
//! measures its own queue delay, and the driver feeds both to the admission
//! core with the time they were measured.
//!
//! The media side is one atomic: each worker raises it to its tick's
//! lateness (`fetch_max`), and the driver takes it (`swap(0)`) every
//! [`SAMPLE_EVERY`], so a sample is the worst lateness of any worker since
//! the previous one. Lock-free and a few nanoseconds per tick.

use crate::admission::load::QueueDelay;
use crate::admission::Priority;
use crate::call::CallCore;
use crate::clock;
use crate::telemetry::metrics as m;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the driver samples the media lag and sets the gauges.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The worst media tick lateness since the driver's last sample, µs.
static MEDIA_TICK_LAG_US: AtomicU64 = AtomicU64::new(0);

/// A media worker's tick that was due at `due` runs now.
pub fn media_tick(due: tokio::time::Instant) {
    let late = clock::now().saturating_duration_since(due.into_std());
    let micros = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
    MEDIA_TICK_LAG_US.fetch_max(micros, Ordering::Relaxed);
}

/// The worst lateness since the last call, and resets it.
fn take_media_tick_lag() -> Duration {
    Duration::from_micros(MEDIA_TICK_LAG_US.swap(0, Ordering::Relaxed))
}

/// The SIP driver's side: its queue delay and the sampling cadence.
#[derive(Debug, Default)]
pub struct LoadMeter {
    queue: QueueDelay,
    sampled: Option<Instant>,
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
        for priority in [Priority::Alarm, Priority::Normal] {
            let shedding = f64::from(u8::from(admission.shedding(now, priority)));
            metrics::gauge!(m::OVERLOAD_SHEDDING, "priority" => priority.as_str()).set(shedding);
        }
    }
}
