//! What one leg plays, in layers ([`BridgePort`]): an override tone, then
//! relayed in-band digits, then, while bridged, the other leg's audio from
//! a bounded queue, else the hold tone or silence. See [`super::bridge`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::receiver::AudioFrame;
use super::sender::AudioSource;
use super::tone::{ToneGenerator, ToneSpec, SAMPLE_RATE};

/// Default queue depth of a port, ms.
pub const DEFAULT_CAPACITY_MS: u32 = 120;

/// Counters of one port's bridged audio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Samples queued from the other leg.
    pub samples_in: u64,
    /// Bridged samples played.
    pub samples_out: u64,
    /// Oldest samples dropped because the queue was full.
    pub dropped: u64,
    /// Silence samples played while bridged because the queue was empty.
    pub underrun: u64,
    /// Bridged samples discarded while a tone overrode them.
    pub overridden: u64,
    /// Packets the other leg reported lost (not concealed).
    pub gap_packets: u64,
}

/// The state behind a [`BridgePort`].
#[derive(Debug)]
struct PortState {
    audio: VecDeque<i16>,
    capacity: usize,
    bridged: bool,
    over: Option<ToneGenerator>,
    digits: VecDeque<ToneGenerator>,
    hold: Option<ToneGenerator>,
    stats: PortStats,
}

impl PortState {
    fn push(&mut self, samples: &[i16]) {
        self.stats.samples_in += samples.len() as u64;
        let tail = samples.len().saturating_sub(self.capacity);
        let samples = samples.get(tail..).unwrap_or_default();
        let excess = (self.audio.len() + samples.len()).saturating_sub(self.capacity);
        self.audio.drain(..excess.min(self.audio.len()));
        self.stats.dropped += (tail + excess) as u64;
        self.audio.extend(samples);
    }

    /// The override tone, then queued digits, then bridged audio or hold.
    fn fill(&mut self, out: &mut [i16]) {
        if let Some(tone) = self.over.as_mut() {
            if tone.fill(out) {
                return self.discard(out.len());
            }
            self.over = None;
        }
        while let Some(digit) = self.digits.front_mut() {
            if digit.fill(out) {
                return self.discard(out.len());
            }
            self.digits.pop_front();
        }
        if self.bridged {
            self.play(out);
        } else if !self.hold.as_mut().is_some_and(|hold| hold.fill(out)) {
            self.hold = None;
            out.fill(0);
        }
    }

    fn play(&mut self, out: &mut [i16]) {
        let n = out.len().min(self.audio.len());
        for (dst, src) in out.iter_mut().zip(self.audio.drain(..n)) {
            *dst = src;
        }
        out.get_mut(n..).unwrap_or_default().fill(0);
        self.stats.samples_out += n as u64;
        self.stats.underrun += (out.len() - n) as u64;
    }

    fn discard(&mut self, n: usize) {
        let n = n.min(self.audio.len());
        self.audio.drain(..n);
        self.stats.overridden += n as u64;
    }
}

/// What one leg plays; its session's source for the whole call (it never
/// ends). Cheap to clone: clones share the state.
#[derive(Debug, Clone)]
pub struct BridgePort(Arc<Mutex<PortState>>);

impl Default for BridgePort {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY_MS)
    }
}

impl BridgePort {
    /// A port holding at most `capacity_ms` (at least 20) of bridged audio.
    pub fn new(capacity_ms: u32) -> Self {
        let capacity = (capacity_ms.max(20) * SAMPLE_RATE / 1000) as usize;
        Self(Arc::new(Mutex::new(PortState {
            audio: VecDeque::with_capacity(capacity),
            capacity,
            bridged: false,
            over: None,
            digits: VecDeque::new(),
            hold: None,
            stats: PortStats::default(),
        })))
    }

    fn state(&self) -> MutexGuard<'_, PortState> {
        // No PortState update can be left half done by a panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a frame decoded on the other leg while bridged (ignored
    /// otherwise); a gap is only counted.
    pub fn push(&self, frame: &AudioFrame) {
        let mut state = self.state();
        match frame {
            AudioFrame::Audio { samples, .. } if state.bridged => state.push(samples),
            AudioFrame::Gap { packets, .. } if state.bridged => {
                state.stats.gap_packets += u64::from(*packets);
            }
            _ => {}
        }
    }

    /// Plays the other leg's audio from now on (`true`), or the hold audio
    /// (`false`); either way the queue starts empty.
    pub fn set_bridged(&self, bridged: bool) {
        let mut state = self.state();
        state.bridged = bridged;
        state.audio.clear();
    }

    /// True while connected to another leg.
    pub fn is_bridged(&self) -> bool {
        self.state().bridged
    }

    /// What plays while not bridged and nothing overrides: `spec` from its
    /// start, or silence.
    pub fn set_hold(&self, spec: Option<ToneSpec>) {
        self.state().hold = spec.map(ToneGenerator::new);
    }

    /// Plays `spec` over everything else until it ends or
    /// [`Self::stop_override`]; replaces an earlier override.
    pub fn play_override(&self, spec: ToneSpec) {
        self.state().over = Some(ToneGenerator::new(spec));
    }

    /// Ends the override tone (queued digits still play).
    pub fn stop_override(&self) {
        self.state().over = None;
    }

    /// True while an override tone or a queued digit plays.
    pub fn is_overridden(&self) -> bool {
        let state = self.state();
        state.over.is_some() || !state.digits.is_empty()
    }

    /// Plays `spec` (a digit) after the digits queued before it, under any
    /// override.
    pub fn queue_digit(&self, spec: ToneSpec) {
        self.state().digits.push_back(ToneGenerator::new(spec));
    }

    /// Counters now.
    pub fn stats(&self) -> PortStats {
        self.state().stats
    }

    /// Bridged samples queued now.
    pub fn queued(&self) -> usize {
        self.state().audio.len()
    }
}

impl AudioSource for BridgePort {
    fn fill(&mut self, out: &mut [i16]) -> bool {
        self.state().fill(out);
        true
    }
}
