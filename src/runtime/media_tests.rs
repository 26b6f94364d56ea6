//! A worker driven tick by tick in simulated time over loopback UDP: a unit
//! (A-law) and an operator's phone (µ-law), bridged and unbridged.

use super::*;
use crate::clock::epoch;
use crate::media::g711::Codec;
use crate::media::receiver::EventParams;
use crate::media::rtp::RtpPacket;
use crate::media::sender::{AudioSource, Seeds};
use crate::media::session::{MediaParams, RtpSession, TransmitKind};
use crate::media::telephone_event::EventSet;
use crate::sip::sdp::{self, Direction};
use crate::sip::types::CallId;
use std::net::{SocketAddr, UdpSocket};

const MS: Duration = Duration::from_millis(1);
const DEVICE: CallHandle = CallHandle(10);
const OPERATOR: CallHandle = CallHandle(11);

/// A far end: its socket and its RTP session.
struct Far {
    socket: UdpSocket,
    session: Option<RtpSession>,
    /// (payload type, payload) of every RTP packet received.
    got: Vec<(u8, Vec<u8>)>,
}

impl Far {
    fn bind() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("loopback");
        socket.set_nonblocking(true).expect("nonblocking");
        Self {
            socket,
            session: None,
            got: Vec::new(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("bound")
    }

    fn connect(&mut self, codec: Codec, pt: u8, to: SocketAddr, ssrc: u32) {
        let params = MediaParams {
            codec,
            payload_type: pt,
            telephone_event: Some(EventParams {
                payload_type: 101,
                events: EventSet::default(),
            }),
            ptime_ms: 20,
            remote: Some(to),
            rtcp_mux: false,
            source: crate::media::source::SourceRules::default(),
        };
        let seeds = Seeds {
            ssrc,
            sequence_number: 1,
            timestamp: 0,
        };
        self.session = RtpSession::new(epoch(), params, seeds, "far").ok();
    }

    fn session(&mut self) -> &mut RtpSession {
        self.session.as_mut().expect("connected")
    }

    /// Sends what is due; returns the audio payloads sent.
    fn send(&mut self, now: Instant) -> Vec<u8> {
        let mut audio = Vec::new();
        while let Some(t) = self.session().poll_transmit(now) {
            if t.kind != TransmitKind::Rtp {
                continue;
            }
            if let Ok(p) = RtpPacket::new_checked(&t.bytes) {
                if p.payload_type() != 101 {
                    audio.extend_from_slice(p.payload());
                }
            }
            self.socket.send_to(&t.bytes, t.destination).expect("send");
        }
        audio
    }

    fn receive(&mut self, now: Instant) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let bytes = &buf[..n];
            if let Ok(p) = RtpPacket::new_checked(bytes) {
                self.got.push((p.payload_type(), p.payload().to_vec()));
            }
            let _ = self.session().handle_packet(now, from, bytes);
        }
        self.session().handle_timeout(now);
    }

    /// Audio payloads received since the last call.
    fn take_audio(&mut self) -> Vec<u8> {
        let got = std::mem::take(&mut self.got);
        got.into_iter()
            .filter(|(pt, _)| *pt != 101)
            .flat_map(|(_, p)| p)
            .collect()
    }
}

/// Every 97th value of the 16-bit range, over and over.
struct Ramp(i32);

impl AudioSource for Ramp {
    fn fill(&mut self, out: &mut [i16]) -> bool {
        for s in out.iter_mut() {
            *s = self.0 as i16;
            self.0 = if self.0 > 32000 { -32768 } else { self.0 + 97 };
        }
        true
    }
}

fn media_start(call: CallHandle, outgoing: bool, law: sdp::Codec, to: SocketAddr) -> WorkerInput {
    let hold = HoldAudio::Tone {
        frequency_hz: 425.0,
        level_dbm0: -10.0,
        on_ms: 10_000,
        off_ms: 10,
    };
    WorkerInput::Call(CallEvent::MediaStart {
        call,
        group: DEVICE,
        outgoing,
        call_id: CallId::new(format!("c{}", call.0)),
        tenant: "t".into(),
        caller: "100".into(),
        local_port: 0,
        media: NegotiatedMedia {
            codec: law,
            payload_type: if law == sdp::Codec::Pcma { 8 } else { 0 },
            telephone_event_pt: Some(101),
            remote: Some(to),
            direction: Direction::SendRecv,
            ptime_ms: 20,
            webrtc: None,
        },
        hold: if outgoing { HoldAudio::Silence } else { hold },
    })
}

struct Rig {
    worker: Worker,
    control: mpsc::Receiver<Control>,
    inbox: mpsc::UnboundedReceiver<WorkerInput>,
    unit: Far,
    phone: Far,
    buf: Vec<u8>,
}

impl Rig {
    /// A device leg (A-law, hold tone) and an operator leg (µ-law) of one group.
    fn new() -> Self {
        Self::with(None)
    }

    /// The same, with `alarm` decoding on the device leg.
    fn with(alarm: Option<AlarmContextShared>) -> Self {
        let (control_tx, control) = mpsc::channel(8);
        let (inbox_tx, inbox) = mpsc::unbounded_channel();
        let ip = IpAddr::from([127, 0, 0, 1]);
        let mut worker = Worker::new(MediaSettings::new(ip), control_tx, alarm, inbox_tx);
        let (mut unit, mut phone) = (Far::bind(), Far::bind());
        worker.input(
            epoch(),
            media_start(DEVICE, false, sdp::Codec::Pcma, unit.addr()),
        );
        worker.input(
            epoch(),
            media_start(OPERATOR, true, sdp::Codec::Pcmu, phone.addr()),
        );
        let addr = |call| worker.legs.get(&call).and_then(Leg::local_addr);
        let device = addr(DEVICE).expect("device leg");
        let operator = addr(OPERATOR).expect("operator leg");
        unit.connect(Codec::Pcma, 8, device, 1);
        phone.connect(Codec::Pcmu, 0, operator, 2);
        let buf = vec![0; 2048];
        Self {
            worker,
            control,
            inbox,
            unit,
            phone,
            buf,
        }
    }

    /// Runs ticks `from..to`; returns the audio the unit sent.
    fn run(&mut self, from: u32, to: u32) -> Vec<u8> {
        let mut sent = Vec::new();
        for k in from..to {
            let now = epoch() + 20 * MS * k;
            sent.extend(self.unit.send(now));
            self.phone.send(now);
            self.worker.tick(now, &mut self.buf);
            self.unit.receive(now);
            self.phone.receive(now);
        }
        sent
    }
}

fn toned(audio: &[u8]) -> bool {
    audio
        .iter()
        .any(|&c| Codec::Pcma.decode_sample(c).abs() > 1000)
}

#[test]
fn a_bridge_carries_both_ways_relays_digits_and_ends_with_a_leg() {
    let mut rig = Rig::new();
    let Ok(Control::Queue(request)) = rig.control.try_recv() else {
        panic!("alarms off: the device call is queued at once")
    };
    assert_eq!(request, QueueRequest::voice(DEVICE));
    assert!(rig.control.try_recv().is_err(), "once, and never for a leg");
    rig.run(0, 3);
    assert!(toned(&rig.unit.take_audio()), "hold tone before the bridge");
    rig.phone.take_audio();
    rig.unit.session().set_source(Box::new(Ramp(-32768)));

    let group = DEVICE;
    rig.worker.input(
        epoch(),
        WorkerInput::Bridge {
            group,
            a: DEVICE,
            b: OPERATOR,
        },
    );
    let sent = rig.run(3, 30);
    let expected: Vec<u8> = sent
        .iter()
        .map(|&a| Codec::Pcmu.encode_sample(Codec::Pcma.decode_sample(a)))
        .collect();
    assert_eq!(
        rig.phone.take_audio(),
        expected,
        "A-law in, µ-law out, sample for sample"
    );
    let to_unit = rig.unit.take_audio();
    assert!(
        !toned(&to_unit),
        "no hold tone while bridged: the phone's silence"
    );

    rig.phone
        .session()
        .send_digits("5", 100)
        .expect("negotiated");
    rig.run(30, 45);
    let digit = rig.unit.session().poll_event().map(|e| e.digit);
    assert_eq!(digit, Some(Some('5')), "the operator's digit, as RFC 4733");

    let stop = CallEvent::MediaStop {
        call: OPERATOR,
        group,
    };
    rig.worker.input(epoch(), WorkerInput::Call(stop));
    assert!(rig.worker.links.is_empty() && rig.worker.legs.len() == 1);
    rig.unit.take_audio();
    rig.run(45, 50);
    assert!(toned(&rig.unit.take_audio()), "back to the hold tone");
}

#[test]
fn unbridge_and_a_bridge_that_waits_for_its_leg() {
    let mut rig = Rig::new();
    let group = DEVICE;
    let late = CallHandle(12);
    let bridge = |b| WorkerInput::Bridge {
        group,
        a: DEVICE,
        b,
    };
    rig.worker.input(epoch(), bridge(late));
    assert!(rig.worker.links.is_empty(), "no media for the leg yet");
    let phone2 = Far::bind();
    let start = media_start(late, true, sdp::Codec::Pcmu, phone2.addr());
    rig.worker.input(epoch(), start);
    assert_eq!(
        rig.worker.links.len(),
        1,
        "bridged once its MediaStart came"
    );
    rig.worker.input(epoch(), bridge(OPERATOR));
    rig.worker.input(epoch(), bridge(OPERATOR));
    assert_eq!(rig.worker.links.len(), 1, "bridging again replaces");
    rig.worker.input(
        epoch(),
        WorkerInput::Unbridge {
            group,
            leg: OPERATOR,
        },
    );
    assert!(rig.worker.links.is_empty());
    rig.run(0, 3);
    assert!(toned(&rig.unit.take_audio()), "hold tone after unbridge");
    rig.worker.input(epoch(), bridge(CallHandle(13)));
    let stop = CallEvent::MediaStop {
        call: DEVICE,
        group,
    };
    rig.worker.input(epoch(), WorkerInput::Call(stop));
    assert!(
        rig.worker.pending.is_empty(),
        "a pending bridge ends with its device"
    );
}

#[test]
fn a_units_rfc4733_digit_reaches_the_operator_as_rfc4733() {
    let mut rig = Rig::new();
    let bridge = WorkerInput::Bridge {
        group: DEVICE,
        a: DEVICE,
        b: OPERATOR,
    };
    rig.worker.input(epoch(), bridge);
    rig.run(0, 3);
    rig.unit
        .session()
        .send_digits("8", 120)
        .expect("negotiated");
    rig.run(3, 25);
    let digit = rig.phone.session().poll_event().map(|e| e.digit);
    assert_eq!(digit, Some(Some('8')), "the unit's digit, as RFC 4733");
    assert!(rig.phone.session().poll_event().is_none(), "once");
}

#[path = "media_alarm_tests.rs"]
mod alarm;
