//! A browser operator's media, built from webrtc-rs's `rtc` PeerConnection
//! (a full ICE agent, DTLS-SRTP, answering like Chromium: `a=setup:active`):
//! it answers the daemon's WebRTC offer, plays a tone in PCMU, sends RFC
//! 4733 digits, and measures what it hears with a Goertzel filter in 500 ms
//! windows.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use alarmgate::dsp::goertzel::{mean_square_to_dbm0, power_to_mean_square, Goertzel};
use alarmgate::media::g711::Codec;
use alarmgate::media::tone::{ToneGenerator, ToneSpec};
use bytes::{Bytes, BytesMut};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCDtlsRole, RTCIceCandidate,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

/// Samples in one measuring window (500 ms at 8 kHz).
const WINDOW: usize = 4000;

fn codec(mime: &str, pt: u8, fmtp: &str) -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate: 8000,
            channels: 1,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: pt,
    }
}

/// One browser operator's PeerConnection on its own UDP socket.
pub(crate) struct Browser {
    pc: RTCPeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    sender: RTCRtpSenderId,
    ssrc: u32,
    seq: u16,
    ts: u32,
    next_packet: Instant,
    tone: ToneGenerator,
    digits: Vec<(u32, bool, u16)>,
    send_pt: u8,
    /// When the connection reached `connected`.
    pub connected_at: Option<Instant>,
    /// The connection failed or closed.
    pub failed: bool,
    /// Levels (dBm0) of `measure_hz` per 500 ms window heard.
    pub levels: Vec<f32>,
    measure: Goertzel,
    window: usize,
    /// RTP packets received.
    pub packets_in: u64,
    /// When the first 20 ms packet with `measure_hz` at or above
    /// [`ONSET_DBM0`] arrived (tone onset, for delay measurements).
    pub heard_at: Option<Instant>,
    onset: Goertzel,
}

/// A packet whose tone is at least this loud marks the onset, dBm0.
pub(crate) const ONSET_DBM0: f32 = -30.0;

impl Browser {
    /// Answers `offer` (the daemon's SDP) with `a=setup:active` as Chromium
    /// does, or `passive` when `dtls_server`: plays `tone_hz`, measures
    /// `measure_hz`.
    pub(crate) fn answer(
        offer: &str,
        tone_hz: f32,
        measure_hz: f32,
        dtls_server: bool,
    ) -> (Self, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("browser socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(2)))
            .expect("timeout");
        let local = socket.local_addr().expect("bound");
        let mut engine = MediaEngine::default();
        for c in [
            codec(MIME_TYPE_PCMU, 0, ""),
            codec(MIME_TYPE_PCMA, 8, ""),
            codec(MIME_TYPE_TELEPHONE_EVENT, 101, "0-16"),
        ] {
            engine
                .register_codec(c, RtpCodecKind::Audio)
                .expect("codec");
        }
        let now = Instant::now();
        let role = match dtls_server {
            true => RTCDtlsRole::Server,
            false => RTCDtlsRole::Client,
        };
        let settings = SettingEngineBuilder::new()
            .with_answering_dtls_role(role)
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_media_engine(engine)
            .with_setting_engine(settings)
            .build(now)
            .expect("peer connection");
        let ssrc = 0x5eed_0001 ^ u32::from(local.port());
        let track = MediaStreamTrack::new(
            "browser".into(),
            "browser-audio".into(),
            "mic".into(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: codec(MIME_TYPE_PCMU, 0, "").rtp_codec,
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track).expect("track");
        let offer = RTCSessionDescription::offer(offer.to_owned()).expect("offer");
        pc.set_remote_description(now, offer)
            .expect("remote description");
        let host = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: local.ip().to_string(),
                port: local.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .expect("candidate");
        let init = RTCIceCandidate::from(&host)
            .to_json()
            .expect("candidate json");
        pc.add_local_candidate(init).expect("local candidate");
        let answer = pc.create_answer(None).expect("answer");
        pc.set_local_description(now, answer)
            .expect("local description");
        let sdp = pc.local_description().expect("answer set").sdp;
        // Like a browser, send the first codec of our answer.
        let send_pt = sdp
            .lines()
            .find(|l| l.starts_with("m=audio"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|pt| pt.parse::<u8>().ok())
            .unwrap_or(0);
        let browser = Self {
            pc,
            socket,
            local,
            sender,
            ssrc,
            seq: 1,
            ts: 0,
            next_packet: now,
            tone: ToneGenerator::new(ToneSpec::continuous(tone_hz, -10.0)),
            digits: Vec::new(),
            send_pt,
            connected_at: None,
            failed: false,
            levels: Vec::new(),
            measure: Goertzel::new(measure_hz, 8000.0),
            window: 0,
            packets_in: 0,
            heard_at: None,
            onset: Goertzel::new(measure_hz, 8000.0),
        };
        (browser, sdp)
    }

    /// Runs the connection until `done` or `timeout`; true if `done`.
    pub(crate) fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        let mut buf = vec![0u8; 2048];
        while Instant::now() < end {
            if done(self) {
                return true;
            }
            self.step(&mut buf);
        }
        done(self)
    }

    /// Makes the socket non-blocking, for [`Self::step`] over many browsers
    /// in one thread (a bench).
    #[allow(dead_code)]
    pub(crate) fn set_nonblocking(&self) {
        self.socket.set_nonblocking(true).expect("nonblocking");
    }

    /// One turn: what arrived (one datagram, or all with a non-blocking
    /// socket), timers, events, what was heard, what is due to send.
    pub(crate) fn step(&mut self, buf: &mut [u8]) {
        {
            while let Ok((n, from)) = self.socket.recv_from(buf) {
                let msg = TaggedBytesMut {
                    now: Instant::now(),
                    transport: TransportContext {
                        local_addr: self.local,
                        peer_addr: from,
                        ecn: None,
                        transport_protocol: TransportProtocol::UDP,
                    },
                    message: BytesMut::from(buf.get(..n).unwrap_or_default()),
                };
                let _ = self.pc.handle_read(msg);
            }
            let now = Instant::now();
            if self.pc.poll_timeout().is_some_and(|t| t <= now) {
                let _ = self.pc.handle_timeout(now);
            }
            self.events();
            self.read();
            self.play(now);
            while let Some(out) = self.pc.poll_write() {
                let _ = self.socket.send_to(&out.message, out.transport.peer_addr);
            }
        }
    }

    fn events(&mut self) {
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                match state {
                    RTCPeerConnectionState::Connected => {
                        self.connected_at.get_or_insert(Instant::now());
                    }
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        self.failed = true;
                    }
                    _ => {}
                }
            }
        }
    }

    fn read(&mut self) {
        while let Some(msg) = self.pc.poll_read() {
            let RTCMessage::RtpPacket(_, packet) = msg.message else {
                continue;
            };
            let law = match packet.header.payload_type {
                0 => Codec::Pcmu,
                8 => Codec::Pcma,
                _ => continue,
            };
            self.packets_in += 1;
            let mut pcm = vec![0i16; packet.payload.len()];
            law.decode_into(&packet.payload, &mut pcm);
            self.mark_onset(&pcm);
            self.measure.push_pcm(&pcm);
            self.window += pcm.len();
            if self.window >= WINDOW {
                let ms = power_to_mean_square(self.measure.power(), self.window);
                self.levels.push(mean_square_to_dbm0(ms));
                self.measure.reset();
                self.window = 0;
            }
        }
    }

    /// Notes the arrival of the first packet carrying the measured tone.
    fn mark_onset(&mut self, pcm: &[i16]) {
        if self.heard_at.is_some() || pcm.is_empty() {
            return;
        }
        self.onset.reset();
        self.onset.push_pcm(pcm);
        let ms = power_to_mean_square(self.onset.power(), pcm.len());
        if mean_square_to_dbm0(ms) >= ONSET_DBM0 {
            self.heard_at = Some(Instant::now());
        }
    }

    /// Sends one 20 ms packet when due: a queued digit event, else the tone.
    fn play(&mut self, now: Instant) {
        if self.connected_at.is_none() || now < self.next_packet {
            return;
        }
        self.next_packet += Duration::from_millis(20);
        let (pt, marker, payload) = match self.digits.pop() {
            Some((event, end, duration)) => {
                let flags = if end { 0x80 | 10 } else { 10 };
                let d = duration.to_be_bytes();
                let p = vec![event as u8, flags, d[0], d[1]];
                (101, duration == 160, p)
            }
            None => {
                let mut pcm = [0i16; 160];
                self.tone.fill(&mut pcm);
                let mut out = vec![0u8; 160];
                let law = if self.send_pt == 8 {
                    Codec::Pcma
                } else {
                    Codec::Pcmu
                };
                law.encode_into(&pcm, &mut out);
                (self.send_pt, false, out)
            }
        };
        let header = rtc::rtp::header::Header {
            version: 2,
            marker,
            payload_type: pt,
            sequence_number: self.seq,
            timestamp: self.ts,
            ssrc: self.ssrc,
            ..Default::default()
        };
        self.seq = self.seq.wrapping_add(1);
        if pt != 101 {
            self.ts = self.ts.wrapping_add(160);
        } else if payload.get(1).is_some_and(|f| f & 0x80 != 0) && self.digits.is_empty() {
            self.ts = self.ts.wrapping_add(160 * 8);
        }
        let packet = rtc::rtp::packet::Packet {
            header,
            payload: Bytes::from(payload),
        };
        if let Some(mut sender) = self.pc.rtp_sender(self.sender) {
            let _ = sender.write_rtp(now, packet);
        }
    }

    /// Queues `digit` (0-9) as RFC 4733: five updates of 20 ms, then three ends.
    pub(crate) fn send_digit(&mut self, event: u32) {
        let mut packets: Vec<(u32, bool, u16)> = (1..=5).map(|i| (event, false, 160 * i)).collect();
        packets.extend([(event, true, 800); 3]);
        packets.reverse();
        self.digits = packets;
    }

    /// Windows at or above `dbm0`.
    pub(crate) fn windows_above(&self, dbm0: f32) -> usize {
        self.levels.iter().filter(|l| **l >= dbm0).count()
    }

    /// Closes the connection (DTLS close_notify).
    pub(crate) fn close(&mut self) {
        let _ = self.pc.close();
        while let Some(out) = self.pc.poll_write() {
            let _ = self.socket.send_to(&out.message, out.transport.peer_addr);
        }
    }
}
