//! When a failed journal tries again: the probe schedule of an outage, a pure
//! decision over `now`.
//!
//! After a failed write or sync the writer refuses appends (so nothing is
//! acknowledged that might not be on disk) and probes: it writes and syncs a
//! scratch file, and if that works, reopens on a new segment (see
//! [`super::reopen`]). The first probe comes [`FIRST_PROBE`] after the
//! failure; each failed probe doubles the wait, up to [`MAX_PROBE`], so a
//! full disk is retried every few seconds for as long as it lasts and the
//! node turns ready again by itself within seconds of space coming back.
//!
//! The writer thread reads the clock and passes it in; this file never does.

use std::time::{Duration, Instant};

/// Wait from the failure to the first probe.
pub const FIRST_PROBE: Duration = Duration::from_secs(1);
/// Longest wait between two probes.
pub const MAX_PROBE: Duration = Duration::from_secs(5);

/// One outage: from the first failed write until a probe reopens the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outage {
    since: Instant,
    failed_probes: u32,
    next_probe: Instant,
}

impl Outage {
    /// The journal failed at `now`.
    pub(crate) fn begin(now: Instant) -> Self {
        Self {
            since: now,
            failed_probes: 0,
            next_probe: now + FIRST_PROBE,
        }
    }

    /// When the writer should probe next.
    pub(crate) fn next_probe(&self) -> Instant {
        self.next_probe
    }

    /// A probe at `now` failed: the next one waits longer (up to [`MAX_PROBE`]).
    pub(crate) fn probe_failed(&mut self, now: Instant) {
        self.failed_probes = self.failed_probes.saturating_add(1);
        self.next_probe = now + backoff(self.failed_probes);
    }

    /// How many probes have failed in this outage.
    pub(crate) fn failed_probes(&self) -> u32 {
        self.failed_probes
    }

    /// How long the journal has been unhealthy at `now`.
    pub(crate) fn duration(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.since)
    }
}

/// The wait after `failed` failed probes: 1 s doubled per failure, capped.
fn backoff(failed: u32) -> Duration {
    let factor = 1u32.checked_shl(failed.min(16)).unwrap_or(u32::MAX);
    FIRST_PROBE.saturating_mul(factor).min(MAX_PROBE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn first_probe_one_second_after_the_failure() {
        let t0 = epoch();
        let o = Outage::begin(t0);
        assert_eq!(o.next_probe(), t0 + secs(1));
        assert_eq!(o.failed_probes(), 0);
        assert_eq!(
            o.duration(t0 + Duration::from_millis(999)),
            Duration::from_millis(999)
        );
    }

    #[test]
    fn failed_probes_back_off_to_five_seconds() {
        let t0 = epoch();
        let mut o = Outage::begin(t0);
        let mut now = o.next_probe();
        let mut waits = Vec::new();
        for _ in 0..6 {
            o.probe_failed(now);
            waits.push(o.next_probe() - now);
            now = o.next_probe();
        }
        assert_eq!(waits, [2, 4, 5, 5, 5, 5].map(secs));
        assert_eq!(o.failed_probes(), 6);
        assert_eq!(o.duration(now), secs(1 + 2 + 4 + 5 + 5 + 5 + 5));
    }

    #[test]
    fn a_long_outage_never_overflows_the_backoff() {
        let t0 = epoch();
        let mut o = Outage::begin(t0);
        for i in 0..100u64 {
            o.probe_failed(t0 + secs(i));
        }
        assert_eq!(o.next_probe(), t0 + secs(99) + MAX_PROBE);
    }
}
