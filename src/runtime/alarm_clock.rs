//! Dates an alarm leg's audio frames on the sender's RTP clock.

use std::time::{Duration, Instant};

/// Dates audio frames by their RTP timestamps rather than by the tick that
/// delivered them: the reorder buffer may release several frames in one
/// tick, and both digit paths (in-band, dated by the frames; RFC 4733, dated
/// by event timestamps against the frames) must share one timeline, or one
/// digit arriving both ways is counted twice. Anchored at the first frame;
/// never later than `now`, never going back, and re-anchored when the
/// sender's clock strays more than 200 ms (a new SSRC, a clock jump).
#[derive(Debug, Default, Clone, Copy)]
pub struct RtpClock {
    anchor: Option<(u32, Instant)>,
    last: Option<Instant>,
}

impl RtpClock {
    const SLACK: Duration = Duration::from_millis(200);

    /// The instant of the frame whose first sample has `timestamp` (8 kHz).
    pub fn date(&mut self, timestamp: u32, now: Instant) -> Instant {
        let at = self.anchor.and_then(|(ts, base)| {
            let ticks = timestamp.wrapping_sub(ts) as i32;
            let offset = Duration::from_micros(u64::from(ticks.unsigned_abs()) * 125);
            let at = if ticks >= 0 {
                base.checked_add(offset)
            } else {
                base.checked_sub(offset)
            }?;
            let strayed = at > now + Self::SLACK || at + Self::SLACK < now;
            (!strayed).then_some(at)
        });
        let at = match at {
            Some(at) => at.min(now),
            None => {
                self.anchor = Some((timestamp, now));
                now
            }
        };
        let at = self.last.map_or(at, |last| at.max(last));
        self.last = Some(at);
        at
    }

    /// The instant of the latest frame dated.
    pub fn last(&self) -> Option<Instant> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::RtpClock;
    use crate::clock::epoch;
    use std::time::Duration;

    #[test]
    fn frames_released_in_one_tick_keep_their_rtp_spacing() {
        let mut c = RtpClock::default();
        let t0 = epoch() + Duration::from_secs(1);
        assert_eq!(c.date(1000, t0), t0);
        // Three frames held by the reorder buffer, released together 60 ms later:
        // they are dated 20, 40 and 60 ms after the first, not all at the tick.
        let tick = t0 + Duration::from_millis(60);
        assert_eq!(c.date(1160, tick), t0 + Duration::from_millis(20));
        assert_eq!(c.date(1320, tick), t0 + Duration::from_millis(40));
        assert_eq!(c.date(1480, tick), t0 + Duration::from_millis(60));
    }

    #[test]
    fn never_in_the_future_never_backwards_and_reanchors_after_a_jump() {
        let mut c = RtpClock::default();
        let t0 = epoch() + Duration::from_secs(1);
        c.date(u32::MAX - 80, t0);
        // Across the timestamp wrap, a frame dated after `now` is held at `now`.
        let now = t0 + Duration::from_millis(10);
        assert_eq!(c.date(79, now), now);
        // An older timestamp does not move time back.
        assert_eq!(c.date(u32::MAX - 80, now + Duration::from_millis(5)), now);
        // A new SSRC with another timestamp base: re-anchored at `now`.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(c.date(123_456_789, later), later);
        assert_eq!(
            c.date(123_456_789 + 160, later + Duration::from_millis(20)),
            later + Duration::from_millis(20)
        );
    }
}
