//! RFC 4733 digits judged on the sender's RTP clock, in simulated time: a
//! stall that delivers the rest of a message at once keeps one message, a
//! real gap on the timestamps splits it, the 32-bit wrap is no gap, another
//! SSRC falls back to arrival, and a sender that goes quiet is still ended
//! by the clock. The sender: 55 ms digits, 55 ms gaps, from 1050 ms; each
//! event reported (end bit) 5 ms after its tone ends.

use std::time::{Duration, Instant};

use super::*;
use crate::alarm::contact_id::check_digit;
use crate::clock::epoch;

const SSRC: u32 = 0x5eed;
/// The arrival at which the stalled digits come (a 400 ms stall).
const STALL: u64 = 400;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn message() -> String {
    let first15 = "123418160200000";
    format!("{first15}{}", check_digit(first15).unwrap_or('?'))
}

/// One digit as sent: tone start (ms), RTP stamp, and arrival (ms).
#[derive(Clone, Copy)]
struct Sent {
    digit: char,
    start: u64,
    stamp: RtpStamp,
    arrival: u64,
}

/// The message's digits from 1050 ms, RTP timestamps from `base` at 0 ms.
fn sent(base: u32) -> Vec<Sent> {
    let digits = message();
    digits
        .chars()
        .enumerate()
        .map(|(i, digit)| {
            let start = 1050 + 110 * i as u64;
            let stamp = RtpStamp {
                ssrc: SSRC,
                timestamp: base.wrapping_add(start as u32 * 8),
                duration: 55 * 8,
            };
            let arrival = start + 60;
            Sent {
                digit,
                start,
                stamp,
                arrival,
            }
        })
        .collect()
}

/// Digits from `from` on are held `by` ms and then arrive 1 ms apart.
fn stalled(mut digits: Vec<Sent>, from: usize, by: u64) -> Vec<Sent> {
    let release = digits.get(from).map_or(0, |d| d.arrival + by);
    for (k, d) in digits.iter_mut().skip(from).enumerate() {
        d.arrival = release + k as u64;
    }
    digits
}

struct Sim {
    rx: ContactIdReceiver,
    log: Vec<(u64, ReceiverEvent)>,
}

fn at(t: u64) -> Instant {
    epoch() + ms(t)
}

impl Sim {
    fn new() -> Self {
        let rx = ContactIdReceiver::new(epoch(), ReceiverConfig::default(), no_voice);
        Self {
            rx,
            log: Vec::new(),
        }
    }

    /// Fires every timer due by `t` at its own deadline.
    fn until(&mut self, t: u64) {
        while let Some(d) = self.rx.poll_timeout().filter(|d| *d <= at(t)) {
            self.rx.handle_timeout(d);
            self.drain(d);
        }
    }

    fn drain(&mut self, now: Instant) {
        let t = (now - epoch()).as_millis() as u64;
        while let Some(e) = self.rx.poll_event() {
            self.log.push((t, e));
        }
    }

    /// Delivers the digits at their arrival times, stamped or not.
    fn deliver(&mut self, digits: &[Sent], stamped: bool) {
        for d in digits {
            self.until(d.arrival);
            let metrics = DigitMetrics {
                started_at: at(d.start),
                duration: ms(55),
                level_dbm0: -10.0,
                twist_db: f32::NAN,
                snr_db: f32::NAN,
            };
            let rtp = stamped.then_some(d.stamp);
            let source = DigitSource::Rfc4733;
            self.rx
                .handle_stamped_digit(at(d.arrival), d.digit, source, Some(metrics), rtp);
            self.drain(at(d.arrival));
        }
    }

    /// What happened, as `"t what"`, leaving out the handshake.
    fn outcome(&self) -> Vec<String> {
        let shown = self.log.iter().filter_map(|(t, e)| match e {
            ReceiverEvent::MessageDecoded { raw, .. } => Some(format!("{t} decoded {raw}")),
            ReceiverEvent::PartialDiscarded { raw } => Some(format!("{t} partial {raw}")),
            ReceiverEvent::ChecksumFailed { raw } => Some(format!("{t} checksum {raw}")),
            _ => None,
        });
        shown.collect()
    }
}

fn run(digits: &[Sent], stamped: bool, end: u64) -> Vec<String> {
    let mut sim = Sim::new();
    sim.deliver(digits, stamped);
    sim.until(end);
    sim.outcome()
}

#[test]
fn a_stall_with_contiguous_timestamps_keeps_one_message() {
    let digits = stalled(sent(1000), 14, STALL);
    let last = digits.last().map_or(0, |d| d.arrival);
    let whole = format!("{last} decoded {}", message());
    assert_eq!(run(&digits, true, 6000), [whole]);
    // By arrival alone (today's rule before this change), the same packets
    // split the message as SIPp's stalled playback did under load.
    let split = run(&digits, false, 6000);
    assert_eq!(split.len(), 2, "{split:?}");
    assert!(split[0].ends_with("partial 12341816020000"), "{split:?}");
}

#[test]
fn a_real_gap_on_the_timestamps_splits_even_when_arrival_is_bunched() {
    let mut digits = stalled(sent(1000), 14, STALL);
    for d in digits.iter_mut().skip(14) {
        d.stamp.timestamp = d.stamp.timestamp.wrapping_add(400 * 8);
    }
    let got = run(&digits, true, 6000);
    let first_late = digits[14].arrival;
    assert_eq!(
        got,
        [
            format!("{first_late} partial 12341816020000"),
            // The two after the gap: the clock ends them (no more come).
            format!("{} partial {}", first_late + 1 + 1000, &message()[14..]),
        ]
    );
}

#[test]
fn a_real_gap_on_time_splits_at_the_next_digit() {
    let mut digits = sent(1000);
    for d in digits.iter_mut().skip(14) {
        d.stamp.timestamp = d.stamp.timestamp.wrapping_add(400 * 8);
        d.arrival += 400;
    }
    let got = run(&digits, true, 6000);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[0],
        format!("{} partial 12341816020000", digits[14].arrival)
    );
}

#[test]
fn the_timestamp_wrap_inside_a_message_is_no_gap() {
    // Timestamp 0 falls at 1500 ms, between digits 4 and 5.
    let base = 0u32.wrapping_sub(1500 * 8);
    let digits = stalled(sent(base), 8, STALL);
    assert!(digits[4].stamp.timestamp > digits[5].stamp.timestamp);
    let last = digits.last().map_or(0, |d| d.arrival);
    assert_eq!(
        run(&digits, true, 6000),
        [format!("{last} decoded {}", message())]
    );
}

#[test]
fn another_ssrc_is_judged_by_arrival() {
    let other = |mut digits: Vec<Sent>| {
        for d in digits.iter_mut().skip(14) {
            d.stamp.ssrc = SSRC + 1;
        }
        digits
    };
    // Stalled: its timestamps look contiguous, but they are another clock.
    let got = run(&other(stalled(sent(1000), 14, STALL)), true, 6000);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].ends_with("partial 12341816020000"), "{got:?}");
    // On time, arrival keeps the message whole.
    let digits = other(sent(1000));
    let last = digits.last().map_or(0, |d| d.arrival);
    assert_eq!(
        run(&digits, true, 6000),
        [format!("{last} decoded {}", message())]
    );
}

#[test]
fn a_sender_that_goes_quiet_is_ended_by_the_clock() {
    let digits: Vec<Sent> = sent(1000).into_iter().take(14).collect();
    let last = digits.last().map_or(0, |d| d.arrival);
    let mut sim = Sim::new();
    sim.deliver(&digits, true);
    sim.until(last + 999);
    assert_eq!(sim.rx.state(), ReceiverState::CollectingDigits);
    sim.until(last + 1000);
    assert_eq!(
        sim.outcome(),
        [format!("{} partial 12341816020000", last + 1000)]
    );
    assert_eq!(sim.rx.state(), ReceiverState::AwaitingNextMessage);
}

#[test]
fn the_stall_limit_is_checked() {
    let config = |limit| ReceiverConfig {
        rtp_stall_limit: ms(limit),
        ..ReceiverConfig::default()
    };
    assert_eq!(config(1000).validate(), Ok(()));
    for bad in [150, 1300] {
        let err = config(bad).validate();
        assert!(
            matches!(
                err,
                Err(ReceiverConfigError::OutOfRange {
                    name: "rtp_stall_limit",
                    ..
                })
            ),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn stamps_measure_end_to_end_on_one_stream_only() {
    let a = RtpStamp {
        ssrc: 1,
        timestamp: u32::MAX - 100,
        duration: 440,
    };
    let b = RtpStamp {
        timestamp: a.timestamp.wrapping_add(880),
        ..a
    };
    assert_eq!(b.since(&a), Some(ms(110)));
    assert_eq!(a.since(&b), None, "not after");
    assert_eq!(RtpStamp { ssrc: 2, ..b }.since(&a), None, "another stream");
}
