//! Single-frequency tone presence detector with on/off edges and durations.
//!
//! Used for the Contact ID handshake (1400 Hz then 2300 Hz, 100 ms each) and
//! kissoff (1400 Hz, 750-1000 ms) of SIA DC-05, for example by the device
//! simulator that plays the alarm unit. The sender must accept ±3 % (and
//! should accept ±5 %) frequency error: the default 40-sample (5 ms) block
//! has a 200 Hz bin, so 2300 Hz ±5 % loses about 5.4 dB, inside the default
//! -6 dB tone-to-total limit. A block is a hit when the bin holds at least
//! `min_tone_to_total_db` of the block energy and the tone is above
//! `min_level_dbm0`; edges need `on_blocks` / `off_blocks` consecutive blocks.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::goertzel::{
    dbm0_to_power, mean_square_to_dbm0, power_to_mean_square, Goertzel, SAMPLE_RATE,
};

const NANOS_PER_SAMPLE: u64 = 125_000;

/// Thresholds of a [`ToneDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneConfig {
    /// Centre frequency, Hz.
    pub freq_hz: f32,
    /// Samples per analysis block (default 40 = 5 ms).
    pub block_len: usize,
    /// Minimum tone level, dBm0 (default -42, spandsp's handshake threshold).
    pub min_level_dbm0: f32,
    /// Minimum share of the block energy in the bin, dB (default -6).
    pub min_tone_to_total_db: f32,
    /// Consecutive hit blocks before the tone is reported on (default 2).
    pub on_blocks: u32,
    /// Consecutive miss blocks before it is reported off (default 2).
    pub off_blocks: u32,
}

impl ToneConfig {
    /// Defaults for a tone at `freq_hz`.
    pub fn for_frequency(freq_hz: f32) -> Self {
        Self {
            freq_hz,
            block_len: 40,
            min_level_dbm0: -42.0,
            min_tone_to_total_db: -6.0,
            on_blocks: 2,
            off_blocks: 2,
        }
    }
}

/// Edges reported by [`ToneDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToneEvent {
    /// The tone is present; `at` is the start of its first hit block.
    Started {
        /// Estimated tone start.
        at: Instant,
    },
    /// The tone stopped; `at` is the end of its last hit block.
    Ended {
        /// Estimated tone end.
        at: Instant,
        /// From start to end.
        duration: Duration,
        /// Mean tone level over the hit blocks, dBm0.
        level_dbm0: f32,
    },
}

#[derive(Debug, Clone, Copy)]
struct Active {
    started_at: Instant,
    last_end: Instant,
    sum_ms: f32,
    blocks: u32,
}

/// A streaming single-tone detector for one channel.
#[derive(Debug, Clone)]
pub struct ToneDetector {
    block_len: usize,
    min_power: f32,
    min_ratio: f32,
    on_blocks: u32,
    off_blocks: u32,
    filter: Goertzel,
    energy: f32,
    filled: usize,
    block_start: Option<Instant>,
    hit_run: u32,
    miss_run: u32,
    run_start: Option<Instant>,
    active: Option<Active>,
    events: VecDeque<ToneEvent>,
}

impl ToneDetector {
    /// A detector with the given thresholds (a zero block length is taken as 1).
    pub fn new(config: ToneConfig) -> Self {
        let block_len = config.block_len.max(1);
        Self {
            block_len,
            min_power: dbm0_to_power(config.min_level_dbm0, block_len),
            min_ratio: 10f32.powf(config.min_tone_to_total_db / 10.0),
            on_blocks: config.on_blocks.max(1),
            off_blocks: config.off_blocks.max(1),
            filter: Goertzel::new(config.freq_hz, SAMPLE_RATE),
            energy: 0.0,
            filled: 0,
            block_start: None,
            hit_run: 0,
            miss_run: 0,
            run_start: None,
            active: None,
            events: VecDeque::with_capacity(2),
        }
    }

    /// Feeds a frame of any length; `now` is the time of its first sample.
    pub fn process(&mut self, now: Instant, samples: &[i16]) {
        let mut offset = 0;
        while offset < samples.len() {
            if self.filled == 0 {
                self.block_start = Some(now + sample_time(offset));
            }
            let take = (self.block_len - self.filled).min(samples.len() - offset);
            let chunk = &samples[offset..offset + take];
            self.filter.push_pcm(chunk);
            self.energy += chunk
                .iter()
                .map(|&x| f32::from(x) * f32::from(x))
                .sum::<f32>();
            self.filled += take;
            offset += take;
            if self.filled == self.block_len {
                self.finish_block();
            }
        }
    }

    /// The next edge, oldest first.
    pub fn poll_event(&mut self) -> Option<ToneEvent> {
        self.events.pop_front()
    }

    /// True while the tone is reported on.
    pub fn is_on(&self) -> bool {
        self.active.is_some()
    }

    /// True when no tone is on or starting: more silence changes nothing.
    pub fn is_idle(&self) -> bool {
        self.active.is_none() && self.hit_run == 0
    }

    /// `duration` of silence from `now` that no packet carried: as much as
    /// ends a tone (the partial block and `off_blocks` more) is fed, and the
    /// next audio starts a new block.
    pub fn silence(&mut self, now: Instant, duration: Duration) {
        const ZEROS: [i16; 160] = [0; 160];
        let needed = self.block_len * (self.off_blocks as usize + 1);
        let n = (duration.as_nanos() / u128::from(NANOS_PER_SAMPLE)) as usize;
        let mut fed = 0;
        while fed < n.min(needed) {
            let take = (n.min(needed) - fed).min(ZEROS.len());
            self.process(
                now + sample_time(fed),
                ZEROS.get(..take).unwrap_or_default(),
            );
            fed += take;
        }
        if n > needed {
            self.filter.reset();
            self.energy = 0.0;
            self.filled = 0;
        }
    }

    fn finish_block(&mut self) {
        let start = self.block_start.unwrap_or_else(crate::clock::epoch);
        let end = start + sample_time(self.block_len);
        let power = self.filter.power();
        let n = self.block_len as f32;
        let hit = power >= self.min_power && 2.0 * power >= self.min_ratio * n * self.energy;
        let tone_ms = power_to_mean_square(power, self.block_len);
        self.filter.reset();
        self.energy = 0.0;
        self.filled = 0;
        if hit {
            self.on_hit(start, end, tone_ms);
        } else {
            self.on_miss();
        }
    }

    fn on_hit(&mut self, start: Instant, end: Instant, tone_ms: f32) {
        self.miss_run = 0;
        self.hit_run += 1;
        if self.hit_run == 1 {
            self.run_start = Some(start);
        }
        if let Some(a) = self.active.as_mut() {
            a.last_end = end;
            a.sum_ms += tone_ms;
            a.blocks += 1;
        } else if self.hit_run >= self.on_blocks {
            let started_at = self.run_start.unwrap_or(start);
            self.active = Some(Active {
                started_at,
                last_end: end,
                sum_ms: tone_ms,
                blocks: 1,
            });
            self.events.push_back(ToneEvent::Started { at: started_at });
        }
    }

    fn on_miss(&mut self) {
        self.hit_run = 0;
        self.miss_run += 1;
        if self.miss_run < self.off_blocks {
            return;
        }
        if let Some(a) = self.active.take() {
            self.events.push_back(ToneEvent::Ended {
                at: a.last_end,
                duration: a.last_end.saturating_duration_since(a.started_at),
                level_dbm0: mean_square_to_dbm0(a.sum_ms / a.blocks.max(1) as f32),
            });
        }
    }
}

fn sample_time(samples: usize) -> Duration {
    Duration::from_nanos(samples as u64 * NANOS_PER_SAMPLE)
}

/// Several tone detectors listening to one stream, their edges collected.
#[derive(Debug)]
pub struct ToneBank<'a, K: Copy> {
    /// The detectors, each with its key.
    pub detectors: &'a mut [(K, ToneDetector)],
    /// Where their edges go, oldest first.
    pub edges: &'a mut VecDeque<(K, ToneEvent)>,
}

impl<K: Copy> ToneBank<'_, K> {
    fn collect(&mut self) {
        for (key, det) in self.detectors.iter_mut() {
            while let Some(e) = det.poll_event() {
                self.edges.push_back((*key, e));
            }
        }
    }
}

/// A lost packet is spliced over (the tones it detects last hundreds of ms).
impl<K: Copy> super::timeline::Listener for ToneBank<'_, K> {
    fn audio(&mut self, at: Instant, samples: &[i16]) {
        self.detectors
            .iter_mut()
            .for_each(|(_, d)| d.process(at, samples));
        self.collect();
    }
    fn silence(&mut self, at: Instant, duration: Duration) {
        self.detectors
            .iter_mut()
            .for_each(|(_, d)| d.silence(at, duration));
        self.collect();
    }
    fn lost(&mut self, _: Duration) {}
    fn is_idle(&self) -> bool {
        self.detectors.iter().all(|(_, d)| d.is_idle())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::dsp::test_signals::Signal;

    fn run(det: &mut ToneDetector, pcm: &[i16], frame: usize) -> Vec<ToneEvent> {
        let mut out = Vec::new();
        for (i, chunk) in pcm.chunks(frame).enumerate() {
            det.process(epoch() + sample_time(i * frame), chunk);
            while let Some(e) = det.poll_event() {
                out.push(e);
            }
        }
        out
    }

    fn ms(d: Duration) -> f32 {
        d.as_secs_f32() * 1000.0
    }

    fn handshake(offset: f32, db: f32) -> Vec<i16> {
        let mut s = Signal::default();
        s.silence(200.0)
            .tones(100.0, &[(1400.0 * (1.0 + offset), db)])
            .silence(100.0)
            .tones(100.0, &[(2300.0 * (1.0 + offset), db)])
            .silence(200.0)
            .add_noise(-50.0, 7);
        s.pcm()
    }

    /// Durations and edges of the handshake within one block (5 ms) plus
    /// the partial-block edge: ±3 % down to -35 dBm0, ±5 % at -11 dBm0, any
    /// frame length.
    #[test]
    fn handshake_edges_and_durations() {
        for (offset, db) in [
            (-0.03, -35.0),
            (0.0, -35.0),
            (0.03, -35.0),
            (-0.05, -11.0),
            (0.0, -11.0),
            (0.05, -11.0),
        ] {
            {
                for frame in [160, 77] {
                    let pcm = handshake(offset, db);
                    for (freq, started_ms) in [(1400.0, 200.0), (2300.0, 400.0)] {
                        let mut det = ToneDetector::new(ToneConfig::for_frequency(freq));
                        let ev = run(&mut det, &pcm, frame);
                        assert_eq!(ev.len(), 2, "{freq} {offset} {db} {ev:?}");
                        let ToneEvent::Started { at } = ev[0] else {
                            panic!()
                        };
                        assert!((ms(at - epoch()) - started_ms).abs() <= 5.0, "{ev:?}");
                        let ToneEvent::Ended {
                            duration,
                            level_dbm0,
                            ..
                        } = ev[1]
                        else {
                            panic!()
                        };
                        assert!((ms(duration) - 100.0).abs() <= 10.0, "{duration:?}");
                        assert!((level_dbm0 - db).abs() < 7.0, "{level_dbm0}");
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_other_tones_weak_tones_and_noise() {
        let mut s = Signal::default();
        s.tones(300.0, &[(1900.0, -10.0)])
            .tones(300.0, &[(1400.0, -48.0)])
            .silence(300.0)
            .add_noise(-20.0, 3);
        let mut det = ToneDetector::new(ToneConfig::for_frequency(1400.0));
        assert!(run(&mut det, &s.pcm(), 160).is_empty());
        assert!(!det.is_on());
    }

    /// A tone followed by no audio at all: silence fed by time ends it at
    /// its real end; beyond that silence changes nothing.
    #[test]
    fn silence_without_packets_ends_a_tone() {
        let mut s = Signal::default();
        s.tones(100.0, &[(2300.0, -11.0)]);
        let mut det = ToneDetector::new(ToneConfig::for_frequency(2300.0));
        let mut ev = run(&mut det, &s.pcm(), 160);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!(!det.is_idle());
        det.silence(epoch() + Duration::from_millis(100), Duration::from_secs(2));
        ev.extend(std::iter::from_fn(|| det.poll_event()));
        let ToneEvent::Ended { at, duration, .. } = ev[1] else {
            panic!("{ev:?}")
        };
        assert!((ms(at - epoch()) - 100.0).abs() <= 5.0, "{ev:?}");
        assert!((ms(duration) - 100.0).abs() <= 10.0, "{ev:?}");
        assert!(det.is_idle());
    }

    #[test]
    fn kissoff_850_ms_is_one_tone() {
        let mut s = Signal::default();
        s.silence(100.0)
            .tones(850.0, &[(1400.0, -11.0)])
            .silence(100.0);
        let mut det = ToneDetector::new(ToneConfig::for_frequency(1400.0));
        let ev = run(&mut det, &s.pcm(), 160);
        assert_eq!(ev.len(), 2);
        let ToneEvent::Ended { duration, .. } = ev[1] else {
            panic!()
        };
        assert!((ms(duration) - 850.0).abs() <= 10.0);
    }
}
