//! The simulator's driver over real UDP on 127.0.0.1 against a tiny
//! receiver made of the crate's own cores: a hand-written SIP answerer plus
//! `simulate::reference::ReferenceReceiver` (RtpSession + DtmfDetector +
//! ContactIdReceiver, playing handshake and kissoff). Every wait is bounded.

// Tests of real processes wait by the real clock (clippy.toml holds the cores to simulated time).
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::Duration;

use alarmgate::clock;
use alarmgate::media::session::TransmitKind;
use alarmgate::simulate::media::params_from_sdp;
use alarmgate::simulate::reference::{ReferenceLog, ReferenceReceiver};
use alarmgate::simulate::{run_device, DeviceArgs, MessageOutcome, SimReport};
use alarmgate::sip::message::{self, response_to, rsip::Method, set_to_tag, Request, SipMessage};
use alarmgate::sip::sdp::{self, AnswerOutcome, LocalMedia, MediaPolicy};
use alarmgate::sip::types::Tag;
use clap::Parser;
use tokio::net::UdpSocket;

const LIMIT: Duration = Duration::from_secs(60);

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: DeviceArgs,
}

/// One call's far end: answers the INVITE, runs the reference receiver on
/// the RTP socket, answers the BYE, and returns what the receiver saw.
async fn receiver(sip: UdpSocket, rtp: UdpSocket) -> ReferenceLog {
    let rtp_port = rtp.local_addr().expect("bound").port();
    let mut rx: Option<ReferenceReceiver> = None;
    let (mut sbuf, mut rbuf) = (vec![0u8; 65_535], vec![0u8; 2048]);
    let give_up = tokio::time::Instant::now() + LIMIT;
    loop {
        let wake = rx.as_ref().map_or(give_up.into_std(), |r| r.poll_timeout());
        tokio::select! {
            r = sip.recv_from(&mut sbuf) => {
                let (n, from) = r.expect("SIP recv");
                let Ok(SipMessage::Request(req)) = message::parse(&sbuf[..n]) else { continue };
                let resp = match req.method {
                    Method::Invite => {
                        let (resp, media) = answer(&req, rtp_port);
                        rx = Some(ReferenceReceiver::new(clock::now(), media, 99).expect("params"));
                        resp
                    }
                    Method::Bye => response_to(&req, 200, None),
                    _ => continue,
                };
                let bytes = message::serialize(&SipMessage::Response(resp));
                sip.send_to(&bytes, from).await.expect("SIP send");
                if req.method == Method::Bye {
                    return rx.map(|r| r.log().clone()).unwrap_or_default();
                }
            }
            r = rtp.recv_from(&mut rbuf) => {
                let (n, from) = r.expect("RTP recv");
                if let Some(rx) = rx.as_mut() {
                    rx.handle_rtp(clock::now(), from, &rbuf[..n]);
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
        assert!(tokio::time::Instant::now() < give_up, "receiver gave up");
        if let Some(r) = rx.as_mut() {
            let now = clock::now();
            r.handle_timeout(now);
            while let Some(t) = r.poll_transmit(now) {
                if t.kind == TransmitKind::Rtp {
                    let _ = rtp.send_to(&t.bytes, t.destination).await;
                }
            }
        }
    }
}

fn answer(req: &Request, rtp_port: u16) -> (message::Response, alarmgate::media::MediaParams) {
    let offer = sdp::parse(&String::from_utf8_lossy(&req.body)).expect("offer parses");
    let local = LocalMedia {
        addr: [127, 0, 0, 1].into(),
        port: rtp_port,
        session_id: 7,
        session_version: 1,
        username: "-".into(),
    };
    let AnswerOutcome::Accepted(media, text) = sdp::answer(&offer, &MediaPolicy::default(), local)
    else {
        panic!("offer refused")
    };
    let mut resp = response_to(req, 200, None);
    set_to_tag(&mut resp, &Tag::new("ref1"));
    message::add_header(&mut resp, "Contact", "<sip:ref@127.0.0.1>");
    message::set_body(&mut resp, "application/sdp", text.into_bytes());
    (resp, params_from_sdp(&media))
}

/// Runs the simulator with `extra` options against a fresh receiver.
async fn simulate(extra: &[&str]) -> (SimReport, ReferenceLog) {
    let sip = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let port = sip
        .local_addr()
        .map(|a: SocketAddr| a.port())
        .expect("bound");
    let far = tokio::spawn(receiver(sip, rtp));
    let target = format!("sip:112@127.0.0.1:{port}");
    let mut argv = vec!["simulate", target.as_str(), "--call-timeout-s", "50"];
    argv.extend_from_slice(extra);
    let args = Cli::try_parse_from(argv).expect("options").args;
    let report = tokio::time::timeout(LIMIT, run_device(args))
        .await
        .expect("simulation bounded")
        .expect("simulation runs");
    let log = tokio::time::timeout(LIMIT, far)
        .await
        .expect("receiver bounded")
        .expect("joined");
    (report, log)
}

fn assert_all_acknowledged(report: &SimReport) {
    assert!(report.all_succeeded(), "{report}");
    for m in &report.calls[0].messages {
        assert_eq!(m.outcome, MessageOutcome::Acknowledged, "{report}");
        assert!(m.kissoff_ms.is_some_and(|k| k >= 400.0), "{report}");
        assert!(
            m.last_digit_to_kissoff_ms.is_some_and(|d| d < 1250.0),
            "{report}"
        );
    }
}

#[tokio::test]
async fn inband_contact_id_is_decoded_and_kissed_off() {
    let (report, log) = simulate(&["--seed", "1"]).await;
    println!("{report}");
    assert_all_acknowledged(&report);
    assert_eq!(log.decoded, ["1234181602000002"]);
    assert_eq!(log.kissoffs, 1);
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["calls"][0]["messages"][0]["outcome"], "acknowledged");
}

#[tokio::test]
async fn rfc4733_events_carry_two_messages() {
    let (report, log) = simulate(&[
        "--dtmf",
        "rfc4733",
        "-m",
        "1234 18 1 101 01 001",
        "-m",
        "1234 18 3 101 01 001",
        "--seed",
        "2",
    ])
    .await;
    println!("{report}");
    assert_all_acknowledged(&report);
    assert_eq!(log.decoded, ["123418110101001*", "1234183101010019"]);
}

#[tokio::test]
async fn three_percent_loss_still_gets_through() {
    let (report, log) = simulate(&["--loss", "3", "--jitter-ms", "10", "--seed", "3"]).await;
    println!("{report}");
    assert_all_acknowledged(&report);
    assert!(report.calls[0].rtp_dropped > 0, "{report}");
    assert_eq!(log.decoded, ["1234181602000002"]);
    assert!(report.calls[0].messages[0].attempts <= 4);
}
