//! The re-watch backoff of a cluster KV watch: 100 ms doubling to a 5 s cap,
//! back to 100 ms once a watch has lived past the cap. Pure: the caller sleeps.

use std::time::Duration;

/// Delays between re-watch attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    /// The first delay.
    pub const FLOOR: Duration = Duration::from_millis(100);
    /// The longest delay.
    pub const CAP: Duration = Duration::from_secs(5);

    /// A backoff at its first delay.
    pub fn new() -> Self {
        Self { next: Self::FLOOR }
    }

    /// The delay to wait now; the next one doubles, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(Self::CAP);
        now
    }

    /// Back to the first delay (the last watch was healthy).
    pub fn reset(&mut self) {
        self.next = Self::FLOOR;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_100_ms_to_a_5_s_cap_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..9).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }
}
