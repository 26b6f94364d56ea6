//! The receiving half of an RTP session (RFC 3550 §5.1 and Appendix A,
//! RFC 3551 G.711 audio, RFC 4733 telephone-events): symmetric-RTP latching,
//! reordering, decoding and digit extraction for one call leg.
//!
//! Latching: the remote address is the source of the latest valid packet
//! (it parses, and its payload type was negotiated) of the current SSRC; a
//! packet with a new SSRC re-latches and restarts the statistics. Audio and
//! event packets share one sequence space, so both pass the reorder buffer
//! and a gap is a gap in the stream, not an artefact of the events.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use thiserror::Error;

use super::g711::{Codec, CLOCK_RATE};
use super::reorder::{Released, ReorderBuffer, ReorderStats};
use super::rtcp::ReportBlock;
use super::rtcp_stats::ReceiverStats;
use super::rtp::{RtpError, RtpPacket};
use super::telephone_event::{DigitEvent, EventSet, TelephoneEventReceiver};

/// Reorder depth in packets.
pub const REORDER_DEPTH: usize = 3;
/// Longest a hole is held before it is reported as a gap.
pub const REORDER_MAX_HOLD: Duration = Duration::from_millis(60);
/// Silence after which an event without an end bit is closed.
pub const EVENT_TIMEOUT: Duration = Duration::from_millis(200);

/// The telephone-event payload type and its `a=fmtp` event set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventParams {
    /// The dynamic payload type (often 101).
    pub payload_type: u8,
    /// Events accepted.
    pub events: EventSet,
}

/// Why an RTP datagram was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReceiveError {
    /// Not an RTP packet.
    #[error(transparent)]
    Rtp(#[from] RtpError),
    /// A payload type that was not negotiated.
    #[error("payload type {0} not negotiated")]
    PayloadType(u8),
}

/// Decoded audio, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioFrame {
    /// One packet's samples.
    Audio {
        /// RTP sequence number.
        seq: u16,
        /// RTP timestamp of the first sample.
        timestamp: u32,
        /// 8 kHz linear PCM.
        samples: Vec<i16>,
    },
    /// Packets that never came, reported instead of concealed (each is
    /// about one ptime of audio, or an event update).
    Gap {
        /// First missing sequence number.
        first_seq: u16,
        /// How many packets.
        packets: u16,
    },
}

/// Receive-side counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiveCounts {
    /// Valid RTP packets received.
    pub packets: u64,
    /// Times the remote SSRC changed.
    pub ssrc_changes: u64,
    /// Datagrams or event payloads that were malformed.
    pub invalid: u64,
    /// RTP with a payload type not negotiated.
    pub unknown_payload_type: u64,
    /// When the last valid packet came.
    pub last_received: Option<Instant>,
}

/// A packet waiting in the reorder buffer.
#[derive(Debug)]
struct Held {
    ssrc: u32,
    payload_type: u8,
    timestamp: u32,
    payload: Vec<u8>,
}

/// The receive state of one leg.
#[derive(Debug)]
pub struct RtpReceiver {
    codec: Codec,
    payload_type: u8,
    event_payload_type: Option<u8>,
    remote: Option<SocketAddr>,
    stats: Option<ReceiverStats>,
    reorder: ReorderBuffer<Held>,
    events: TelephoneEventReceiver,
    events_ssrc: Option<u32>,
    audio: VecDeque<AudioFrame>,
    counts: ReceiveCounts,
}

impl RtpReceiver {
    /// Accepts `payload_type` as `codec` audio and, if given, telephone-events.
    pub fn new(codec: Codec, payload_type: u8, events: Option<EventParams>) -> Self {
        let set = events.map(|e| e.events).unwrap_or_default();
        Self {
            codec,
            payload_type,
            event_payload_type: events.map(|e| e.payload_type),
            remote: None,
            stats: None,
            reorder: ReorderBuffer::new(REORDER_DEPTH, REORDER_MAX_HOLD),
            events: TelephoneEventReceiver::new(set, EVENT_TIMEOUT),
            events_ssrc: None,
            audio: VecDeque::new(),
            counts: ReceiveCounts::default(),
        }
    }

    /// The latched source address, once a valid packet came.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Takes one RTP datagram from `src`.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        src: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), ReceiveError> {
        let packet = RtpPacket::new_checked(bytes).inspect_err(|_| self.counts.invalid += 1)?;
        let pt = packet.payload_type();
        if pt != self.payload_type && Some(pt) != self.event_payload_type {
            self.counts.unknown_payload_type += 1;
            return Err(ReceiveError::PayloadType(pt));
        }
        self.latch(now, src, &packet);
        let payload = packet.payload().to_vec();
        let held = Held {
            ssrc: packet.ssrc(),
            payload_type: pt,
            timestamp: packet.timestamp(),
            payload,
        };
        self.reorder
            .push(now, packet.ssrc(), packet.sequence_number(), held);
        self.drain(now);
        Ok(())
    }

    /// Follows the stream's source address and SSRC; updates the statistics.
    fn latch(&mut self, now: Instant, src: SocketAddr, packet: &RtpPacket<'_>) {
        let (ssrc, seq) = (packet.ssrc(), packet.sequence_number());
        match self.stats.as_mut() {
            Some(stats) if stats.ssrc() == ssrc => {
                stats.update_seq(seq);
            }
            other => {
                if other.is_some() {
                    self.counts.ssrc_changes += 1;
                }
                self.stats = Some(ReceiverStats::new(now, ssrc, seq, CLOCK_RATE));
            }
        }
        let audio = packet.payload_type() == self.payload_type;
        if let Some(stats) = self.stats.as_mut().filter(|_| audio) {
            stats.update_jitter(now, packet.timestamp());
        }
        self.remote = Some(src);
        self.counts.packets += 1;
        self.counts.last_received = Some(now);
    }

    /// Moves released packets to the audio queue or the event receiver.
    fn drain(&mut self, now: Instant) {
        while let Some(released) = self.reorder.pop(now) {
            match released {
                Released::Packet { seq, item } if item.payload_type == self.payload_type => {
                    let mut samples = vec![0; item.payload.len()];
                    self.codec.decode_into(&item.payload, &mut samples);
                    let timestamp = item.timestamp;
                    self.audio.push_back(AudioFrame::Audio {
                        seq,
                        timestamp,
                        samples,
                    });
                }
                Released::Packet { seq, item } => self.handle_event(now, seq, &item),
                Released::Gap { first_seq, count } => {
                    self.audio.push_back(AudioFrame::Gap {
                        first_seq,
                        packets: count,
                    });
                }
            }
        }
    }

    /// Feeds the event receiver, restarting it when the stream changed
    /// (at release time, so that the old stream's held packets go first).
    fn handle_event(&mut self, now: Instant, seq: u16, item: &Held) {
        if self.events_ssrc != Some(item.ssrc) {
            if self.events_ssrc.is_some() {
                self.events.reset();
            }
            self.events_ssrc = Some(item.ssrc);
            self.events.set_ssrc(item.ssrc);
        }
        let result = self
            .events
            .handle_packet(now, item.timestamp, seq, &item.payload);
        self.counts.invalid += u64::from(result.is_err());
    }

    /// The next decoded frame or gap.
    pub fn poll_audio(&mut self) -> Option<AudioFrame> {
        self.audio.pop_front()
    }

    /// The next finished telephone-event.
    pub fn poll_event(&mut self) -> Option<DigitEvent> {
        self.events.poll_event()
    }

    /// When a held hole or an open event times out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let due = [self.reorder.poll_timeout(), self.events.poll_timeout()];
        due.into_iter().flatten().min()
    }

    /// Gives up held holes and closes silent events.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.drain(now);
        self.events.handle_timeout(now);
    }

    /// Notes the peer's sender report, if it is about the current source.
    pub fn on_sender_report(&mut self, now: Instant, ssrc: u32, ntp_timestamp: u64) {
        if let Some(stats) = self.stats.as_mut().filter(|s| s.ssrc() == ssrc) {
            stats.on_sender_report(now, ntp_timestamp);
        }
    }

    /// The report block for our next RR, once a source is known.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        self.stats.as_mut().map(|s| s.report_block(now))
    }

    /// RFC 3550 statistics of the current source.
    pub fn source_stats(&self) -> Option<&ReceiverStats> {
        self.stats.as_ref()
    }

    /// Packet counters.
    pub fn counts(&self) -> ReceiveCounts {
        self.counts
    }

    /// Reorder buffer counters (late, duplicates, gaps).
    pub fn reorder_stats(&self) -> ReorderStats {
        self.reorder.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::media::rtp::RtpHeader;
    use crate::media::telephone_event::EndReason;

    const MS: Duration = Duration::from_millis(1);

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn receiver() -> RtpReceiver {
        let events = EventParams {
            payload_type: 101,
            events: EventSet::default(),
        };
        RtpReceiver::new(Codec::Pcma, 8, Some(events))
    }

    fn rtp(ssrc: u32, seq: u16, pt: u8, payload: &[u8]) -> Vec<u8> {
        let timestamp = u32::from(seq) * 160;
        let header = RtpHeader {
            payload_type: pt,
            sequence_number: seq,
            timestamp,
            ssrc,
            ..Default::default()
        };
        header.to_vec(payload).expect("fits")
    }

    #[test]
    fn latching_follows_ssrc_and_ignores_junk() {
        let mut rx = receiver();
        let t = epoch();
        rx.handle_packet(t, addr("198.51.100.7:3000"), &rtp(5, 1, 8, &[0xd5; 160]))
            .expect("ok");
        assert_eq!(rx.latched(), Some(addr("198.51.100.7:3000")));
        let rogue = addr("203.0.113.66:1");
        let wrong_pt = rx.handle_packet(t, rogue, &rtp(5, 2, 96, &[]));
        assert_eq!(wrong_pt, Err(ReceiveError::PayloadType(96)));
        assert!(rx.handle_packet(t, rogue, &[0x80, 8, 0]).is_err());
        assert_eq!(
            rx.latched(),
            Some(addr("198.51.100.7:3000")),
            "junk does not move the latch"
        );
        rx.handle_packet(t, addr("198.51.100.8:3002"), &rtp(6, 900, 8, &[0xd5; 160]))
            .expect("ok");
        assert_eq!(
            rx.latched(),
            Some(addr("198.51.100.8:3002")),
            "new SSRC re-latches"
        );
        let counts = rx.counts();
        assert_eq!((counts.packets, counts.ssrc_changes), (2, 1));
        assert_eq!((counts.invalid, counts.unknown_payload_type), (1, 1));
        assert_eq!(rx.source_stats().map(|s| s.ssrc()), Some(6));
    }

    #[test]
    fn reordering_and_loss_reach_the_detectors_as_gaps() {
        let mut rx = receiver();
        for (i, seq) in [1u16, 3, 2, 5, 6, 7, 8, 8].into_iter().enumerate() {
            let now = epoch() + 20 * MS * i as u32;
            rx.handle_packet(now, addr("192.0.2.1:4000"), &rtp(5, seq, 8, &[0x55; 160]))
                .expect("ok");
        }
        let order: Vec<String> = std::iter::from_fn(|| rx.poll_audio())
            .map(|f| match f {
                AudioFrame::Audio { seq, samples, .. } => {
                    assert_eq!(samples, [-8; 160]);
                    seq.to_string()
                }
                AudioFrame::Gap { first_seq, packets } => format!("gap{first_seq}+{packets}"),
            })
            .collect();
        assert_eq!(order, ["1", "2", "3", "gap4+1", "5", "6", "7", "8"]);
        assert_eq!(rx.reorder_stats().duplicates, 1);
        // RFC 3550 A.3 counts the duplicate as received: it offsets the loss.
        assert_eq!(
            rx.source_stats().map(ReceiverStats::cumulative_lost),
            Some(0)
        );
    }

    fn event(ssrc: u32, seq: u16, timestamp: u32, digit: u8, end: bool) -> Vec<u8> {
        let header = RtpHeader {
            payload_type: 101,
            sequence_number: seq,
            timestamp,
            ssrc,
            ..Default::default()
        };
        header
            .to_vec(&[digit, u8::from(end) << 7 | 10, 0, 160])
            .expect("fits")
    }

    #[test]
    fn new_ssrc_mid_digit_keeps_the_digit_and_restarts_events() {
        let mut rx = receiver();
        let src = addr("192.0.2.1:4000");
        rx.handle_packet(epoch(), src, &event(5, 100, 8000, 1, false))
            .expect("ok");
        // A new stream with a lower timestamp: must not be taken for a stale packet.
        rx.handle_packet(epoch() + 20 * MS, src, &event(6, 7, 50, 2, true))
            .expect("ok");
        let got: Vec<_> = std::iter::from_fn(|| rx.poll_event())
            .map(|e| (e.digit, e.ended_by, e.ssrc))
            .collect();
        // Each event names its own stream: the old one's flushed digit keeps
        // SSRC 5, so its timestamp is never compared with stream 6's.
        assert_eq!(
            got,
            [
                (Some('1'), EndReason::Superseded, 5),
                (Some('2'), EndReason::EndBit, 6)
            ]
        );
    }

    #[test]
    fn events_share_the_sequence_space_without_fake_gaps() {
        let mut rx = receiver();
        let src = addr("192.0.2.1:4000");
        rx.handle_packet(epoch(), src, &rtp(5, 1, 8, &[0xd5; 160]))
            .expect("ok");
        for (i, end) in [false, true, true, true].into_iter().enumerate() {
            let event = [3, if end { 0x8a } else { 0x0a }, 0x01, 0x40];
            let bytes = RtpHeader {
                payload_type: 101,
                sequence_number: 2 + i as u16,
                timestamp: 160,
                ssrc: 5,
                ..Default::default()
            };
            rx.handle_packet(epoch() + 20 * MS, src, &bytes.to_vec(&event).expect("fits"))
                .expect("ok");
        }
        rx.handle_packet(epoch() + 100 * MS, src, &rtp(5, 6, 8, &[0xd5; 160]))
            .expect("ok");
        let frames: Vec<_> = std::iter::from_fn(|| rx.poll_audio()).collect();
        assert!(
            frames.iter().all(|f| matches!(f, AudioFrame::Audio { .. })),
            "{frames:?}"
        );
        let digit = rx.poll_event().expect("one digit");
        assert_eq!(
            (digit.digit, digit.duration, digit.timestamp),
            (Some('3'), 320, 160)
        );
        assert!(rx.poll_event().is_none());
    }
}
