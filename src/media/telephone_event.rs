//! RFC 4733 telephone-events (DTMF named events): the 4-byte payload, the
//! negotiated event set (`a=fmtp:101 0-15`) and a receiver that reports each
//! digit once. The sending side is [`super::event_sender`].
//!
//! ```text
//! |     event     |E|R| volume    |          duration             |
//! ```
//! All packets of one event carry the same RTP timestamp (the event start);
//! the duration grows, the last three carry the E bit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Bytes of one event block.
pub const PAYLOAD_LEN: usize = 4;
/// How long an event without an end bit may go quiet before it is closed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);

/// Why a telephone-event payload or fmtp is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TelephoneEventError {
    /// The payload is shorter than one 4-byte block.
    #[error("telephone-event payload of {0} bytes, need 4")]
    Truncated(usize),
    /// An fmtp event list item is not `N` or `N-M` with N, M in 0..=255.
    #[error("bad telephone-event fmtp item {0:?}")]
    BadFmtp(String),
}

/// One event block (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0-9 digits, 10 `*`, 11 `#`, 12-15 `A`-`D`, 16 flash.
    pub event: u8,
    /// The E bit: this is (a repeat of) the last packet of the event.
    pub end: bool,
    /// Power level as -dBm0, 0..=63.
    pub volume: u8,
    /// Duration so far, in RTP timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads the first block; extra bytes (further blocks) are ignored.
    pub fn parse(payload: &[u8]) -> Result<Self, TelephoneEventError> {
        let block: [u8; PAYLOAD_LEN] = payload
            .get(..PAYLOAD_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(TelephoneEventError::Truncated(payload.len()))?;
        Ok(Self {
            event: block[0],
            end: block[1] & 0x80 != 0,
            volume: block[1] & 0x3f,
            duration: u16::from_be_bytes([block[2], block[3]]),
        })
    }

    /// The 4 payload bytes (R bit zero, volume masked to 6 bits).
    pub fn emit(&self) -> [u8; PAYLOAD_LEN] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3f),
            d0,
            d1,
        ]
    }
}

/// The DTMF character of an event code (0-15), if it is one.
pub fn digit_for_event(event: u8) -> Option<char> {
    b"0123456789*#ABCD"
        .get(usize::from(event))
        .map(|&b| char::from(b))
}

/// The event code of a DTMF character (either case for A-D).
pub fn event_for_digit(digit: char) -> Option<u8> {
    let digit = digit.to_ascii_uppercase();
    b"0123456789*#ABCD"
        .iter()
        .position(|&b| char::from(b) == digit)
        .map(|i| i as u8)
}

/// The set of event codes negotiated in `a=fmtp` (e.g. `0-15` or `0-16,32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSet([u64; 4]);

impl Default for EventSet {
    /// `0-15`, the RFC 4733 §2.4.1 default when no fmtp is given.
    fn default() -> Self {
        Self([0xffff, 0, 0, 0])
    }
}

impl EventSet {
    /// Parses the fmtp value: comma-separated codes and ranges.
    pub fn parse(fmtp: &str) -> Result<Self, TelephoneEventError> {
        let mut set = [0u64; 4];
        for item in fmtp.split(',').map(str::trim) {
            let bad = || TelephoneEventError::BadFmtp(item.to_owned());
            let (lo, hi) = item.split_once('-').unwrap_or((item, item));
            let lo: u8 = lo.trim().parse().map_err(|_| bad())?;
            let hi: u8 = hi.trim().parse().map_err(|_| bad())?;
            if lo > hi {
                return Err(bad());
            }
            for e in lo..=hi {
                set[usize::from(e / 64)] |= 1 << (e % 64);
            }
        }
        Ok(Self(set))
    }

    /// True if `event` was negotiated.
    pub fn contains(&self, event: u8) -> bool {
        self.0[usize::from(event / 64)] & (1 << (event % 64)) != 0
    }
}

/// How a reported event came to an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// A packet with the E bit arrived.
    EndBit,
    /// A new event (new timestamp) started first.
    Superseded,
    /// Nothing arrived for the receiver's timeout.
    Timeout,
}

/// A finished event, reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitEvent {
    /// The event code.
    pub event: u8,
    /// The DTMF character, for codes 0-15.
    pub digit: Option<char>,
    /// The RTP timestamp of the event start.
    pub timestamp: u32,
    /// The longest duration seen, in timestamp units (8 per ms at 8 kHz).
    pub duration: u16,
    /// Volume of the last packet, -dBm0.
    pub volume: u8,
    /// How the event ended.
    pub ended_by: EndReason,
    /// The SSRC of the stream that carried it (timestamps of one SSRC share
    /// one clock; another SSRC's are not comparable).
    pub ssrc: u32,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    timestamp: u32,
    event: TelephoneEvent,
    last_seq: u16,
    last_seen: Instant,
}

/// Turns a stream of telephone-event packets into one report per event.
///
/// Duplicates, end-bit repeats and reordered packets of a finished event are
/// ignored: once an event is reported, nothing at or before its timestamp
/// counts again. Codes outside the negotiated [`EventSet`] are dropped.
#[derive(Debug, Clone)]
pub struct TelephoneEventReceiver {
    allowed: EventSet,
    timeout: Duration,
    current: Option<Current>,
    last_finished: Option<u32>,
    out: VecDeque<DigitEvent>,
    ignored: u64,
    ssrc: u32,
}

/// True if timestamp `a` is after `b` (RFC 1982 serial arithmetic).
fn ts_after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

impl TelephoneEventReceiver {
    /// A receiver accepting `allowed` codes, closing silent events after `timeout`.
    pub fn new(allowed: EventSet, timeout: Duration) -> Self {
        let (current, last_finished, out) = (None, None, VecDeque::new());
        Self {
            allowed,
            timeout,
            current,
            last_finished,
            out,
            ignored: 0,
            ssrc: 0,
        }
    }

    /// Feeds one packet's timestamp, sequence number and payload.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        timestamp: u32,
        seq: u16,
        payload: &[u8],
    ) -> Result<(), TelephoneEventError> {
        let event = TelephoneEvent::parse(payload)?;
        let stale = self.last_finished.is_some_and(|f| !ts_after(timestamp, f));
        if !self.allowed.contains(event.event) || stale {
            self.ignored += 1;
            return Ok(());
        }
        match self.current {
            Some(cur) if cur.timestamp == timestamp => self.update(now, seq, event),
            Some(cur) if !ts_after(timestamp, cur.timestamp) => self.ignored += 1,
            Some(_) => {
                self.finish(EndReason::Superseded);
                self.start(now, timestamp, seq, event);
            }
            None => self.start(now, timestamp, seq, event),
        }
        Ok(())
    }

    fn start(&mut self, now: Instant, timestamp: u32, seq: u16, event: TelephoneEvent) {
        self.current = Some(Current {
            timestamp,
            event,
            last_seq: seq,
            last_seen: now,
        });
        if event.end {
            self.finish(EndReason::EndBit);
        }
    }

    fn update(&mut self, now: Instant, seq: u16, event: TelephoneEvent) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        let newer = seq.wrapping_sub(cur.last_seq) < 1 << 15;
        if event.event != cur.event.event || !newer {
            self.ignored += 1;
            return;
        }
        let duration = cur.event.duration.max(event.duration);
        cur.event = TelephoneEvent { duration, ..event };
        cur.last_seq = seq;
        cur.last_seen = now;
        if event.end {
            self.finish(EndReason::EndBit);
        }
    }

    fn finish(&mut self, ended_by: EndReason) {
        let Some(cur) = self.current.take() else {
            return;
        };
        self.last_finished = Some(cur.timestamp);
        let e = cur.event;
        let digit = digit_for_event(e.event);
        let (timestamp, duration, volume) = (cur.timestamp, e.duration, e.volume);
        let event = e.event;
        self.out.push_back(DigitEvent {
            event,
            digit,
            timestamp,
            duration,
            volume,
            ended_by,
            ssrc: self.ssrc,
        });
    }

    /// When [`Self::handle_timeout`] must next run, if an event is open.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.map(|c| c.last_seen + self.timeout)
    }

    /// Closes an open event that has been silent for the timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|t| now >= t) {
            self.finish(EndReason::Timeout);
        }
    }

    /// The next finished event, oldest first.
    pub fn poll_event(&mut self) -> Option<DigitEvent> {
        self.out.pop_front()
    }

    /// Packets dropped as duplicate, late, or outside the event set.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Starts over for a new stream (new SSRC): an open event is reported
    /// as superseded, and the timestamp history is forgotten.
    pub fn reset(&mut self) {
        self.finish(EndReason::Superseded);
        self.last_finished = None;
    }

    /// Names the stream the next packets come from: events finished from
    /// now on carry `ssrc`. Call [`Self::reset`] first when it changed.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        self.ssrc = ssrc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    const MS: Duration = Duration::from_millis(1);

    fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
        .emit()
    }

    #[test]
    fn payload_vector() {
        // RFC 4733 style: digit 5, E bit, volume 10, duration 800 (100 ms).
        let bytes = [0x05, 0x8a, 0x03, 0x20];
        let e = TelephoneEvent::parse(&bytes).expect("valid");
        assert_eq!(
            e,
            TelephoneEvent {
                event: 5,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(e.emit(), bytes);
        assert_eq!(
            TelephoneEvent::parse(&[0x05, 0xca, 0, 0]).map(|e| e.volume),
            Ok(10)
        ); // R bit
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(TelephoneEventError::Truncated(3))
        );
    }

    #[test]
    fn digit_mapping_and_fmtp() {
        assert_eq!(digit_for_event(11), Some('#'));
        assert_eq!(digit_for_event(16), None);
        assert_eq!(event_for_digit('*'), Some(10));
        assert_eq!(event_for_digit('c'), Some(14));
        let set = EventSet::parse("0-16, 32").expect("valid");
        assert!(set.contains(16) && set.contains(32) && !set.contains(17));
        assert!(EventSet::default().contains(15) && !EventSet::default().contains(16));
        assert!(EventSet::parse("0-255").expect("valid").contains(255));
        for bad in ["", "0-", "16-0", "0-256", "x"] {
            assert!(EventSet::parse(bad).is_err(), "{bad}");
        }
    }

    /// Feeds (ms offset, ts, seq, event, end, duration); returns the events.
    fn run(packets: &[(u32, u32, u16, u8, bool, u16)]) -> Vec<DigitEvent> {
        let mut rx = TelephoneEventReceiver::new(EventSet::default(), DEFAULT_TIMEOUT);
        for &(ms, ts, seq, ev, end, dur) in packets {
            rx.handle_packet(epoch() + ms * MS, ts, seq, &payload(ev, end, dur))
                .expect("ok");
        }
        rx.handle_timeout(epoch() + Duration::from_secs(60));
        std::iter::from_fn(|| rx.poll_event()).collect()
    }

    #[test]
    fn end_bit_three_times_reports_once() {
        let got = run(&[
            (0, 1000, 1, 1, false, 160),
            (20, 1000, 2, 1, false, 320),
            (40, 1000, 3, 1, true, 400),
            (40, 1000, 4, 1, true, 400),
            (40, 1000, 5, 1, true, 400),
            (40, 1000, 5, 1, true, 400), // network duplicate
        ]);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].digit, got[0].timestamp, got[0].duration),
            (Some('1'), 1000, 400)
        );
        assert_eq!(got[0].ended_by, EndReason::EndBit);
    }

    #[test]
    fn reordered_and_late_packets_are_ignored() {
        let got = run(&[
            (0, 1000, 1, 2, false, 160),
            (20, 1000, 3, 2, false, 480),
            (21, 1000, 2, 2, false, 320), // reordered update: no effect
            (40, 1000, 4, 2, true, 560),
            (60, 2000, 6, 3, false, 160),
            (61, 1000, 5, 2, true, 560), // late end repeat of finished digit
            (80, 2000, 7, 3, true, 320),
        ]);
        let digits: Vec<_> = got.iter().map(|e| (e.digit, e.duration)).collect();
        assert_eq!(digits, vec![(Some('2'), 560), (Some('3'), 320)]);
    }

    #[test]
    fn lost_end_packets_close_by_next_event_or_timeout() {
        let mut rx = TelephoneEventReceiver::new(EventSet::default(), DEFAULT_TIMEOUT);
        let t0 = epoch();
        rx.handle_packet(t0, 100, 1, &payload(4, false, 160))
            .expect("ok");
        rx.handle_packet(t0 + 60 * MS, 900, 2, &payload(5, false, 160))
            .expect("ok");
        assert_eq!(
            rx.poll_event().map(|e| e.ended_by),
            Some(EndReason::Superseded)
        );
        assert_eq!(rx.poll_timeout(), Some(t0 + 260 * MS));
        rx.handle_timeout(t0 + 259 * MS);
        assert!(rx.poll_event().is_none());
        rx.handle_timeout(t0 + 260 * MS);
        let e = rx.poll_event().expect("timed out");
        assert_eq!((e.digit, e.ended_by), (Some('5'), EndReason::Timeout));
        assert_eq!(rx.poll_timeout(), None);
    }

    #[test]
    fn events_outside_fmtp_and_garbage_are_dropped() {
        let got = run(&[(0, 10, 1, 16, true, 800), (20, 20, 2, 200, true, 800)]);
        assert!(got.is_empty());
        let mut rx = TelephoneEventReceiver::new(EventSet::default(), DEFAULT_TIMEOUT);
        assert!(rx.handle_packet(epoch(), 0, 0, &[]).is_err());
        let set = EventSet::parse("0-16").expect("valid");
        let mut rx = TelephoneEventReceiver::new(set, DEFAULT_TIMEOUT);
        rx.handle_packet(epoch(), 10, 1, &payload(16, true, 800))
            .expect("ok");
        assert_eq!(
            rx.poll_event().map(|e| (e.event, e.digit)),
            Some((16, None))
        );
    }

    #[test]
    fn reset_reports_the_open_event_and_forgets_history() {
        let mut rx = TelephoneEventReceiver::new(EventSet::default(), DEFAULT_TIMEOUT);
        rx.handle_packet(epoch(), 5000, 1, &payload(9, true, 400))
            .expect("ok");
        rx.handle_packet(epoch(), 6000, 2, &payload(4, false, 160))
            .expect("ok");
        rx.reset();
        rx.handle_packet(epoch(), 10, 1, &payload(6, true, 400))
            .expect("ok"); // new stream
        let got: Vec<_> = std::iter::from_fn(|| rx.poll_event())
            .map(|e| (e.digit, e.ended_by))
            .collect();
        let expect = [
            (Some('9'), EndReason::EndBit),
            (Some('4'), EndReason::Superseded),
            (Some('6'), EndReason::EndBit),
        ];
        assert_eq!(got, expect);
    }

    #[test]
    fn timestamp_wrap_is_a_new_event() {
        let got = run(&[
            (0, u32::MAX - 10, 1, 7, true, 400),
            (100, 30, 2, 8, true, 400),
        ]);
        assert_eq!(
            got.iter().map(|e| e.digit).collect::<Vec<_>>(),
            vec![Some('7'), Some('8')]
        );
    }
}
