//! Pipeline tests in simulated time (no sleeps): whole calls with a modelled
//! alarm unit whose DTMF goes through G.711 A-law ([`super::sim`]).

use std::time::Duration;

use super::sim::{at, ms, Sim, Unit};
use super::*;
use crate::alarm::classify::AlarmClass;
use crate::alarm::contact_id::check_digit;
use crate::alarm::receiver_types::{DigitSource, ToneCommand};
use crate::media::tone::{DtmfParams, ToneGenerator, ToneSpec};

const PENDANT: &str = "123418110101001*"; // 101, voice
const PERIODIC: &str = "1234181602000002"; // 602, test
const BAD: &str = "1234181602000003"; // checksum fails

fn with_check(first15: &str) -> String {
    format!("{first15}{}", check_digit(first15).unwrap_or('?'))
}

fn low_battery() -> String {
    with_check("123418130200000") // 302, technical
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The forensics of a clean in-band message from the modelled unit.
fn assert_clean_in_band(f: &MessageForensics) {
    assert_eq!((f.digits.len(), f.count(DigitSource::InBand)), (16, 16));
    assert!(
        f.durations_ms().iter().all(|d| (35..=70).contains(d)),
        "{f:?}"
    );
    let (lo, hi) = f.level_dbm0.unwrap_or((0.0, 0.0));
    assert!(lo > -8.5 && hi < -5.5, "two tones at -10 dBm0 each: {f:?}");
    let (tlo, thi) = f.twist_db.unwrap_or((9.0, 9.0));
    assert!(tlo > -1.5 && thi < 1.5, "{f:?}");
    assert!(f.snr_db.is_some_and(|s| s > 10.0), "{f:?}");
    assert_eq!(f.packets_lost, 0);
    let span = f.message_duration.as_millis();
    assert!((1640..=1760).contains(&span), "{span}");
}

#[test]
fn voice_alarm_is_stored_acknowledged_then_switched_to_voice() {
    let mut sim = Sim::new(Unit::new(&[PENDANT]));
    sim.run(12_000);
    assert_eq!(
        sim.kinds(),
        strs(&[
            "handshake",
            "stop",
            "store 1 101 Voice",
            "kissoff",
            "ack 1",
            "stop",
            "voice Classified { event: EventCode(\"101\") }",
            "listening ended",
        ])
    );
    let [(1, AlarmClass::Voice, f)] = &sim.stores()[..] else {
        panic!("{:?}", sim.log)
    };
    assert_clean_in_band(f);
    let h = f.handshake_to_first_digit.unwrap_or_default().as_millis();
    assert!((235..=265).contains(&h), "unit starts 250 ms after: {h}");
    assert_eq!((f.retries, f.checksum_failures), (0, 0));
    let ack = sim.log.iter().find_map(|(_, a)| match a {
        PipelineAction::Acknowledged {
            after_last_digit, ..
        } => Some(*after_last_digit),
        _ => None,
    });
    assert!(ack.is_some_and(|d| d >= ms(100) && d < ms(1250)), "{ack:?}");
    assert!(sim.p.is_finished() && sim.p.poll_timeout().is_none());
}

#[test]
fn periodic_test_is_settled_after_the_quiet_period() {
    let mut sim = Sim::new(Unit::new(&[PERIODIC]));
    sim.run(12_000);
    let expected = [
        "handshake",
        "stop",
        "store 1 602 Test",
        "kissoff",
        "ack 1",
        "stop",
        "settle QuietLine",
    ];
    assert_eq!(sim.kinds(), strs(&expected));
    let stop = sim.log[5].0;
    assert_eq!(
        sim.log[6].0,
        stop + 5000,
        "quiet_line_timeout after the kissoff"
    );
    assert_clean_in_band(&sim.stores()[0].2);
}

#[test]
fn storage_failure_is_never_acknowledged() {
    let mut sim = Sim::new(Unit::new(&[PERIODIC]));
    sim.fail_seqs = vec![1];
    sim.run(15_000);
    let kinds = sim.kinds();
    assert!(!kinds.iter().any(|k| k.starts_with("ack")), "{kinds:?}");
    assert!(kinds.contains(&"withheld 1 StorageFailed".to_owned()));
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("gave up Unacknowledged { seqs: [1] }")
    );
}

#[test]
fn repeat_after_storage_failure_is_stored_again_and_settled() {
    let mut sim = Sim::new(Unit::new(&[PERIODIC, PERIODIC]));
    sim.fail_seqs = vec![1];
    sim.run(16_000);
    let kinds = sim.kinds();
    let expected = [
        "handshake",
        "stop",
        "store 1 602 Test",
        "withheld 1 StorageFailed",
        "store 2 602 Test",
        "kissoff",
        "ack 2",
        "stop",
        "settle QuietLine",
    ];
    assert_eq!(kinds, strs(&expected));
}

/// A journal slower than the 900 ms budget: no kissoff (the unit would not
/// take it); the late confirmation still counts, so the repeat is only
/// acknowledged, not stored again.
#[test]
fn slow_storage_withholds_and_the_repeat_is_acknowledged_once_stored() {
    let mut sim = Sim::new(Unit::new(&[PERIODIC, PERIODIC]));
    sim.store_delay = 1000;
    sim.run(16_000);
    let expected = [
        "handshake",
        "stop",
        "store 1 602 Test",
        "withheld 1 StorageSlow",
        "kissoff",
        "ack 1 dup",
        "stop",
        "settle QuietLine",
    ];
    assert_eq!(sim.kinds(), strs(&expected));
    assert_eq!(sim.p.stats().receiver.late_confirmations, 1);
}

#[test]
fn low_battery_then_periodic_test_two_stores_one_settle() {
    let lb = low_battery();
    let mut sim = Sim::new(Unit::new(&[&lb, PERIODIC]));
    sim.run(16_000);
    let expected = [
        "handshake",
        "stop",
        "store 1 302 Technical",
        "kissoff",
        "ack 1",
        "stop",
        "store 2 602 Test",
        "kissoff",
        "ack 2",
        "stop",
        "settle QuietLine",
    ];
    assert_eq!(sim.kinds(), strs(&expected));
    let stores = sim.stores();
    assert_eq!(
        stores[1].2.handshake_to_first_digit, None,
        "no new handshake"
    );
    assert_clean_in_band(&stores[1].2);
}

#[test]
fn repeat_after_a_missed_kissoff_is_acknowledged_but_stored_once() {
    let mut unit = Unit::new(&[PERIODIC, PERIODIC]);
    unit.deaf_kissoffs = 1;
    let mut sim = Sim::new(unit);
    sim.run(16_000);
    let expected = [
        "handshake",
        "stop",
        "store 1 602 Test",
        "kissoff",
        "ack 1",
        "stop",
        "kissoff",
        "ack 1 dup",
        "stop",
        "settle QuietLine",
    ];
    assert_eq!(sim.kinds(), strs(&expected));
    assert_eq!(sim.p.stats().receiver.duplicates, 1);
}

#[test]
fn bad_checksum_then_good_repeat() {
    let mut sim = Sim::new(Unit::new(&[BAD, PERIODIC]));
    sim.run(16_000);
    let expected = [
        "handshake",
        "stop",
        "rejected Checksum",
        "store 1 602 Test",
        "kissoff",
        "ack 1",
        "stop",
        "settle QuietLine",
    ];
    assert_eq!(sim.kinds(), strs(&expected));
    let f = &sim.stores()[0].2;
    assert_eq!((f.retries, f.checksum_failures), (1, 1));
    // The receiver dates it from the handshake to the first *good* message.
    assert!(f.handshake_to_first_digit.is_some_and(|d| d > ms(3000)));
}

#[test]
fn rfc4733_only_digits() {
    let mut unit = Unit::new(&[PERIODIC]);
    (unit.in_band, unit.rfc4733_latency) = (false, Some(10));
    let mut sim = Sim::new(unit);
    sim.run(12_000);
    let kinds = sim.kinds();
    assert_eq!(
        kinds[2..],
        strs(&[
            "store 1 602 Test",
            "kissoff",
            "ack 1",
            "stop",
            "settle QuietLine"
        ])
    );
    let f = &sim.stores()[0].2;
    assert_eq!(f.count(DigitSource::Rfc4733), 16);
    assert!(f.durations_ms().iter().all(|d| *d == 55));
    assert_eq!((f.twist_db, f.snr_db, f.level_dbm0), (None, None, None));
    let stats = sim.p.stats();
    assert_eq!((stats.in_band_digits, stats.rfc4733_digits), (0, 16));
}

#[test]
fn both_paths_at_once_count_each_digit_once() {
    let mut unit = Unit::new(&[PERIODIC]);
    unit.rfc4733_latency = Some(15);
    let mut sim = Sim::new(unit);
    sim.run(12_000);
    assert_eq!(sim.stores().len(), 1);
    assert_eq!(sim.stores()[0].2.digits.len(), 16);
    assert_eq!(
        sim.kinds().last().map(String::as_str),
        Some("settle QuietLine")
    );
    let stats = sim.p.stats();
    assert_eq!(stats.in_band_digits + stats.rfc4733_digits, 32);
    // The other copy of the last digit comes while the message is stored.
    let r = stats.receiver;
    assert_eq!(
        (r.digits_deduplicated, r.digits_ignored),
        (15, 1),
        "{stats:?}"
    );
}

/// End-bit packets reported 150 ms late (a jitter buffer, a slow gateway)
/// still match their in-band copy: the event is dated by its RTP timestamp
/// (which wraps through zero mid-message here).
#[test]
fn late_telephone_events_dated_by_rtp_timestamp() {
    let mut unit = Unit::new(&[PERIODIC]);
    unit.rfc4733_latency = Some(150);
    let mut sim = Sim::new(unit);
    sim.via_rtp = true;
    sim.run(12_000);
    assert_eq!(sim.stores().len(), 1, "{:?}", sim.kinds());
    let r = sim.p.stats().receiver;
    assert_eq!((r.digits_deduplicated, r.digits_ignored), (14, 2), "{r:?}");
    assert_eq!(
        sim.stores()[0].2.count(DigitSource::InBand),
        16,
        "heard first"
    );
}

#[test]
fn lost_packets_are_counted_in_the_message() {
    let mut sim = Sim::new(Unit::new(&[PERIODIC]));
    // One frame before the handshake, one in the silence after digit 6
    // (tone 1600-1655 ms): digits still decode.
    sim.drop_frames = vec![200, 1660];
    sim.run(12_000);
    let f = &sim.stores()[0].2;
    assert_eq!(f.packets_lost, 1);
    assert_eq!(f.digits.len(), 16);
    assert_eq!(sim.p.stats().packets_lost, 2);
    assert_eq!(
        sim.kinds().last().map(String::as_str),
        Some("settle QuietLine")
    );
}

/// Our handshake and kissoffs come back at -20 dB, 40 ms late, through
/// G.711: no digit is made of them and both messages go through.
#[test]
fn echo_of_our_own_tones_makes_no_digits() {
    let lb = low_battery();
    let mut sim = Sim::new(Unit::new(&[&lb, PERIODIC]));
    sim.echo = Some((-20.0, 2));
    sim.run(16_000);
    assert_eq!(sim.stores().len(), 2, "{:?}", sim.kinds());
    assert_eq!(
        sim.kinds().last().map(String::as_str),
        Some("settle QuietLine")
    );
    let stats = sim.p.stats();
    assert_eq!(stats.in_band_digits, 32, "exactly the unit's digits");
    assert_eq!(stats.echo_suppressed, 0);
    assert_eq!(stats.receiver.digits_ignored, 0);
}

/// A digit heard while our handshake plays is taken for echo: it neither
/// cuts the handshake short nor starts a message.
#[test]
fn digit_during_our_handshake_is_ignored() {
    let mut unit = Unit::new(&[PERIODIC]);
    let spec = ToneSpec::dtmf("5", DtmfParams::default()).unwrap_or(ToneSpec::once(vec![]));
    let mut stray = vec![0i16; 880];
    ToneGenerator::new(spec).fill(&mut stray);
    unit.extra = Some((600, stray));
    let mut sim = Sim::new(unit);
    sim.run(12_000);
    assert_eq!(sim.log[1], (800, PipelineAction::StopTone), "{:?}", sim.log);
    assert_eq!(sim.p.stats().echo_suppressed, 1);
    assert_eq!(sim.kinds()[2], "store 1 602 Test");
}

#[test]
fn listen_in_then_further_message_during_voice() {
    let listen_in = with_check("123418160600000");
    let mut sim = Sim::new(Unit::new(&[&listen_in, PERIODIC]));
    sim.run(16_000);
    let expected = [
        "handshake",
        "stop",
        "store 1 606 Voice",
        "kissoff",
        "ack 1",
        "stop",
        "voice ListenIn",
        "store 2 602 Test",
        "kissoff",
        "ack 2",
        "stop",
        "listening ended",
    ];
    assert_eq!(sim.kinds(), strs(&expected));
}

#[test]
fn silent_line_gives_up_after_three_handshakes() {
    let mut sim = Sim::new(Unit::new(&[]));
    sim.run(10_000);
    let kinds = sim.kinds();
    assert_eq!(kinds.iter().filter(|k| *k == "handshake").count(), 3);
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("gave up NoDigits { handshakes: 3 }")
    );
}

#[test]
fn hangup_gives_the_outcome() {
    let mut sim = Sim::new(Unit::new(&[PERIODIC]));
    sim.run(4_000); // acknowledged, kissoff playing
    sim.p.handle_hangup(at(4_000));
    let last = sim.p.poll_action();
    assert_eq!(
        last,
        Some(PipelineAction::Settle {
            reason: SettleReason::RemoteHangup
        })
    );
    assert!(sim.p.is_finished() && sim.p.poll_timeout().is_none());
    let mut early = Sim::new(Unit::new(&[PERIODIC]));
    early.run(2_000);
    early.p.handle_hangup(at(2_000));
    assert!(matches!(
        early.p.poll_action(),
        Some(PipelineAction::GaveUp {
            reason: GiveUpReason::NoValidMessage
        })
    ));
}

#[test]
fn default_tones_are_the_contact_id_tones_and_config_validates() {
    let c = PipelineConfig::default();
    let hs = ToneCommand::Handshake {
        tone: ms(100),
        gap: ms(100),
    };
    assert_eq!(
        tone_spec(hs, c.tone_level_dbm0),
        ToneSpec::contact_id_handshake()
    );
    let ko = ToneCommand::Kissoff { duration: ms(850) };
    assert_eq!(
        tone_spec(ko, c.tone_level_dbm0),
        ToneSpec::contact_id_kissoff()
    );
    assert_eq!(c.validate(), Ok(()));
    let loud = PipelineConfig {
        tone_level_dbm0: 3.0,
        ..c
    };
    assert_eq!(loud.validate(), Err(PipelineConfigError::ToneLevel(3.0)));
    let guard = PipelineConfig {
        echo_guard: Duration::from_millis(300),
        ..c
    };
    assert!(guard.validate().is_err());
}
