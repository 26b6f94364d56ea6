//! Call recording's tap on the bridge, sans-IO: both parties of a bridged
//! call as one stereo stream, the unit left and the operator right.
//!
//! The bridge feeds the tap every frame it carries ([`RecordingTap::device`],
//! [`RecordingTap::operator`]); once per packet time the runtime takes one
//! [`StereoFrame`] ([`RecordingTap::tick`]): [`FRAME_SAMPLES`] samples of
//! each channel, interleaved, the channel that had less padded with silence.
//! So the file runs in real time: a leg that sends nothing (silence
//! suppression, a lost packet) is silence there, and the other side keeps
//! its time. Each channel's backlog is bounded ([`RecordingTap::new`]); a
//! side that sends faster than real time loses its oldest samples, counted.
//!
//! Format: 8 kHz, 16-bit linear PCM, two channels. The legs may use
//! different laws (A-law unit, µ-law softphone), which a G.711 WAV cannot
//! hold in one file; PCM is what G.711 decodes to exactly, so nothing is lost,
//! and every player opens it. It costs 32 kB/s (115 MB per hour of call).

use std::collections::VecDeque;

/// Samples per channel in one frame (20 ms at 8 kHz).
pub const FRAME_SAMPLES: usize = 160;
/// The recording's sample rate, Hz.
pub const SAMPLE_RATE: u32 = 8000;
/// Channels: the unit (left) and the operator (right).
pub const CHANNELS: u16 = 2;

/// One packet time of both channels, interleaved (left, right, left...).
pub type StereoFrame = Vec<i16>;

/// Counters of one tap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapStats {
    /// Stereo frames produced.
    pub frames: u64,
    /// Samples dropped because a channel's backlog was full.
    pub overflow: u64,
    /// Silence samples inserted because a channel had nothing.
    pub padded: u64,
}

/// Collects the two directions of a bridge into stereo frames.
#[derive(Debug, Clone)]
pub struct RecordingTap {
    left: VecDeque<i16>,
    right: VecDeque<i16>,
    capacity: usize,
    stats: TapStats,
}

impl RecordingTap {
    /// A tap whose channels hold at most `backlog_ms` of audio not yet taken.
    pub fn new(backlog_ms: u32) -> Self {
        let capacity = (backlog_ms as usize * SAMPLE_RATE as usize / 1000).max(FRAME_SAMPLES);
        Self {
            left: VecDeque::with_capacity(capacity),
            right: VecDeque::with_capacity(capacity),
            capacity,
            stats: TapStats::default(),
        }
    }

    /// Samples the unit sent (left channel).
    pub fn device(&mut self, samples: &[i16]) {
        self.stats.overflow += push_bounded(&mut self.left, samples, self.capacity);
    }

    /// Samples the operator sent (right channel).
    pub fn operator(&mut self, samples: &[i16]) {
        self.stats.overflow += push_bounded(&mut self.right, samples, self.capacity);
    }

    /// The next packet time of both channels.
    pub fn tick(&mut self) -> StereoFrame {
        let mut out = Vec::with_capacity(FRAME_SAMPLES * 2);
        for _ in 0..FRAME_SAMPLES {
            let (l, r) = (self.left.pop_front(), self.right.pop_front());
            self.stats.padded += u64::from(l.is_none()) + u64::from(r.is_none());
            out.push(l.unwrap_or(0));
            out.push(r.unwrap_or(0));
        }
        self.stats.frames += 1;
        out
    }

    /// Counters now.
    pub fn stats(&self) -> TapStats {
        self.stats
    }
}

/// Appends `samples`, dropping the oldest beyond `capacity`; returns how many were dropped.
fn push_bounded(queue: &mut VecDeque<i16>, samples: &[i16], capacity: usize) -> u64 {
    queue.extend(samples);
    let excess = queue.len().saturating_sub(capacity);
    queue.drain(..excess);
    excess as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(frame: &[i16], index: usize) -> Vec<i16> {
        frame.iter().skip(index).step_by(2).copied().collect()
    }

    #[test]
    fn the_unit_is_left_and_the_operator_right() {
        let mut tap = RecordingTap::new(200);
        tap.device(&[1; FRAME_SAMPLES]);
        tap.operator(&[2; FRAME_SAMPLES]);
        let frame = tap.tick();
        assert_eq!(frame.len(), FRAME_SAMPLES * 2);
        assert!(channel(&frame, 0).iter().all(|&s| s == 1));
        assert!(channel(&frame, 1).iter().all(|&s| s == 2));
    }

    #[test]
    fn a_silent_side_is_padded_and_the_other_keeps_its_time() {
        let mut tap = RecordingTap::new(200);
        tap.device(&[5; FRAME_SAMPLES * 2]); // two packets in one tick (jitter)
        let first = tap.tick();
        let second = tap.tick();
        let third = tap.tick();
        assert!(channel(&first, 0).iter().all(|&s| s == 5));
        assert!(
            channel(&second, 0).iter().all(|&s| s == 5),
            "the burst plays out in time"
        );
        assert!(channel(&third, 0).iter().all(|&s| s == 0), "then silence");
        assert!(channel(&first, 1).iter().all(|&s| s == 0));
        assert_eq!(tap.stats().padded, (FRAME_SAMPLES * 4) as u64);
        assert_eq!(tap.stats().frames, 3);
    }

    fn tone(freq: f32, seq: u16) -> crate::media::receiver::AudioFrame {
        let samples = (0..FRAME_SAMPLES)
            .map(|i| {
                let t = (usize::from(seq) * FRAME_SAMPLES + i) as f32 / SAMPLE_RATE as f32;
                (8000.0 * (2.0 * std::f32::consts::PI * freq * t).sin()) as i16
            })
            .collect();
        crate::media::receiver::AudioFrame::Audio {
            seq,
            timestamp: u32::from(seq) * FRAME_SAMPLES as u32,
            samples,
        }
    }

    fn power(samples: &[i16], freq: f32) -> f32 {
        let mut g = crate::dsp::goertzel::Goertzel::new(freq, SAMPLE_RATE as f32);
        g.push_pcm(samples);
        g.power()
    }

    #[test]
    fn a_recorded_bridge_carries_the_unit_left_and_the_operator_right() {
        use crate::media::bridge::{Bridge, BridgeConfig};
        use crate::media::bridge_port::BridgePort;
        let port = || BridgePort::new(BridgeConfig::default().capacity_ms);
        let mut bridge = Bridge::new(BridgeConfig::default(), port(), port(), false);
        assert_eq!(bridge.record_tick(), None, "not recorded: no frames");
        bridge.record(RecordingTap::new(200));
        let mut frames = Vec::new();
        for seq in 0..25 {
            bridge.from_device(&tone(1000.0, seq));
            bridge.from_operator(&tone(1400.0, seq));
            frames.extend(bridge.record_tick().unwrap_or_default());
        }
        let (left, right) = (channel(&frames, 0), channel(&frames, 1));
        assert_eq!(left.len(), 25 * FRAME_SAMPLES);
        assert!(
            power(&left, 1000.0) > 100.0 * power(&left, 1400.0),
            "left: the unit"
        );
        assert!(
            power(&right, 1400.0) > 100.0 * power(&right, 1000.0),
            "right: the operator"
        );
        assert_eq!(bridge.tap_stats().map(|s| s.frames), Some(25));
    }

    #[test]
    fn a_side_sending_too_fast_loses_its_oldest_samples_counted() {
        let mut tap = RecordingTap::new(40); // 320 samples
        tap.operator(&[1; FRAME_SAMPLES]);
        tap.operator(&[2; FRAME_SAMPLES * 2]);
        assert_eq!(tap.stats().overflow, FRAME_SAMPLES as u64);
        assert!(
            channel(&tap.tick(), 1).iter().all(|&s| s == 2),
            "the oldest went"
        );
    }
}
