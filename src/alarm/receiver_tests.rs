//! Receiver tests in simulated time: every timer and path of `receiver.rs`.
//! The sender model follows spandsp's: 55 ms digits, 55 ms gaps, 250 ms
//! after the handshake, next message 250 ms after the kissoff.

use std::time::{Duration, Instant};

use super::*;
use crate::alarm::classify::Classifier;
use crate::alarm::contact_id::check_digit;
use crate::clock::epoch;

const PERIODIC: &str = "1234181602000002"; // 602, no voice
const PENDANT: &str = "123418110101001*"; // 101
const LISTEN_IN: &str = "1234181606000000"; // 606, check digit fixed below
const BAD: &str = "1234181602000003";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn with_check(first15: &str) -> String {
    format!("{first15}{}", check_digit(first15).unwrap_or('?'))
}

struct Sim {
    rx: ContactIdReceiver,
    now: Instant,
    log: Vec<(u64, ReceiverEvent)>,
}

impl Sim {
    fn new(policy: impl VoicePolicy + 'static) -> Self {
        Self::with_config(ReceiverConfig::default(), policy)
    }

    fn with_config(config: ReceiverConfig, policy: impl VoicePolicy + 'static) -> Self {
        Self {
            rx: ContactIdReceiver::new(epoch(), config, policy),
            now: epoch(),
            log: Vec::new(),
        }
    }

    fn t(&self) -> u64 {
        (self.now - epoch()).as_millis() as u64
    }

    fn drain(&mut self) {
        while let Some(e) = self.rx.poll_event() {
            let t = self.t();
            self.log.push((t, e));
        }
    }

    /// Moves time to `t` ms, firing every timer on its own deadline.
    fn until(&mut self, t: u64) {
        let target = epoch() + ms(t);
        while let Some(d) = self.rx.poll_timeout().filter(|d| *d <= target) {
            self.now = d;
            self.rx.handle_timeout(d);
            self.drain();
        }
        self.now = self.now.max(target);
    }

    fn digit(&mut self, digit: char, source: DigitSource, duration_ms: u64) {
        let metrics = DigitMetrics {
            started_at: self.now - ms(duration_ms),
            duration: ms(duration_ms),
            level_dbm0: -8.0,
            twist_db: 1.0,
            snr_db: 30.0,
        };
        self.rx.handle_digit(self.now, digit, source, Some(metrics));
        self.drain();
    }

    /// Sends `digits` in-band from `start` ms at 55/55; returns the last report time.
    fn send(&mut self, start: u64, digits: &str) -> u64 {
        let mut t = start;
        for d in digits.chars() {
            self.until(t + 55);
            self.digit(d, DigitSource::InBand, 55);
            t += 110;
        }
        t - 55
    }

    fn confirm(&mut self, at: u64, seq: u64) {
        self.until(at);
        self.rx.confirm_stored(self.now, seq);
        self.drain();
    }

    fn take(&mut self) -> Vec<(u64, ReceiverEvent)> {
        std::mem::take(&mut self.log)
    }

    fn kinds(&mut self) -> Vec<String> {
        self.take()
            .into_iter()
            .map(|(t, e)| format!("{t} {}", name(&e)))
            .collect()
    }
}

fn name(e: &ReceiverEvent) -> String {
    match e {
        ReceiverEvent::PlayTone(ToneCommand::Handshake { .. }) => "handshake".into(),
        ReceiverEvent::PlayTone(ToneCommand::Kissoff { duration }) => {
            format!("kissoff {}", duration.as_millis())
        }
        ReceiverEvent::StopTone => "stop".into(),
        ReceiverEvent::MessageDecoded { seq, .. } => format!("decoded {seq}"),
        ReceiverEvent::ChecksumFailed { .. } => "checksum".into(),
        ReceiverEvent::Malformed { .. } => "malformed".into(),
        ReceiverEvent::PartialDiscarded { raw } => format!("partial {raw}"),
        ReceiverEvent::DuplicateAcknowledged { seq_of_original } => {
            format!("duplicate {seq_of_original}")
        }
        ReceiverEvent::KissoffStarted {
            seq,
            after_last_digit,
        } => format!("ack {seq} +{}", after_last_digit.as_millis()),
        ReceiverEvent::KissoffWithheld { seq, reason } => format!("withheld {seq} {reason:?}"),
        ReceiverEvent::SwitchToVoice { reason } => format!("voice {reason:?}"),
        ReceiverEvent::GaveUp { handshakes } => format!("gave up {handshakes}"),
        ReceiverEvent::SessionEnded { reason } => format!("ended {reason:?}"),
    }
}

fn quiet() -> Sim {
    Sim::new(no_voice)
}

/// A session whose handshake (500-800 ms) is done and logged away.
fn ready(mut sim: Sim) -> Sim {
    sim.until(1000);
    assert_eq!(sim.kinds(), ["500 handshake", "800 stop"]);
    sim
}

#[test]
fn clean_single_message() {
    let mut sim = quiet();
    sim.until(1050);
    assert_eq!(sim.kinds(), ["500 handshake", "800 stop"]);
    assert_eq!(sim.rx.state(), ReceiverState::AwaitingFirstDigit);
    let last = sim.send(1050, PERIODIC);
    assert_eq!(last, 2755);
    let log = sim.take();
    let [(
        2755,
        ReceiverEvent::MessageDecoded {
            seq: 1,
            message,
            raw,
            timings,
        },
    )] = &log[..]
    else {
        panic!("{log:?}")
    };
    assert_eq!((raw.as_str(), message.event.as_str()), (PERIODIC, "602"));
    assert_eq!(timings.handshake_to_first_digit, Some(ms(250)));
    assert_eq!(timings.digits.len(), 16);
    assert_eq!(timings.first_digit_at(), Some(epoch() + ms(1050)));
    assert_eq!(timings.digits[0].metrics.map(|m| m.level_dbm0), Some(-8.0));
    // Nothing is acknowledged before storage.
    sim.until(2754 + 100);
    assert!(sim.take().is_empty());
    assert_eq!(sim.rx.state(), ReceiverState::AwaitingStorage);
    sim.confirm(2760, 1);
    sim.until(20_000);
    assert_eq!(
        sim.kinds(),
        [
            "2855 kissoff 850",
            "2855 ack 1 +100",
            "3705 stop",
            "8705 ended QuietLine"
        ]
    );
    assert_eq!(sim.rx.state(), ReceiverState::Done);
    assert_eq!(sim.rx.poll_timeout(), None);
}

#[test]
fn two_messages_in_one_call() {
    let mut sim = ready(quiet());
    let last = sim.send(1050, PERIODIC);
    sim.confirm(last + 20, 1);
    sim.until(3705);
    sim.take();
    let second = with_check("123418160100000");
    let last2 = sim.send(3705 + 250, &second);
    sim.confirm(last2 + 150, 2);
    sim.until(last2 + 1200);
    let got = sim.kinds();
    assert_eq!(got[0], format!("{last2} decoded 2"));
    assert_eq!(
        got[1..],
        [
            format!("{} kissoff 850", last2 + 150),
            format!("{} ack 2 +150", last2 + 150),
            format!("{} stop", last2 + 1000)
        ]
    );
    assert_eq!(sim.rx.stats().handshakes, 1);
    assert_eq!(sim.rx.stats().kissoffs, 2);
}

#[test]
fn bad_checksum_then_good_repeat() {
    let mut sim = ready(quiet());
    let last = sim.send(1050, BAD);
    sim.until(last + 1500);
    assert_eq!(sim.kinds(), ["2755 checksum"]);
    assert_eq!(sim.rx.state(), ReceiverState::AwaitingNextMessage);
    let last = sim.send(last + 3000, PERIODIC);
    sim.confirm(last + 10, 1);
    let got = sim.kinds();
    assert_eq!(got[0], format!("{last} decoded 1"));
    assert_eq!(sim.rx.stats().checksum_failures, 1);
    assert_eq!(
        sim.rx.stats().handshakes,
        1,
        "no new handshake after digits came"
    );
}

#[test]
fn duplicate_after_lost_kissoff_is_acknowledged_not_stored() {
    let mut sim = ready(Sim::new(Classifier::default()));
    let last = sim.send(1050, PENDANT);
    sim.confirm(last + 30, 1);
    sim.until(last + 1000);
    assert!(sim
        .kinds()
        .last()
        .is_some_and(|e| e.contains("voice Classified")));
    // The unit missed the kissoff and repeats the same 16 digits.
    let again = sim.send(last + 3000, PENDANT);
    sim.until(again + 1000);
    assert_eq!(
        sim.kinds(),
        [
            format!("{again} duplicate 1"),
            format!("{} kissoff 850", again + 100),
            format!("{} ack 1 +100", again + 100),
            format!("{} stop", again + 950),
        ],
        "voice was already switched after the first kissoff"
    );
    assert_eq!((sim.rx.stats().messages, sim.rx.stats().duplicates), (1, 1));
}

#[test]
fn slow_storage_sends_no_kissoff_and_the_repeat_is_not_stored_twice() {
    let mut sim = ready(quiet());
    let last = sim.send(1050, PERIODIC);
    sim.until(last + 2000);
    assert_eq!(
        sim.kinds(),
        [
            format!("{last} decoded 1"),
            format!("{} withheld 1 StorageSlow", last + 900)
        ]
    );
    sim.confirm(last + 2100, 1); // late: stored, but no kissoff
    assert!(sim.take().is_empty());
    assert_eq!(sim.rx.stats().late_confirmations, 1);
    let again = sim.send(last + 3000, PERIODIC);
    sim.until(again + 200);
    assert_eq!(
        sim.kinds(),
        [
            format!("{again} duplicate 1"),
            format!("{} kissoff 850", again + 100),
            format!("{} ack 1 +100", again + 100)
        ]
    );
}

#[test]
fn confirmation_past_budget_without_timer_is_still_refused() {
    let mut sim = ready(quiet());
    let last = sim.send(1050, PERIODIC);
    sim.now = epoch() + ms(last + 950); // driver never ran the timer
    sim.rx.confirm_stored(sim.now, 1);
    sim.drain();
    assert_eq!(
        sim.kinds(),
        [
            format!("{last} decoded 1"),
            format!("{} withheld 1 StorageSlow", last + 950)
        ]
    );
}

#[test]
fn storage_failure_withholds_and_the_repeat_is_stored_anew() {
    let mut sim = ready(quiet());
    let last = sim.send(1050, PERIODIC);
    sim.until(last + 40);
    sim.rx.storage_failed(sim.now, 1);
    sim.drain();
    sim.until(last + 2000);
    assert_eq!(
        sim.kinds(),
        [
            format!("{last} decoded 1"),
            format!("{} withheld 1 StorageFailed", last + 40)
        ]
    );
    let again = sim.send(last + 3000, PERIODIC);
    sim.confirm(again + 5, 2);
    assert_eq!(sim.kinds()[0], format!("{again} decoded 2"));
}

#[test]
fn first_digit_timeout_resends_handshake_then_gives_up() {
    let mut sim = quiet();
    sim.until(3100);
    assert_eq!(
        sim.kinds(),
        ["500 handshake", "800 stop", "2800 handshake", "3100 stop"]
    );
    let last = sim.send(3350, PERIODIC);
    let log = sim.take();
    let [(t, ReceiverEvent::MessageDecoded { timings, .. })] = &log[..] else {
        panic!("{log:?}")
    };
    assert_eq!(
        (*t, timings.handshake_to_first_digit),
        (last, Some(ms(250)))
    );

    let mut silent = quiet();
    silent.until(60_000);
    let got = silent.kinds();
    assert_eq!(got.len(), 7, "{got:?}");
    assert_eq!(got[6], "7400 gave up 3");
    assert_eq!(silent.rx.state(), ReceiverState::Done);
}

#[test]
fn inter_digit_timeout_discards_the_partial() {
    let mut sim = ready(quiet());
    let last = sim.send(1050, &PERIODIC[..10]);
    sim.until(last + 1000);
    assert_eq!(
        sim.kinds(),
        [format!("{} partial {}", last + 200, &PERIODIC[..10])]
    );
    let full = sim.send(last + 2000, PERIODIC);
    sim.confirm(full + 1, 1);
    assert_eq!(sim.kinds()[0], format!("{full} decoded 1"));
    assert_eq!((sim.rx.stats().partials, sim.rx.stats().handshakes), (1, 1));
}

/// The inter-digit timeout is configurable: 120 ms still takes a 50/50 cadence.
#[test]
fn inter_digit_timeout_is_configurable() {
    let config = ReceiverConfig {
        inter_digit_timeout: ms(120),
        ..ReceiverConfig::default()
    };
    let mut sim = ready(Sim::with_config(config, no_voice));
    let mut t = 1050;
    for d in PERIODIC.chars() {
        sim.until(t + 50);
        sim.digit(d, DigitSource::InBand, 50);
        t += 100; // 50/50 cadence: 100 ms between reports, inside 120 ms
    }
    assert!(sim.kinds()[0].ends_with("decoded 1"));
}

/// Both paths carry every digit, RFC 4733 first, in-band 25 ms later with a
/// slightly different measured duration: each digit counts once, and the
/// genuine repeats in `…602000000…` survive. A digit only one path saw counts.
#[test]
fn rfc4733_and_in_band_copies_count_once() {
    let mut sim = ready(quiet());
    let mut t = 1050;
    for (i, d) in PERIODIC.chars().enumerate() {
        sim.until(t + 55);
        sim.digit(d, DigitSource::Rfc4733, 55);
        if i != 3 {
            sim.until(t + 80);
            sim.digit(d, DigitSource::InBand, 70); // starts 10 ms later
        }
        t += 110;
    }
    sim.until(t + 100);
    let log = sim.kinds();
    assert_eq!(log[0], format!("{} decoded 1", t - 55), "{log:?}");
    // 14 copies deduplicated; the copy of the 16th arrives while awaiting
    // storage, where digits are ignored.
    let stats = sim.rx.stats();
    assert_eq!((stats.digits_deduplicated, stats.digits_ignored), (14, 1));
}

#[test]
fn in_band_first_then_rfc4733_for_the_last_digit() {
    let mut sim = ready(quiet());
    let last = sim.send(1050, PERIODIC);
    // The RFC 4733 copy of the 16th digit arrives after the message completed.
    sim.until(last + 5);
    sim.digit('2', DigitSource::Rfc4733, 58);
    sim.confirm(last + 10, 1);
    sim.until(last + 200);
    let got = sim.kinds();
    assert_eq!(
        got[1..3],
        [
            format!("{} kissoff 850", last + 100),
            format!("{} ack 1 +100", last + 100)
        ]
    );
    assert_eq!(
        sim.rx.stats().digits_ignored + sim.rx.stats().digits_deduplicated,
        1
    );
}

/// 606: kissoff first, `SwitchToVoice` when it ends; digits are still
/// decoded during the listen window, then the session hands over.
#[test]
fn listen_in_switches_to_voice_after_the_kissoff() {
    let listen_in = with_check(&LISTEN_IN[..15]);
    let mut sim = ready(quiet());
    let last = sim.send(1050, &listen_in);
    sim.confirm(last + 200, 1);
    sim.until(last + 1300);
    let got = sim.kinds();
    assert_eq!(
        got[1..],
        [
            format!("{} kissoff 850", last + 200),
            format!("{} ack 1 +200", last + 200),
            format!("{} stop", last + 1050),
            format!("{} voice ListenIn", last + 1050),
        ]
    );
    let next = sim.send(last + 1300, PERIODIC);
    sim.confirm(next + 5, 2);
    sim.until(next + 7000);
    let got = sim.kinds();
    assert_eq!(
        got.last().map(String::as_str),
        Some(format!("{} ended VoiceHandedOver", next + 950 + 5000).as_str())
    );
    assert!(
        !got.iter().any(|e| e.contains("voice")),
        "switch only once: {got:?}"
    );
}

#[test]
fn wrong_format_and_stray_digits() {
    let mut sim = quiet();
    sim.until(100);
    sim.digit('5', DigitSource::InBand, 50); // before the handshake: ignored
    sim.digit('x', DigitSource::Rfc4733, 50); // not DTMF: ignored
    let last = sim.send(1050, "1234567890*#ABCC"); // MT 56, good checksum
    sim.until(last + 300);
    assert_eq!(
        sim.kinds(),
        ["500 handshake", "800 stop", &format!("{last} malformed")]
    );
    assert_eq!(
        (sim.rx.stats().digits_ignored, sim.rx.stats().malformed),
        (2, 1)
    );
}

/// A digit during the handshake stops the tone and starts the message.
#[test]
fn digit_during_handshake_interrupts_it() {
    let mut sim = quiet();
    sim.until(600);
    sim.digit('1', DigitSource::InBand, 50);
    assert_eq!(sim.kinds(), ["500 handshake", "600 stop"]);
    assert_eq!(sim.rx.state(), ReceiverState::CollectingDigits);
}

/// Synthesised audio through the DTMF detector into the receiver: the
/// message decodes, the detector's metrics arrive in the timings, and the
/// kissoff starts inside the unit's 1.25 s window.
#[test]
fn detector_audio_end_to_end() {
    use crate::dsp::test_signals::Signal;
    use crate::dsp::{DtmfDetector, DtmfEvent};
    let mut sim = ready(quiet());
    let mut audio = Signal::default();
    audio.silence(50.0); // audio starts at 1000 ms; first digit at 1050 ms
    for d in PENDANT.chars() {
        audio.dtmf(d, 55.0, -12.0, -14.0, 0.01).silence(55.0);
    }
    audio.silence(300.0).add_noise(-50.0, 21);
    let mut det = DtmfDetector::default();
    for (k, frame) in audio.pcm().chunks(160).enumerate() {
        let frame_start = 1000 + 20 * k as u64;
        sim.until(frame_start + 20);
        det.process(epoch() + ms(frame_start), frame);
        while let Some(event) = det.poll_event() {
            if let DtmfEvent::DigitEnded { digit, .. } = event {
                sim.rx
                    .handle_digit(sim.now, digit, DigitSource::InBand, event.metrics());
                sim.drain();
                if sim.rx.state() == ReceiverState::AwaitingStorage {
                    sim.rx.confirm_stored(sim.now, 1); // an instant journal
                    sim.drain();
                }
            }
        }
    }
    let log = sim.take();
    let Some((
        t,
        ReceiverEvent::MessageDecoded {
            seq: 1,
            raw,
            timings,
            ..
        },
    )) = log.first()
    else {
        panic!("{log:?}")
    };
    assert_eq!(raw, PENDANT);
    let first = timings
        .first_digit_at()
        .map(|a| (a - epoch()).as_millis() as i64);
    assert!(first.is_some_and(|f| (f - 1050).abs() <= 13), "{first:?}");
    assert!(timings.handshake_to_first_digit.is_some());
    for d in &timings.digits {
        let m = d.metrics.unwrap_or_else(|| panic!("no metrics"));
        assert!((m.twist_db - 2.0).abs() < 1.5 && m.snr_db > 8.0, "{m:?}");
    }
    let tone_end_ms = 1050 + 15 * 110 + 55;
    assert!(
        *t >= tone_end_ms && *t <= tone_end_ms + 60,
        "reported at {t}"
    );
    let start = t + 100;
    let names: Vec<String> = log
        .iter()
        .map(|(t, e)| format!("{t} {}", name(e)))
        .collect();
    assert_eq!(
        names.get(1),
        Some(&format!("{start} kissoff 850")),
        "{names:?}"
    );
    assert!(start - tone_end_ms < 1250);
}

#[test]
fn config_validation() {
    assert_eq!(ReceiverConfig::default().validate(), Ok(()));
    let late = ReceiverConfig {
        storage_budget: ms(1300),
        ..ReceiverConfig::default()
    };
    assert!(matches!(
        late.validate(),
        Err(ReceiverConfigError::StorageBudget { .. })
    ));
    let short = ReceiverConfig {
        kissoff_duration: ms(300),
        ..ReceiverConfig::default()
    };
    let err = short.validate().err();
    assert!(matches!(
        err,
        Some(ReceiverConfigError::OutOfRange {
            name: "kissoff_duration",
            ..
        })
    ));
    let delay = ReceiverConfig {
        kissoff_delay: ms(950),
        ..ReceiverConfig::default()
    };
    assert!(matches!(
        delay.validate(),
        Err(ReceiverConfigError::KissoffDelay { .. })
    ));
    let none = ReceiverConfig {
        max_handshakes: 0,
        ..ReceiverConfig::default()
    };
    assert_eq!(none.validate(), Err(ReceiverConfigError::NoHandshake));
}
