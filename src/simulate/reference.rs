//! A reference Contact ID receiver built only from the crate's pure cores
//! ([`RtpSession`], [`DtmfDetector`], [`ContactIdReceiver`]): the far end the
//! simulator is tested against, in simulated time and over loopback sockets.
//! It is not the daemon's receiver: storage is confirmed at once, and tones
//! are one-shot (a `StopTone` is ignored; handshake and kissoff end themselves).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::media::FrameClock;
use crate::alarm::receiver::{no_voice, DigitSource, ReceiverEvent, ToneCommand};
use crate::alarm::{ContactIdReceiver, ReceiverConfig};
use crate::dsp::{DigitMetrics, DtmfConfig, DtmfDetector, DtmfEvent};
use crate::media::receiver::AudioFrame;
use crate::media::sender::Seeds;
use crate::media::session::{SessionError, Transmit};
use crate::media::tone::{Segment, ToneGenerator, ToneSpec, CONTACT_ID_LEVEL_DBM0};
use crate::media::{MediaParams, RtpSession};

/// What the reference receiver saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceLog {
    /// Decoded messages (16 DTMF digits each), repeats not included.
    pub decoded: Vec<String>,
    /// Kissoffs started (repeats acknowledged again included).
    pub kissoffs: u32,
    /// Checksum failures and partial messages (each makes the unit retry).
    pub rejected: u32,
    /// Handshakes sent.
    pub handshakes: u32,
}

/// One call's receiving side.
#[derive(Debug)]
pub struct ReferenceReceiver {
    session: RtpSession,
    receiver: ContactIdReceiver,
    dtmf: DtmfDetector,
    clock: FrameClock,
    log: ReferenceLog,
}

impl ReferenceReceiver {
    /// A receiver for a call answered at `now`.
    pub fn new(now: Instant, params: MediaParams, ssrc: u32) -> Result<Self, SessionError> {
        let seeds = Seeds {
            ssrc,
            sequence_number: 1000,
            timestamp: 160_000,
        };
        Ok(Self {
            session: RtpSession::new(now, params, seeds, "reference@alarmgate")?,
            receiver: ContactIdReceiver::new(now, ReceiverConfig::default(), no_voice),
            dtmf: DtmfDetector::new(DtmfConfig::default()),
            clock: FrameClock::default(),
            log: ReferenceLog::default(),
        })
    }

    /// What was seen so far.
    pub fn log(&self) -> &ReferenceLog {
        &self.log
    }

    /// The RTP leg's address once latched.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.session.remote()
    }

    /// A datagram from the unit.
    pub fn handle_rtp(&mut self, now: Instant, src: SocketAddr, bytes: &[u8]) {
        let _ = self.session.handle_packet(now, src, bytes);
        self.pump(now);
    }

    /// Runs timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
        self.receiver.handle_timeout(now);
        self.pump(now);
    }

    /// The next datagram due at `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        self.session.poll_transmit(now)
    }

    /// When `handle_timeout` is next due.
    pub fn poll_timeout(&self) -> Instant {
        let next = self.session.poll_timeout();
        self.receiver.poll_timeout().map_or(next, |t| t.min(next))
    }

    fn pump(&mut self, now: Instant) {
        while let Some(frame) = self.session.poll_audio() {
            if let AudioFrame::Audio {
                timestamp, samples, ..
            } = frame
            {
                self.dtmf.process(self.clock.at(now, timestamp), &samples);
            }
        }
        while let Some(event) = self.dtmf.poll_event() {
            if let DtmfEvent::DigitEnded { digit, .. } = event {
                let metrics = event.metrics();
                self.receiver
                    .handle_digit(now, digit, DigitSource::InBand, metrics);
            }
        }
        while let Some(event) = self.session.poll_event() {
            let Some(digit) = event.digit else { continue };
            let duration = Duration::from_micros(u64::from(event.duration) * 125);
            let metrics = DigitMetrics {
                started_at: now.checked_sub(duration).unwrap_or(now),
                duration,
                level_dbm0: -f32::from(event.volume),
                twist_db: 0.0,
                snr_db: 0.0,
            };
            self.receiver
                .handle_digit(now, digit, DigitSource::Rfc4733, Some(metrics));
        }
        while let Some(event) = self.receiver.poll_event() {
            self.on_event(now, event);
        }
    }

    fn on_event(&mut self, now: Instant, event: ReceiverEvent) {
        let ms = |d: Duration| d.as_millis() as u32;
        let tone = |f: f32, d: Duration| Segment::tone(f, CONTACT_ID_LEVEL_DBM0, ms(d));
        match event {
            ReceiverEvent::PlayTone(ToneCommand::Handshake { tone: t, gap }) => {
                self.log.handshakes += 1;
                let spec = vec![tone(1400.0, t), Segment::silence(ms(gap)), tone(2300.0, t)];
                self.play(ToneSpec::once(spec));
            }
            ReceiverEvent::PlayTone(ToneCommand::Kissoff { duration }) => {
                self.play(ToneSpec::once(vec![tone(1400.0, duration)]));
            }
            ReceiverEvent::MessageDecoded { seq, raw, .. } => {
                self.log.decoded.push(raw);
                self.receiver.confirm_stored(now, seq);
            }
            ReceiverEvent::KissoffStarted { .. } => self.log.kissoffs += 1,
            ReceiverEvent::ChecksumFailed { .. } | ReceiverEvent::PartialDiscarded { .. } => {
                self.log.rejected += 1
            }
            _ => {}
        }
    }

    fn play(&mut self, spec: ToneSpec) {
        self.session.set_source(Box::new(ToneGenerator::new(spec)));
    }
}
