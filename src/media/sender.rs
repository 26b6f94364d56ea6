//! The sending half of an RTP session (RFC 3550 §5.1, RFC 3551 §4 audio
//! packetisation, RFC 4733 §2.5 event transmission): one packet per ptime
//! from a pluggable audio source, or telephone-events while a digit is sent.
//!
//! Sequence number and timestamp start at caller-supplied random values and
//! advance by one and by ptime in samples per tick. While a digit is sent,
//! the source keeps running (its output is discarded) so that tones stay on
//! schedule, and all packets of the event carry the timestamp of its start.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::event_sender::TelephoneEventSender;
use super::g711::{silence_byte, Codec, CLOCK_RATE};
use super::rtp::RtpHeader;
use super::tone::ToneGenerator;

/// If the driver falls further behind than this many packets, the missed
/// ones are skipped (the timestamp jumps) instead of sent in a burst.
pub const MAX_CATCH_UP: u32 = 5;

/// Something that produces 8 kHz PCM for the outgoing stream.
pub trait AudioSource: Send {
    /// Fills `out`; returns false once the source has ended for good (the
    /// session then drops it and sends silence).
    fn fill(&mut self, out: &mut [i16]) -> bool;
}

impl AudioSource for ToneGenerator {
    fn fill(&mut self, out: &mut [i16]) -> bool {
        ToneGenerator::fill(self, out)
    }
}

/// Initial random values, drawn by the caller (no RNG in the core).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    /// Our SSRC.
    pub ssrc: u32,
    /// The first sequence number.
    pub sequence_number: u16,
    /// The first timestamp.
    pub timestamp: u32,
}

/// Produces the outgoing RTP packets of one leg.
pub struct RtpSender {
    codec: Codec,
    payload_type: u8,
    event_payload_type: Option<u8>,
    ptime: Duration,
    header: RtpHeader,
    next_tx: Instant,
    source: Option<Box<dyn AudioSource>>,
    pcm: Vec<i16>,
    codes: Vec<u8>,
    digits: VecDeque<TelephoneEventSender>,
    event: Option<(TelephoneEventSender, u32)>,
    packets_sent: u64,
    octets_sent: u64,
}

impl std::fmt::Debug for RtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtpSender")
            .field("header", &self.header)
            .field("next_tx", &self.next_tx)
            .field("playing", &self.source.is_some())
            .field("packets_sent", &self.packets_sent)
            .finish_non_exhaustive()
    }
}

impl RtpSender {
    /// A sender whose first packet is due `now`; `ptime_ms` is clamped to 1-1000.
    pub fn new(
        now: Instant,
        codec: Codec,
        payload_type: u8,
        event_payload_type: Option<u8>,
        ptime_ms: u32,
        seeds: Seeds,
    ) -> Self {
        let ptime_ms = ptime_ms.clamp(1, 1000);
        let samples = (ptime_ms * CLOCK_RATE / 1000) as usize;
        let header = RtpHeader {
            marker: true,
            payload_type,
            sequence_number: seeds.sequence_number,
            timestamp: seeds.timestamp,
            ssrc: seeds.ssrc,
            csrcs: Vec::new(),
        };
        Self {
            codec,
            payload_type,
            event_payload_type,
            ptime: Duration::from_millis(u64::from(ptime_ms)),
            header,
            next_tx: now,
            source: None,
            pcm: vec![0; samples],
            codes: vec![silence_byte(codec); samples],
            digits: VecDeque::new(),
            event: None,
            packets_sent: 0,
            octets_sent: 0,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.header.ssrc
    }

    /// When the next packet is due.
    pub fn next_deadline(&self) -> Instant {
        self.next_tx
    }

    /// Packets and payload octets sent so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.packets_sent, self.octets_sent)
    }

    /// Plays `source` from the next packet on, replacing any other.
    pub fn set_source(&mut self, source: Box<dyn AudioSource>) {
        self.source = Some(source);
    }

    /// Back to silence.
    pub fn stop_source(&mut self) {
        self.source = None;
    }

    /// True while a source is playing (false once it ended).
    pub fn is_playing(&self) -> bool {
        self.source.is_some()
    }

    /// True if telephone-events were negotiated.
    pub fn can_send_events(&self) -> bool {
        self.event_payload_type.is_some()
    }

    /// Queues an event after any queued before it.
    pub fn queue_event(&mut self, event: TelephoneEventSender) {
        self.digits.push_back(event);
    }

    /// True while events are queued or being sent.
    pub fn is_sending_events(&self) -> bool {
        self.event.is_some() || !self.digits.is_empty()
    }

    /// The next packet if one is due at `now`; call until `None`.
    pub fn poll(&mut self, now: Instant) -> Option<Vec<u8>> {
        if now < self.next_tx {
            return None;
        }
        self.skip_missed(now);
        self.next_tx += self.ptime;
        self.fill_audio();
        let packet = self.event_packet().or_else(|| self.audio_packet());
        self.header.sequence_number = self.header.sequence_number.wrapping_add(1);
        self.header.timestamp = self.header.timestamp.wrapping_add(self.pcm.len() as u32);
        packet
    }

    /// Jumps over ticks beyond [`MAX_CATCH_UP`] that the driver missed.
    fn skip_missed(&mut self, now: Instant) {
        let behind = now.saturating_duration_since(self.next_tx);
        let ticks = (behind.as_nanos() / self.ptime.as_nanos().max(1)) as u32;
        if ticks > MAX_CATCH_UP {
            let skip = ticks - MAX_CATCH_UP;
            self.next_tx += self.ptime * skip;
            let samples = (self.pcm.len() as u32).wrapping_mul(skip);
            self.header.timestamp = self.header.timestamp.wrapping_add(samples);
            self.header.marker = true;
        }
    }

    /// Runs the source for one packet and encodes it into `codes`.
    fn fill_audio(&mut self) {
        let Some(source) = self.source.as_mut() else {
            self.codes.fill(silence_byte(self.codec));
            return;
        };
        if !source.fill(&mut self.pcm) {
            self.source = None;
        }
        self.codec.encode_into(&self.pcm, &mut self.codes);
    }

    fn event_packet(&mut self) -> Option<Vec<u8>> {
        let pt = self.event_payload_type?;
        if self.event.is_none() {
            let next = self.digits.pop_front()?;
            self.event = Some((next, self.header.timestamp));
        }
        let (sender, start_ts) = self.event.as_mut()?;
        let packet = sender.next()?;
        let start_ts = *start_ts;
        if sender.is_finished() {
            self.event = None;
        }
        let header = RtpHeader {
            marker: packet.marker,
            payload_type: pt,
            timestamp: start_ts,
            ..self.header.clone()
        };
        self.header.marker = true; // audio after an event starts a talkspurt
        self.finish(&header, &packet.event.emit())
    }

    fn audio_packet(&mut self) -> Option<Vec<u8>> {
        let header = RtpHeader {
            payload_type: self.payload_type,
            ..self.header.clone()
        };
        self.header.marker = false;
        let codes = std::mem::take(&mut self.codes);
        let packet = self.finish(&header, &codes);
        self.codes = codes;
        packet
    }

    fn finish(&mut self, header: &RtpHeader, payload: &[u8]) -> Option<Vec<u8>> {
        let bytes = header.to_vec(payload).ok()?;
        self.packets_sent += 1;
        self.octets_sent += payload.len() as u64;
        Some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::media::rtp::RtpPacket;
    use crate::media::tone::ToneSpec;

    const MS: Duration = Duration::from_millis(1);
    const SEEDS: Seeds = Seeds {
        ssrc: 0x1234_5678,
        sequence_number: 65534,
        timestamp: 4_294_967_000,
    };

    fn sender() -> RtpSender {
        RtpSender::new(epoch(), Codec::Pcma, 8, Some(101), 20, SEEDS)
    }

    /// (marker, pt, seq, ts, payload) of every packet due up to `ms`.
    fn run(tx: &mut RtpSender, ms: u32) -> Vec<(bool, u8, u16, u32, Vec<u8>)> {
        let mut out = Vec::new();
        for t in 0..=ms {
            while let Some(bytes) = tx.poll(epoch() + MS * t) {
                let p = RtpPacket::new_checked(&bytes).expect("valid");
                let fields = (
                    p.marker(),
                    p.payload_type(),
                    p.sequence_number(),
                    p.timestamp(),
                );
                out.push((fields.0, fields.1, fields.2, fields.3, p.payload().to_vec()));
            }
        }
        out
    }

    #[test]
    fn silence_every_20_ms_with_wrapping_counters() {
        let mut tx = sender();
        let packets = run(&mut tx, 60);
        assert_eq!(packets.len(), 4); // at 0, 20, 40, 60 ms
        assert!(packets[0].0 && packets[1..].iter().all(|p| !p.0));
        let seqs: Vec<_> = packets.iter().map(|p| p.2).collect();
        assert_eq!(seqs, [65534, 65535, 0, 1]);
        let ts: Vec<_> = packets.iter().map(|p| p.3).collect();
        assert_eq!(ts, [4_294_967_000, 4_294_967_160, 24, 184]);
        assert!(packets.iter().all(|p| p.4 == [0xd5; 160] && p.1 == 8));
        assert_eq!(tx.counts(), (4, 640));
        assert_eq!(tx.next_deadline(), epoch() + 80 * MS);
    }

    #[test]
    fn tone_source_plays_then_reverts_to_silence() {
        let mut tx = sender();
        tx.set_source(Box::new(ToneGenerator::new(ToneSpec::contact_id_kissoff())));
        let packets = run(&mut tx, 900);
        let toned = packets.iter().filter(|p| p.4 != [0xd5; 160]).count();
        assert_eq!(toned, 43); // 850 ms = 42.5 packets
        assert!(!tx.is_playing());
    }

    #[test]
    fn digit_is_sent_as_events_with_one_timestamp() {
        let mut tx = sender();
        let _ = run(&mut tx, 0);
        tx.queue_event(TelephoneEventSender::for_digit('5', 60, 20, 10).expect("digit"));
        let packets = run(&mut tx, 200);
        let events: Vec<_> = packets.iter().filter(|p| p.1 == 101).collect();
        assert_eq!(events.len(), 5); // 160, 320, then 480 with E three times
        assert!(events.iter().all(|p| p.3 == 4_294_967_160));
        assert!(events[0].0 && !events[1].0);
        assert_eq!(events[4].4, [5, 0x8a, 0x01, 0xe0]);
        let audio_after = packets.iter().find(|p| p.1 == 8).expect("audio resumes");
        assert!(
            audio_after.0,
            "marker on the first audio packet after the event"
        );
        assert_eq!(audio_after.3, 4_294_967_160u32.wrapping_add(5 * 160));
        assert!(!tx.is_sending_events());
    }

    #[test]
    fn stalled_driver_skips_instead_of_bursting() {
        let mut tx = sender();
        let _ = run(&mut tx, 0);
        let late = epoch() + 1000 * MS;
        let burst: Vec<_> = std::iter::from_fn(|| tx.poll(late)).collect();
        assert_eq!(burst.len(), MAX_CATCH_UP as usize + 1);
        let first = RtpPacket::new_checked(&burst[0]).expect("valid");
        assert!(first.marker());
        assert_eq!(first.sequence_number(), 65535); // seq stays continuous
        assert_eq!(tx.next_deadline(), late + 20 * MS);
    }
}
