//! Missing RTP is time, not nothing: turns a received stream's frames, lost
//! packets and the clock into what a tone or DTMF detector must hear.
//!
//! A detector only moves on when it is fed, so a sender that stops sending
//! (silence suppression, comfort noise, a receiver such as Asterisk's that
//! sends nothing while it listens) would leave its last tone "on" until the
//! next packet. The [`AudioTimeline`] tells the detector three things apart:
//!
//! - **audio**: a decoded frame, dated on the sender's RTP clock;
//! - **silence**: time that no packet covers although none was lost: an RTP
//!   timestamp jump between consecutive frames (RFC 3551 §4.1, silence
//!   suppression; judged on the timestamps, not on the frames' dates, which
//!   carry the receiver's scheduling jitter), or, by the clock, no frame for
//!   `hold` after the last one (long enough that a jittered or reordered
//!   packet would have come);
//! - **lost**: packets the reorder buffer reported missing, one frame length
//!   each: the audio was there but we do not know it. A detector bridges a
//!   short loss (a tone split by a lost packet stays one tone) and never
//!   takes it for silence.
//!
//! Silence by the clock is only fed while the detector is busy (a tone on or
//! starting), and only as much as it needs to decide ([`SETTLE`]), so an idle
//! call costs nothing. Pure: the caller passes `now`.

use std::time::{Duration, Instant};

/// How long without a frame before the time is taken as silence (default):
/// six 20 ms packets, twice the 60 ms the reorder buffer holds a hole, so a
/// jitter spike or a sender's hiccup inside a tone is not taken for its end.
pub const DEFAULT_HOLD: Duration = Duration::from_millis(120);
/// Silence fed by the clock in one go: enough for the DTMF detector (102-sample
/// blocks: the partial block plus two silent ones) and the tone detector.
pub const SETTLE: Duration = Duration::from_micros(38_250);
/// A jump between frame dates shorter than this is jitter in the dating, not silence.
const TOLERANCE: Duration = Duration::from_millis(1);
/// RTP timestamp jumps (8 kHz units) taken as silence: over 1 ms, under 10 s
/// (a larger jump, or one backwards, is a new source or a clock step).
const TS_SILENCE: std::ops::Range<u32> = 9..80_000;
/// Frame length assumed before the first frame (20 ms at 8 kHz).
const DEFAULT_FRAME: Duration = Duration::from_millis(20);
const NANOS_PER_SAMPLE: u64 = 125_000;

/// A detector that can hear audio, silence and lost time.
pub trait Listener {
    /// Decoded 8 kHz samples; `at` dates the first one.
    fn audio(&mut self, at: Instant, samples: &[i16]);
    /// `duration` of silence from `at`.
    fn silence(&mut self, at: Instant, duration: Duration);
    /// `duration` of audio that was sent but lost.
    fn lost(&mut self, duration: Duration);
    /// True when more silence would change nothing (no tone on or starting).
    fn is_idle(&self) -> bool;
}

/// Where a received stream stands in time; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct AudioTimeline {
    hold: Duration,
    heard_until: Option<Instant>,
    frame: Duration,
    lost: Duration,
    next_ts: Option<u32>,
}

impl Default for AudioTimeline {
    fn default() -> Self {
        Self::new(DEFAULT_HOLD)
    }
}

impl AudioTimeline {
    /// A timeline that takes `hold` without frames as silence.
    pub fn new(hold: Duration) -> Self {
        Self {
            hold,
            heard_until: None,
            frame: DEFAULT_FRAME,
            lost: Duration::ZERO,
            next_ts: None,
        }
    }

    /// The end of the last audio or silence fed.
    pub fn heard_until(&self) -> Option<Instant> {
        self.heard_until
    }

    /// A decoded frame dated `at`: first the lost packets and the silence
    /// before it (from the RTP `timestamp` if given, else from the dates),
    /// then the frame.
    pub fn audio(
        &mut self,
        at: Instant,
        timestamp: Option<u32>,
        samples: &[i16],
        to: &mut impl Listener,
    ) {
        if let Some(until) = self.heard_until {
            if !self.lost.is_zero() {
                to.lost(self.lost);
            }
            let expected = until + self.lost;
            if let Some(silence) = self.silence_before(at, timestamp, expected) {
                to.silence(expected, silence);
            }
        }
        self.lost = Duration::ZERO;
        self.next_ts = timestamp.map(|ts| ts.wrapping_add(samples.len() as u32));
        to.audio(at, samples);
        if !samples.is_empty() {
            self.frame = Duration::from_nanos(samples.len() as u64 * NANOS_PER_SAMPLE);
        }
        let end = at + Duration::from_nanos(samples.len() as u64 * NANOS_PER_SAMPLE);
        self.heard_until = Some(self.heard_until.map_or(end, |u| u.max(end)));
    }

    /// Silence between the last frame (and the lost packets after it) and a
    /// frame dated `at` with `timestamp`.
    fn silence_before(
        &self,
        at: Instant,
        timestamp: Option<u32>,
        expected: Instant,
    ) -> Option<Duration> {
        match (timestamp, self.next_ts) {
            (Some(ts), Some(next)) => {
                let lost = (self.lost.as_nanos() / u128::from(NANOS_PER_SAMPLE)) as u32;
                let jump = ts.wrapping_sub(next.wrapping_add(lost));
                TS_SILENCE
                    .contains(&jump)
                    .then(|| Duration::from_nanos(u64::from(jump) * NANOS_PER_SAMPLE))
            }
            (Some(_), None) => None,
            (None, _) => at
                .checked_duration_since(expected)
                .filter(|d| *d > TOLERANCE),
        }
    }

    /// `packets` packets after the last frame never came.
    pub fn gap(&mut self, packets: u32) {
        if self.heard_until.is_some() {
            self.lost += self.frame * packets;
        }
    }

    /// When silence must be fed by the clock; `None` while `idle` or before
    /// the first frame.
    pub fn poll_timeout(&self, idle: bool) -> Option<Instant> {
        let until = self.heard_until.filter(|_| !idle)?;
        Some(until + self.lost + self.hold + SETTLE)
    }

    /// Feeds silence by the clock if it is due at `now` (and returns true).
    pub fn handle_timeout(&mut self, now: Instant, to: &mut impl Listener) -> bool {
        let (Some(until), Some(due)) = (self.heard_until, self.poll_timeout(to.is_idle())) else {
            return false;
        };
        if due > now {
            return false;
        }
        if !self.lost.is_zero() {
            to.lost(self.lost);
        }
        let from = until + self.lost;
        to.silence(from, SETTLE);
        self.lost = Duration::ZERO;
        self.heard_until = Some(from + SETTLE);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    /// Records what it was told, as (kind, ms from epoch, ms long).
    #[derive(Default)]
    struct Log {
        seen: Vec<(&'static str, u64, u64)>,
        busy: bool,
    }

    fn ms_of(at: Instant) -> u64 {
        (at - epoch()).as_millis() as u64
    }

    impl Listener for Log {
        fn audio(&mut self, at: Instant, samples: &[i16]) {
            self.seen
                .push(("audio", ms_of(at), samples.len() as u64 / 8));
        }
        fn silence(&mut self, at: Instant, duration: Duration) {
            self.seen
                .push(("silence", ms_of(at), duration.as_millis() as u64));
        }
        fn lost(&mut self, duration: Duration) {
            self.seen.push(("lost", 0, duration.as_millis() as u64));
        }
        fn is_idle(&self) -> bool {
            !self.busy
        }
    }

    fn t(ms: u64) -> Instant {
        epoch() + Duration::from_millis(ms)
    }

    #[test]
    fn timestamp_jumps_are_silence_and_gaps_are_lost_time() {
        let (mut tl, mut log) = (AudioTimeline::default(), Log::default());
        let frame = [0i16; 160];
        tl.audio(t(0), None, &frame, &mut log);
        tl.audio(t(20), None, &frame, &mut log);
        // Silence suppression: the next frame is dated 100 ms later.
        tl.audio(t(140), None, &frame, &mut log);
        // One packet lost, then the stream goes on.
        tl.gap(1);
        tl.audio(t(180), None, &frame, &mut log);
        // A lost packet followed by a timestamp jump (comfort noise dropped).
        tl.gap(1);
        tl.audio(t(300), None, &frame, &mut log);
        let expected = vec![
            ("audio", 0, 20),
            ("audio", 20, 20),
            ("silence", 40, 100),
            ("audio", 140, 20),
            ("lost", 0, 20),
            ("audio", 180, 20),
            ("lost", 0, 20),
            ("silence", 220, 80),
            ("audio", 300, 20),
        ];
        assert_eq!(log.seen, expected);
    }

    /// With RTP timestamps, silence is what the timestamps skip, whatever
    /// the dates say: frames dated by their arrival tick (two in one tick,
    /// none in the previous) are contiguous audio.
    #[test]
    fn rtp_timestamps_decide_silence_not_arrival_dates() {
        let (mut tl, mut log) = (AudioTimeline::default(), Log::default());
        let frame = [0i16; 160];
        tl.audio(t(0), Some(1000), &frame, &mut log);
        tl.audio(t(40), Some(1160), &frame, &mut log);
        tl.audio(t(40), Some(1320), &frame, &mut log);
        // 100 ms skipped by the sender, then one lost packet and a jump.
        tl.audio(t(41), Some(1480 + 800), &frame, &mut log);
        tl.gap(1);
        tl.audio(t(60), Some(2440 + 160 + 400), &frame, &mut log);
        // A new source (timestamps far away): no silence invented.
        tl.audio(t(80), Some(7), &frame, &mut log);
        let kinds: Vec<_> = log.seen.iter().map(|(k, _, d)| (*k, *d)).collect();
        let expected = vec![
            ("audio", 20),
            ("audio", 20),
            ("audio", 20),
            ("silence", 100),
            ("audio", 20),
            ("lost", 20),
            ("silence", 50),
            ("audio", 20),
            ("audio", 20),
        ];
        assert_eq!(kinds, expected);
    }

    #[test]
    fn silence_by_the_clock_only_while_busy_and_only_once_due() {
        let (mut tl, mut log) = (AudioTimeline::default(), Log::default());
        assert_eq!(tl.poll_timeout(false), None, "nothing heard yet");
        tl.audio(t(1000), None, &[0i16; 160], &mut log);
        assert_eq!(tl.poll_timeout(true), None, "idle: no wake-up");
        log.busy = true;
        let due = tl.poll_timeout(false).expect("busy: a deadline");
        assert_eq!(due, t(1020) + DEFAULT_HOLD + SETTLE);
        assert!(!tl.handle_timeout(due - Duration::from_millis(1), &mut log));
        assert!(tl.handle_timeout(due, &mut log));
        assert_eq!(log.seen.last(), Some(&("silence", 1020, 38)));
        assert_eq!(tl.heard_until(), Some(t(1020) + SETTLE));
        // Still busy: the next portion is due one SETTLE later, not at once.
        assert_eq!(tl.poll_timeout(false), Some(due + SETTLE));
    }
}
