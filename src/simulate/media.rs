//! The simulated unit's RTP leg, sans-IO: received G.711 is decoded and fed
//! to two tone detectors (1400 Hz, 2300 Hz) dated by RTP timestamp; what we
//! send is one packet per ptime of PCM (silence, or a DTMF burst shaped by
//! the level/twist/frequency options, plus noise) and, in RFC 4733 mode, the
//! digits' telephone-event packets. Every packet then goes through the
//! impairment [`Link`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::args::{DtmfMode, Impairments};
use super::impair::{Link, Noise};
use super::sequencer::ToneId;
use crate::dsp::{AudioTimeline, ToneBank, ToneConfig, ToneDetector, ToneEvent};
use crate::media::event_sender::TelephoneEventSender;
use crate::media::receiver::{AudioFrame, RtpReceiver};
use crate::media::rtp::RtpHeader;
use crate::media::tone::{dtmf_tone, Component, Segment, ToneGenerator, ToneSpec};
use crate::media::{Codec, MediaParams};

const NANOS_PER_SAMPLE: u64 = 125_000;
/// A received timestamp this far from the arrival time re-anchors the clock.
const REANCHOR: Duration = Duration::from_secs(1);

pub use crate::media::params_from_sdp;

/// How digits are shaped: the DTMF parameters and impairments.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// On time per digit.
    pub on: Duration,
    /// Off time per digit.
    pub off: Duration,
    /// Level, twist, frequency offset, noise, loss, jitter.
    pub impairments: Impairments,
}

/// One RTP leg of the simulated unit.
#[derive(Debug)]
pub struct MediaLeg {
    params: MediaParams,
    mode: DtmfMode,
    shape: Shape,
    rx: RtpReceiver,
    detectors: [(ToneId, ToneDetector); 2],
    tones: VecDeque<(ToneId, ToneEvent)>,
    clock: FrameClock,
    /// Missing RTP as silence by the clock (a receiver that sends nothing
    /// while it listens still ends its handshake).
    timeline: AudioTimeline,
    /// Arrival of the last packet, and the longest wait between two.
    rx_silence: (Option<Instant>, Duration),
    remote: SocketAddr,
    ptime: Duration,
    header: RtpHeader,
    next_tick: Instant,
    burst: Option<(Instant, ToneGenerator)>,
    digits: VecDeque<(Instant, char)>,
    event: Option<(TelephoneEventSender, u32)>,
    noise: Option<Noise>,
    link: Link,
    packets: u64,
}

impl MediaLeg {
    /// A leg sending to `remote` from `now`; `mode` falls back to in-band when
    /// no telephone-event was agreed. `seed` drives SSRC and impairments.
    pub fn new(
        now: Instant,
        params: MediaParams,
        remote: SocketAddr,
        mode: DtmfMode,
        shape: Shape,
        seed: u64,
    ) -> Self {
        let mode = if params.telephone_event.is_none() {
            DtmfMode::Inband
        } else {
            mode
        };
        let rx = RtpReceiver::new(params.codec, params.payload_type, params.telephone_event);
        let header = RtpHeader {
            marker: true,
            payload_type: params.payload_type,
            sequence_number: (seed >> 16) as u16,
            timestamp: (seed >> 32) as u32,
            ssrc: (seed as u32) | 1,
            csrcs: Vec::new(),
        };
        let detector = |f| ToneDetector::new(ToneConfig::for_frequency(f));
        Self {
            ptime: Duration::from_millis(u64::from(params.ptime_ms)),
            params,
            mode,
            rx,
            detectors: [
                (ToneId::Low, detector(1400.0)),
                (ToneId::High, detector(2300.0)),
            ],
            tones: VecDeque::new(),
            clock: FrameClock::default(),
            timeline: AudioTimeline::default(),
            rx_silence: (None, Duration::ZERO),
            remote,
            header,
            next_tick: now,
            burst: None,
            digits: VecDeque::new(),
            event: None,
            noise: Noise::new(&shape.impairments, seed),
            link: Link::new(&shape.impairments, seed),
            shape,
            packets: 0,
        }
    }

    /// How digits are actually sent.
    pub fn mode(&self) -> DtmfMode {
        self.mode
    }

    /// The codec in use.
    pub fn codec(&self) -> Codec {
        self.params.codec
    }

    /// Packets produced, dropped by the link, and reordered by it.
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.packets, self.link.dropped(), self.link.reordered())
    }

    /// Packets received so far, and the longest time between two (a
    /// receiver that stops sending while it listens shows here).
    pub fn longest_rx_silence(&self) -> Duration {
        self.rx_silence.1
    }

    /// One datagram from the far end (invalid ones are ignored; comfort
    /// noise, payload type 13, is not audio: its time passes as silence).
    pub fn handle_packet(&mut self, now: Instant, src: SocketAddr, bytes: &[u8]) {
        let (last, longest) = self.rx_silence;
        let waited = last.map_or(Duration::ZERO, |l| now.saturating_duration_since(l));
        self.rx_silence = (Some(now), longest.max(waited));
        if self.rx.handle_packet(now, src, bytes).is_ok() {
            self.drain_audio(now);
        }
    }

    /// Sends due packets, releases held received audio, and lets missing
    /// audio pass as silence by the clock.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.rx.handle_timeout(now);
        self.drain_audio(now);
        let mut ears = ToneBank {
            detectors: &mut self.detectors,
            edges: &mut self.tones,
        };
        self.timeline.handle_timeout(now, &mut ears);
        while self.rx.poll_event().is_some() {}
        let behind = now.saturating_duration_since(self.next_tick);
        if behind > self.ptime * 5 {
            let skip = (behind.as_nanos() / self.ptime.as_nanos().max(1)) as u32 - 5;
            self.next_tick += self.ptime * skip;
        }
        while self.next_tick <= now {
            let tick = self.next_tick;
            self.produce(tick);
            self.next_tick += self.ptime;
        }
    }

    /// The next datagram to send now, with its destination.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        self.link.poll(now).map(|p| (self.remote, p))
    }

    /// The next tone edge heard.
    pub fn poll_tone(&mut self) -> Option<(ToneId, ToneEvent)> {
        self.tones.pop_front()
    }

    /// When `handle_timeout` is next due.
    pub fn poll_timeout(&self) -> Instant {
        let mut next = self.next_tick;
        let idle = self.detectors.iter().all(|(_, d)| d.is_idle());
        if let Some(t) = self.timeline.poll_timeout(idle) {
            next = next.min(t);
        }
        if let Some(t) = self.link.next_release() {
            next = next.min(t);
        }
        self.rx.poll_timeout().map_or(next, |t| t.min(next))
    }

    /// Queues `digits` from the first packet at or after `at`; returns when
    /// the last digit's tone (or event) ends.
    pub fn start_burst(&mut self, at: Instant, digits: &str) -> Instant {
        let first = self.tick_at_or_after(at);
        let period = self.shape.on + self.shape.off;
        let n = digits.chars().count() as u32;
        let mut end = first;
        if self.mode.inband() {
            let spec = dtmf_spec(digits, &self.shape);
            self.burst = Some((first, ToneGenerator::new(spec)));
            end = first + period * n - self.shape.off;
        }
        if self.mode.events() {
            for (i, d) in digits.chars().enumerate() {
                self.digits.push_back((first + period * i as u32, d));
            }
            let last = first + period * n.saturating_sub(1);
            end = end.max(self.tick_at_or_after(last) + self.shape.on);
        }
        end
    }

    fn tick_at_or_after(&self, at: Instant) -> Instant {
        let ahead = at.saturating_duration_since(self.next_tick);
        let ticks = ahead.as_nanos().div_ceil(self.ptime.as_nanos().max(1)) as u32;
        self.next_tick + self.ptime * ticks
    }

    /// Decoded frames, dated by RTP timestamp, into the detectors; gaps
    /// and timestamp jumps through the timeline.
    fn drain_audio(&mut self, now: Instant) {
        while let Some(frame) = self.rx.poll_audio() {
            let mut ears = ToneBank {
                detectors: &mut self.detectors,
                edges: &mut self.tones,
            };
            match frame {
                AudioFrame::Audio {
                    timestamp, samples, ..
                } => {
                    let at = self.clock.at(now, timestamp);
                    self.timeline
                        .audio(at, Some(timestamp), &samples, &mut ears);
                }
                AudioFrame::Gap { packets, .. } => self.timeline.gap(u32::from(packets)),
            }
        }
    }

    /// The packet(s) of the tick at `tick`.
    fn produce(&mut self, tick: Instant) {
        let samples = self.params.ptime_ms as usize * 8;
        let event = self.event_packet(tick);
        if event.is_none() || self.mode.inband() {
            let audio = self.audio_payload(tick, samples);
            self.emit(tick, self.params.payload_type, audio, None);
        }
        if let Some((payload, ts, marker)) = event {
            let pt = self.params.telephone_event.map_or(101, |e| e.payload_type);
            self.emit(tick, pt, payload, Some((ts, marker)));
        }
        self.header.timestamp = self.header.timestamp.wrapping_add(samples as u32);
    }

    fn audio_payload(&mut self, tick: Instant, samples: usize) -> Vec<u8> {
        let mut pcm = vec![0i16; samples];
        if let Some((start, gen)) = self.burst.as_mut() {
            if *start <= tick && !gen.fill(&mut pcm) {
                self.burst = None;
            }
        }
        if let Some(noise) = self.noise.as_mut() {
            noise.add(&mut pcm);
        }
        let mut out = vec![0u8; samples];
        self.params.codec.encode_into(&pcm, &mut out);
        out
    }

    /// This tick's telephone-event payload, timestamp and marker, if any.
    fn event_packet(&mut self, tick: Instant) -> Option<(Vec<u8>, u32, bool)> {
        if self.event.as_ref().is_none_or(|(s, _)| s.is_finished()) {
            self.event = None;
            if self.digits.front().is_some_and(|(due, _)| *due <= tick) {
                let (_, digit) = self.digits.pop_front()?;
                let on = self.shape.on.as_millis() as u32;
                let volume = (-self.shape.impairments.level_dbm0).clamp(0.0, 63.0) as u8;
                let sender =
                    TelephoneEventSender::for_digit(digit, on, self.params.ptime_ms, volume)?;
                self.event = Some((sender, self.header.timestamp));
            }
        }
        let (sender, ts) = self.event.as_mut()?;
        let packet = sender.next()?;
        Some((packet.event.emit().to_vec(), *ts, packet.marker))
    }

    fn emit(&mut self, tick: Instant, pt: u8, payload: Vec<u8>, event: Option<(u32, bool)>) {
        let mut header = self.header.clone();
        header.payload_type = pt;
        if let Some((ts, marker)) = event {
            header.timestamp = ts;
            header.marker = marker;
        }
        if let Ok(bytes) = header.to_vec(&payload) {
            self.packets += 1;
            self.link.push(tick, bytes);
        }
        self.header.marker = false;
        self.header.sequence_number = self.header.sequence_number.wrapping_add(1);
    }
}

/// The DTMF burst for `digits` with the level, twist and frequency offset of `shape`.
fn dtmf_spec(digits: &str, shape: &Shape) -> ToneSpec {
    let imp = &shape.impairments;
    let scale = 1.0 + imp.freq_offset_pct / 100.0;
    let ms = |d: Duration| d.as_millis() as u32;
    let mut segments = Vec::with_capacity(2 * digits.len());
    for (low, high) in digits.chars().filter_map(dtmf_tone) {
        let low = Component {
            freq_hz: low * scale,
            level_dbm0: imp.level_dbm0,
        };
        let high = Component {
            freq_hz: high * scale,
            level_dbm0: imp.level_dbm0 + imp.twist_db,
        };
        segments.push(Segment::dual(low, high, ms(shape.on)));
        segments.push(Segment::silence(ms(shape.off)));
    }
    ToneSpec::once(segments)
}

/// Dates received frames by RTP timestamp from an anchor (the first frame's
/// arrival), so that jitter and batching do not distort tone timings; a
/// timestamp jump (new source) re-anchors.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameClock {
    anchor: Option<(Instant, u32)>,
}

impl FrameClock {
    /// The time of the first sample of a frame with `timestamp`, arriving at `now`.
    pub fn at(&mut self, now: Instant, timestamp: u32) -> Instant {
        if let Some((t0, ts0)) = self.anchor {
            let diff = timestamp.wrapping_sub(ts0) as i32;
            if diff >= 0 {
                let at = t0 + Duration::from_nanos(diff as u64 * NANOS_PER_SAMPLE);
                let off = if at > now { at - now } else { now - at };
                if off <= REANCHOR {
                    return at;
                }
            }
        }
        self.anchor = Some((now, timestamp));
        now
    }
}
