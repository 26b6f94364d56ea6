//! Test-only simulation of one alarm call in simulated time: a modelled
//! alarm unit (spandsp sender timing: 55/55 ms DTMF at -10 dBm0 per tone,
//! 250 ms after our tone, repeat 3 s after an unacknowledged message) that
//! hears our tones through the actions, a line that carries its audio through
//! G.711 A-law with a little noise (and, if asked, an echo of our own tone),
//! and a journal that confirms or fails each `Store`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::*;
use crate::alarm::classify::AlarmClass;
use crate::clock::epoch;
use crate::media::g711::Codec;
use crate::media::receiver::AudioFrame;
use crate::media::telephone_event::{event_for_digit, DigitEvent, EndReason as EventEnd};
use crate::media::tone::{DtmfParams, ToneGenerator, ToneSpec};

/// Samples per 20 ms frame.
const FRAME: usize = 160;
/// The RTP timestamp at t = 0: it wraps through zero at 2 s, mid-message.
const TS_BASE: u32 = 0u32.wrapping_sub(2000 * 8);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn at(t: u64) -> Instant {
    epoch() + ms(t)
}

/// The modelled alarm unit.
#[derive(Default)]
pub struct Unit {
    /// Transmissions still to make, in order (a repeat is listed again).
    pub script: VecDeque<String>,
    /// Send the tones in the audio.
    pub in_band: bool,
    /// Send RFC 4733 events, reported this long after each tone ends.
    pub rfc4733_latency: Option<u64>,
    /// Kissoffs the unit fails to hear (so it repeats).
    pub deaf_kissoffs: u32,
    /// Extra audio: `(start ms, samples)`, e.g. a stray digit.
    pub extra: Option<(u64, Vec<i16>)>,
    tape: VecDeque<i16>,
    tape_start: u64,
    events: VecDeque<(u64, char, u64)>,
    next_send: Option<u64>,
    retry_at: Option<u64>,
    heard_handshake: bool,
}

impl Unit {
    pub fn new(script: &[&str]) -> Self {
        Self {
            script: script.iter().map(|s| (*s).to_owned()).collect(),
            in_band: true,
            ..Self::default()
        }
    }

    /// Our tone stopped at `t`; `kissoff` tells which one it was.
    fn tone_stopped(&mut self, t: u64, kissoff: bool) {
        if !kissoff && !self.heard_handshake {
            self.heard_handshake = true;
            self.next_send = Some(t + 250);
        } else if kissoff && self.deaf_kissoffs > 0 {
            self.deaf_kissoffs -= 1;
        } else if kissoff && self.retry_at.take().is_some() && !self.script.is_empty() {
            self.next_send = Some(t + 250);
        }
    }

    /// Starts a due transmission or repeat.
    fn tick(&mut self, t: u64) {
        if let Some(r) = self.retry_at.filter(|r| *r <= t) {
            self.retry_at = None;
            if !self.script.is_empty() {
                self.next_send = Some(r.max(t));
            }
        }
        if let Some(s) = self.next_send.filter(|s| *s < t + 20) {
            self.next_send = None;
            if let Some(digits) = self.script.pop_front() {
                self.send(s, &digits);
            }
        }
    }

    fn send(&mut self, start: u64, digits: &str) {
        let spec = ToneSpec::dtmf(digits, DtmfParams::default()).unwrap_or(ToneSpec::once(vec![]));
        let mut gen = ToneGenerator::new(spec);
        let mut pcm = vec![0i16; digits.len() * 110 * 8];
        gen.fill(&mut pcm);
        if self.in_band {
            self.tape = pcm.into();
            self.tape_start = start * 8;
        }
        if let Some(latency) = self.rfc4733_latency {
            for (i, d) in digits.chars().enumerate() {
                let s = start + 110 * i as u64;
                self.events.push_back((s + 55 + latency, d, s));
            }
        }
        let last_end = start + 110 * digits.len() as u64 - 55;
        self.retry_at = Some(last_end + 3000);
    }

    /// The unit's audio for the frame starting at `t` ms.
    fn frame(&mut self, t: u64) -> Vec<i16> {
        let mut out = vec![0i16; FRAME];
        for (k, s) in out.iter_mut().enumerate() {
            let idx = t * 8 + k as u64;
            if idx >= self.tape_start {
                *s = self.tape.pop_front().unwrap_or(0);
            }
            if let Some((start, extra)) = &self.extra {
                let i = idx.checked_sub(start * 8).map(|i| i as usize);
                *s = s.saturating_add(i.and_then(|i| extra.get(i)).copied().unwrap_or(0));
            }
        }
        out
    }
}

/// The call: pipeline, unit, line and journal.
pub struct Sim {
    pub p: AlarmPipeline,
    pub unit: Unit,
    pub t: u64,
    pub log: Vec<(u64, PipelineAction)>,
    /// Journal latency, ms.
    pub store_delay: u64,
    /// Seqs the journal fails to store.
    pub fail_seqs: Vec<u64>,
    /// Echo of our tone: gain in dB and delay in frames.
    pub echo: Option<(f32, usize)>,
    /// Frames (by start ms) lost on the way.
    pub drop_frames: Vec<u64>,
    /// Feed through `handle_frame`/`handle_telephone_event` with RTP timestamps.
    pub via_rtp: bool,
    /// Silence suppression: frames without the unit's tone are not sent.
    pub vad: bool,
    /// From this ms on the unit sends no RTP at all.
    pub mute_from: Option<u64>,
    confirms: VecDeque<(u64, u64)>,
    ours: Option<(ToneGenerator, bool)>,
    echo_line: VecDeque<Vec<i16>>,
    lost: u32,
    noise: u32,
}

impl Sim {
    pub fn new(unit: Unit) -> Self {
        let p = AlarmPipeline::new(epoch(), PipelineConfig::default(), Classifier::default());
        Self {
            p,
            unit,
            t: 0,
            log: Vec::new(),
            store_delay: 20,
            fail_seqs: Vec::new(),
            echo: None,
            drop_frames: Vec::new(),
            via_rtp: false,
            vad: false,
            mute_from: None,
            confirms: VecDeque::new(),
            ours: None,
            echo_line: VecDeque::new(),
            lost: 0,
            noise: 12345,
        }
    }

    /// Runs 20 ms frames until `end` ms.
    pub fn run(&mut self, end: u64) {
        while self.t < end {
            self.internal_until(self.t);
            self.unit.tick(self.t);
            self.feed_frame();
            self.t += 20;
        }
    }

    /// Fires timers, journal answers and RFC 4733 reports due by `t`, in time order.
    fn internal_until(&mut self, t: u64) {
        loop {
            // Rounded up: a deadline between two ms runs at the later one.
            let deadline = self
                .p
                .poll_timeout()
                .map(|d| (d - epoch()).as_micros().div_ceil(1000) as u64);
            let confirm = self.confirms.front().map(|c| c.0);
            let event = self.unit.events.front().map(|e| e.0);
            let next = [deadline, confirm, event].into_iter().flatten().min();
            let Some(when) = next.filter(|n| *n <= t) else {
                return;
            };
            if deadline == Some(when) {
                self.p.handle_timeout(at(when));
            } else if confirm == Some(when) {
                let (_, seq) = self.confirms.pop_front().unwrap_or_default();
                match self.fail_seqs.contains(&seq) {
                    true => self.p.storage_failed(at(when), seq),
                    false => self.p.confirm_stored(at(when), seq),
                }
            } else if let Some((_, digit, start)) = self.unit.events.pop_front() {
                self.report_event(when, digit, start);
            }
            self.drain(when);
        }
    }

    fn report_event(&mut self, when: u64, digit: char, start: u64) {
        if !self.via_rtp {
            return self.p.handle_rfc4733(at(when), digit, at(start), ms(55));
        }
        let event = DigitEvent {
            event: event_for_digit(digit).unwrap_or(0),
            digit: Some(digit),
            timestamp: TS_BASE.wrapping_add(start as u32 * 8),
            duration: 55 * 8,
            volume: 10,
            ended_by: EventEnd::EndBit,
            ssrc: 7,
        };
        self.p.handle_telephone_event(at(when), &event);
    }

    fn feed_frame(&mut self) {
        let mut frame = self.unit.frame(self.t);
        let quiet = frame.iter().all(|s| *s == 0);
        if (self.vad && quiet) || self.mute_from.is_some_and(|m| self.t >= m) {
            return;
        }
        self.add_echo(&mut frame);
        for s in frame.iter_mut() {
            self.noise = self.noise.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let n = ((self.noise >> 16) % 17) as i16 - 8; // about -60 dBm0
            let x = s.saturating_add(n);
            *s = Codec::Pcma.decode_sample(Codec::Pcma.encode_sample(x));
        }
        if self.drop_frames.contains(&self.t) {
            self.lost += 1;
            return;
        }
        if self.lost > 0 {
            self.p
                .handle_gap(at(self.t), std::mem::take(&mut self.lost));
            self.drain(self.t);
        }
        if self.via_rtp {
            let timestamp = TS_BASE.wrapping_add(self.t as u32 * 8);
            let (seq, samples) = (0, frame);
            let audio = AudioFrame::Audio {
                seq,
                timestamp,
                samples,
            };
            self.p.handle_frame(at(self.t), &audio);
        } else {
            self.p.handle_audio(at(self.t), &frame);
        }
        self.drain(self.t);
    }

    /// Our outgoing tone comes back `delay` frames later at `gain` dB.
    fn add_echo(&mut self, frame: &mut [i16]) {
        let Some((gain_db, delay)) = self.echo else {
            return;
        };
        let mut ours = vec![0i16; FRAME];
        if let Some((gen, _)) = self.ours.as_mut() {
            gen.fill(&mut ours);
        }
        self.echo_line.push_back(ours);
        if self.echo_line.len() > delay {
            let back = self.echo_line.pop_front().unwrap_or_default();
            let g = 10f32.powf(gain_db / 20.0);
            for (s, e) in frame.iter_mut().zip(back) {
                *s = s.saturating_add((f32::from(e) * g) as i16);
            }
        }
    }

    fn drain(&mut self, t: u64) {
        while let Some(action) = self.p.poll_action() {
            match &action {
                PipelineAction::PlayTone(spec) => {
                    let kissoff = spec.segments.len() == 1;
                    self.ours = Some((ToneGenerator::new(spec.clone()), kissoff));
                }
                PipelineAction::StopTone => {
                    let kissoff = self.ours.take().is_some_and(|(_, k)| k);
                    self.unit.tone_stopped(t, kissoff);
                }
                PipelineAction::Store { seq, .. } => {
                    self.confirms.push_back((t + self.store_delay, *seq));
                }
                _ => {}
            }
            self.log.push((t, action));
        }
    }

    /// The log as short strings, without times.
    pub fn kinds(&self) -> Vec<String> {
        self.log.iter().map(|(_, a)| name(a)).collect()
    }

    /// The `Store` actions' forensics, in order.
    pub fn stores(&self) -> Vec<(u64, AlarmClass, MessageForensics)> {
        let stores = self.log.iter().filter_map(|(_, a)| match a {
            PipelineAction::Store {
                seq,
                class,
                forensics,
                ..
            } => Some((*seq, *class, forensics.clone())),
            _ => None,
        });
        stores.collect()
    }
}

/// A short name for an action.
pub fn name(a: &PipelineAction) -> String {
    match a {
        PipelineAction::PlayTone(spec) if spec.segments.len() == 1 => "kissoff".into(),
        PipelineAction::PlayTone(_) => "handshake".into(),
        PipelineAction::StopTone => "stop".into(),
        PipelineAction::Store {
            seq,
            message,
            class,
            ..
        } => format!("store {seq} {} {class:?}", message.event),
        PipelineAction::Acknowledged { seq, duplicate, .. } => match duplicate {
            true => format!("ack {seq} dup"),
            false => format!("ack {seq}"),
        },
        PipelineAction::Withheld { seq, reason } => format!("withheld {seq} {reason:?}"),
        PipelineAction::Rejected { reason, .. } => format!("rejected {reason:?}"),
        PipelineAction::SwitchToVoice { reason } => format!("voice {reason:?}"),
        PipelineAction::Settle { reason } => format!("settle {reason:?}"),
        PipelineAction::GaveUp { reason } => format!("gave up {reason:?}"),
        PipelineAction::ListeningEnded => "listening ended".into(),
    }
}
