//! Timer values and names (RFC 3261 §17 and Table 4 in §A; RFC 6026 §8.4, §8.7).

use std::time::{Duration, Instant};

/// The base timer values. Every lettered timer derives from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// T1, the RTT estimate (default 500 ms).
    pub t1: Duration,
    /// T2, the longest retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    pub t2: Duration,
    /// T4, how long the network may hold a message (default 5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64*T1, the transaction timeout (Timers B, F, H, J, L, M).
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: at least 32 s over UDP (§17.1.1.2), zero over reliable transports.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timeout().max(Duration::from_secs(32))
        }
    }
}

/// The transaction timers. Timer C (§16.6 item 11) belongs to proxies and is not used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Client INVITE: retransmit the INVITE (UDP only), T1 doubling (§17.1.1.2).
    A,
    /// Client INVITE: give up waiting for any response, 64*T1 (§17.1.1.2).
    B,
    /// Client INVITE: wait in Completed for final-response retransmissions, >= 32 s UDP, 0 reliable.
    D,
    /// Client non-INVITE: retransmit the request (UDP only), T1 doubling capped at T2 (§17.1.2.2).
    E,
    /// Client non-INVITE: give up, 64*T1 (§17.1.2.2).
    F,
    /// Server INVITE: retransmit the non-2xx final (UDP only), T1 doubling capped at T2
    /// (§17.2.1). Here it also paces 2xx retransmissions in Accepted (§13.3.1.4).
    G,
    /// Server INVITE: give up waiting for the ACK of a non-2xx final, 64*T1 (§17.2.1).
    H,
    /// Server INVITE: absorb ACK retransmissions in Confirmed, T4 UDP, 0 reliable (§17.2.1).
    I,
    /// Server non-INVITE: absorb request retransmissions in Completed, 64*T1 UDP, 0 reliable (§17.2.2).
    J,
    /// Client non-INVITE: absorb response retransmissions in Completed, T4 UDP, 0 reliable (§17.1.2.2).
    K,
    /// Server INVITE: stay in Accepted after a 2xx, 64*T1 (RFC 6026 §8.7); without an ACK by then the TU hears Timeout.
    L,
    /// Client INVITE: stay in Accepted to pass 2xx retransmissions up, 64*T1 (RFC 6026 §8.4).
    M,
}

impl Timer {
    /// Every timer, in table order.
    pub const ALL: [Timer; 12] = [
        Timer::A,
        Timer::B,
        Timer::D,
        Timer::E,
        Timer::F,
        Timer::G,
        Timer::H,
        Timer::I,
        Timer::J,
        Timer::K,
        Timer::L,
        Timer::M,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// The armed deadline of each timer of one transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable([Option<Instant>; 12]);

impl TimerTable {
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.0.get(timer.index()).copied().flatten()
    }

    pub(crate) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        if let Some(slot) = self.0.get_mut(timer.index()) {
            *slot = at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_derived_values() {
        let c = TimerConfig::default();
        assert_eq!(c.timeout(), Duration::from_secs(32));
        assert_eq!(c.timer_d(false), Duration::from_secs(32));
        assert_eq!(c.timer_d(true), Duration::ZERO);
        let fast = TimerConfig {
            t1: Duration::from_millis(100),
            ..c
        };
        assert_eq!(
            fast.timer_d(false),
            Duration::from_secs(32),
            "D is at least 32 s"
        );
    }

    #[test]
    fn the_table_keeps_one_deadline_per_timer() {
        let mut t = TimerTable::default();
        let now = crate::clock::epoch();
        for (i, timer) in Timer::ALL.into_iter().enumerate() {
            t.set(timer, Some(now + Duration::from_millis(i as u64)));
        }
        assert_eq!(t.get(Timer::M), Some(now + Duration::from_millis(11)));
        t.set(Timer::A, None);
        assert_eq!(t.get(Timer::A), None);
    }
}
