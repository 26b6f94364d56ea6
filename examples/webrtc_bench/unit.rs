//! The bench's alarm units: plain SIP callers over one shared UDP socket,
//! each with an RTP socket and an `RtpSession` (PCMA) of the daemon's own
//! media crate. Silent until they hear the browser's 700 Hz, then 1000 Hz
//! (the onset the browser times).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alarmgate::dsp::goertzel::{mean_square_to_dbm0, power_to_mean_square, Goertzel};
use alarmgate::media::receiver::AudioFrame;
use alarmgate::media::sender::{AudioSource, Seeds};
use alarmgate::media::session::TransmitKind;
use alarmgate::media::tone::{ToneGenerator, ToneSpec};
use alarmgate::media::{params_from_sdp, RtpSession};
use alarmgate::sip::sdp::{self, Codec, Direction, LocalMedia, MediaPolicy};

use crate::sip_ua::{self, Msg};

/// Silence, or 1000 Hz once `on`.
struct Switch {
    on: Arc<AtomicBool>,
    tone: ToneGenerator,
}

impl AudioSource for Switch {
    fn fill(&mut self, out: &mut [i16]) -> bool {
        if self.on.load(Ordering::Relaxed) {
            self.tone.fill(out);
        } else {
            out.fill(0);
        }
        true
    }
}

/// One unit's call.
pub struct Unit {
    pub call_id: String,
    /// Its number (the From user), which the daemon's INVITE to the
    /// browser carries as the caller.
    pub caller: String,
    rtp: UdpSocket,
    session: Option<RtpSession>,
    on: Arc<AtomicBool>,
    measure: Goertzel,
    started: Instant,
    /// The daemon answered.
    pub answered: Option<Instant>,
    /// The browser's 700 Hz first heard.
    pub heard: Option<Instant>,
    /// Our first 1000 Hz packet sent.
    pub onset: Option<Instant>,
    /// Ended (the daemon's BYE, or given up).
    pub done: bool,
    /// The daemon's final refusal (503 under overload, …), if any.
    pub refused: Option<u16>,
}

fn policy() -> MediaPolicy {
    MediaPolicy {
        codecs: vec![Codec::Pcma],
        ptime_ms: 20,
    }
}

impl Unit {
    /// Calls DID 112 at `daemon`: the INVITE goes out at once.
    pub fn call(sip: &UdpSocket, daemon: SocketAddr, i: usize) -> Self {
        let rtp = UdpSocket::bind("127.0.0.1:0").expect("unit rtp");
        rtp.set_nonblocking(true).expect("nonblocking");
        let port = rtp.local_addr().expect("bound").port();
        let local = LocalMedia {
            addr: [127, 0, 0, 1].into(),
            port,
            session_id: i as u64 + 1,
            session_version: 1,
            username: "unit".into(),
        };
        let offer = sdp::offer(&policy(), &local, Direction::SendRecv);
        let me = sip.local_addr().expect("bound");
        let call_id = format!("bench-u{i}-{}", std::process::id());
        let invite = format!(
            "INVITE sip:112@{daemon} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKu{i}x\r\n\
             Max-Forwards: 70\r\nFrom: <sip:4500{i:06}@{me}>;tag=u{i}\r\nTo: <sip:112@{daemon}>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:unit{i}@{me}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
            offer.len()
        );
        let _ = sip.send_to(invite.as_bytes(), daemon);
        Self {
            call_id,
            caller: format!("4500{i:06}"),
            rtp,
            session: None,
            on: Arc::new(AtomicBool::new(false)),
            measure: Goertzel::new(700.0, 8000.0),
            started: Instant::now(),
            answered: None,
            heard: None,
            onset: None,
            done: false,
            refused: None,
        }
    }

    /// The daemon's 2xx: ACK it (again for a retransmission), start media once.
    fn on_answer(&mut self, sip: &UdpSocket, msg: &Msg) {
        let to = msg.header("To").unwrap_or_default();
        let from = msg.header("From").unwrap_or_default();
        let contact = msg.header("Contact").unwrap_or_default();
        let target = contact.trim_matches(|c| c == '<' || c == '>');
        let me = sip.local_addr().expect("bound");
        let ack = format!(
            "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKack{}\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: 1 ACK\r\n\
             Content-Length: 0\r\n\r\n",
            self.call_id, self.call_id
        );
        let _ = sip.send_to(ack.as_bytes(), msg.from);
        if self.session.is_some() {
            return;
        }
        let Ok(answer) = sdp::parse(msg.body()) else {
            return;
        };
        let Ok(media) = sdp::negotiated_from_answer(&policy(), &answer) else {
            return;
        };
        let seed = self.rtp.local_addr().map(|a| a.port()).unwrap_or(1);
        let seeds = Seeds {
            ssrc: 0x0b17_0000 | u32::from(seed),
            sequence_number: seed,
            timestamp: u32::from(seed) << 8,
        };
        let now = Instant::now();
        let Ok(mut session) = RtpSession::new(now, params_from_sdp(&media), seeds, "unit") else {
            return;
        };
        session.set_source(Box::new(Switch {
            on: self.on.clone(),
            tone: ToneGenerator::new(ToneSpec::continuous(1000.0, -10.0)),
        }));
        self.session = Some(session);
        self.answered = Some(now);
    }

    /// RTP in and out; the first 700 Hz packet switches our tone on.
    pub fn step(&mut self, _sip: &UdpSocket, now: Instant, buf: &mut [u8]) {
        if self.started.elapsed() > Duration::from_secs(300) {
            self.done = true;
        }
        let Some(session) = self.session.as_mut() else {
            return;
        };
        while let Ok((n, from)) = self.rtp.recv_from(buf) {
            let _ = session.handle_packet(now, from, buf.get(..n).unwrap_or_default());
        }
        session.handle_timeout(now);
        while let Some(frame) = session.poll_audio() {
            let AudioFrame::Audio { samples, .. } = frame else {
                continue;
            };
            if self.heard.is_some() || samples.is_empty() {
                continue;
            }
            self.measure.reset();
            self.measure.push_pcm(&samples);
            let ms = power_to_mean_square(self.measure.power(), samples.len());
            if mean_square_to_dbm0(ms) >= -30.0 {
                self.heard = Some(now);
                self.on.store(true, Ordering::Relaxed);
            }
        }
        while let Some(t) = session.poll_transmit(now) {
            if t.kind != TransmitKind::Rtp {
                continue;
            }
            let _ = self.rtp.send_to(&t.bytes, t.destination);
            if self.on.load(Ordering::Relaxed) && self.onset.is_none() {
                self.onset = Some(now);
            }
        }
    }
}

/// Every SIP message waiting on the units' socket, to its unit.
pub fn receive_sip(sip: &UdpSocket, units: &mut [Unit], buf: &mut [u8]) {
    while let Ok((n, from)) = sip.recv_from(buf) {
        let msg = Msg {
            text: String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned(),
            from,
        };
        let id = msg.header("Call-ID").unwrap_or_default().to_owned();
        let start = msg.start().to_owned();
        if start.starts_with("OPTIONS ") || start.starts_with("BYE ") {
            let _ = sip.send_to(sip_ua::reply(&msg, 200, "", None).as_bytes(), from);
        }
        let Some(unit) = units.iter_mut().find(|u| u.call_id == id) else {
            continue;
        };
        if start.starts_with("BYE ") {
            unit.done = true;
        } else if start.starts_with("SIP/2.0 2") && msg.header("CSeq") == Some("1 INVITE") {
            unit.on_answer(sip, &msg);
        } else if start.starts_with("SIP/2.0 ") && sip_ua::status(&msg) >= 300 {
            unit.done = true;
            unit.refused = Some(sip_ua::status(&msg));
        }
    }
}
