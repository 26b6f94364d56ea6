//! Configuration, inputs and outputs of the Contact ID receiver
//! ([`super::receiver`]); timings after SIA DC-05 and alarm-protocols.md §1.4.

use std::time::{Duration, Instant};

use super::classify::{AlarmClass, Classifier};
use super::contact_id::{ContactIdError, ContactIdMessage};
use super::types::EventCode;
use crate::dsp::DigitMetrics;

/// Receiver timers. `Default` gives the §1.4 values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Wait after answer before the first handshake (500 ms).
    pub settle: Duration,
    /// Length of each handshake burst, 1400 Hz then 2300 Hz (100 ms).
    pub handshake_tone: Duration,
    /// Silence between the two bursts (100 ms).
    pub handshake_gap: Duration,
    /// Handshakes sent before giving up when no digit comes (3).
    pub max_handshakes: u32,
    /// From the end of a handshake to the first digit (2000 ms).
    pub first_digit_timeout: Duration,
    /// Between digits of one message; beyond it the partial is dropped (200 ms).
    pub inter_digit_timeout: Duration,
    /// From the last digit report to the earliest kissoff start (100 ms).
    pub kissoff_delay: Duration,
    /// Kissoff length, 1400 Hz (850 ms).
    pub kissoff_duration: Duration,
    /// From the last digit, the latest storage confirmation that still earns
    /// a kissoff (900 ms): the unit only accepts a kissoff starting within
    /// 1.25 s of its last digit, and detection and media need the rest.
    pub storage_budget: Duration,
    /// Silence after which a tone-mode session ends (5000 ms; units repeat
    /// an unacknowledged message after about 3 s).
    pub quiet_line_timeout: Duration,
    /// After `SwitchToVoice`, how long digits are still decoded (5000 ms, P7).
    pub listen_after_voice: Duration,
    /// Same digit from the other source starting this close is one digit (30 ms).
    pub dedupe_window: Duration,
    /// After an RFC 4733 digit, how long the clock waits for the next one
    /// before dropping the partial (1000 ms). The gap itself is judged on
    /// the RTP timestamps when the next digit comes (`inter_digit_timeout`
    /// on the sender's clock), so a sender or network that stalls and then
    /// delivers the rest at once does not split a message; this only ends
    /// a message whose sender really went quiet. Below the unit's repeat
    /// interval (≥ 1.25 s), so a repeat after a real silence never joins a
    /// partial on arrival alone.
    pub rtp_stall_limit: Duration,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        let ms = Duration::from_millis;
        Self {
            settle: ms(500),
            handshake_tone: ms(100),
            handshake_gap: ms(100),
            max_handshakes: 3,
            first_digit_timeout: ms(2000),
            inter_digit_timeout: ms(200),
            kissoff_delay: ms(100),
            kissoff_duration: ms(850),
            storage_budget: ms(900),
            quiet_line_timeout: ms(5000),
            listen_after_voice: ms(5000),
            dedupe_window: ms(45),
            rtp_stall_limit: ms(1000),
        }
    }
}

/// A [`ReceiverConfig`] value that would break the Contact ID exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiverConfigError {
    /// The unit accepts a kissoff only if it starts within 1.25 s of its last digit.
    #[error("storage_budget {budget:?} leaves no room in the unit's 1.25 s kissoff window")]
    StorageBudget {
        /// The configured budget.
        budget: Duration,
    },
    /// The kissoff could never start inside the storage budget.
    #[error("kissoff_delay {delay:?} exceeds storage_budget {budget:?}")]
    KissoffDelay {
        /// The configured delay.
        delay: Duration,
        /// The configured budget.
        budget: Duration,
    },
    /// A timer outside the range senders accept.
    #[error("{name} is {value:?}; senders need {min:?}..={max:?}")]
    OutOfRange {
        /// The config key.
        name: &'static str,
        /// The configured value.
        value: Duration,
        /// Lowest workable value.
        min: Duration,
        /// Highest workable value.
        max: Duration,
    },
    /// At least one handshake is needed.
    #[error("max_handshakes must be at least 1")]
    NoHandshake,
}

impl ReceiverConfig {
    /// Checks the values against what senders accept (alarm-protocols.md §1.4):
    /// handshake bursts 70-130 ms, kissoff 400-1500 ms, inter-digit timeout
    /// 110-4000 ms (Asterisk's range), storage budget under 1.25 s.
    pub fn validate(&self) -> Result<(), ReceiverConfigError> {
        let ms = Duration::from_millis;
        if self.storage_budget >= ms(1250) {
            return Err(ReceiverConfigError::StorageBudget {
                budget: self.storage_budget,
            });
        }
        if self.kissoff_delay > self.storage_budget {
            let (delay, budget) = (self.kissoff_delay, self.storage_budget);
            return Err(ReceiverConfigError::KissoffDelay { delay, budget });
        }
        if self.max_handshakes == 0 {
            return Err(ReceiverConfigError::NoHandshake);
        }
        let ranges = [
            ("handshake_tone", self.handshake_tone, ms(70), ms(130)),
            ("handshake_gap", self.handshake_gap, ms(70), ms(130)),
            ("kissoff_duration", self.kissoff_duration, ms(400), ms(1500)),
            (
                "inter_digit_timeout",
                self.inter_digit_timeout,
                ms(110),
                ms(4000),
            ),
        ];
        let stall = (
            "rtp_stall_limit",
            self.rtp_stall_limit,
            self.inter_digit_timeout,
            ms(1200),
        );
        let mut ranges = ranges.into_iter().chain([stall]);
        match ranges.find(|(_, v, lo, hi)| v < lo || v > hi) {
            Some((name, value, min, max)) => Err(ReceiverConfigError::OutOfRange {
                name,
                value,
                min,
                max,
            }),
            None => Ok(()),
        }
    }
}

/// Where a digit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigitSource {
    /// Our Goertzel detector on the decoded audio.
    InBand,
    /// An RFC 4733 telephone-event.
    Rfc4733,
}

/// Tones the media layer plays towards the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToneCommand {
    /// 1400 Hz for `tone`, silence for `gap`, 2300 Hz for `tone`.
    Handshake {
        /// Each burst.
        tone: Duration,
        /// The silence between.
        gap: Duration,
    },
    /// 1400 Hz for `duration`.
    Kissoff {
        /// Tone length.
        duration: Duration,
    },
}

/// Where an RFC 4733 digit sits on its stream's RTP clock (8 kHz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpStamp {
    /// The stream: timestamps of different SSRCs are not comparable.
    pub ssrc: u32,
    /// The event's start (its RTP timestamp).
    pub timestamp: u32,
    /// Its duration in timestamp units.
    pub duration: u32,
}

impl RtpStamp {
    /// RTP timestamp units per millisecond (8 kHz).
    const PER_MS: u64 = 8;

    /// On the sender's clock, from the end of `earlier` to the end of this
    /// digit (the span the arrival clock measures between two reports);
    /// `None` for another stream or an end not after `earlier`'s (serial
    /// arithmetic, so the 32-bit wrap is no gap).
    pub fn since(&self, earlier: &RtpStamp) -> Option<Duration> {
        if self.ssrc != earlier.ssrc {
            return None;
        }
        let end = self.timestamp.wrapping_add(self.duration);
        let before = earlier.timestamp.wrapping_add(earlier.duration);
        let units = end.wrapping_sub(before);
        (units != 0 && units < 1 << 31)
            .then(|| Duration::from_micros(u64::from(units) * 1000 / Self::PER_MS))
    }
}

/// One accepted digit, for forensics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DigitRecord {
    /// `0-9 * # A-D`.
    pub digit: char,
    /// Which path delivered it.
    pub source: DigitSource,
    /// Tone start (`metrics.started_at`, else the report time).
    pub started_at: Instant,
    /// When the driver reported it (tone end).
    pub reported_at: Instant,
    /// Detector measurements, when available.
    pub metrics: Option<DigitMetrics>,
    /// Its place on the RTP clock (RFC 4733 digits from an RTP stream).
    pub rtp: Option<RtpStamp>,
}

/// How one message arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageTimings {
    /// End of our last handshake to the first digit's start (first message only).
    pub handshake_to_first_digit: Option<Duration>,
    /// The 16 digits in order.
    pub digits: Vec<DigitRecord>,
}

impl MessageTimings {
    /// Start of the first digit.
    pub fn first_digit_at(&self) -> Option<Instant> {
        self.digits.first().map(|d| d.started_at)
    }
    /// Report time of the last digit.
    pub fn last_digit_at(&self) -> Option<Instant> {
        self.digits.last().map(|d| d.reported_at)
    }
}

/// Why no kissoff was sent for a decoded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithheldReason {
    /// Storage was not confirmed within `storage_budget`.
    StorageSlow,
    /// The driver reported a storage failure.
    StorageFailed,
}

/// Why the receiver hands the call to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceReason {
    /// Event 606, listen-in to follow.
    ListenIn,
    /// The voice policy classified this event as needing a person.
    Classified {
        /// The event code.
        event: EventCode,
    },
}

/// Why a session ended without giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Nothing came for `quiet_line_timeout` in tone mode: the driver may hang up.
    QuietLine,
    /// The `listen_after_voice` window closed; the call belongs to the operator.
    VoiceHandedOver,
}

/// Outputs, in order, from [`super::receiver::ContactIdReceiver::poll_event`].
#[derive(Debug, Clone, PartialEq)]
pub enum ReceiverEvent {
    /// Start playing a tone.
    PlayTone(ToneCommand),
    /// Stop the tone now.
    StopTone,
    /// A valid new message: append it to the journal, fsync, then call
    /// `confirm_stored(seq)` (or `storage_failed`). Kissoff waits for that.
    MessageDecoded {
        /// Per-call sequence number, from 1.
        seq: u64,
        /// The decoded message.
        message: ContactIdMessage,
        /// The 16 DTMF digits as received.
        raw: String,
        /// Digit timings and metrics.
        timings: MessageTimings,
    },
    /// 16 digits with a bad checksum: no kissoff, the unit repeats.
    ChecksumFailed {
        /// The digits.
        raw: String,
    },
    /// 16 digits with a good checksum that are not a Contact ID message.
    Malformed {
        /// The digits.
        raw: String,
        /// What is wrong.
        error: ContactIdError,
    },
    /// Digits stopped before 16 came; they were dropped.
    PartialDiscarded {
        /// The digits.
        raw: String,
    },
    /// A repeat of a message already stored in this call (P5): kissoff again,
    /// nothing to store.
    DuplicateAcknowledged {
        /// The sequence number of the stored original.
        seq_of_original: u64,
    },
    /// The kissoff tone started.
    KissoffStarted {
        /// The message acknowledged.
        seq: u64,
        /// From the last digit report to the tone start.
        after_last_digit: Duration,
    },
    /// A decoded message gets no kissoff; the unit will retry.
    KissoffWithheld {
        /// The message.
        seq: u64,
        /// Why.
        reason: WithheldReason,
    },
    /// Tone mode is over: bridge the call to a person (after our kissoff).
    SwitchToVoice {
        /// Why.
        reason: VoiceReason,
    },
    /// No digit after `max_handshakes` handshakes.
    GaveUp {
        /// Handshakes sent.
        handshakes: u32,
    },
    /// The session ended normally.
    SessionEnded {
        /// Why.
        reason: EndReason,
    },
}

/// Counters for one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Handshakes sent.
    pub handshakes: u32,
    /// New messages decoded.
    pub messages: u32,
    /// Checksum failures.
    pub checksum_failures: u32,
    /// Malformed messages.
    pub malformed: u32,
    /// Partials dropped on the inter-digit timeout.
    pub partials: u32,
    /// Repeats acknowledged without storing.
    pub duplicates: u32,
    /// Kissoffs started.
    pub kissoffs: u32,
    /// Kissoffs withheld.
    pub kissoffs_withheld: u32,
    /// Storage confirmations that came after the budget.
    pub late_confirmations: u32,
    /// Digits dropped as the other source's copy.
    pub digits_deduplicated: u32,
    /// Digits ignored (before the handshake, during storage or kissoff, not DTMF).
    pub digits_ignored: u32,
}

/// Decides whether an event needs a person after its kissoff.
pub trait VoicePolicy: Send {
    /// True when `msg` should be bridged to an operator.
    fn needs_voice(&self, msg: &ContactIdMessage) -> bool;
}

impl VoicePolicy for Classifier {
    fn needs_voice(&self, msg: &ContactIdMessage) -> bool {
        self.classify(msg) == AlarmClass::Voice
    }
}

impl<F: Fn(&ContactIdMessage) -> bool + Send> VoicePolicy for F {
    fn needs_voice(&self, msg: &ContactIdMessage) -> bool {
        self(msg)
    }
}
