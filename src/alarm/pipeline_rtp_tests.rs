//! The RTP stamp of an RFC 4733 event reaches the receiver through the
//! pipeline: SIPp's RFC 2833 playback stalled 400 ms under load after 14
//! digits and then sent the last two at once; judged on the timestamps the
//! message is one and is stored (judged by arrival it was "12341816020000"
//! + "02", and the unconfirmed interop tests failed at their first check).

use super::sim::{at, ms};
use super::*;
use crate::media::telephone_event::{event_for_digit, EndReason as EventEnd};

const PERIODIC: &str = "1234181602000002";

fn event(digit: char, start_ms: u64, ssrc: u32) -> DigitEvent {
    DigitEvent {
        event: event_for_digit(digit).unwrap_or(0),
        digit: Some(digit),
        timestamp: 0u32.wrapping_sub(8000).wrapping_add(start_ms as u32 * 8),
        duration: 55 * 8,
        volume: 10,
        ended_by: EventEnd::EndBit,
        ssrc,
    }
}

/// The actions' names after the 16 digits arrive (the last two stalled).
fn stalled_message(last_two_ssrc: u32) -> Vec<String> {
    let mut p = AlarmPipeline::new(at(0), PipelineConfig::default(), Classifier::default());
    let mut log = Vec::new();
    for (i, digit) in PERIODIC.chars().enumerate() {
        let start = 1050 + 110 * i as u64;
        let (arrival, ssrc) = match i {
            0..14 => (start + 60, 1),
            _ => (1050 + 110 * 13 + 60 + 400 + i as u64, last_two_ssrc),
        };
        while let Some(d) = p.poll_timeout().filter(|d| *d <= at(arrival)) {
            p.handle_timeout(d);
        }
        p.handle_telephone_event(at(arrival), &event(digit, start, ssrc));
        log.extend(std::iter::from_fn(|| p.poll_action()));
    }
    log.iter().map(super::sim::name).collect()
}

#[test]
fn a_stalled_rfc4733_sender_still_delivers_one_message() {
    let names = stalled_message(1);
    assert!(names.iter().any(|n| n.starts_with("store 1 ")), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("rejected")),
        "{names:?}"
    );
    // The same packets from a new SSRC are judged by arrival: split.
    let names = stalled_message(2);
    assert!(
        !names.iter().any(|n| n.starts_with("store 1 ")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("rejected")), "{names:?}");
}

#[test]
fn quiet_after_a_partial_is_still_ended_by_the_clock() {
    let mut p = AlarmPipeline::new(at(0), PipelineConfig::default(), Classifier::default());
    for (i, digit) in PERIODIC.chars().take(14).enumerate() {
        let start = 1050 + 110 * i as u64;
        while let Some(d) = p.poll_timeout().filter(|d| *d <= at(start + 60)) {
            p.handle_timeout(d);
        }
        p.handle_telephone_event(at(start + 60), &event(digit, start, 1));
    }
    let last = 1050 + 110 * 13 + 60;
    p.handle_timeout(at(last) + ms(1000));
    let names: Vec<_> = std::iter::from_fn(|| p.poll_action())
        .map(|a| super::sim::name(&a))
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("rejected Partial")),
        "{names:?}"
    );
}
