//! RTCP receiver statistics for one source (RFC 3550 Appendix A.1 sequence
//! tracking, A.3 expected and lost packets, A.8 interarrival jitter, §6.4.1
//! LSR/DLSR), producing the report block for our next RR.

use std::time::{Duration, Instant};

use super::rtcp::ReportBlock;

const SEQ_MOD: u32 = 1 << 16;
const MAX_DROPOUT: u32 = 3000;
const MAX_MISORDER: u32 = 100;

/// Reception statistics of one source (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    ssrc: u32,
    clock_rate: u32,
    origin: Instant,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: Option<u32>,
    jitter_q4: u32,
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// Starts tracking `ssrc` at its first packet `seq`, received `now`.
    pub fn new(now: Instant, ssrc: u32, seq: u16, clock_rate: u32) -> Self {
        let mut s = Self {
            ssrc,
            clock_rate,
            origin: now,
            max_seq: seq,
            cycles: 0,
            base_seq: 0,
            bad_seq: SEQ_MOD + 1,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_q4: 0,
            last_sr: None,
        };
        s.init_seq(seq);
        s.received = 1;
        s
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.expected_prior = 0;
        self.received_prior = 0;
    }

    /// The source tracked.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Counts a later packet (A.1); false if it was set aside as a jump
    /// that the next packet has not confirmed yet.
    pub fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = u32::from(seq.wrapping_sub(self.max_seq));
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if udelta <= SEQ_MOD - MAX_MISORDER {
            if u32::from(seq) != self.bad_seq {
                self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
                return false;
            }
            self.init_seq(seq);
        }
        self.received = self.received.wrapping_add(1);
        true
    }

    /// Feeds the interarrival jitter (A.8) with an audio packet's timestamp.
    pub fn update_jitter(&mut self, now: Instant, rtp_timestamp: u32) {
        let since = now.saturating_duration_since(self.origin).as_nanos();
        let arrival = (since * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(last) = self.transit {
            let d = (transit.wrapping_sub(last) as i32).unsigned_abs();
            self.jitter_q4 = self
                .jitter_q4
                .wrapping_add(d)
                .wrapping_sub((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Extended highest sequence number received.
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected so far (A.3).
    pub fn expected(&self) -> u32 {
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// Packets received so far (duplicates included, as A.3 counts them).
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Expected minus received.
    pub fn cumulative_lost(&self) -> i64 {
        i64::from(self.expected()) - i64::from(self.received)
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        self.jitter_q4 >> 4
    }

    /// Notes a sender report from this source (for LSR/DLSR).
    pub fn on_sender_report(&mut self, now: Instant, ntp_timestamp: u64) {
        self.last_sr = Some(((ntp_timestamp >> 16) as u32, now));
    }

    /// The report block for now; starts the next fraction-lost interval.
    pub fn report_block(&mut self, now: Instant) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (lsr, to_q16(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        let cumulative_lost = self.cumulative_lost().clamp(-(1 << 23), (1 << 23) - 1) as i32;
        let (ssrc, extended_highest_seq, jitter) = (self.ssrc, self.extended_max(), self.jitter());
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost,
            extended_highest_seq,
            jitter,
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// A duration in units of 1/65536 s, saturating.
fn to_q16(d: Duration) -> u32 {
    (d.as_nanos() * 65536 / 1_000_000_000).min(u128::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::media::rtcp::{parse_compound, RtcpPacket};

    const MS: Duration = Duration::from_millis(1);

    fn stats_after(seqs: &[u16]) -> ReceiverStats {
        let mut s = ReceiverStats::new(epoch(), 7, seqs[0], 8000);
        for &seq in &seqs[1..] {
            s.update_seq(seq);
        }
        s
    }

    #[test]
    fn loss_and_wrap_counting() {
        let mut s = stats_after(&[65530, 65531, 65533, 65534, 0, 1, 3]);
        assert_eq!(s.extended_max(), 65536 + 3);
        assert_eq!(s.expected(), 10);
        assert_eq!(s.cumulative_lost(), 3);
        let block = s.report_block(epoch());
        assert_eq!(block.fraction_lost, (3 * 256 / 10) as u8); // 76
        assert_eq!(block.extended_highest_seq, 65539);
        // The next interval loses nothing: the fraction is back to 0.
        s.update_seq(4);
        assert_eq!(s.report_block(epoch()).fraction_lost, 0);
    }

    #[test]
    fn duplicates_make_loss_negative_and_jumps_need_confirmation() {
        let s = stats_after(&[10, 11, 11, 12]);
        assert_eq!(s.cumulative_lost(), -1);
        let mut s = stats_after(&[10, 11]);
        assert!(!s.update_seq(30000));
        assert!(s.update_seq(30001)); // confirmed: restart at 30001
        assert_eq!((s.expected(), s.received()), (1, 1));
    }

    #[test]
    fn jitter_is_zero_for_a_steady_stream_and_tracks_variation() {
        let mut s = ReceiverStats::new(epoch(), 1, 0, 8000);
        for i in 0..50u32 {
            s.update_jitter(epoch() + 20 * MS * i, 1000 + 160 * i);
        }
        assert_eq!(s.jitter(), 0);
        // Alternate 0 and 10 ms late: |D| = 80 units each time; J -> 80.
        for i in 50..1000u32 {
            let late = if i % 2 == 0 { 10 * MS } else { Duration::ZERO };
            s.update_jitter(epoch() + 20 * MS * i + late, 1000 + 160 * i);
        }
        assert!((75..=80).contains(&s.jitter()), "{}", s.jitter());
    }

    #[test]
    fn parses_sender_report_and_sets_lsr_dlsr() {
        let mut sr = vec![0x80, 200, 0, 6, 0, 0, 0, 9];
        sr.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
        sr.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 50, 0, 0, 0x1f, 0x40]);
        let parsed = parse_compound(&sr).expect("valid");
        let RtcpPacket::SenderReport(report) = &parsed[0] else {
            panic!("not an SR")
        };
        assert_eq!(
            (report.ssrc, report.packet_count, report.octet_count),
            (9, 50, 8000)
        );
        let mut s = ReceiverStats::new(epoch(), 9, 0, 8000);
        s.on_sender_report(epoch(), report.ntp_timestamp);
        let block = s.report_block(epoch() + 500 * MS);
        assert_eq!(
            (block.last_sr, block.delay_since_last_sr),
            (0x3344_5566, 32768)
        );
    }
}
