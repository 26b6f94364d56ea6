//! Lost packets and missing RTP inside Contact ID digit bursts: a digit split
//! by one lost 20 ms packet is one digit, wherever the loss falls; two equal
//! digits with a real gap stay two; silence that no packet carried ends a
//! digit at its tone end.

use super::*;
use crate::clock::epoch;
use crate::dsp::test_signals::Signal;

const PACKET: usize = 160;

/// `digits` as spandsp sends them (55 ms on, `gap_ms` off, -10 dBm0 per
/// tone), after `lead` samples of silence, with a little noise.
fn burst(digits: &str, gap_ms: f32, lead: usize) -> Vec<i16> {
    let mut s = Signal::default();
    s.silence(lead as f32 / 8.0 + 40.0);
    for d in digits.chars() {
        s.dtmf(d, 55.0, -10.0, -10.0, 0.0).silence(gap_ms);
    }
    s.silence(100.0).add_noise(-50.0, 3);
    s.pcm()
}

/// Feeds `pcm` in 20 ms packets, reporting the packets in `lost` as lost.
fn hear(pcm: &[i16], lost: &[usize]) -> String {
    let mut det = DtmfDetector::default();
    let mut out = String::new();
    for (i, chunk) in pcm.chunks(PACKET).enumerate() {
        let at = epoch() + sample_time(i * PACKET);
        if lost.contains(&i) {
            det.lost(sample_time(PACKET));
        } else {
            det.process(at, chunk);
        }
        while let Some(e) = det.poll_event() {
            if let DtmfEvent::DigitEnded { digit, .. } = e {
                out.push(digit);
            }
        }
    }
    out
}

/// Packets that carry any part of a tone of `pcm` (louder than the noise).
fn tone_packets(pcm: &[i16]) -> Vec<usize> {
    pcm.chunks(PACKET)
        .enumerate()
        .filter(|(_, c)| c.iter().any(|x| x.unsigned_abs() > 1000))
        .map(|(i, _)| i)
        .collect()
}

/// One lost packet at every place a tone can be hit (its start, middle, end),
/// for tone starts at every 8-sample phase against the packet grid.
#[test]
fn a_lost_packet_anywhere_in_a_digit_leaves_one_digit() {
    for lead in (0..PACKET).step_by(8) {
        let pcm = burst("5", 55.0, lead);
        for p in tone_packets(&pcm) {
            assert_eq!(hear(&pcm, &[p]), "5", "tone phase {lead}, packet {p} lost");
        }
    }
}

/// A whole Contact ID message survives one lost packet wherever it falls,
/// tone or gap, and the repeated digits (`…602000002`) stay separate.
#[test]
fn a_message_survives_any_single_lost_packet() {
    let message = "1234181602000002";
    for lead in [0, 40, 80, 120] {
        let pcm = burst(message, 55.0, lead);
        let packets = pcm.len().div_ceil(PACKET);
        for p in 0..packets {
            assert_eq!(hear(&pcm, &[p]), message, "phase {lead}, packet {p} lost");
        }
    }
}

/// A genuine double digit with Q.24's shortest gap (40 ms) and Contact ID's
/// (50 ms) stays two digits, whichever single packet of it is lost.
#[test]
fn a_real_double_digit_is_never_merged_by_a_loss() {
    for gap in [40.0, 50.0] {
        for lead in (0..PACKET).step_by(16) {
            let pcm = burst("11", gap, lead);
            assert_eq!(hear(&pcm, &[]), "11", "gap {gap} phase {lead}");
            for p in 0..pcm.len().div_ceil(PACKET) {
                assert_eq!(hear(&pcm, &[p]), "11", "gap {gap} phase {lead} packet {p}");
            }
        }
    }
}

/// More than one packet lost inside a tone is not bridged: what was heard on
/// either side is reported as it was (the checksum then decides), never
/// joined by guessing.
#[test]
fn a_longer_loss_is_not_bridged() {
    let mut s = Signal::default();
    s.silence(40.0)
        .dtmf('7', 140.0, -10.0, -10.0, 0.0)
        .silence(100.0);
    let pcm = s.pcm();
    // 140 ms from sample 320: packets 2..9; lose 5 and 6 (40 ms in the middle).
    assert_eq!(hear(&pcm, &[]), "7");
    assert_eq!(hear(&pcm, &[5]), "7");
    assert_eq!(hear(&pcm, &[5, 6]), "77");
}

/// Silence that no packet carried (suppressed between digits, or fed by the
/// clock after the last one) ends a digit at its tone end, and two equal
/// digits with suppressed silence between them stay two.
#[test]
fn silence_without_packets_ends_digits() {
    let mut det = DtmfDetector::default();
    let tone = {
        let mut s = Signal::default();
        s.dtmf('1', 60.0, -10.0, -10.0, 0.0);
        s.pcm()
    };
    let t0 = epoch() + Duration::from_secs(1);
    det.process(t0, &tone);
    assert_eq!(det.current_digit(), Some('1'));
    assert!(!det.is_idle());
    // 55 ms without packets, then the second '1'.
    det.silence(t0 + Duration::from_millis(60), Duration::from_millis(55));
    let first = det
        .poll_event()
        .into_iter()
        .chain(det.poll_event())
        .find_map(|e| e.metrics());
    let first = first.expect("the first digit ended in the silence");
    let end = first.started_at + first.duration;
    assert!(end <= t0 + Duration::from_millis(61) && end >= t0 + Duration::from_millis(45));
    let t1 = t0 + Duration::from_millis(115);
    det.process(t1, &tone);
    // Nothing after it: the clock's silence ends it; more silence is idle.
    det.silence(t1 + Duration::from_millis(60), Duration::from_millis(500));
    let mut ended = 0;
    while let Some(e) = det.poll_event() {
        ended += usize::from(matches!(e, DtmfEvent::DigitEnded { digit: '1', .. }));
    }
    assert_eq!(ended, 1);
    assert!(det.is_idle());
}
