//! Synthetic test audio for the DSP tests: DTMF pairs, sine tones, white
//! noise from a small LCG, and speech-like signals for talk-off tests.
//! Test-only; nothing here ships.

use std::f32::consts::PI;

use super::goertzel::{dbm0_to_amplitude, SAMPLE_RATE};

/// Row and column frequencies of a DTMF key (Q.23).
pub fn dtmf_freqs(digit: char) -> (f32, f32) {
    let keys = "123A456B789C*0#D";
    let i = keys.find(digit).unwrap_or(0);
    let rows = [697.0, 770.0, 852.0, 941.0];
    let cols = [1209.0, 1336.0, 1477.0, 1633.0];
    (rows[i / 4], cols[i % 4])
}

/// A floating-point signal builder, clipped to i16 at the end.
#[derive(Default)]
pub struct Signal {
    /// Samples, in 16-bit units.
    pub samples: Vec<f32>,
}

impl Signal {
    /// Appends `ms` of silence.
    pub fn silence(&mut self, ms: f32) -> &mut Self {
        let n = (ms * 8.0).round() as usize;
        self.samples.extend(std::iter::repeat_n(0.0, n));
        self
    }

    /// Appends `ms` of the sum of sines `(freq, dBm0)`.
    pub fn tones(&mut self, ms: f32, parts: &[(f32, f32)]) -> &mut Self {
        let n = (ms * 8.0).round() as usize;
        let start = self.samples.len();
        for i in 0..n {
            let t = (start + i) as f32 / SAMPLE_RATE;
            let v: f32 = parts
                .iter()
                .map(|&(f, db)| dbm0_to_amplitude(db) * (2.0 * PI * f * t).sin())
                .sum();
            self.samples.push(v);
        }
        self
    }

    /// Appends a DTMF digit: row at `row_db`, column at `col_db`, both
    /// frequencies scaled by `1 + offset`.
    pub fn dtmf(
        &mut self,
        digit: char,
        ms: f32,
        row_db: f32,
        col_db: f32,
        offset: f32,
    ) -> &mut Self {
        let (r, c) = dtmf_freqs(digit);
        self.tones(
            ms,
            &[(r * (1.0 + offset), row_db), (c * (1.0 + offset), col_db)],
        )
    }

    /// Adds uniform white noise of total level `dbm0` over the whole signal.
    pub fn add_noise(&mut self, dbm0: f32, seed: u32) -> &mut Self {
        let mut lcg = Lcg(seed);
        // Uniform on [-a, a] has mean square a²/3.
        let a = (3.0f32).sqrt() * dbm0_to_amplitude(dbm0) / (2.0f32).sqrt();
        for s in &mut self.samples {
            *s += a * lcg.next_signed();
        }
        self
    }

    /// The signal as 16-bit PCM.
    pub fn pcm(&self) -> Vec<i16> {
        self.samples
            .iter()
            .map(|&v| v.round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }
}

/// Numerical Recipes LCG.
pub struct Lcg(pub u32);

impl Lcg {
    /// Uniform in [-1, 1).
    pub fn next_signed(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (self.0 >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    }
}

/// A vowel-like voiced sound: harmonics of `f0` (gliding linearly to `f0_end`)
/// shaped by three formant resonances, scaled to `dbm0` overall.
pub fn vowel(ms: f32, f0: f32, f0_end: f32, formants: [f32; 3], dbm0: f32) -> Vec<f32> {
    let n = (ms * 8.0) as usize;
    let mut phase = 0.0f32;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let f = f0 + (f0_end - f0) * i as f32 / n as f32;
        phase += 2.0 * PI * f / SAMPLE_RATE;
        let mut v = 0.0;
        let mut h = 1;
        while h as f32 * f < 3600.0 {
            let fh = h as f32 * f;
            let gain: f32 = formants
                .iter()
                .map(|&fm| 1.0 / (1.0 + ((fh - fm) / 90.0).powi(2)))
                .sum();
            v += gain * (h as f32 * phase).sin() / (h as f32).sqrt();
            h += 1;
        }
        out.push(v);
    }
    normalise(out, dbm0)
}

/// A linear sweep from `f_start` to `f_end`, optionally with its 2nd and 3rd
/// harmonics, at `dbm0`.
pub fn sweep(ms: f32, f_start: f32, f_end: f32, harmonics: bool, dbm0: f32) -> Vec<f32> {
    let n = (ms * 8.0) as usize;
    let mut phase = 0.0f32;
    let out = (0..n)
        .map(|i| {
            let f = f_start + (f_end - f_start) * i as f32 / n as f32;
            phase += 2.0 * PI * f / SAMPLE_RATE;
            let mut v = phase.sin();
            if harmonics {
                v += 0.5 * (2.0 * phase).sin() + 0.3 * (3.0 * phase).sin();
            }
            v
        })
        .collect();
    normalise(out, dbm0)
}

fn normalise(mut v: Vec<f32>, dbm0: f32) -> Vec<f32> {
    let ms = v.iter().map(|x| x * x).sum::<f32>() / v.len().max(1) as f32;
    let target = dbm0_to_amplitude(dbm0) / (2.0f32).sqrt();
    let k = target / ms.sqrt().max(1e-9);
    v.iter_mut().for_each(|x| *x *= k);
    v
}
