//! Goertzel filters (single bins of a DFT) for tone detection on 8 kHz PCM.
//!
//! Source: G. Goertzel, "An algorithm for the evaluation of finite trigonometric
//! series" (1958); the block form used by ITU-T Q.24-style DTMF receivers.
//! For a block of `N` samples the filter runs `s = x + 2cos(w)·s1 − s2` per
//! sample and yields the bin power `s1² + s2² − 2cos(w)·s1·s2`, which for a
//! sine of amplitude `A` exactly on the bin is `(A·N/2)²`.
//!
//! Levels use the G.711 convention shared with spandsp: a full-scale 16-bit
//! sine is +3.14 dBm0, so `dBm0 = 10·log10(mean_square / 32767²) + 6.16`.

/// Telephony sample rate used throughout alarmgate's DSP (Hz).
pub const SAMPLE_RATE: f32 = 8000.0;

/// dB offset between the mean square of a 16-bit signal relative to full
/// scale and its level in dBm0 (3.14 dBm0 full-scale sine + 3.02 dB).
const DBM0_OFFSET_DB: f32 = 6.16;

/// Full-scale 16-bit amplitude.
const FULL_SCALE: f32 = 32767.0;

/// Converts a mean-square value of 16-bit PCM into a level in dBm0.
pub fn mean_square_to_dbm0(mean_square: f32) -> f32 {
    10.0 * (mean_square.max(1e-9) / (FULL_SCALE * FULL_SCALE)).log10() + DBM0_OFFSET_DB
}

/// Converts a level in dBm0 into the mean square of 16-bit PCM.
pub fn dbm0_to_mean_square(dbm0: f32) -> f32 {
    FULL_SCALE * FULL_SCALE * 10f32.powf((dbm0 - DBM0_OFFSET_DB) / 10.0)
}

/// Peak amplitude of a sine at `dbm0` in 16-bit PCM (for tone generators).
pub fn dbm0_to_amplitude(dbm0: f32) -> f32 {
    (2.0 * dbm0_to_mean_square(dbm0)).sqrt()
}

/// Mean square of the on-bin sine that gives Goertzel `power` over `block_len`
/// samples: `power = ms·N²/2`.
pub fn power_to_mean_square(power: f32, block_len: usize) -> f32 {
    let n = block_len as f32;
    2.0 * power / (n * n)
}

/// Goertzel power an on-bin sine of `dbm0` produces over `block_len` samples.
pub fn dbm0_to_power(dbm0: f32, block_len: usize) -> f32 {
    let n = block_len as f32;
    dbm0_to_mean_square(dbm0) * n * n / 2.0
}

/// The Goertzel feedback coefficient `2·cos(2π·f/fs)`.
pub fn coefficient(freq_hz: f32, sample_rate: f32) -> f32 {
    2.0 * (2.0 * std::f32::consts::PI * freq_hz / sample_rate).cos()
}

/// One Goertzel filter, evaluated over blocks the caller delimits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goertzel {
    coeff: f32,
    s1: f32,
    s2: f32,
}

impl Goertzel {
    /// A filter centred on `freq_hz` at `sample_rate`.
    pub fn new(freq_hz: f32, sample_rate: f32) -> Self {
        Self {
            coeff: coefficient(freq_hz, sample_rate),
            s1: 0.0,
            s2: 0.0,
        }
    }

    /// Feeds one sample.
    #[inline]
    pub fn push(&mut self, x: f32) {
        let s0 = x + self.coeff * self.s1 - self.s2;
        self.s2 = self.s1;
        self.s1 = s0;
    }

    /// Feeds a run of PCM samples.
    pub fn push_pcm(&mut self, samples: &[i16]) {
        for &x in samples {
            self.push(f32::from(x));
        }
    }

    /// Bin power of everything fed since the last reset.
    pub fn power(&self) -> f32 {
        self.s1 * self.s1 + self.s2 * self.s2 - self.coeff * self.s1 * self.s2
    }

    /// Starts a new block.
    pub fn reset(&mut self) {
        self.s1 = 0.0;
        self.s2 = 0.0;
    }
}

/// `K` Goertzel filters run in lock-step over the same samples, laid out as
/// arrays so that the compiler vectorises the inner loop (the DTMF bank is 8).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GoertzelBank<const K: usize> {
    coeff: [f32; K],
    s1: [f32; K],
    s2: [f32; K],
    energy: f32,
}

impl<const K: usize> GoertzelBank<K> {
    /// A bank with one filter per entry of `freqs_hz`.
    pub fn new(freqs_hz: [f32; K], sample_rate: f32) -> Self {
        Self {
            coeff: freqs_hz.map(|f| coefficient(f, sample_rate)),
            s1: [0.0; K],
            s2: [0.0; K],
            energy: 0.0,
        }
    }

    /// Feeds a run of PCM samples to every filter and to the energy sum.
    #[inline]
    pub fn push_pcm(&mut self, samples: &[i16]) {
        let (mut s1, mut s2, c) = (self.s1, self.s2, self.coeff);
        let mut energy = 0.0f32;
        for &x in samples {
            let x = f32::from(x);
            energy += x * x;
            for k in 0..K {
                let s0 = (x - s2[k]) + c[k] * s1[k];
                s2[k] = s1[k];
                s1[k] = s0;
            }
        }
        self.s1 = s1;
        self.s2 = s2;
        self.energy += energy;
    }

    /// The bin powers of the current block.
    pub fn powers(&self) -> [f32; K] {
        std::array::from_fn(|k| {
            let (s1, s2) = (self.s1[k], self.s2[k]);
            s1 * s1 + s2 * s2 - self.coeff[k] * s1 * s2
        })
    }

    /// Sum of squares of the samples in the current block.
    pub fn energy(&self) -> f32 {
        self.energy
    }

    /// Starts a new block.
    pub fn reset(&mut self) {
        self.s1 = [0.0; K];
        self.s2 = [0.0; K];
        self.energy = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, amp: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE;
                (amp * (2.0 * std::f32::consts::PI * freq * t).sin()).round() as i16
            })
            .collect()
    }

    #[test]
    fn on_bin_power_matches_theory() {
        // 1000 Hz over 160 samples: 20 cycles exactly.
        let pcm = sine(1000.0, 10000.0, 160);
        let mut g = Goertzel::new(1000.0, SAMPLE_RATE);
        g.push_pcm(&pcm);
        let expected = (10000.0f32 * 160.0 / 2.0).powi(2);
        assert!((g.power() / expected - 1.0).abs() < 0.01, "{}", g.power());
    }

    #[test]
    fn off_bin_is_rejected() {
        let pcm = sine(2000.0, 10000.0, 160);
        let mut g = Goertzel::new(1000.0, SAMPLE_RATE);
        g.push_pcm(&pcm);
        let on = (10000.0f32 * 160.0 / 2.0).powi(2);
        assert!(g.power() < on * 1e-4);
    }

    #[test]
    fn bank_agrees_with_single_filters_and_energy() {
        let pcm = sine(697.0, 8000.0, 102);
        let mut bank = GoertzelBank::new([697.0, 770.0], SAMPLE_RATE);
        bank.push_pcm(&pcm[..40]);
        bank.push_pcm(&pcm[40..]);
        let mut single = Goertzel::new(697.0, SAMPLE_RATE);
        single.push_pcm(&pcm);
        let p = bank.powers();
        assert!((p[0] / single.power() - 1.0).abs() < 1e-3);
        assert!(p[1] < p[0] / 4.0);
        let e: f32 = pcm.iter().map(|&x| f32::from(x) * f32::from(x)).sum();
        assert!((bank.energy() / e - 1.0).abs() < 1e-4);
        bank.reset();
        assert_eq!(bank.energy(), 0.0);
    }

    #[test]
    fn level_conversions_round_trip() {
        // A full-scale sine is +3.14 dBm0.
        let ms = FULL_SCALE * FULL_SCALE / 2.0;
        assert!((mean_square_to_dbm0(ms) - (DBM0_OFFSET_DB - 3.02)).abs() < 0.01);
        for db in [-40.0f32, -20.0, 0.0] {
            assert!((mean_square_to_dbm0(dbm0_to_mean_square(db)) - db).abs() < 0.01);
            let p = dbm0_to_power(db, 102);
            let back = mean_square_to_dbm0(power_to_mean_square(p, 102));
            assert!((back - db).abs() < 0.01);
        }
        assert!((dbm0_to_amplitude(0.0) - 22_800.0).abs() < 30.0);
    }
}
