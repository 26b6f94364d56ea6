//! DTMF receiver after ITU-T Q.24 practice (Q.23 frequencies), for the
//! Contact ID digits of SIA DC-05 carried in G.711 audio.
//!
//! ## Block length: 102 samples (12.75 ms), not 205
//! A digit is accepted after two consecutive agreeing blocks and released
//! after two consecutive non-tone blocks, and Contact ID senders use 50-60 ms
//! tones with equal gaps (Q.24 asks for 40 ms). A 40 ms tone (320 samples)
//! always holds at least two whole 102-sample blocks, and so does a 40 ms
//! gap; with 205-sample blocks (25.6 ms) a 40 ms burst may hold only one, so
//! the two-block rule would need tones of 77 ms or more. 102 samples give a
//! bin width of 78 Hz, narrower than the closest row spacing (73 Hz between
//! 697 and 770 Hz) is wide, but with the relative-peak margin below a
//! ±1.5 % offset still leaves the neighbour bin more than 12 dB down.
//! (spandsp's `dtmf_rx` makes the same choice.)
//!
//! ## Per-block acceptance (all must hold)
//! 1. Strongest row and strongest column each above `min_tone_dbm0`.
//! 2. Twist within limits. Convention (as in spandsp and Asterisk): *normal*
//!    twist is the low (row) group louder than the high (column) group, at
//!    most `normal_twist_db`; *reverse* twist is the column louder, at most
//!    `reverse_twist_db`. Reported `twist_db` is row level minus column level.
//! 3. Relative peak: each winner beats the other three bins of its group by
//!    `relative_peak_db`.
//! 4. Tone-to-total energy: `2·(P_row + P_col) / (N·E)` is 1.0 for a clean
//!    digit and equals the fraction of the block the tone covers; speech puts
//!    its energy elsewhere. Must be at least `min_tone_to_total_db`.
//! 5. Second harmonic of the column tone at least `second_harmonic_db` below
//!    it (a harmonic-rich voiced sound has one; a DTMF sine has none). It runs
//!    only on blocks that passed 1-4, over the buffered block. The row's
//!    second harmonics (1394-1882 Hz) fall inside the column band, so they
//!    cannot be checked with a 78 Hz-wide bin and are not.
//!
//! ## Lost packets and silence (see [`super::timeline`])
//! A lost packet is not silence: [`DtmfDetector::lost`] drops the partial
//! block that straddles the hole but first judges the last whole block of
//! audio before it (overlapping the previous block), and the lost time counts
//! neither as tone nor as a gap. A digit split by a loss of up to
//! [`MAX_BRIDGED_LOSS`] is therefore one digit, while two equal digits keep
//! the silent blocks heard between them (Contact ID gaps are 50-60 ms, Q.24's
//! 40 ms, so at least 20 ms of real silence remains around a 20 ms loss) and
//! stay two. A longer loss ends the digit. [`DtmfDetector::silence`] feeds
//! silence that no packet carried (suppression, or by the clock).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::goertzel::{
    coefficient, dbm0_to_power, mean_square_to_dbm0, power_to_mean_square, GoertzelBank,
    SAMPLE_RATE,
};

/// Samples per analysis block (12.75 ms at 8 kHz); see the module header.
pub const BLOCK_LEN: usize = 102;
/// Longest loss inside a tone that leaves it one digit (one 20 ms packet).
pub const MAX_BRIDGED_LOSS: Duration = Duration::from_millis(20);
/// Silence beyond this many samples changes nothing (partial block + 2 blocks).
/// New samples a tail block needs before it may start a digit.
const WEAK: usize = BLOCK_LEN / 3;
const SILENCE_CAP: usize = 3 * BLOCK_LEN;

const ROW_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COL_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
const NANOS_PER_SAMPLE: u64 = 125_000;

/// Detector thresholds; `Default` follows Q.24 practice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DtmfConfig {
    /// Minimum level of each of the two tones, dBm0 (default -36, which
    /// leaves margin below the -30 dBm0 the project requires).
    pub min_tone_dbm0: f32,
    /// Row louder than column by at most this, dB (default 8).
    pub normal_twist_db: f32,
    /// Column louder than row by at most this, dB (default 4).
    pub reverse_twist_db: f32,
    /// Winner above the other bins of its group by at least this, dB (default 8).
    pub relative_peak_db: f32,
    /// Minimum share of block energy in the two tones, dB (default -3).
    pub min_tone_to_total_db: f32,
    /// Column second harmonic below the column tone by at least this, dB (default 16).
    pub second_harmonic_db: f32,
    /// Row third harmonic below the row tone by at least this, dB (default 18).
    pub row_third_harmonic_db: f32,
}

impl Default for DtmfConfig {
    fn default() -> Self {
        Self {
            min_tone_dbm0: -36.0,
            normal_twist_db: 8.0,
            // Q.24: 4 dB reverse twist; the half dB above it is room for
            // measurement error, so a tone at the limit is accepted. The
            // 8 dB normal limit gets no such margin: widening it lets
            // speech-like signals through (the talk-off test).
            reverse_twist_db: 4.5,
            relative_peak_db: 8.0,
            min_tone_to_total_db: -1.2,
            second_harmonic_db: 16.0,
            row_third_harmonic_db: 18.0,
        }
    }
}

/// What the receiver measured over one digit, for forensics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DigitMetrics {
    /// Estimated tone start (start of the first accepted block).
    pub started_at: Instant,
    /// Tone duration, from the first to the last accepted block.
    pub duration: Duration,
    /// Level of the two tones together, dBm0.
    pub level_dbm0: f32,
    /// Row level minus column level, dB (positive: normal twist).
    pub twist_db: f32,
    /// Apparent SNR: tone power over the rest of the block energy in the
    /// digit's cleanest block, dB. The rest includes what the Goertzel bins
    /// miss of an off-centre tone, so a clean tone 1 % off reads about
    /// 12 dB and an exact one above 30 dB; read it as tone purity.
    pub snr_db: f32,
}

/// Edges reported by [`DtmfDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DtmfEvent {
    /// A digit was confirmed; `at` is the start of its first accepted block.
    DigitStarted {
        /// `0-9 * # A-D`.
        digit: char,
        /// Estimated tone start.
        at: Instant,
    },
    /// The digit ended; `at` is the end of its last accepted block.
    DigitEnded {
        /// `0-9 * # A-D`.
        digit: char,
        /// Estimated tone end.
        at: Instant,
        /// Tone duration.
        duration: Duration,
        /// Level of both tones together, dBm0.
        level_dbm0: f32,
        /// Row minus column level, dB.
        twist_db: f32,
        /// Tone over residual in the cleanest block, dB.
        snr_db: f32,
    },
}

impl DtmfEvent {
    /// The measurements of a `DigitEnded`, in the form the receiver takes.
    pub fn metrics(&self) -> Option<DigitMetrics> {
        match *self {
            DtmfEvent::DigitEnded {
                at,
                duration,
                level_dbm0,
                twist_db,
                snr_db,
                ..
            } => Some(DigitMetrics {
                started_at: at.checked_sub(duration).unwrap_or(at),
                duration,
                level_dbm0,
                twist_db,
                snr_db,
            }),
            DtmfEvent::DigitStarted { .. } => None,
        }
    }
}

/// Mean squares of one accepted block.
#[derive(Debug, Clone, Copy)]
struct BlockMeasure {
    row_ms: f32,
    col_ms: f32,
    residual_ms: f32,
}

impl BlockMeasure {
    /// Tone over residual, linear.
    fn snr(&self) -> f32 {
        (self.row_ms + self.col_ms) / self.residual_ms.max(1e-9)
    }
}

/// A digit that is on, with running sums for its metrics.
#[derive(Debug, Clone, Copy)]
struct ActiveDigit {
    digit: char,
    started_at: Instant,
    last_end: Instant,
    blocks: u32,
    sum: BlockMeasure,
    best_snr: f32,
}

/// Linear-scale versions of [`DtmfConfig`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    min_power: f32,
    normal_twist: f32,
    reverse_twist: f32,
    relative_peak: f32,
    min_ratio: f32,
    harmonic: f32,
    third: f32,
}

fn ratio(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

impl From<&DtmfConfig> for Limits {
    fn from(c: &DtmfConfig) -> Self {
        Self {
            min_power: dbm0_to_power(c.min_tone_dbm0, BLOCK_LEN),
            normal_twist: ratio(c.normal_twist_db),
            reverse_twist: ratio(c.reverse_twist_db),
            relative_peak: ratio(c.relative_peak_db),
            min_ratio: ratio(c.min_tone_to_total_db),
            harmonic: ratio(c.second_harmonic_db),
            third: ratio(c.row_third_harmonic_db),
        }
    }
}

/// A streaming DTMF detector for one channel of 8 kHz 16-bit PCM.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    limits: Limits,
    bank: GoertzelBank<8>,
    harmonic_coeff: [f32; 4],
    third_coeff: [f32; 4],
    block: [i16; BLOCK_LEN],
    filled: usize,
    block_start: Option<Instant>,
    /// `block[filled..]` still holds the previous block, contiguous with this one.
    tail_valid: bool,
    /// Lost time since the last whole block heard.
    lost: Duration,
    prev_hit: Option<char>,
    active: Option<ActiveDigit>,
    events: VecDeque<DtmfEvent>,
}

impl DtmfDetector {
    /// A detector with the given thresholds.
    pub fn new(config: DtmfConfig) -> Self {
        let freqs = [
            ROW_HZ[0], ROW_HZ[1], ROW_HZ[2], ROW_HZ[3], COL_HZ[0], COL_HZ[1], COL_HZ[2], COL_HZ[3],
        ];
        Self {
            limits: Limits::from(&config),
            bank: GoertzelBank::new(freqs, SAMPLE_RATE),
            harmonic_coeff: COL_HZ.map(|f| coefficient(2.0 * f, SAMPLE_RATE)),
            third_coeff: ROW_HZ.map(|f| coefficient(3.0 * f, SAMPLE_RATE)),
            block: [0; BLOCK_LEN],
            filled: 0,
            block_start: None,
            tail_valid: false,
            lost: Duration::ZERO,
            prev_hit: None,
            active: None,
            events: VecDeque::with_capacity(4),
        }
    }

    /// Feeds a frame of any length; `now` is the time of its first sample.
    pub fn process(&mut self, now: Instant, samples: &[i16]) {
        let mut offset = 0;
        while offset < samples.len() {
            if self.filled == 0 {
                self.block_start = Some(now + sample_time(offset));
            }
            let take = (BLOCK_LEN - self.filled).min(samples.len() - offset);
            let chunk = &samples[offset..offset + take];
            self.bank.push_pcm(chunk);
            self.block[self.filled..self.filled + take].copy_from_slice(chunk);
            self.filled += take;
            offset += take;
            if self.filled == BLOCK_LEN {
                self.finish_block();
            }
        }
    }

    /// The next edge, oldest first.
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }

    /// The digit currently on, if any.
    pub fn current_digit(&self) -> Option<char> {
        self.active.map(|a| a.digit)
    }

    /// True when no digit is on or starting: more silence changes nothing.
    pub fn is_idle(&self) -> bool {
        self.active.is_none() && self.prev_hit.is_none()
    }

    /// `duration` of audio after what was fed was lost (see the module header).
    pub fn lost(&mut self, duration: Duration) {
        if self.filled > 0 && self.tail_valid {
            self.tail_block();
        }
        self.restart_block();
        self.lost += duration;
        if self.lost > MAX_BRIDGED_LOSS {
            self.release();
        }
    }

    /// `duration` of silence from `now` that no packet carried.
    pub fn silence(&mut self, now: Instant, duration: Duration) {
        const ZEROS: [i16; SILENCE_CAP] = [0; SILENCE_CAP];
        let n = (duration.as_nanos() / u128::from(NANOS_PER_SAMPLE)) as usize;
        self.process(now, ZEROS.get(..n.min(SILENCE_CAP)).unwrap_or_default());
        if n > SILENCE_CAP {
            self.release();
            self.restart_block();
        }
    }

    fn finish_block(&mut self) {
        let start = self.block_start.unwrap_or_else(crate::clock::epoch);
        let end = start + sample_time(BLOCK_LEN);
        let hit = self.classify_block();
        self.bank.reset();
        self.filled = 0;
        self.tail_valid = true;
        self.lost = Duration::ZERO;
        self.advance(hit, start, end);
    }

    /// Judges the last `BLOCK_LEN` samples before a loss: the previous
    /// block's end and the partial one. It may end or extend a digit, but
    /// starts one only when it adds at least a third of a block of new audio
    /// (so a digit is never started on less than 17 ms of tone).
    fn tail_block(&mut self) {
        let filled = self.filled;
        let start = self.block_start.unwrap_or_else(crate::clock::epoch) + sample_time(filled)
            - sample_time(BLOCK_LEN);
        self.block.rotate_left(filled);
        self.bank.reset();
        self.bank.push_pcm(&self.block);
        let hit = self.classify_block();
        if filled < WEAK && self.active.is_none() {
            self.prev_hit = hit.map(|(d, _)| d);
            return;
        }
        self.advance(hit, start, start + sample_time(BLOCK_LEN));
    }

    /// Drops the partial block; the next samples start a new one.
    fn restart_block(&mut self) {
        self.bank.reset();
        self.filled = 0;
        self.tail_valid = false;
    }

    /// Ends the digit that is on (at its last tone block) and forgets a start.
    fn release(&mut self) {
        if let Some(ended) = self.active.take() {
            self.events.push_back(ended_event(&ended));
        }
        self.prev_hit = None;
    }

    /// Applies the two-block on/off rule to this block's result.
    fn advance(&mut self, hit: Option<(char, BlockMeasure)>, start: Instant, end: Instant) {
        let digit = hit.map(|(d, _)| d);
        match self.active.as_mut() {
            Some(active) if digit == Some(active.digit) => {
                active.last_end = end;
                active.blocks += 1;
                if let Some((_, m)) = hit {
                    active.sum.row_ms += m.row_ms;
                    active.sum.col_ms += m.col_ms;
                    active.best_snr = active.best_snr.max(m.snr());
                }
            }
            Some(active) if self.prev_hit != Some(active.digit) => {
                let ended = *active;
                self.active = None;
                self.events.push_back(ended_event(&ended));
                self.maybe_start(hit, start);
            }
            Some(_) => {}
            None => self.maybe_start(hit, start),
        }
        self.prev_hit = digit;
    }

    /// Starts a digit when this block agrees with the previous one.
    fn maybe_start(&mut self, hit: Option<(char, BlockMeasure)>, start: Instant) {
        let Some((digit, m)) = hit else { return };
        if self.prev_hit != Some(digit) {
            return;
        }
        let started_at = start - sample_time(BLOCK_LEN);
        self.active = Some(ActiveDigit {
            digit,
            started_at,
            last_end: start + sample_time(BLOCK_LEN),
            blocks: 1,
            sum: m,
            best_snr: m.snr(),
        });
        self.events.push_back(DtmfEvent::DigitStarted {
            digit,
            at: started_at,
        });
    }

    /// Runs checks 1-5 of the module header on the finished block.
    fn classify_block(&self) -> Option<(char, BlockMeasure)> {
        let p = self.bank.powers();
        let (row, p_row) = strongest(&[p[0], p[1], p[2], p[3]]);
        let (col, p_col) = strongest(&[p[4], p[5], p[6], p[7]]);
        let l = &self.limits;
        let strong_enough = p_row >= l.min_power && p_col >= l.min_power;
        let twist_ok = p_row <= p_col * l.normal_twist && p_col <= p_row * l.reverse_twist;
        if !(strong_enough && twist_ok) {
            return None;
        }
        let peaks_ok =
            dominates(&p[0..4], row, l.relative_peak) && dominates(&p[4..8], col, l.relative_peak);
        let total = self.bank.energy() * BLOCK_LEN as f32;
        if !peaks_ok || 2.0 * (p_row + p_col) < l.min_ratio * total {
            return None;
        }
        let col_h2 = self.block_power(self.harmonic_coeff.get(col));
        let row_h3 = self.block_power(self.third_coeff.get(row));
        if col_h2 * l.harmonic > p_col || row_h3 * l.third > p_row {
            return None;
        }
        let digit = KEYPAD.get(row)?.get(col).copied()?;
        Some((digit, self.measure(p_row, p_col)))
    }

    fn measure(&self, p_row: f32, p_col: f32) -> BlockMeasure {
        let row_ms = power_to_mean_square(p_row, BLOCK_LEN);
        let col_ms = power_to_mean_square(p_col, BLOCK_LEN);
        let block_ms = self.bank.energy() / BLOCK_LEN as f32;
        BlockMeasure {
            row_ms,
            col_ms,
            residual_ms: (block_ms - row_ms - col_ms).max(block_ms * 1e-6),
        }
    }

    /// Goertzel power over the buffered block for a harmonic probe.
    fn block_power(&self, coeff: Option<&f32>) -> f32 {
        let coeff = coeff.copied().unwrap_or(0.0);
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &x in &self.block {
            let s0 = f32::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - coeff * s1 * s2
    }
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new(DtmfConfig::default())
    }
}

fn sample_time(samples: usize) -> Duration {
    Duration::from_nanos(samples as u64 * NANOS_PER_SAMPLE)
}

/// Index and power of the strongest of four bins.
fn strongest(p: &[f32; 4]) -> (usize, f32) {
    let mut best = (0, p[0]);
    for (i, &v) in p.iter().enumerate().skip(1) {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

/// True when bin `best` exceeds every other bin of `group` by `margin`.
fn dominates(group: &[f32], best: usize, margin: f32) -> bool {
    let top = group.get(best).copied().unwrap_or(0.0);
    group
        .iter()
        .enumerate()
        .all(|(i, &v)| i == best || v * margin <= top)
}

fn ended_event(a: &ActiveDigit) -> DtmfEvent {
    let n = a.blocks.max(1) as f32;
    let (row, col) = (a.sum.row_ms / n, a.sum.col_ms / n);
    DtmfEvent::DigitEnded {
        digit: a.digit,
        at: a.last_end,
        duration: a.last_end.saturating_duration_since(a.started_at),
        level_dbm0: mean_square_to_dbm0(row + col),
        twist_db: 10.0 * (row / col.max(1e-9)).log10(),
        snr_db: 10.0 * a.best_snr.max(1e-9).log10(),
    }
}

impl super::timeline::Listener for DtmfDetector {
    fn audio(&mut self, at: Instant, samples: &[i16]) {
        self.process(at, samples);
    }
    fn silence(&mut self, at: Instant, duration: Duration) {
        DtmfDetector::silence(self, at, duration);
    }
    fn lost(&mut self, duration: Duration) {
        DtmfDetector::lost(self, duration);
    }
    fn is_idle(&self) -> bool {
        DtmfDetector::is_idle(self)
    }
}

#[cfg(test)]
#[path = "dtmf_loss_tests.rs"]
mod loss_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::dsp::test_signals::{sweep, vowel, Signal};

    const DIGITS: &str = "0123456789*#ABCD";

    /// Runs `pcm` through a default detector in `frame`-sample frames.
    fn detect(pcm: &[i16], frame: usize) -> Vec<DtmfEvent> {
        let mut det = DtmfDetector::default();
        let mut out = Vec::new();
        for (i, chunk) in pcm.chunks(frame).enumerate() {
            det.process(epoch() + sample_time(i * frame), chunk);
            while let Some(e) = det.poll_event() {
                out.push(e);
            }
        }
        out
    }

    fn digits_of(events: &[DtmfEvent]) -> String {
        events
            .iter()
            .filter_map(|e| match e {
                DtmfEvent::DigitEnded { digit, .. } => Some(*digit),
                DtmfEvent::DigitStarted { .. } => None,
            })
            .collect()
    }

    /// All 16 digits, 40 ms on / 40 ms off, at the given levels and offset.
    fn sequence(row_db: f32, col_db: f32, offset: f32, noise_db: f32, seed: u32) -> Vec<i16> {
        let mut s = Signal::default();
        s.silence(60.0);
        for d in DIGITS.chars() {
            s.dtmf(d, 40.0, row_db, col_db, offset).silence(40.0);
        }
        s.silence(60.0).add_noise(noise_db, seed);
        s.pcm()
    }

    /// Every digit once, -3 to -30 dBm0 per tone, ±1.5 % offset, white
    /// noise at -45 dBm0, frames of 160 and of an odd 37 samples.
    #[test]
    fn all_digits_all_levels_with_offset_and_noise() {
        for db in [-3.0, -10.0, -20.0, -25.0, -30.0] {
            for offset in [-0.015, 0.0, 0.015] {
                for frame in [160, 37] {
                    let got = digits_of(&detect(&sequence(db, db, offset, -45.0, 1), frame));
                    assert_eq!(got, DIGITS, "level {db} offset {offset} frame {frame}");
                }
            }
        }
    }

    /// Normal twist 6 dB (row louder) and reverse twist 3 dB pass, down to a
    /// -30 dBm0 weaker tone with a 1.5 % offset; reverse twist 6 dB is refused.
    #[test]
    fn twist_limits() {
        for offset in [-0.015, 0.015] {
            let normal = sequence(-24.0, -30.0, offset, -45.0, 2);
            assert_eq!(digits_of(&detect(&normal, 160)), DIGITS, "normal {offset}");
            let reverse = sequence(-13.0, -10.0, offset, -45.0, 3);
            assert_eq!(
                digits_of(&detect(&reverse, 160)),
                DIGITS,
                "reverse {offset}"
            );
        }
        assert_eq!(
            digits_of(&detect(&sequence(-16.0, -10.0, 0.0, -45.0, 4), 160)),
            ""
        );
        assert_eq!(
            digits_of(&detect(&sequence(-10.0, -20.0, 0.0, -45.0, 5), 160)),
            ""
        );
    }

    /// Digits at -20 dBm0 per tone survive noise at -35 dBm0 (SNR ≈ 18 dB).
    #[test]
    fn noisy_line() {
        for seed in 10..13 {
            let got = digits_of(&detect(&sequence(-20.0, -20.0, 0.01, -35.0, seed), 160));
            assert_eq!(got, DIGITS, "seed {seed}");
        }
    }

    #[test]
    fn too_weak_or_wrong_frequency_is_ignored() {
        assert_eq!(
            digits_of(&detect(&sequence(-40.0, -40.0, 0.0, -60.0, 6), 160)),
            ""
        );
        assert_eq!(
            digits_of(&detect(&sequence(-10.0, -10.0, 0.05, -60.0, 6), 160)),
            ""
        );
    }

    /// Edge timing and metrics of one 55 ms digit at -10/-12 dBm0.
    #[test]
    fn timing_and_metrics() {
        let mut s = Signal::default();
        s.silence(100.0)
            .dtmf('5', 55.0, -10.0, -12.0, 0.0)
            .silence(100.0);
        let ev = detect(&s.pcm(), 160);
        assert_eq!(ev.len(), 2, "{ev:?}");
        let DtmfEvent::DigitStarted { digit: '5', at } = ev[0] else {
            panic!("{ev:?}")
        };
        let start_ms = (at - epoch()).as_secs_f32() * 1000.0;
        assert!((start_ms - 100.0).abs() <= 13.0, "{start_ms}");
        let m = ev[1].metrics().unwrap_or_else(|| panic!("{ev:?}"));
        let dur_ms = m.duration.as_secs_f32() * 1000.0;
        assert!((dur_ms - 55.0).abs() <= 13.0, "{dur_ms}");
        assert!((m.level_dbm0 - (-7.9)).abs() < 1.0, "{m:?}");
        assert!((m.twist_db - 2.0).abs() < 1.0, "{m:?}");
        assert!(m.snr_db > 20.0, "{m:?}");
    }

    /// A 12 ms dropout inside a long tone does not split the digit; two
    /// identical digits with a 40 ms gap are two digits.
    #[test]
    fn dropout_bridged_and_repeats_counted() {
        let mut s = Signal::default();
        s.silence(50.0)
            .dtmf('7', 60.0, -10.0, -10.0, 0.0)
            .silence(6.0)
            .dtmf('7', 60.0, -10.0, -10.0, 0.0)
            .silence(40.0)
            .dtmf('7', 40.0, -10.0, -10.0, 0.0)
            .silence(60.0);
        assert_eq!(digits_of(&detect(&s.pcm(), 160)), "77");
    }

    /// Speech-like signals: vowels on many pitches (steady and gliding),
    /// sweeps with and without harmonics, at loud and normal levels.
    #[test]
    fn talk_off() {
        let formants = [
            [730.0, 1090.0, 2440.0],
            [270.0, 2290.0, 3010.0],
            [300.0, 870.0, 2240.0],
            [530.0, 1840.0, 2480.0],
            [660.0, 1720.0, 2410.0],
            [640.0, 1190.0, 2390.0],
        ];
        let mut audio = Vec::new();
        for (i, f) in formants.iter().enumerate() {
            for f0 in (80..=320).step_by(7) {
                let f0 = f0 as f32 + i as f32;
                audio.extend(vowel(120.0, f0, f0, *f, -12.0));
                audio.extend(vowel(200.0, f0, f0 * 1.3, *f, -20.0));
            }
        }
        for (a, b) in [(300.0, 3400.0), (3400.0, 300.0), (600.0, 1700.0)] {
            audio.extend(sweep(2000.0, a, b, false, -10.0));
            audio.extend(sweep(2000.0, a, b, true, -10.0));
        }
        // Every alignment of the 102-sample blocks against the audio.
        for lead in (0..102).step_by(17) {
            let mut s = Signal::default();
            s.silence(lead as f32 / 8.0);
            s.samples.extend_from_slice(&audio);
            s.add_noise(-50.0, 9);
            let events = detect(&s.pcm(), 160);
            assert!(
                events.is_empty(),
                "talk-off at lead {lead}: {}",
                digits_of(&events)
            );
        }
    }
}
