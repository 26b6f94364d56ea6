//! Missing RTP is time, in simulated time: a unit with silence suppression
//! (no packets between its digits), a unit that stops sending after its last
//! digit or in the middle of a message, and lost packets inside digits.

use super::sim::{Sim, Unit};
use super::*;

const PERIODIC: &str = "1234181602000002"; // 602, test; "00" and "000" inside
/// The unit's first digit starts 250 ms after our handshake (500 ms settle,
/// 300 ms handshake); digits are 55 ms on, 55 ms off.
const FIRST_DIGIT_MS: u64 = 1050;
const LAST_DIGIT_END_MS: u64 = FIRST_DIGIT_MS + 16 * 110 - 55;

/// The time of the first action named `kind`.
fn when(sim: &Sim, kind: &str) -> Option<u64> {
    let mut found = sim.log.iter().filter(|(_, a)| sim::name(a) == kind);
    found.next().map(|(t, _)| *t)
}

/// The message went through on its first attempt, all 16 digits in-band.
fn assert_first_attempt(sim: &Sim, what: &str) {
    let stores = sim.stores();
    assert_eq!(stores.len(), 1, "{what}: {:?}", sim.kinds());
    let f = &stores[0].2;
    assert_eq!((f.retries, f.digits.len()), (0, 16), "{what}: {f:?}");
    assert!(when(sim, "ack 1").is_some(), "{what}: {:?}", sim.kinds());
}

/// Silence suppression: the unit sends only the frames that carry its tones,
/// so RTP stops in every 55 ms gap between digits and after the last one.
/// Equal digits stay apart, the last digit ends by the clock, the kissoff
/// comes in time. (Before: "00" became one digit and the last digit never
/// ended, so every attempt was a partial.)
#[test]
fn a_unit_whose_rtp_stops_between_digits_is_decoded() {
    for via_rtp in [false, true] {
        let mut sim = Sim::new(Unit::new(&[PERIODIC]));
        sim.vad = true;
        sim.via_rtp = via_rtp;
        sim.run(12_000);
        assert_first_attempt(&sim, "vad");
        let kissoff = when(&sim, "kissoff").unwrap_or(u64::MAX);
        assert!(
            kissoff <= LAST_DIGIT_END_MS + 400,
            "kissoff at {kissoff} ms, last digit ended at {LAST_DIGIT_END_MS}"
        );
    }
}

/// The unit sends audio up to its last digit and then nothing at all (as it
/// listens for the kissoff): the last digit ends by the clock.
#[test]
fn rtp_stopping_after_the_last_digit_still_earns_the_kissoff() {
    let mut sim = Sim::new(Unit::new(&[PERIODIC]));
    sim.mute_from = Some(LAST_DIGIT_END_MS + 5);
    sim.run(12_000);
    assert_first_attempt(&sim, "mute after the last digit");
    let kissoff = when(&sim, "kissoff").unwrap_or(u64::MAX);
    assert!(
        kissoff <= LAST_DIGIT_END_MS + 400,
        "kissoff at {kissoff} ms"
    );
}

/// RTP stops for good in the middle of a message: the inter-digit timeout
/// still fires by the clock (the partial is rejected about 200 ms after the
/// last digit heard), and the quiet line ends the session by the clock: six
/// digits heard make it an unconfirmed alarm, never a kissoff.
#[test]
fn timeouts_fire_by_the_clock_when_rtp_stops_mid_message() {
    let mut sim = Sim::new(Unit::new(&[PERIODIC]));
    let mute = FIRST_DIGIT_MS + 6 * 110; // after six digits
    sim.mute_from = Some(mute);
    sim.run(12_000);
    let rejected = when(&sim, "rejected Partial").expect("partial rejected");
    assert!(
        (mute + 100..=mute + 400).contains(&rejected),
        "rejected at {rejected}, RTP stopped at {mute}"
    );
    let last = sim.kinds().last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("gave up Unconfirmed") && last.contains("\"123418\""),
        "{:?}",
        sim.kinds()
    );
    assert!(when(&sim, "kissoff").is_none());
    assert!(sim.p.is_finished() && sim.p.poll_timeout().is_none());
}

/// One lost 20 ms packet inside each of several digits (at their start,
/// middle and end): one digit each, the message decodes on its first attempt.
#[test]
fn lost_packets_inside_digits_cost_no_retry() {
    // Digit k sounds from 1050 + 110 k for 55 ms; frames start every 20 ms.
    let drops = [1040, 1180, 1400, 1740, 2060, 2500, 2740];
    for via_rtp in [false, true] {
        let mut sim = Sim::new(Unit::new(&[PERIODIC]));
        sim.drop_frames = drops.to_vec();
        sim.via_rtp = via_rtp;
        sim.run(12_000);
        assert_first_attempt(&sim, "lost packets");
        assert_eq!(sim.stores()[0].2.packets_lost, drops.len() as u32);
    }
}
