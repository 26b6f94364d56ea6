//! One call leg's RTP session (RFC 3550, RFC 3551 G.711 audio, RFC 4733
//! telephone-events, RFC 5761 rtcp-mux detection), sans-IO.
//!
//! Ties [`RtpReceiver`] (latching, reordering, decoding, digits) to
//! [`RtpSender`] (one packet per ptime from an audio source, or digits), and
//! sends a receiver report with SDES CNAME every [`RTCP_INTERVAL`] to the
//! latched address (RTP port + 1 without rtcp-mux, or wherever the peer's
//! RTCP comes from).
//!
//! The driver calls [`RtpSession::handle_packet`] for each datagram,
//! [`RtpSession::poll_transmit`] until `None`, and sleeps until
//! [`RtpSession::poll_timeout`], then calls [`RtpSession::handle_timeout`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use thiserror::Error;

use super::event_sender::TelephoneEventSender;
use super::g711::Codec;
use super::receiver::{AudioFrame, EventParams, ReceiveError, RtpReceiver};
use super::rtcp::{self, ReportBlock, RtcpError, RtcpPacket};
use super::rtcp_stats::ReceiverStats;
use super::rtp::RtpPacket;
use super::sender::{AudioSource, RtpSender, Seeds};
use super::source::{DropCounts, DropReason, SourceFilter, SourceRules};
use super::telephone_event::DigitEvent;

/// Interval between our RTCP reports (RFC 3550 §6.2 minimum, not randomised).
pub const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// Volume we send digits at, in -dBm0.
pub const EVENT_VOLUME: u8 = 10;

/// What was negotiated for this leg (the integrator maps the SDP onto it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaParams {
    /// The audio law.
    pub codec: Codec,
    /// Its payload type (8 for PCMA, 0 for PCMU, unless remapped).
    pub payload_type: u8,
    /// telephone-event, if negotiated.
    pub telephone_event: Option<EventParams>,
    /// Packetisation interval in ms (10 to 120).
    pub ptime_ms: u32,
    /// The address from the SDP, until the first packet latches one.
    pub remote: Option<SocketAddr>,
    /// RTCP on the RTP port (`a=rtcp-mux`); otherwise RTP port + 1.
    pub rtcp_mux: bool,
    /// Where RTP may come from (strict media).
    pub source: SourceRules,
}

/// Why a session could not be made or a datagram was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionError {
    /// ptime outside 10-120 ms.
    #[error("ptime {0} ms outside 10-120")]
    Ptime(u32),
    /// An RTP datagram refused.
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    /// A malformed RTCP compound.
    #[error(transparent)]
    Rtcp(#[from] RtcpError),
    /// RTP or RTCP from a source this leg does not take (counted).
    #[error("RTP dropped: {}", .0.label())]
    Dropped(DropReason),
    /// Digits asked for without negotiated telephone-event, or not DTMF keys.
    #[error("cannot send {0:?} as telephone-events")]
    Digits(String),
}

/// Which socket a [`Transmit`] leaves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransmitKind {
    /// The RTP socket.
    Rtp,
    /// The RTCP socket (the RTP socket with rtcp-mux).
    Rtcp,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Socket to send from.
    pub kind: TransmitKind,
    /// Where to.
    pub destination: SocketAddr,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// Counters for metrics and the call record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Valid RTP packets received.
    pub packets_received: u64,
    /// Packets sent (RTP).
    pub packets_sent: u64,
    /// Lost according to RFC 3550 A.3, current source.
    pub lost: i64,
    /// Interarrival jitter, timestamp units (8 per ms).
    pub jitter: u32,
    /// Arrived after their place was given up.
    pub late: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Times the remote SSRC changed.
    pub ssrc_changes: u64,
    /// Datagrams that were not valid RTP/RTCP.
    pub invalid: u64,
    /// RTP with a payload type not negotiated.
    pub unknown_payload_type: u64,
    /// When the last valid RTP packet came.
    pub last_received: Option<Instant>,
    /// The peer's last report about our stream.
    pub remote_report: Option<ReportBlock>,
    /// Datagrams refused by the source rules, by reason.
    pub dropped: DropCounts,
}

/// One call leg's media.
#[derive(Debug)]
pub struct RtpSession {
    params: MediaParams,
    cname: String,
    rx: RtpReceiver,
    tx: RtpSender,
    source: SourceFilter,
    rtcp_remote: Option<SocketAddr>,
    next_rtcp: Instant,
    remote_report: Option<ReportBlock>,
    invalid_rtcp: u64,
}

impl RtpSession {
    /// A session whose first packet goes out at `now`; `seeds` come from the
    /// caller's RNG; `cname` goes into SDES.
    pub fn new(
        now: Instant,
        params: MediaParams,
        seeds: Seeds,
        cname: &str,
    ) -> Result<Self, SessionError> {
        if !(10..=120).contains(&params.ptime_ms) {
            return Err(SessionError::Ptime(params.ptime_ms));
        }
        let te = params.telephone_event;
        let rx = RtpReceiver::new(params.codec, params.payload_type, te);
        let te_pt = te.map(|e| e.payload_type);
        let tx = RtpSender::new(
            now,
            params.codec,
            params.payload_type,
            te_pt,
            params.ptime_ms,
            seeds,
        );
        let source = SourceFilter::new(params.source, params.remote);
        Ok(Self {
            params,
            cname: cname.to_owned(),
            rx,
            tx,
            source,
            rtcp_remote: None,
            next_rtcp: now + RTCP_INTERVAL,
            remote_report: None,
            invalid_rtcp: 0,
        })
    }

    /// Where RTP goes now: the SDP address, or the latched source when
    /// latching (see [`super::source`]).
    pub fn remote(&self) -> Option<SocketAddr> {
        self.source.destination()
    }

    /// A re-INVITE or UPDATE was answered with the peer's new address
    /// (`None`: a `c=0.0.0.0` hold keeps the old one).
    pub fn renegotiate(&mut self, remote: Option<SocketAddr>) {
        self.source.renegotiate(remote);
    }

    /// Takes one datagram from the RTP socket (RTCP too, if muxed). RTP
    /// from a source the leg does not take is dropped and counted.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        src: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), SessionError> {
        if rtcp::is_rtcp(bytes) {
            return self.handle_rtcp(now, src, bytes);
        }
        let Ok(ssrc) = RtpPacket::new_checked(bytes).map(|p| p.ssrc()) else {
            return Ok(self.rx.handle_packet(now, src, bytes)?);
        };
        self.source
            .admit(now, src, ssrc)
            .map_err(SessionError::Dropped)?;
        self.rx.handle_packet(now, src, bytes)?;
        self.source.commit(now, src, ssrc);
        Ok(())
    }

    /// Takes one datagram from the RTCP socket; latches the RTCP address.
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        src: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), SessionError> {
        if !self.source.admits_rtcp(src) {
            return Err(SessionError::Dropped(DropReason::Address));
        }
        let packets = rtcp::parse_compound(bytes).inspect_err(|_| self.invalid_rtcp += 1)?;
        self.rtcp_remote = Some(src);
        for packet in packets {
            let reports = match packet {
                RtcpPacket::SenderReport(sr) => {
                    self.rx.on_sender_report(now, sr.ssrc, sr.ntp_timestamp);
                    sr.reports
                }
                RtcpPacket::ReceiverReport { reports, .. } => reports,
                RtcpPacket::Other { .. } => continue,
            };
            let ours = self.tx.ssrc();
            if let Some(block) = reports.into_iter().find(|b| b.ssrc == ours) {
                self.remote_report = Some(block);
            }
        }
        Ok(())
    }

    /// The next decoded frame or gap.
    pub fn poll_audio(&mut self) -> Option<AudioFrame> {
        self.rx.poll_audio()
    }

    /// The next finished RFC 4733 event.
    pub fn poll_event(&mut self) -> Option<DigitEvent> {
        self.rx.poll_event()
    }

    /// The next datagram due at `now`; call until `None`. Without any
    /// address yet, due packets are produced and dropped (the clock runs on).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        while now >= self.tx.next_deadline() {
            let Some(bytes) = self.tx.poll(now) else {
                break;
            };
            if let Some(destination) = self.remote() {
                return Some(Transmit {
                    kind: TransmitKind::Rtp,
                    destination,
                    bytes,
                });
            }
        }
        if now < self.next_rtcp {
            return None;
        }
        self.next_rtcp = (self.next_rtcp + RTCP_INTERVAL).max(now);
        let blocks: Vec<_> = self.rx.report_block(now).into_iter().collect();
        let bytes = rtcp::build_receiver_report(self.tx.ssrc(), &blocks, &self.cname).ok()?;
        let destination = self.rtcp_destination()?;
        Some(Transmit {
            kind: TransmitKind::Rtcp,
            destination,
            bytes,
        })
    }

    fn rtcp_destination(&self) -> Option<SocketAddr> {
        if self.params.rtcp_mux {
            return self.remote();
        }
        self.rtcp_remote.or_else(|| {
            let mut addr = self.remote()?;
            addr.set_port(addr.port().checked_add(1)?);
            Some(addr)
        })
    }

    /// The earliest instant anything is due.
    pub fn poll_timeout(&self) -> Instant {
        let next = self.tx.next_deadline().min(self.next_rtcp);
        self.rx.poll_timeout().map_or(next, |t| t.min(next))
    }

    /// Gives up held holes and closes silent events.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.rx.handle_timeout(now);
    }

    /// Plays `source` (a tone, announcement or bridge) instead of silence.
    pub fn set_source(&mut self, source: Box<dyn AudioSource>) {
        self.tx.set_source(source);
    }

    /// Back to silence.
    pub fn stop_source(&mut self) {
        self.tx.stop_source();
    }

    /// True while a source plays; false once it ended (e.g. a kissoff).
    pub fn is_playing(&self) -> bool {
        self.tx.is_playing()
    }

    /// Queues `digits` as RFC 4733 events of `duration_ms` each.
    pub fn send_digits(&mut self, digits: &str, duration_ms: u32) -> Result<(), SessionError> {
        let ptime = self.params.ptime_ms;
        let senders: Option<Vec<_>> = digits
            .chars()
            .map(|d| TelephoneEventSender::for_digit(d, duration_ms, ptime, EVENT_VOLUME))
            .collect();
        match senders {
            Some(senders) if self.tx.can_send_events() => {
                senders.into_iter().for_each(|s| self.tx.queue_event(s));
                Ok(())
            }
            _ => Err(SessionError::Digits(digits.to_owned())),
        }
    }

    /// Datagrams refused by the source rules so far.
    pub fn dropped(&self) -> DropCounts {
        self.source.dropped()
    }

    /// Counters now.
    pub fn stats(&self) -> SessionStats {
        let (counts, reorder, source) = (
            self.rx.counts(),
            self.rx.reorder_stats(),
            self.rx.source_stats(),
        );
        SessionStats {
            packets_received: counts.packets,
            packets_sent: self.tx.counts().0,
            lost: source.map_or(0, ReceiverStats::cumulative_lost),
            jitter: source.map_or(0, ReceiverStats::jitter),
            late: reorder.late,
            duplicates: reorder.duplicates,
            ssrc_changes: counts.ssrc_changes,
            invalid: counts.invalid + self.invalid_rtcp,
            unknown_payload_type: counts.unknown_payload_type,
            last_received: counts.last_received,
            remote_report: self.remote_report,
            dropped: self.source.dropped(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::media::telephone_event::EventSet;
    use crate::media::tone::{ToneGenerator, ToneSpec};

    const MS: Duration = Duration::from_millis(1);

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn params(remote: &str) -> MediaParams {
        MediaParams {
            codec: Codec::Pcma,
            payload_type: 8,
            telephone_event: Some(EventParams {
                payload_type: 101,
                events: EventSet::default(),
            }),
            ptime_ms: 20,
            remote: Some(addr(remote)),
            rtcp_mux: false,
            source: SourceRules::default(),
        }
    }

    fn session(remote: &str, ssrc: u32) -> RtpSession {
        let seeds = Seeds {
            ssrc,
            sequence_number: 65500,
            timestamp: 1 << 31,
        };
        RtpSession::new(epoch(), params(remote), seeds, "ag@test").expect("valid params")
    }

    /// Runs `a` -> `b` for `ms`, delivering every RTP datagram at once.
    fn pump(a: &mut RtpSession, b: &mut RtpSession, a_addr: &str, ms: u32) {
        for t in 0..=ms {
            let now = epoch() + MS * t;
            while let Some(out) = a.poll_transmit(now) {
                if out.kind == TransmitKind::Rtp {
                    match b.handle_packet(now, addr(a_addr), &out.bytes) {
                        Ok(()) | Err(SessionError::Dropped(_)) => {}
                        Err(e) => panic!("invalid RTP: {e}"),
                    }
                }
            }
            b.handle_timeout(now);
        }
    }

    fn frames(s: &mut RtpSession) -> Vec<AudioFrame> {
        std::iter::from_fn(|| s.poll_audio()).collect()
    }

    #[test]
    fn loopback_tone_arrives_decoded_and_latched() {
        let mut b_params = params("192.0.2.9:9");
        b_params.source.mode = crate::media::source::SourceMode::Latch;
        let seeds = Seeds {
            ssrc: 2,
            sequence_number: 0,
            timestamp: 0,
        };
        let mut b = RtpSession::new(epoch(), b_params, seeds, "b").expect("valid");
        let mut a = session("10.0.0.2:4000", 1);
        a.set_source(Box::new(ToneGenerator::new(
            ToneSpec::contact_id_handshake(),
        )));
        pump(&mut a, &mut b, "10.0.0.1:5000", 400);
        assert_eq!(
            b.remote(),
            Some(addr("10.0.0.1:5000")),
            "latched onto the real source"
        );
        let got = frames(&mut b);
        assert_eq!(got.len(), 21);
        let AudioFrame::Audio { samples, seq, .. } = &got[0] else {
            panic!("gap")
        };
        assert_eq!((samples.len(), *seq), (160, 65500));
        assert!(
            samples.iter().any(|&s| s.abs() > 2000),
            "1400 Hz at -11 dBm0"
        );
        assert!(!a.is_playing());
        let stats = b.stats();
        assert_eq!(
            (stats.packets_received, stats.lost, stats.jitter),
            (21, 0, 0)
        );
    }

    #[test]
    fn digits_cross_as_single_events() {
        let (mut a, mut b) = (session("10.0.0.2:4000", 1), session("10.0.0.1:5000", 2));
        a.send_digits("12#", 60).expect("negotiated");
        pump(&mut a, &mut b, "10.0.0.1:5000", 600);
        let digits: Vec<_> = std::iter::from_fn(|| b.poll_event())
            .map(|e| (e.digit, e.duration))
            .collect();
        assert_eq!(
            digits,
            [(Some('1'), 480), (Some('2'), 480), (Some('#'), 480)]
        );
        assert!(a.send_digits("1E", 60).is_err());
        let mut no_te = params("10.0.0.2:4000");
        no_te.telephone_event = None;
        let seeds = Seeds {
            ssrc: 3,
            sequence_number: 0,
            timestamp: 0,
        };
        let mut c = RtpSession::new(epoch(), no_te, seeds, "c").expect("valid");
        assert_eq!(
            c.send_digits("1", 60),
            Err(SessionError::Digits("1".into()))
        );
    }

    #[test]
    fn forged_events_from_a_third_party_are_dropped_and_counted() {
        let mut b = session("10.0.0.1:5000", 2);
        let mut forger = session("10.0.0.2:4000", 66);
        forger.send_digits("4242", 60).expect("negotiated");
        pump(&mut forger, &mut b, "10.0.0.3:5000", 600);
        assert_eq!(b.poll_event(), None, "nothing decoded");
        let stats = b.stats();
        assert_eq!(stats.packets_received, 0);
        assert!(stats.dropped.address > 20, "{:?}", stats.dropped);
        // The real unit, from the SDP address, still gets through.
        let mut unit = session("10.0.0.2:4000", 1);
        unit.send_digits("1", 60).expect("negotiated");
        pump(&mut unit, &mut b, "10.0.0.1:5000", 200);
        assert_eq!(b.poll_event().and_then(|e| e.digit), Some('1'));
    }

    #[test]
    fn rtcp_reports_go_out_and_come_in() {
        let (mut a, mut b) = (session("10.0.0.2:4000", 1), session("10.0.0.1:5000", 2));
        pump(&mut a, &mut b, "10.0.0.1:5000", 100);
        let at = epoch() + RTCP_INTERVAL;
        let out: Vec<_> = std::iter::from_fn(|| b.poll_transmit(at)).collect();
        let report = out
            .iter()
            .find(|t| t.kind == TransmitKind::Rtcp)
            .expect("RR due at 5 s");
        assert_eq!(
            report.destination,
            addr("10.0.0.1:5001"),
            "RTP port + 1 without rtcp-mux"
        );
        let parsed = rtcp::parse_compound(&report.bytes).expect("valid");
        let RtcpPacket::ReceiverReport { ssrc: 2, reports } = &parsed[0] else {
            panic!("no RR")
        };
        assert_eq!((reports[0].ssrc, reports[0].cumulative_lost), (1, 0));
        assert!(b.poll_transmit(at).is_none());
        // Muxed on the RTP port: a routes it to RTCP and records b's view of it.
        a.handle_packet(at, addr("10.0.0.2:4000"), &report.bytes)
            .expect("RTCP");
        assert_eq!(
            a.stats().remote_report.map(|r| r.extended_highest_seq),
            Some(65505)
        );
        assert!(a
            .handle_rtcp(at, addr("10.0.0.2:4001"), &report.bytes[..10])
            .is_err());
    }

    #[test]
    fn timeouts_and_parameters() {
        let mut s = session("10.0.0.2:4000", 1);
        assert_eq!(s.poll_timeout(), epoch());
        let first = s.poll_transmit(epoch()).expect("first packet due at once");
        assert_eq!(
            first.destination,
            addr("10.0.0.2:4000"),
            "SDP address before latching"
        );
        assert_eq!(s.poll_timeout(), epoch() + 20 * MS);
        let mut p = params("10.0.0.2:4000");
        p.ptime_ms = 5;
        let seeds = Seeds {
            ssrc: 1,
            sequence_number: 0,
            timestamp: 0,
        };
        assert_eq!(
            RtpSession::new(epoch(), p, seeds, "x").err(),
            Some(SessionError::Ptime(5))
        );
    }

    #[test]
    fn hostile_datagrams_never_panic() {
        let mut s = session("10.0.0.2:4000", 1);
        let src = addr("10.0.0.2:4000");
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = {
            let mut a = session("10.0.0.3:4000", 7);
            a.send_digits("1", 40).expect("ok");
            let mut packets: Vec<_> =
                std::iter::from_fn(|| a.poll_transmit(epoch() + 100 * MS)).collect();
            packets.pop().expect("a packet").bytes
        };
        for i in 0..20_000u32 {
            let mut bytes = valid.clone();
            if i % 2 == 0 {
                bytes.truncate(next() as usize % (bytes.len() + 1));
            }
            for _ in 0..(next() % 4) {
                let at = next() as usize % bytes.len().max(1);
                if let Some(b) = bytes.get_mut(at) {
                    *b = next() as u8;
                }
            }
            let _ = s.handle_packet(epoch() + MS * i, src, &bytes);
            s.handle_timeout(epoch() + MS * i);
            while s.poll_audio().is_some() || s.poll_event().is_some() {}
        }
        assert!(s.stats().invalid > 0 && s.stats().packets_received > 0);
    }
}
