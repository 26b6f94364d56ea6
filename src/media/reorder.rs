//! A small fixed-depth RTP reorder buffer (RFC 3550 §5.1 sequence numbers,
//! 16-bit wrap; resynchronisation after a jump as in RFC 3550 Appendix A.1).
//!
//! Packets are released in sequence order as soon as they are next in line.
//! A hole is held until `depth` packets wait behind it or the oldest waiting
//! packet has been held `max_hold`; then it is released as a [`Released::Gap`]
//! so that tone and DTMF detectors see the loss. No concealment is done.
//! Duplicates and packets older than the release point are dropped and counted.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A jump ahead larger than this starts a resynchronisation (RFC 3550 A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// A packet this far behind the release point is a restart candidate, not late.
pub const MAX_MISORDER: u16 = 100;

/// What the buffer hands out, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released<T> {
    /// A received packet.
    Packet {
        /// Its sequence number.
        seq: u16,
        /// The caller's data.
        item: T,
    },
    /// Packets that never came (or came too late).
    Gap {
        /// The first missing sequence number.
        first_seq: u16,
        /// How many are missing.
        count: u16,
    },
}

/// Counters since creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReorderStats {
    /// Packets released.
    pub released: u64,
    /// Sequence numbers released as gaps.
    pub lost: u64,
    /// Packets that arrived after their place was released as a gap.
    pub late: u64,
    /// Packets already buffered or already released.
    pub duplicates: u64,
    /// Restarts because the SSRC changed.
    pub ssrc_resets: u64,
    /// Restarts after a large sequence jump confirmed by the next packet.
    pub resyncs: u64,
}

#[derive(Debug)]
struct Slot<T> {
    item: T,
    arrived: Instant,
}

/// The reorder buffer for one stream; `T` is whatever the caller keeps per packet.
#[derive(Debug)]
pub struct ReorderBuffer<T> {
    depth: usize,
    max_hold: Duration,
    ssrc: Option<u32>,
    /// The next sequence number to release; `window[0]` holds it.
    next: u16,
    window: VecDeque<Option<Slot<T>>>,
    /// Bit i set: `next - 1 - i` was released as a packet (for duplicates).
    history: u64,
    /// After a big jump: the sequence number that confirms the restart.
    probation: Option<u16>,
    ready: VecDeque<Released<T>>,
    stats: ReorderStats,
}

impl<T> ReorderBuffer<T> {
    /// Holds a hole until the packet `depth` (at least 1) places after it
    /// arrives, or for `max_hold` after the first packet behind it arrived.
    pub fn new(depth: usize, max_hold: Duration) -> Self {
        Self {
            depth: depth.max(1),
            max_hold,
            ssrc: None,
            next: 0,
            window: VecDeque::new(),
            history: 0,
            probation: None,
            ready: VecDeque::new(),
            stats: ReorderStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ReorderStats {
        self.stats
    }

    /// Accepts a packet of stream `ssrc`.
    pub fn push(&mut self, now: Instant, ssrc: u32, seq: u16, item: T) {
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                self.stats.ssrc_resets += 1;
            }
            self.restart(ssrc, seq);
        }
        let ahead = seq.wrapping_sub(self.next);
        if ahead < MAX_DROPOUT {
            return self.insert(now, seq, item);
        }
        let behind = self.next.wrapping_sub(seq);
        if behind <= MAX_MISORDER {
            return self.count_old(behind);
        }
        if self.probation == Some(seq) {
            self.stats.resyncs += 1;
            self.restart(ssrc, seq);
            return self.insert(now, seq, item);
        }
        self.probation = Some(seq.wrapping_add(1));
    }

    /// Releases everything buffered, then starts over at `seq`.
    fn restart(&mut self, ssrc: u32, seq: u16) {
        while !self.window.is_empty() {
            self.release_front();
        }
        self.ssrc = Some(ssrc);
        self.next = seq;
        self.history = 0;
        self.probation = None;
    }

    fn insert(&mut self, now: Instant, seq: u16, item: T) {
        self.probation = None;
        let mut ahead = usize::from(seq.wrapping_sub(self.next));
        while ahead >= self.depth {
            self.release_front();
            ahead = usize::from(seq.wrapping_sub(self.next));
        }
        if self.window.len() <= ahead {
            self.window.resize_with(ahead + 1, || None);
        }
        match self.window.get_mut(ahead) {
            Some(slot @ None) => *slot = Some(Slot { item, arrived: now }),
            _ => self.stats.duplicates += 1,
        }
    }

    /// A packet `behind` places before the release point (1 = just released).
    fn count_old(&mut self, behind: u16) {
        let released = behind <= 64 && self.history & (1 << (behind - 1)) != 0;
        if released {
            self.stats.duplicates += 1;
        } else {
            self.stats.late += 1;
        }
    }

    /// Moves `window[0]` (a packet, or a gap extended over following holes) to `ready`.
    fn release_front(&mut self) {
        if !matches!(self.window.front(), Some(Some(_))) {
            return self.release_gap();
        }
        if let Some(Some(slot)) = self.window.pop_front() {
            self.ready.push_back(Released::Packet {
                seq: self.next,
                item: slot.item,
            });
            self.stats.released += 1;
            self.history = self.history << 1 | 1;
            self.next = self.next.wrapping_add(1);
        }
    }

    /// Releases the run of holes at the front (one sequence number if the
    /// window is empty) as a gap, merged with a gap just before it.
    fn release_gap(&mut self) {
        let mut count: u16 = 0;
        while matches!(self.window.front(), Some(None)) {
            self.window.pop_front();
            count += 1;
        }
        count = count.max(1);
        self.stats.lost += u64::from(count);
        self.history = self.history.checked_shl(u32::from(count)).unwrap_or(0);
        let first_seq = self.next;
        self.next = self.next.wrapping_add(count);
        match self.ready.back_mut() {
            Some(Released::Gap { count: c, .. }) if c.checked_add(count).is_some() => *c += count,
            _ => self.ready.push_back(Released::Gap { first_seq, count }),
        }
    }

    /// The next packet or gap that may go now, in order.
    pub fn pop(&mut self, now: Instant) -> Option<Released<T>> {
        if self.ready.is_empty() {
            match self.window.front() {
                Some(Some(_)) => self.release_front(),
                Some(None) if self.hole_expired(now) => self.release_gap(),
                _ => {}
            }
        }
        self.ready.pop_front()
    }

    fn oldest_waiting(&self) -> Option<Instant> {
        self.window.iter().flatten().map(|slot| slot.arrived).min()
    }

    fn hole_expired(&self, now: Instant) -> bool {
        self.oldest_waiting()
            .is_some_and(|t| now >= t + self.max_hold)
    }

    /// When a held hole will be given up, if one is held.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.window.front() {
            Some(None) => self.oldest_waiting().map(|t| t + self.max_hold),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    const MS: Duration = Duration::from_millis(1);

    fn buffer() -> ReorderBuffer<u16> {
        ReorderBuffer::new(3, 60 * MS)
    }

    /// Pushes `seqs` (item = seq) at 20 ms spacing, popping after each; returns
    /// releases as seq (packet) or !first_seq-count pairs.
    fn drive(buf: &mut ReorderBuffer<u16>, seqs: &[u16]) -> Vec<String> {
        let mut out = Vec::new();
        for (i, &seq) in seqs.iter().enumerate() {
            let now = epoch() + 20 * MS * i as u32;
            buf.push(now, 1, seq, seq);
            while let Some(r) = buf.pop(now) {
                out.push(match r {
                    Released::Packet { seq, item } => {
                        assert_eq!(seq, item);
                        seq.to_string()
                    }
                    Released::Gap { first_seq, count } => format!("gap{first_seq}+{count}"),
                });
            }
        }
        out
    }

    #[test]
    fn in_order_goes_straight_through_across_wrap() {
        let mut buf = buffer();
        assert_eq!(
            drive(&mut buf, &[65534, 65535, 0, 1]),
            ["65534", "65535", "0", "1"]
        );
        assert_eq!(buf.stats().released, 4);
    }

    #[test]
    fn swapped_pair_is_reordered() {
        let mut buf = buffer();
        assert_eq!(drive(&mut buf, &[10, 12, 11, 13]), ["10", "11", "12", "13"]);
        assert_eq!(buf.stats().lost, 0);
    }

    #[test]
    fn loss_is_reported_as_a_gap_after_depth_packets() {
        let mut buf = buffer();
        let got = drive(&mut buf, &[1, 2, 5, 6, 7, 8]);
        assert_eq!(got, ["1", "2", "gap3+2", "5", "6", "7", "8"]);
        assert_eq!(buf.stats().lost, 2);
        // 4 arrives after its place was given up: late, not released.
        let got = drive(&mut buf, &[4, 9]);
        assert_eq!(got, ["9"]);
        assert_eq!(buf.stats().late, 1);
    }

    #[test]
    fn hole_is_given_up_after_max_hold() {
        let mut buf = buffer();
        let t0 = epoch();
        buf.push(t0, 1, 1, 1);
        assert!(matches!(buf.pop(t0), Some(Released::Packet { seq: 1, .. })));
        buf.push(t0 + 20 * MS, 1, 3, 3);
        assert_eq!(buf.pop(t0 + 20 * MS), None);
        assert_eq!(buf.poll_timeout(), Some(t0 + 80 * MS));
        assert_eq!(buf.pop(t0 + 79 * MS), None);
        assert_eq!(
            buf.pop(t0 + 80 * MS),
            Some(Released::Gap {
                first_seq: 2,
                count: 1
            })
        );
        assert_eq!(
            buf.pop(t0 + 80 * MS),
            Some(Released::Packet { seq: 3, item: 3 })
        );
        assert_eq!(buf.poll_timeout(), None);
    }

    #[test]
    fn duplicates_are_dropped_buffered_or_released() {
        let mut buf = buffer();
        let got = drive(&mut buf, &[1, 1, 3, 3, 2, 2]);
        assert_eq!(got, ["1", "2", "3"]);
        assert_eq!(buf.stats().duplicates, 3);
    }

    #[test]
    fn ssrc_change_flushes_and_restarts() {
        let mut buf = buffer();
        let t0 = epoch();
        buf.push(t0, 1, 100, 100);
        buf.push(t0, 1, 102, 102);
        buf.push(t0, 2, 7, 7);
        let got: Vec<_> = std::iter::from_fn(|| buf.pop(t0)).collect();
        assert_eq!(got.len(), 4); // 100, gap 101, 102, then 7 of the new stream
        assert_eq!(got[3], Released::Packet { seq: 7, item: 7 });
        assert_eq!(buf.stats().ssrc_resets, 1);
    }

    #[test]
    fn big_jump_needs_confirmation() {
        let mut buf = buffer();
        let got = drive(&mut buf, &[1, 2, 40000, 3, 50000, 50001, 50002]);
        assert_eq!(got, ["1", "2", "3", "50001", "50002"]);
        assert_eq!(buf.stats().resyncs, 1);
    }

    #[test]
    fn jump_within_dropout_releases_long_gap() {
        let mut buf = buffer();
        let got = drive(&mut buf, &[1, 2000]);
        assert_eq!(got, ["1", "gap2+1996"]); // 1998 and 1999 may still come
        let later = epoch() + 80 * MS;
        assert_eq!(
            buf.pop(later),
            Some(Released::Gap {
                first_seq: 1998,
                count: 2
            })
        );
        assert_eq!(
            buf.pop(later),
            Some(Released::Packet {
                seq: 2000,
                item: 2000
            })
        );
        assert_eq!(buf.stats().lost, 1998);
    }
}
