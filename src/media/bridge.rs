//! The voice bridge between a device leg and an operator leg, sans-IO.
//!
//! Audio decoded on one leg ([`AudioFrame`], 8 kHz linear) becomes the
//! [`AudioSource`] of the other, which encodes it in its own negotiated law
//! and payload type: A-law ↔ µ-law goes through linear, and the same law
//! loses nothing (G.711 decode then encode gives the same values back).
//!
//! What a leg plays is its [`BridgePort`], its session's source for the
//! whole call, in layers: an override tone (the alarm pipeline's kissoff)
//! wins, then in-band DTMF relayed from the operator, then, while bridged,
//! the other leg's audio (a bounded queue: when one side sends faster than
//! the other plays, the oldest samples are dropped and counted; silence
//! when nothing arrived), else the hold tone or silence. Audio arriving
//! under an override is consumed in step, so the voice resumes in real
//! time, not delayed. A [`Bridge`] connects two ports; dropping it returns
//! both legs to their hold audio.
//!
//! RFC 4733 digits from the operator leg go to the device as RFC 4733 when
//! the device negotiated telephone-event ([`DigitRelay::Events`]: the
//! runtime calls `RtpSession::send_digits`), else they are played in-band
//! on the device port ([`DigitRelay::InBand`]). The other way likewise
//! ([`Bridge::device_digit`]): a unit's RFC 4733 digit reaches the operator
//! (a browser that answered telephone-event) as RFC 4733, else in-band. A
//! unit's in-band digits are in its audio already.
//!
//! A recorded call ([`Bridge::record`]) also feeds a
//! [`RecordingTap`](super::recording::RecordingTap) with what each leg sent:
//! the runtime takes one stereo frame per tick ([`Bridge::record_tick`]).

use super::bridge_port::{BridgePort, PortStats, DEFAULT_CAPACITY_MS};
use super::receiver::AudioFrame;
use super::recording::{RecordingTap, StereoFrame, TapStats};
use super::telephone_event::DigitEvent;
use super::tone::{DtmfParams, ToneSpec};

/// Relayed digits are at least this long, ms.
pub const MIN_DIGIT_MS: u32 = 60;
/// Relayed digits are at most this long, ms (a held key is not a long tone).
pub const MAX_DIGIT_MS: u32 = 500;

/// How a bridge buffers and relays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BridgeConfig {
    /// Queue depth of each leg's port, ms (at least one 20 ms packet).
    pub capacity_ms: u32,
    /// Level and gap of in-band digits toward a device without telephone-event.
    pub dtmf: DtmfParams,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            capacity_ms: DEFAULT_CAPACITY_MS,
            dtmf: DtmfParams {
                on_ms: 100,
                off_ms: 60,
                ..DtmfParams::default()
            },
        }
    }
}

/// What to do with a digit from the operator leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitRelay {
    /// Send it on the device leg as RFC 4733 events
    /// (`RtpSession::send_digits`); on error, call [`Bridge::relay_in_band`].
    Events {
        /// The DTMF key.
        digit: char,
        /// How long, ms.
        duration_ms: u32,
    },
    /// Queued in-band on the device port (nothing left to do).
    InBand {
        /// The DTMF key.
        digit: char,
    },
}

/// Counters of a bridge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// What the device hears.
    pub to_device: PortStats,
    /// What the operator hears.
    pub to_operator: PortStats,
    /// Digits relayed as RFC 4733 events.
    pub digits_events: u64,
    /// Digits relayed in-band.
    pub digits_in_band: u64,
    /// Operator events that are not DTMF keys (flash, …), not relayed.
    pub events_ignored: u64,
}

/// A device leg and an operator leg connected both ways.
#[derive(Debug)]
pub struct Bridge {
    device: BridgePort,
    operator: BridgePort,
    device_events: bool,
    operator_events: bool,
    dtmf: DtmfParams,
    digits_events: u64,
    digits_in_band: u64,
    events_ignored: u64,
    tap: Option<RecordingTap>,
}

impl Bridge {
    /// Connects the device leg's port (what the device hears) and the
    /// operator leg's; `device_events` if the device leg negotiated
    /// telephone-event. Both ports play the other leg until the bridge drops.
    pub fn new(
        config: BridgeConfig,
        device: BridgePort,
        operator: BridgePort,
        device_events: bool,
    ) -> Self {
        device.set_bridged(true);
        operator.set_bridged(true);
        Self {
            device,
            operator,
            device_events,
            operator_events: false,
            dtmf: config.dtmf,
            digits_events: 0,
            digits_in_band: 0,
            events_ignored: 0,
            tap: None,
        }
    }

    /// The operator leg negotiated telephone-event: the device's RFC 4733
    /// digits reach it as events, not in-band.
    pub fn with_operator_events(mut self, operator_events: bool) -> Self {
        self.operator_events = operator_events;
        self
    }

    /// Records the call from now on: each leg's audio goes to `tap` too.
    pub fn record(&mut self, tap: RecordingTap) {
        self.tap = Some(tap);
    }

    /// One packet time of the recording (unit left, operator right), when recorded.
    pub fn record_tick(&mut self) -> Option<StereoFrame> {
        self.tap.as_mut().map(RecordingTap::tick)
    }

    /// The recording tap's counters, when recorded.
    pub fn tap_stats(&self) -> Option<TapStats> {
        self.tap.as_ref().map(RecordingTap::stats)
    }

    /// What the device leg plays.
    pub fn device_port(&self) -> &BridgePort {
        &self.device
    }

    /// What the operator leg plays.
    pub fn operator_port(&self) -> &BridgePort {
        &self.operator
    }

    /// A frame decoded on the device leg, toward the operator.
    pub fn from_device(&mut self, frame: &AudioFrame) {
        if let (Some(tap), AudioFrame::Audio { samples, .. }) = (self.tap.as_mut(), frame) {
            tap.device(samples);
        }
        self.operator.push(frame);
    }

    /// A frame decoded on the operator leg, toward the device.
    pub fn from_operator(&mut self, frame: &AudioFrame) {
        if let (Some(tap), AudioFrame::Audio { samples, .. }) = (self.tap.as_mut(), frame) {
            tap.operator(samples);
        }
        self.device.push(frame);
    }

    /// A finished RFC 4733 event from the operator leg.
    pub fn operator_digit(&mut self, event: &DigitEvent) -> Option<DigitRelay> {
        let Some(digit) = event.digit else {
            self.events_ignored += 1;
            return None;
        };
        self.operator_key(digit, u32::from(event.duration) / 8)
    }

    /// A key from the operator leg sent outside RTP (SIP INFO), `duration_ms`
    /// long: relayed like [`Self::operator_digit`]'s; `None` when it was
    /// queued in-band or is not a DTMF key.
    pub fn operator_key(&mut self, digit: char, duration_ms: u32) -> Option<DigitRelay> {
        let duration_ms = duration_ms.clamp(MIN_DIGIT_MS, MAX_DIGIT_MS);
        if self.device_events {
            self.digits_events += 1;
            return Some(DigitRelay::Events { digit, duration_ms });
        }
        self.relay_in_band(digit, duration_ms)
    }

    /// Plays `digit` in-band toward the device; `None` if not a DTMF key.
    pub fn relay_in_band(&mut self, digit: char, duration_ms: u32) -> Option<DigitRelay> {
        let port = self.device.clone();
        self.in_band(&port, digit, duration_ms)
    }

    /// A finished RFC 4733 event from the device leg, toward the operator:
    /// [`DigitRelay::Events`] to send on the operator leg when it
    /// negotiated telephone-event (on error, call
    /// [`Self::relay_in_band_to_operator`]), else queued in-band.
    pub fn device_digit(&mut self, event: &DigitEvent) -> Option<DigitRelay> {
        let Some(digit) = event.digit else {
            self.events_ignored += 1;
            return None;
        };
        let duration_ms = (u32::from(event.duration) / 8).clamp(MIN_DIGIT_MS, MAX_DIGIT_MS);
        if self.operator_events {
            self.digits_events += 1;
            return Some(DigitRelay::Events { digit, duration_ms });
        }
        self.relay_in_band_to_operator(digit, duration_ms)
    }

    /// Plays `digit` in-band toward the operator; `None` if not a DTMF key.
    pub fn relay_in_band_to_operator(
        &mut self,
        digit: char,
        duration_ms: u32,
    ) -> Option<DigitRelay> {
        let port = self.operator.clone();
        self.in_band(&port, digit, duration_ms)
    }

    fn in_band(&mut self, port: &BridgePort, digit: char, duration_ms: u32) -> Option<DigitRelay> {
        let params = DtmfParams {
            on_ms: duration_ms.clamp(MIN_DIGIT_MS, MAX_DIGIT_MS),
            ..self.dtmf
        };
        let spec = ToneSpec::dtmf(&digit.to_string(), params)?;
        port.queue_digit(spec);
        self.digits_in_band += 1;
        Some(DigitRelay::InBand { digit })
    }

    /// Counters now.
    pub fn stats(&self) -> BridgeStats {
        BridgeStats {
            to_device: self.device.stats(),
            to_operator: self.operator.stats(),
            digits_events: self.digits_events,
            digits_in_band: self.digits_in_band,
            events_ignored: self.events_ignored,
        }
    }
}

impl Drop for Bridge {
    /// Both legs go back to their hold audio.
    fn drop(&mut self) {
        self.device.set_bridged(false);
        self.operator.set_bridged(false);
    }
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "bridge_unit_digits_tests.rs"]
mod unit_digits_tests;
