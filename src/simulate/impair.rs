//! Impairments on what the simulator sends, all from one seeded RNG so a run
//! can be repeated: packet loss, send-time jitter (which reorders packets
//! once it exceeds the packet time) and white Gaussian noise on the PCM.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::args::Impairments;
use crate::media::tone::amplitude;

/// Loss and jitter between our packetiser and the socket.
#[derive(Debug)]
pub struct Link {
    rng: StdRng,
    loss: f64,
    jitter_ms: u32,
    queue: Vec<(Instant, u64, Vec<u8>)>,
    order: u64,
    dropped: u64,
    reordered: u64,
    last_release: Option<Instant>,
}

impl Link {
    /// A link with `impairments`' loss and jitter, seeded with `seed`.
    pub fn new(impairments: &Impairments, seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            loss: impairments.loss_pct / 100.0,
            jitter_ms: impairments.jitter_ms,
            queue: Vec::new(),
            order: 0,
            dropped: 0,
            reordered: 0,
            last_release: None,
        }
    }

    /// A packet produced at `at`: dropped, or queued for `at` plus its jitter.
    pub fn push(&mut self, at: Instant, packet: Vec<u8>) {
        if self.loss > 0.0 && self.rng.random::<f64>() < self.loss {
            self.dropped += 1;
            return;
        }
        let delay = match self.jitter_ms {
            0 => Duration::ZERO,
            n => Duration::from_micros(self.rng.random_range(0..=u64::from(n) * 1000)),
        };
        let release = at + delay;
        if self.last_release.is_some_and(|last| release < last) {
            self.reordered += 1;
        }
        self.last_release = Some(self.last_release.map_or(release, |l| l.max(release)));
        self.order += 1;
        self.queue.push((release, self.order, packet));
    }

    /// The next packet due at `now`, earliest release first.
    pub fn poll(&mut self, now: Instant) -> Option<Vec<u8>> {
        let (index, _) = self
            .queue
            .iter()
            .enumerate()
            .filter(|(_, (at, _, _))| *at <= now)
            .min_by_key(|(_, (at, order, _))| (*at, *order))?;
        Some(self.queue.swap_remove(index).2)
    }

    /// When the next queued packet is due.
    pub fn next_release(&self) -> Option<Instant> {
        self.queue.iter().map(|(at, _, _)| *at).min()
    }

    /// Packets dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Packets released before one queued earlier.
    pub fn reordered(&self) -> u64 {
        self.reordered
    }
}

/// White Gaussian noise at a fixed power below the DTMF signal.
#[derive(Debug)]
pub struct Noise {
    rng: StdRng,
    sigma: f64,
}

impl Noise {
    /// Noise `snr_db` below the power of a DTMF digit at the configured level
    /// and twist; `None` when no SNR is set.
    pub fn new(impairments: &Impairments, seed: u64) -> Option<Self> {
        let snr = f64::from(impairments.snr_db?);
        let low = f64::from(amplitude(impairments.level_dbm0));
        let high = f64::from(amplitude(impairments.level_dbm0 + impairments.twist_db));
        let signal_power = (low * low + high * high) / 2.0;
        let sigma = (signal_power / 10f64.powf(snr / 10.0)).sqrt();
        Some(Self {
            rng: StdRng::seed_from_u64(seed ^ 0x006e_6f69_7365),
            sigma,
        })
    }

    /// Adds noise to `pcm`, saturating.
    pub fn add(&mut self, pcm: &mut [i16]) {
        for sample in pcm.iter_mut() {
            let noisy = f64::from(*sample) + self.sigma * self.gaussian();
            *sample = noisy.round().clamp(-32768.0, 32767.0) as i16;
        }
    }

    /// One standard normal value (Box-Muller).
    fn gaussian(&mut self) -> f64 {
        let u1: f64 = self.rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = self.rng.random();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn imp(loss_pct: f64, jitter_ms: u32, snr_db: Option<f32>) -> Impairments {
        Impairments {
            loss_pct,
            jitter_ms,
            snr_db,
            level_dbm0: -10.0,
            twist_db: 0.0,
            freq_offset_pct: 0.0,
        }
    }

    fn run(link: &mut Link, n: u32) -> Vec<u8> {
        for i in 0..n {
            link.push(
                epoch() + Duration::from_millis(20 * u64::from(i)),
                vec![i as u8],
            );
        }
        let end = epoch() + Duration::from_secs(60);
        std::iter::from_fn(|| link.poll(end))
            .map(|p| p[0])
            .collect()
    }

    #[test]
    fn loss_is_seeded_and_near_its_rate() {
        let (mut a, mut b) = (
            Link::new(&imp(10.0, 0, None), 7),
            Link::new(&imp(10.0, 0, None), 7),
        );
        let (sa, sb) = (run(&mut a, 250), run(&mut b, 250));
        assert_eq!(sa, sb, "same seed, same losses");
        assert!((10..=45).contains(&a.dropped()), "{}", a.dropped());
        assert!(
            sa.windows(2).all(|w| w[0] < w[1]),
            "no jitter, no reordering"
        );
    }

    #[test]
    fn jitter_above_ptime_reorders_and_delays_within_bounds() {
        let mut link = Link::new(&imp(0.0, 60, None), 3);
        link.push(epoch(), vec![0]);
        let due = link.next_release().expect("queued");
        assert!(due <= epoch() + Duration::from_millis(60));
        assert_eq!(link.poll(epoch() - Duration::from_millis(1)), None);
        let got = run(&mut link, 100);
        assert_eq!(got.len(), 101);
        assert!(link.reordered() > 0);
    }

    #[test]
    fn noise_has_the_asked_power() {
        let mut noise = Noise::new(&imp(0.0, 0, Some(10.0)), 1).expect("snr set");
        let mut pcm = vec![0i16; 80_000];
        noise.add(&mut pcm);
        let power: f64 = pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 80_000.0;
        let a = f64::from(amplitude(-10.0));
        let expect = a * a / 10.0; // two tones of a²/2, 10 dB down
        assert!((power / expect - 1.0).abs() < 0.05, "{power} vs {expect}");
        assert!(Noise::new(&imp(0.0, 0, None), 1).is_none());
    }
}
