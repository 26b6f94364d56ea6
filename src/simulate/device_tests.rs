//! The device core against the reference receiver and a scripted SIP
//! answerer, in simulated time over a 1 ms network.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;

use super::args::{DeviceArgs, DeviceConfig};
use super::device::{Device, DeviceSetup, Output};
use super::media::params_from_sdp;
use super::reference::{ReferenceLog, ReferenceReceiver};
use super::report::{CallReport, MessageOutcome};
use crate::clock::epoch;
use crate::media::session::TransmitKind;
use crate::sip::message::{self, response_to, rsip::Method, set_to_tag, Request, SipMessage};
use crate::sip::sdp::{self, AnswerOutcome, LocalMedia, MediaPolicy};
use crate::sip::types::Tag;

const LATENCY: Duration = Duration::from_millis(1);

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: DeviceArgs,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// How the scripted far end behaves.
#[derive(Clone, Copy, Default)]
struct Script {
    reject_with: Option<u16>,
    mute: bool,
}

enum Packet {
    FarSip(Vec<u8>),
    FarRtp(Vec<u8>),
    DeviceSip(Vec<u8>),
    DeviceRtp(Vec<u8>),
}

struct Far {
    script: Script,
    receiver: Option<ReferenceReceiver>,
    byes: u32,
}

impl Far {
    fn on_sip(&mut self, now: Instant, bytes: &[u8], out: &mut Vec<Packet>) {
        let Ok(SipMessage::Request(req)) = message::parse(bytes) else {
            return;
        };
        let resp = match req.method {
            Method::Invite => self.answer(now, &req),
            Method::Bye => {
                self.byes += 1;
                response_to(&req, 200, None)
            }
            _ => return,
        };
        out.push(Packet::DeviceSip(
            message::serialize(&SipMessage::Response(resp)).to_vec(),
        ));
    }

    fn answer(&mut self, now: Instant, req: &Request) -> message::Response {
        let code = self.script.reject_with.unwrap_or(200);
        let mut resp = response_to(req, code, None);
        set_to_tag(&mut resp, &Tag::new("far1"));
        if code != 200 {
            return resp;
        }
        message::add_header(&mut resp, "Contact", "<sip:rx@127.0.0.2:5060>");
        let offer = sdp::parse(&String::from_utf8_lossy(&req.body)).expect("our offer parses");
        let local = LocalMedia {
            addr: addr("127.0.0.2:0").ip(),
            port: 7000,
            session_id: 1,
            session_version: 1,
            username: "-".into(),
        };
        let AnswerOutcome::Accepted(media, text) =
            sdp::answer(&offer, &MediaPolicy::default(), local)
        else {
            panic!("offer refused")
        };
        if !self.script.mute {
            let rx = ReferenceReceiver::new(now, params_from_sdp(&media), 77).expect("params");
            self.receiver = Some(rx);
        }
        message::set_body(&mut resp, "application/sdp", text.into_bytes());
        resp
    }
}

/// Runs one call to its end; returns the device's report and the receiver's log.
fn setup(extra: &[&str]) -> DeviceSetup {
    let mut argv = vec!["x", "sip:112@127.0.0.2:5060", "--seed", "42"];
    argv.extend_from_slice(extra);
    let args = Cli::try_parse_from(argv).expect("args").args;
    DeviceSetup {
        config: DeviceConfig::from_args(&args).expect("valid"),
        local_sip: addr("127.0.0.1:5070"),
        local_rtp: addr("127.0.0.1:40000"),
        server: addr("127.0.0.2:5060"),
        seed: 42,
        index: 0,
    }
}

fn run(extra: &[&str], script: Script) -> (CallReport, ReferenceLog, u32) {
    let mut now = epoch();
    let mut device = Device::new(now, setup(extra)).expect("starts");
    let mut far = Far {
        script,
        receiver: None,
        byes: 0,
    };
    let mut wire: Vec<(Instant, Packet)> = Vec::new();
    while !device.is_finished() && now < epoch() + Duration::from_secs(200) {
        let mut out = Vec::new();
        collect(&mut device, &mut far, now, &mut out);
        wire.extend(out.into_iter().map(|p| (now + LATENCY, p)));
        let next_wire = wire.iter().map(|(t, _)| *t).min();
        let next_far = far.receiver.as_ref().map(ReferenceReceiver::poll_timeout);
        let next = [device.poll_timeout(), next_wire, next_far]
            .into_iter()
            .flatten()
            .min();
        now = next.expect("something is pending").max(now);
        let (due, later): (Vec<_>, Vec<_>) = wire.drain(..).partition(|(t, _)| *t <= now);
        wire = later;
        deliver(&mut device, &mut far, now, due);
        device.handle_timeout(now);
        if let Some(rx) = far.receiver.as_mut() {
            rx.handle_timeout(now);
        }
    }
    let log = far
        .receiver
        .as_ref()
        .map(|r| r.log().clone())
        .unwrap_or_default();
    (device.report(), log, far.byes)
}

fn collect(device: &mut Device, far: &mut Far, now: Instant, out: &mut Vec<Packet>) {
    while let Some(o) = device.poll_output() {
        out.push(match o {
            Output::Sip { data, .. } => Packet::FarSip(data.to_vec()),
            Output::Rtp { data, .. } => Packet::FarRtp(data),
        });
    }
    if let Some(rx) = far.receiver.as_mut() {
        while let Some(t) = rx.poll_transmit(now) {
            if t.kind == TransmitKind::Rtp {
                out.push(Packet::DeviceRtp(t.bytes));
            }
        }
    }
}

fn deliver(device: &mut Device, far: &mut Far, now: Instant, due: Vec<(Instant, Packet)>) {
    let (far_sip, far_rtp) = (addr("127.0.0.2:5060"), addr("127.0.0.2:7000"));
    for (_, packet) in due {
        match packet {
            Packet::DeviceSip(b) => device.handle_sip(now, far_sip, &b),
            Packet::DeviceRtp(b) => device.handle_rtp(now, far_rtp, &b),
            Packet::FarRtp(b) => {
                if let Some(rx) = far.receiver.as_mut() {
                    rx.handle_rtp(now, addr("127.0.0.1:40000"), &b);
                }
            }
            Packet::FarSip(b) => {
                let mut out = Vec::new();
                far.on_sip(now, &b, &mut out);
                for p in out {
                    if let Packet::DeviceSip(b) = p {
                        device.handle_sip(now + LATENCY, far_sip, &b);
                    }
                }
            }
        }
    }
}

fn assert_acknowledged(report: &CallReport) {
    assert!(report.success, "{report}");
    for m in &report.messages {
        assert_eq!(m.outcome, MessageOutcome::Acknowledged, "{report}");
        let delay = m.last_digit_to_kissoff_ms.expect("measured");
        assert!((50.0..1250.0).contains(&delay), "{report}");
        let length = m.kissoff_ms.expect("measured");
        assert!((800.0..=900.0).contains(&length), "{report}");
    }
}

#[test]
fn inband_message_is_decoded_and_acknowledged_then_bye() {
    let (report, log, byes) = run(&[], Script::default());
    assert_acknowledged(&report);
    assert_eq!(log.decoded, ["1234181602000002"]);
    assert_eq!((log.kissoffs, report.messages[0].attempts), (1, 1));
    assert_eq!(
        (report.hangup, byes, report.final_status),
        ("local", 1, Some(200))
    );
    let handshake = report.answer_to_handshake_ms.expect("heard");
    assert!(
        (750.0..=850.0).contains(&handshake),
        "settle 500 + 300 ms handshake: {handshake}"
    );
    assert_eq!(report.codec.as_deref(), Some("PCMA"));
}

#[test]
fn rfc4733_sends_several_messages_in_one_call() {
    let msgs = [
        "-m",
        "1234 18 1 602 00 000",
        "-m",
        "5678 18 1 100 00 001",
        "--dtmf",
        "rfc4733",
    ];
    let (report, log, _) = run(&msgs, Script::default());
    assert_acknowledged(&report);
    assert_eq!(log.decoded, ["1234181602000002", "5678181100000017"]);
    assert_eq!(log.handshakes, 1, "no new handshake between messages");
}

#[test]
fn both_paths_make_one_digit_each() {
    let (report, log, _) = run(&["--dtmf", "both", "--codec", "pcmu"], Script::default());
    assert_acknowledged(&report);
    assert_eq!(log.decoded, ["1234181602000002"]);
    assert_eq!(report.codec.as_deref(), Some("PCMU"));
}

#[test]
fn shaped_and_noisy_digits_still_pass() {
    let shaped = [
        "--snr-db",
        "20",
        "--twist-db",
        "-3",
        "--freq-offset-pct",
        "1.2",
        "--level-dbm0",
        "-25",
        "--jitter-ms",
        "15",
    ];
    let (report, log, _) = run(&shaped, Script::default());
    assert_acknowledged(&report);
    assert_eq!(log.decoded, ["1234181602000002"]);
}

#[test]
fn total_loss_retries_four_times_then_gives_up() {
    let (report, log, byes) = run(&["--loss", "100"], Script::default());
    assert!(!report.success);
    let m = &report.messages[0];
    assert_eq!((m.outcome, m.attempts), (MessageOutcome::NoKissoff, 4));
    assert!(log.decoded.is_empty() && byes == 1);
    assert_eq!(report.rtp_dropped, report.rtp_packets);
}

#[test]
fn light_loss_is_survived_and_runs_repeat_by_seed() {
    let (report, log, _) = run(&["--loss", "3"], Script::default());
    assert_acknowledged(&report);
    assert_eq!(log.decoded, ["1234181602000002"]);
    assert!(report.rtp_dropped > 0);
    let (again, _, _) = run(&["--loss", "3"], Script::default());
    assert_eq!(again, report, "same seed, same run");
}

#[test]
fn a_silent_line_and_a_refusal_are_reported() {
    let mute = Script {
        mute: true,
        ..Script::default()
    };
    let (report, _, byes) = run(&["--handshake-timeout-ms", "3000"], mute);
    assert_eq!(report.messages[0].outcome, MessageOutcome::NoHandshake);
    assert_eq!(report.failure.as_deref(), Some("no handshake heard"));
    assert_eq!(byes, 1);
    let busy = Script {
        reject_with: Some(486),
        ..Script::default()
    };
    let (report, _, _) = run(&[], busy);
    assert_eq!((report.final_status, report.hangup), (Some(486), "none"));
    assert!(report.failure.is_some_and(|f| f.contains("486")));
}

#[test]
fn heavier_loss_costs_a_retry_that_the_receiver_saw_rejected() {
    let (report, log, _) = run(&["--loss", "8"], Script::default());
    assert_acknowledged(&report);
    assert_eq!(report.messages[0].attempts, 2, "{report}");
    assert_eq!((log.decoded.len(), log.rejected), (1, 1));
}

/// A far end that never answers (gone, or a dead line): the call ends at the
/// call timeout plus the hard stop, and `poll_timeout` never offers an
/// instant already handled (a driver sleeping until it would spin).
#[test]
fn a_far_end_that_never_answers_is_abandoned_without_spinning() {
    let setup = setup(&["--call-timeout-s", "5"]);
    let mut now = epoch();
    let mut device = Device::new(now, setup).expect("starts");
    let mut wakeups = 0;
    while let Some(next) = device.poll_timeout() {
        assert!(
            next > now || wakeups == 0,
            "a deadline already handled: {next:?} <= {now:?}"
        );
        now = next;
        device.handle_timeout(now);
        while device.poll_output().is_some() {}
        wakeups += 1;
        assert!(wakeups < 200, "too many wake-ups: the driver would spin");
    }
    assert!(device.is_finished());
    let waited = now.duration_since(epoch());
    assert!(
        waited >= Duration::from_secs(5) && waited <= Duration::from_secs(10),
        "{waited:?}"
    );
    assert_eq!(device.report().failure.as_deref(), Some("call timeout"));
}
