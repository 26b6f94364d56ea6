//! Configuration, outputs and per-message forensics of the alarm pipeline
//! ([`super::pipeline`]).

use std::time::Duration;

use super::classify::AlarmClass;
use super::contact_id::{ContactIdError, ContactIdMessage};
use super::heard::Heard;
use super::receiver_types::{
    DigitRecord, DigitSource, MessageTimings, ReceiverConfig, ReceiverConfigError, ReceiverStats,
    ToneCommand, VoiceReason, WithheldReason,
};
use crate::dsp::DtmfConfig;
use crate::media::tone::{Segment, ToneSpec, CONTACT_ID_LEVEL_DBM0};

/// Everything one call's alarm decoding needs. `Default` gives the
/// alarm-protocols.md §1.4 timings and Q.24 detector thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineConfig {
    /// Contact ID timers.
    pub receiver: ReceiverConfig,
    /// In-band DTMF detector thresholds.
    pub dtmf: DtmfConfig,
    /// Level of our handshake and kissoff tones, dBm0 (default -11, as spandsp).
    pub tone_level_dbm0: f32,
    /// In-band digits that *start* while we play a tone, or within this long
    /// after it stopped, are taken for an echo of our own tone and ignored
    /// (default 200 ms; a unit starts its digits 250 ms after our tone
    /// plus the round trip).
    pub echo_guard: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            receiver: ReceiverConfig::default(),
            dtmf: DtmfConfig::default(),
            tone_level_dbm0: CONTACT_ID_LEVEL_DBM0,
            echo_guard: Duration::from_millis(200),
        }
    }
}

/// A [`PipelineConfig`] that would break the exchange.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineConfigError {
    /// A receiver timer is out of range.
    #[error(transparent)]
    Receiver(#[from] ReceiverConfigError),
    /// Units detect the handshake from -42 dBm0 and G.711 clips above +3 dBm0.
    #[error("tone_level_dbm0 {0} outside -30..=-3")]
    ToneLevel(f32),
    /// The guard would swallow the unit's first digit (it starts ≥ 250 ms after our tone).
    #[error("echo_guard {0:?} exceeds 240 ms")]
    EchoGuard(Duration),
}

impl PipelineConfig {
    /// Checks the receiver timers, the tone level and the echo guard.
    pub fn validate(&self) -> Result<(), PipelineConfigError> {
        self.receiver.validate()?;
        if !(-30.0..=-3.0).contains(&self.tone_level_dbm0) {
            return Err(PipelineConfigError::ToneLevel(self.tone_level_dbm0));
        }
        if self.echo_guard > Duration::from_millis(240) {
            return Err(PipelineConfigError::EchoGuard(self.echo_guard));
        }
        Ok(())
    }
}

/// The tone to play for a receiver command: handshake 1400 Hz, gap, 2300 Hz;
/// kissoff 1400 Hz. With the defaults these equal
/// [`ToneSpec::contact_id_handshake`] and [`ToneSpec::contact_id_kissoff`].
pub fn tone_spec(command: ToneCommand, level_dbm0: f32) -> ToneSpec {
    let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
    match command {
        ToneCommand::Handshake { tone, gap } => ToneSpec::once(vec![
            Segment::tone(1400.0, level_dbm0, ms(tone)),
            Segment::silence(ms(gap)),
            Segment::tone(2300.0, level_dbm0, ms(tone)),
        ]),
        ToneCommand::Kissoff { duration } => {
            ToneSpec::once(vec![Segment::tone(1400.0, level_dbm0, ms(duration))])
        }
    }
}

/// Why 16 (or fewer) digits were not a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// Bad checksum: no kissoff, the unit repeats.
    Checksum,
    /// Good checksum but not Contact ID.
    Malformed(ContactIdError),
    /// Fewer than 16 digits before the inter-digit timeout.
    Partial,
}

/// Why a call whose messages were all technical, test or cancel ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleReason {
    /// The unit was quiet for the receiver's `quiet_line_timeout`.
    QuietLine,
    /// The unit hung up ([`super::pipeline::AlarmPipeline::handle_hangup`]).
    RemoteHangup,
}

/// Why a call ends without every alarm acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GiveUpReason {
    /// No digit came after the last handshake.
    NoDigits {
        /// Handshakes sent.
        handshakes: u32,
    },
    /// Digits came, but never a valid message, and no attempt of 4 digits
    /// or more was completed (the unit hung up mid-message, or noise).
    NoValidMessage,
    /// An **unconfirmed alarm**: the unit's attempts never decoded, one of
    /// them with 4 digits or more (after a good message, the attempts that
    /// followed it). Never acknowledged.
    Unconfirmed {
        /// What was heard of the failed attempts.
        heard: Heard,
        /// The unit hung up (else the line went quiet with the call up).
        remote_hangup: bool,
    },
    /// These messages were decoded but never acknowledged (storage failed or
    /// was too slow, and no repeat made it): the unit will retry or fail over.
    Unacknowledged {
        /// Their sequence numbers.
        seqs: Vec<u64>,
    },
}

/// What the media worker must do, in order, from
/// [`super::pipeline::AlarmPipeline::poll_action`].
#[derive(Debug, Clone, PartialEq)]
pub enum PipelineAction {
    /// Play this tone to the unit (set the RTP session's source to a
    /// `ToneGenerator` of it), replacing whatever plays.
    PlayTone(ToneSpec),
    /// Stop our tone: back to silence, or after `SwitchToVoice` back to the
    /// voice path's audio (hold tone or bridge).
    StopTone,
    /// A new message: append it to the journal, then call `confirm_stored`
    /// or `storage_failed` with `seq`. The kissoff waits for that.
    Store {
        /// Per-call sequence number, from 1.
        seq: u64,
        /// The decoded message.
        message: ContactIdMessage,
        /// The 16 DTMF digits as received.
        raw: String,
        /// How the centre handles it.
        class: AlarmClass,
        /// How it arrived.
        forensics: MessageForensics,
    },
    /// The kissoff for `seq` started.
    Acknowledged {
        /// The stored message.
        seq: u64,
        /// A repeat of an already stored message (acknowledged again, not stored).
        duplicate: bool,
        /// From the last digit to the kissoff start (the unit allows 1.25 s).
        after_last_digit: Duration,
    },
    /// No kissoff for `seq`; the unit will repeat.
    Withheld {
        /// The message.
        seq: u64,
        /// Why.
        reason: WithheldReason,
    },
    /// Digits that were not a message (log them; the unit repeats).
    Rejected {
        /// The digits.
        raw: String,
        /// Why.
        reason: RejectReason,
    },
    /// Our kissoff of a voice alarm (or 606) finished: keep the call up for
    /// an operator. Digits are still decoded for `listen_after_voice`.
    SwitchToVoice {
        /// Why.
        reason: VoiceReason,
    },
    /// Every message was technical/test/cancel and acknowledged, and the
    /// unit went quiet: hang up (nothing to do after a remote hang-up).
    Settle {
        /// Why now.
        reason: SettleReason,
    },
    /// The call ends with nothing (or not everything) acknowledged: hang up.
    GaveUp {
        /// Why.
        reason: GiveUpReason,
    },
    /// The `listen_after_voice` window closed: stop feeding audio; the call
    /// belongs to the operator.
    ListeningEnded,
}

/// One digit of a message, for forensics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DigitForensics {
    /// `0-9 * # A-D`.
    pub digit: char,
    /// The path that delivered it (the other path's copy was de-duplicated).
    pub source: DigitSource,
    /// From the first digit's start to this digit's start.
    pub offset: Duration,
    /// Tone length, ms.
    pub duration_ms: u32,
    /// Level of both tones (in-band) or the RFC 4733 volume, dBm0.
    pub level_dbm0: Option<f32>,
    /// Row minus column level, dB (in-band only).
    pub twist_db: Option<f32>,
    /// Tone over residual, dB (in-band only; read as tone purity).
    pub snr_db: Option<f32>,
}

/// How one message arrived: what an engineer needs when a unit misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageForensics {
    /// End of our handshake to the first digit (first message of the call).
    pub handshake_to_first_digit: Option<Duration>,
    /// First digit start to last digit report.
    pub message_duration: Duration,
    /// The 16 digits.
    pub digits: Vec<DigitForensics>,
    /// Lowest and highest digit level, dBm0.
    pub level_dbm0: Option<(f32, f32)>,
    /// Lowest and highest in-band twist, dB.
    pub twist_db: Option<(f32, f32)>,
    /// Lowest in-band SNR (tone purity) of any digit, dB.
    pub snr_db: Option<f32>,
    /// RTP packets reported lost between the first digit and the decode.
    pub packets_lost: u32,
    /// Failed attempts (checksum, malformed, partial) since the previous message.
    pub retries: u32,
    /// Of those, checksum failures.
    pub checksum_failures: u32,
}

/// Failed attempts since the last good message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Attempts {
    pub(crate) failed: u32,
    pub(crate) checksum: u32,
}

impl MessageForensics {
    /// Builds the record from the receiver's timings.
    pub(crate) fn new(timings: &MessageTimings, packets_lost: u32, attempts: Attempts) -> Self {
        let first = timings.first_digit_at();
        let digits: Vec<DigitForensics> = timings
            .digits
            .iter()
            .map(|d| digit_forensics(d, first.unwrap_or(d.started_at)))
            .collect();
        let message_duration = match (first, timings.last_digit_at()) {
            (Some(a), Some(b)) => b.saturating_duration_since(a),
            _ => Duration::ZERO,
        };
        Self {
            handshake_to_first_digit: timings.handshake_to_first_digit,
            message_duration,
            level_dbm0: min_max(digits.iter().filter_map(|d| d.level_dbm0)),
            twist_db: min_max(digits.iter().filter_map(|d| d.twist_db)),
            snr_db: min_max(digits.iter().filter_map(|d| d.snr_db)).map(|(lo, _)| lo),
            digits,
            packets_lost,
            retries: attempts.failed,
            checksum_failures: attempts.checksum,
        }
    }

    /// Tone lengths in digit order, ms.
    pub fn durations_ms(&self) -> Vec<u32> {
        self.digits.iter().map(|d| d.duration_ms).collect()
    }

    /// Digits delivered by `source`.
    pub fn count(&self, source: DigitSource) -> usize {
        self.digits.iter().filter(|d| d.source == source).count()
    }
}

fn digit_forensics(d: &DigitRecord, first: std::time::Instant) -> DigitForensics {
    let duration = d
        .metrics
        .map_or(d.reported_at.saturating_duration_since(d.started_at), |m| {
            m.duration
        });
    let in_band = d.source == DigitSource::InBand;
    let measured = |f: fn(&crate::dsp::DigitMetrics) -> f32| {
        d.metrics.map(|m| f(&m)).filter(|v| v.is_finite())
    };
    DigitForensics {
        digit: d.digit,
        source: d.source,
        offset: d.started_at.saturating_duration_since(first),
        duration_ms: u32::try_from(duration.as_millis()).unwrap_or(u32::MAX),
        level_dbm0: measured(|m| m.level_dbm0),
        twist_db: measured(|m| m.twist_db).filter(|_| in_band),
        snr_db: measured(|m| m.snr_db).filter(|_| in_band),
    }
}

fn min_max(values: impl Iterator<Item = f32>) -> Option<(f32, f32)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Counters for one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// The Contact ID receiver's counters.
    pub receiver: ReceiverStats,
    /// Digits our DTMF detector heard and passed on.
    pub in_band_digits: u32,
    /// RFC 4733 digits passed on.
    pub rfc4733_digits: u32,
    /// In-band digits dropped as an echo of our own tone.
    pub echo_suppressed: u32,
    /// RFC 4733 events that are not DTMF digits (flash, …).
    pub non_digit_events: u32,
    /// RTP packets reported lost during the call.
    pub packets_lost: u64,
}
