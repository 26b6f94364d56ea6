//! Tone generation at 8 kHz: single and dual (DTMF, ITU-T Q.23) tones with
//! levels in dBm0 (ITU-T G.711), cadences and one-shot sequences such as the
//! Ademco Contact ID handshake and kissoff.
//!
//! Level convention: a sine of level `L` dBm0 has amplitude
//! `32767 * 10^((L - 3.14) / 20)`. G.711 A-law puts a full-scale sine at
//! +3.14 dBm0 (µ-law +3.17; we use 3.14 for both, 0.03 dB apart).
//! Phase runs on across frames, so a tone split into 20 ms frames is one
//! continuous sine; each segment starts at phase 0.

/// Sample rate of everything generated here.
pub const SAMPLE_RATE: u32 = 8000;
/// dBm0 of a full-scale sine (G.711 A-law).
#[allow(clippy::approx_constant)] // 3.14 dB from G.711, not an approximation of π
pub const FULL_SCALE_DBM0: f32 = 3.14;
/// Level of the Contact ID handshake and kissoff (spandsp uses -11 dBm0).
pub const CONTACT_ID_LEVEL_DBM0: f32 = -11.0;

/// Peak amplitude of a sine of `level_dbm0`, in 16-bit linear units.
pub fn amplitude(level_dbm0: f32) -> f32 {
    32767.0 * 10f32.powf((level_dbm0 - FULL_SCALE_DBM0) / 20.0)
}

/// The DTMF pair (low row, high column frequency in Hz) of a digit:
/// `0`-`9`, `*`, `#`, `A`-`D` (either case).
pub fn dtmf_tone(digit: char) -> Option<(f32, f32)> {
    const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const KEYS: [[char; 4]; 4] = [
        ['1', '2', '3', 'A'],
        ['4', '5', '6', 'B'],
        ['7', '8', '9', 'C'],
        ['*', '0', '#', 'D'],
    ];
    let digit = digit.to_ascii_uppercase();
    KEYS.iter().zip(ROWS).find_map(|(row, low)| {
        row.iter()
            .zip(COLS)
            .find(|(&k, _)| k == digit)
            .map(|(_, high)| (low, high))
    })
}

/// One sine component of a segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    /// Frequency in Hz.
    pub freq_hz: f32,
    /// Level in dBm0.
    pub level_dbm0: f32,
}

/// A stretch of output: up to two sines summed, or silence, for a duration.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The sines (empty for silence, at most two are used).
    pub components: Vec<Component>,
    /// Length in milliseconds.
    pub duration_ms: u32,
}

impl Segment {
    /// One frequency.
    pub fn tone(freq_hz: f32, level_dbm0: f32, duration_ms: u32) -> Self {
        let components = vec![Component {
            freq_hz,
            level_dbm0,
        }];
        Self {
            components,
            duration_ms,
        }
    }

    /// Two frequencies summed, each at its own level.
    pub fn dual(low: Component, high: Component, duration_ms: u32) -> Self {
        Self {
            components: vec![low, high],
            duration_ms,
        }
    }

    /// Silence.
    pub fn silence(duration_ms: u32) -> Self {
        Self {
            components: Vec::new(),
            duration_ms,
        }
    }

    fn samples(&self) -> u64 {
        u64::from(self.duration_ms) * u64::from(SAMPLE_RATE) / 1000
    }
}

/// DTMF digit shape: level, twist and on/off times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DtmfParams {
    /// Level of the low (row) tone in dBm0.
    pub level_dbm0: f32,
    /// High tone level minus low tone level in dB (positive: high louder).
    pub twist_db: f32,
    /// Tone on time.
    pub on_ms: u32,
    /// Silence after each digit.
    pub off_ms: u32,
}

impl Default for DtmfParams {
    /// -10 dBm0 per tone, no twist, 55 ms on, 55 ms off (the spandsp
    /// Contact ID sender's timing).
    fn default() -> Self {
        Self {
            level_dbm0: -10.0,
            twist_db: 0.0,
            on_ms: 55,
            off_ms: 55,
        }
    }
}

/// What to play: segments in order, once or repeated forever.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneSpec {
    /// The segments.
    pub segments: Vec<Segment>,
    /// Start again after the last segment (a cadence).
    pub repeat: bool,
}

impl ToneSpec {
    /// Play `segments` once.
    pub fn once(segments: Vec<Segment>) -> Self {
        Self {
            segments,
            repeat: false,
        }
    }

    /// A steady tone that never ends.
    pub fn continuous(freq_hz: f32, level_dbm0: f32) -> Self {
        Self::cadence(
            vec![Component {
                freq_hz,
                level_dbm0,
            }],
            u32::MAX,
            0,
        )
    }

    /// `components` for `on_ms`, silence for `off_ms`, repeated.
    pub fn cadence(components: Vec<Component>, on_ms: u32, off_ms: u32) -> Self {
        let on = Segment {
            components,
            duration_ms: on_ms,
        };
        let mut segments = vec![on];
        if off_ms > 0 {
            segments.push(Segment::silence(off_ms));
        }
        Self {
            segments,
            repeat: true,
        }
    }

    /// Contact ID handshake: 1400 Hz 100 ms, silence 100 ms, 2300 Hz 100 ms.
    pub fn contact_id_handshake() -> Self {
        Self::once(vec![
            Segment::tone(1400.0, CONTACT_ID_LEVEL_DBM0, 100),
            Segment::silence(100),
            Segment::tone(2300.0, CONTACT_ID_LEVEL_DBM0, 100),
        ])
    }

    /// Contact ID kissoff: 1400 Hz for 850 ms (spandsp's length).
    pub fn contact_id_kissoff() -> Self {
        Self::once(vec![Segment::tone(1400.0, CONTACT_ID_LEVEL_DBM0, 850)])
    }

    /// DTMF for each digit of `digits`; `None` if any is not a DTMF key.
    pub fn dtmf(digits: &str, params: DtmfParams) -> Option<Self> {
        let mut segments = Vec::with_capacity(2 * digits.len());
        for digit in digits.chars() {
            let (low, high) = dtmf_tone(digit)?;
            let low = Component {
                freq_hz: low,
                level_dbm0: params.level_dbm0,
            };
            let high_level = params.level_dbm0 + params.twist_db;
            let high = Component {
                freq_hz: high,
                level_dbm0: high_level,
            };
            segments.push(Segment::dual(low, high, params.on_ms));
            segments.push(Segment::silence(params.off_ms));
        }
        Some(Self::once(segments))
    }
}

/// Plays a [`ToneSpec`] into PCM buffers, phase-continuous across calls.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    spec: ToneSpec,
    index: usize,
    left: u64,
    osc: [Oscillator; 2],
    finished: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Oscillator {
    phase: f64,
    step: f64,
    amplitude: f32,
}

impl Oscillator {
    fn next(&mut self) -> f32 {
        let value = self.amplitude * (std::f64::consts::TAU * self.phase).sin() as f32;
        self.phase = (self.phase + self.step).fract();
        value
    }
}

impl ToneGenerator {
    /// A generator at the start of `spec`.
    pub fn new(spec: ToneSpec) -> Self {
        let mut gen = Self {
            spec,
            index: 0,
            left: 0,
            osc: Default::default(),
            finished: false,
        };
        gen.enter(0);
        gen.skip_spent();
        gen
    }

    /// Fills `out` and returns true if any of it came from the spec (the
    /// rest, after the end, is silence). `while gen.fill(&mut f) { send(f) }`
    /// sends the whole spec, the last frame padded with silence.
    pub fn fill(&mut self, out: &mut [i16]) -> bool {
        let playing = !self.finished;
        for sample in out.iter_mut() {
            *sample = self.next_sample();
        }
        playing
    }

    /// True once a one-shot spec has played to the end.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn next_sample(&mut self) -> i16 {
        if self.finished {
            return 0;
        }
        let sum: f32 = self.osc.iter_mut().map(Oscillator::next).sum();
        self.left = self.left.saturating_sub(1);
        self.skip_spent();
        sum.round().clamp(-32768.0, 32767.0) as i16
    }

    /// Advances past spent (and zero-length) segments, so that the end of a
    /// one-shot spec is known as soon as its last sample is out.
    fn skip_spent(&mut self) {
        while !self.finished && self.left == 0 {
            self.advance();
        }
    }

    /// Moves to the next segment (wrapping for a cadence).
    fn advance(&mut self) {
        let next = self.index + 1;
        if next < self.spec.segments.len() {
            self.enter(next);
        } else if self.spec.repeat && self.spec.segments.iter().any(|s| s.samples() > 0) {
            self.enter(0);
        } else {
            self.finished = true;
        }
    }

    fn enter(&mut self, index: usize) {
        self.index = index;
        let Some(segment) = self.spec.segments.get(index) else {
            self.finished = true;
            return;
        };
        self.left = segment.samples();
        self.osc = Default::default();
        for (osc, c) in self.osc.iter_mut().zip(&segment.components) {
            osc.step = f64::from(c.freq_hz) / f64::from(SAMPLE_RATE);
            osc.amplitude = amplitude(c.level_dbm0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goertzel power of `freq` in `x`, normalised to the sine amplitude.
    fn goertzel_amplitude(x: &[i16], freq: f32) -> f32 {
        let w = std::f32::consts::TAU * freq / SAMPLE_RATE as f32;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0f32, 0f32);
        for &v in x {
            let s0 = f32::from(v) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        2.0 * power.sqrt() / x.len() as f32
    }

    fn play(spec: ToneSpec, frames: usize) -> Vec<i16> {
        let mut gen = ToneGenerator::new(spec);
        let mut out = vec![0i16; 160 * frames];
        for frame in out.chunks_mut(160) {
            gen.fill(frame);
        }
        out
    }

    #[test]
    fn level_convention() {
        assert!((amplitude(FULL_SCALE_DBM0) - 32767.0).abs() < 0.5);
        assert!((amplitude(0.0) - 22826.0).abs() < 5.0); // 32767 * 10^(-3.14/20)
        assert!((amplitude(-11.0) / amplitude(-5.0) - 0.5012).abs() < 1e-3);
    }

    #[test]
    fn dtmf_table() {
        assert_eq!(dtmf_tone('1'), Some((697.0, 1209.0)));
        assert_eq!(dtmf_tone('0'), Some((941.0, 1336.0)));
        assert_eq!(dtmf_tone('#'), Some((941.0, 1477.0)));
        assert_eq!(dtmf_tone('d'), Some((941.0, 1633.0)));
        assert_eq!(dtmf_tone('9'), Some((852.0, 1477.0)));
        assert_eq!(dtmf_tone('E'), None);
        assert!(ToneSpec::dtmf("12E", DtmfParams::default()).is_none());
    }

    #[test]
    fn frames_are_phase_continuous() {
        // Frame by frame equals one block of the same length.
        let spec = ToneSpec::continuous(1004.0, -3.0);
        let framed = play(spec.clone(), 5);
        let mut whole = vec![0i16; 800];
        ToneGenerator::new(spec).fill(&mut whole);
        assert_eq!(framed, whole);
        // And the sine is clean: no step larger than a sine's slope allows.
        let max_step = amplitude(-3.0) * std::f32::consts::TAU * 1004.0 / 8000.0;
        for pair in framed.windows(2) {
            assert!(f32::from((pair[1] - pair[0]).abs()) <= max_step + 1.0);
        }
    }

    #[test]
    fn handshake_timing_and_frequencies() {
        let mut gen = ToneGenerator::new(ToneSpec::contact_id_handshake());
        let mut frames = Vec::new();
        let mut frame = [0i16; 160];
        while gen.fill(&mut frame) {
            frames.extend_from_slice(&frame);
        }
        assert_eq!(frames.len(), 2400, "300 ms in whole 20 ms frames");
        assert!(gen.is_finished());
        let (first, gap, second) = (&frames[..800], &frames[800..1600], &frames[1600..]);
        let amp = amplitude(CONTACT_ID_LEVEL_DBM0);
        assert!((goertzel_amplitude(first, 1400.0) - amp).abs() < amp * 0.02);
        assert!(goertzel_amplitude(first, 2300.0) < amp * 0.02);
        assert!(gap.iter().all(|&s| s == 0));
        assert!((goertzel_amplitude(second, 2300.0) - amp).abs() < amp * 0.02);
        assert!(!gen.fill(&mut frame) && frame.iter().all(|&s| s == 0));
    }

    #[test]
    fn kissoff_lasts_850_ms() {
        let out = play(ToneSpec::contact_id_kissoff(), 45);
        let last_tone = out.iter().rposition(|&s| s != 0).unwrap_or(0);
        assert!((6790..6800).contains(&last_tone), "{last_tone}");
    }

    #[test]
    fn dtmf_with_twist() {
        let params = DtmfParams {
            level_dbm0: -10.0,
            twist_db: 4.0,
            on_ms: 50,
            off_ms: 50,
        };
        let out = play(ToneSpec::dtmf("5", params).expect("digit"), 5);
        let on = &out[..400];
        let low = goertzel_amplitude(on, 770.0);
        let high = goertzel_amplitude(on, 1336.0);
        assert!((20.0 * (high / low).log10() - 4.0).abs() < 0.2);
        assert!((low - amplitude(-10.0)).abs() < amplitude(-10.0) * 0.02);
        assert!(out[400..].iter().all(|&s| s == 0));
    }

    #[test]
    fn cadence_repeats_and_extreme_levels_clip() {
        let tone = vec![Component {
            freq_hz: 425.0,
            level_dbm0: FULL_SCALE_DBM0,
        }];
        let out = play(ToneSpec::cadence(tone.clone(), 20, 20), 4);
        assert!(out[..160].iter().any(|&s| s > 30000));
        assert!(out[160..320].iter().all(|&s| s == 0));
        assert!(out[320..480].iter().any(|&s| s > 30000));
        let loud = vec![tone[0], tone[0]];
        let clipped = play(ToneSpec::cadence(loud, 20, 0), 1);
        assert_eq!(clipped.iter().max(), Some(&32767));
        // An empty or zero-length cadence ends instead of spinning.
        let mut gen = ToneGenerator::new(ToneSpec::cadence(vec![], 0, 0));
        assert!(!gen.fill(&mut [0; 10]));
    }
}
