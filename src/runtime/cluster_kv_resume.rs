//! The pure parts of a cluster KV watch's resumption:
//!
//! - [`Backoff`]: the re-watch delay, 100 ms doubling to a 5 s cap, back to
//!   100 ms once a watch has lived past the cap (the caller sleeps);
//! - [`Seen`]: the last revision per key, so a change replayed by a re-watch
//!   (at or below what the caller already has) is dropped, and the revision
//!   to resume from;
//! - [`quorum_visible`]: whether a stream's leader still hears a majority
//!   of its replicas (the watch's idle probe).

use std::collections::HashMap;
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

/// What a watch has passed on: the last revision of each key and overall.
#[derive(Debug, Default)]
pub struct Seen {
    per_key: HashMap<String, u64>,
    last: u64,
}

impl Seen {
    /// True (and remembered) when `revision` is newer than what `key` had;
    /// false for a replay.
    pub fn admit(&mut self, key: &str, revision: u64) -> bool {
        if self.per_key.get(key).is_some_and(|&had| had >= revision) {
            return false;
        }
        self.per_key.insert(key.to_owned(), revision);
        self.last = self.last.max(revision);
        true
    }

    /// The revision to resume from (the one after the last seen); `None`
    /// before anything was seen (start from each key's current value).
    pub fn resume_from(&self) -> Option<u64> {
        (self.last > 0).then_some(self.last + 1)
    }
}

/// A replica the leader has not heard from for this long is gone.
pub const PEER_SILENT: Duration = Duration::from_secs(5);

/// One replica as the stream's leader reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Reported offline.
    pub offline: bool,
    /// Since the leader last heard from it.
    pub silent_for: Duration,
}

/// True when a leader plus the peers it heard from within
/// [`PEER_SILENT`] are a majority of the group. A leader of a stream whose
/// other replicas are frozen still answers reads for a while, though no
/// write can commit: only this tells the watch it is cut off.
pub fn quorum_visible(peers: &[Peer]) -> bool {
    let voters = peers.len() + 1;
    let alive = 1 + peers
        .iter()
        .filter(|f| !f.offline && f.silent_for < PEER_SILENT)
        .count();
    alive * 2 > voters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_needs_a_majority_heard_from_recently() {
        let ok = Peer {
            offline: false,
            silent_for: Duration::from_millis(300),
        };
        let silent = Peer {
            offline: false,
            silent_for: Duration::from_secs(6),
        };
        let offline = Peer {
            offline: true,
            silent_for: Duration::ZERO,
        };
        assert!(quorum_visible(&[]), "R1: the leader alone");
        assert!(quorum_visible(&[ok, silent]), "2 of 3");
        assert!(!quorum_visible(&[silent, offline]), "1 of 3");
        assert!(!quorum_visible(&[ok, silent, silent, offline]), "2 of 5");
        assert!(quorum_visible(&[ok, ok, silent, offline]), "3 of 5");
    }

    #[test]
    fn doubles_from_100_ms_to_a_5_s_cap_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..9).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn a_replay_at_or_below_a_keys_revision_is_dropped_and_resume_follows_the_last() {
        let mut seen = Seen::default();
        assert_eq!(seen.resume_from(), None);
        assert!(seen.admit("op.a", 5));
        assert!(seen.admit("op.b", 7));
        assert!(!seen.admit("op.a", 5), "same revision again");
        assert!(!seen.admit("op.a", 3), "older revision");
        assert!(seen.admit("op.a", 9));
        assert!(!seen.admit("op.b", 7));
        assert_eq!(seen.resume_from(), Some(10));
    }
}
