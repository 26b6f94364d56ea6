//! The only place that reads the clock.
//!
//! Protocol cores never call `Instant::now()`; the tokio layer reads the time
//! here and passes it in as `now`. Tests build simulated time from [`epoch`]
//! and step it by adding durations, so a 32-second Timer B runs in microseconds.

use std::time::{Instant, SystemTime};

/// The monotonic time now, for drivers only.
#[allow(clippy::disallowed_methods)] // the one place (clippy.toml)
pub fn now() -> Instant {
    Instant::now()
}

/// Wall-clock time now, for timestamps in logs and events.
#[allow(clippy::disallowed_methods)] // the one place (clippy.toml)
pub fn wall() -> SystemTime {
    SystemTime::now()
}

/// A fixed starting point for simulated time in tests.
///
/// Every test that drives a core starts here and moves time forward itself.
#[allow(clippy::disallowed_methods)] // the one place (clippy.toml)
pub fn epoch() -> Instant {
    use std::sync::OnceLock;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}
