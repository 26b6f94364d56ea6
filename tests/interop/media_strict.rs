//! Strict media (issue 9 items 1, 7, 8) against real peers.
//!
//! - A forger on 127.0.0.3 with its own SSRCs sprays every bound even port
//!   of the daemon's RTP range with a Contact ID burglary (`4242 18 1 130 01 001`)
//!   as RFC 4733 events and as in-band DTMF while SIPp, the real unit,
//!   replays its RFC 2833 message: only the unit's message is decoded,
//!   stored and acknowledged; the forged packets are counted as dropped.
//! - An INVITE whose `c=` is the broadcast address gets 488 with Warning 301.
//! - With most of the daemon's RTP ports held by this (another) process,
//!   calls still connect and none ends with `media_failed`.

use crate::alarm_peers::{
    assert_journal, config, metric_at_least, metric_eq, rfc2833_captures, scenario_copy,
};
use crate::harness::{need_sipp, Config, Daemon};
use alarmgate::alarm::contact_id::check_digit;
use alarmgate::media::receiver::EventParams;
use alarmgate::media::sender::Seeds;
use alarmgate::media::session::{MediaParams, RtpSession, TransmitKind};
use alarmgate::media::source::SourceRules;
use alarmgate::media::telephone_event::EventSet;
use alarmgate::media::tone::{DtmfParams, ToneGenerator, ToneSpec};
use alarmgate::media::Codec;
use alarmgate::telemetry::metrics as m;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The forged burglary: account 4242, new event 130, group 01, zone 001.
fn forged_dtmf() -> String {
    let first15 = "424218113001001";
    let check = check_digit(first15).expect("valid digits");
    format!("{first15}{check}")
}

/// A forging RTP stream: RFC 4733 events or in-band DTMF, PCMA.
fn forging_session(ssrc: u32, inband: bool) -> RtpSession {
    let params = MediaParams {
        codec: Codec::Pcma,
        payload_type: 8,
        telephone_event: Some(EventParams {
            payload_type: 101,
            events: EventSet::default(),
        }),
        ptime_ms: 20,
        remote: Some(SocketAddr::from(([127, 0, 0, 1], 9))),
        rtcp_mux: false,
        source: SourceRules::default(),
    };
    let seeds = Seeds {
        ssrc,
        sequence_number: 1000,
        timestamp: 8000,
    };
    let mut s = RtpSession::new(Instant::now(), params, seeds, "forger").expect("valid");
    let digits = forged_dtmf();
    if inband {
        let spec = ToneSpec::dtmf(&digits, DtmfParams::default()).expect("DTMF digits");
        s.set_source(Box::new(ToneGenerator::new(spec)));
    } else {
        s.send_digits(&digits, 60).expect("telephone-event");
    }
    s
}

/// Sprays forged RTP from 127.0.0.3 at every even port of `range` that is
/// bound (read from /proc/net/udp every 200 ms, as a port scan would find
/// them) until stopped (at most 60 s), the message every 3 s;
/// returns the datagrams sent. The packets are made before the clock
/// starts, so the forger costs little CPU beside SIPp's real-time replay.
struct Forger {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Forger {
    fn start(range: (u16, u16)) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || forge(range, &flag));
        Self { stop, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("forger thread")
    }
}

/// 12 s of one forging stream, one datagram per 20 ms: the message every
/// 3 s, each time as a new stream (SSRC `ssrc + round`).
fn forged_packets(ssrc: u32, inband: bool) -> Vec<Vec<u8>> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    for round in 0..4 {
        let mut s = forging_session(ssrc + round, inband);
        out.extend((0..150u64).map(|i| {
            let now = t0 + Duration::from_millis(20 * i);
            std::iter::from_fn(|| s.poll_transmit(now))
                .filter(|t| t.kind == TransmitKind::Rtp)
                .map(|t| t.bytes)
                .last()
                .unwrap_or_default()
        }));
    }
    out
}

/// Even ports of `range` bound on this host (UDP), from /proc/net/udp.
fn bound_even_ports(range: (u16, u16)) -> Vec<u16> {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
    let mut ports: Vec<u16> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1)?.rsplit(':').next())
        .filter_map(|hex| u16::from_str_radix(hex, 16).ok())
        .filter(|p| (range.0..=range.1).contains(p) && p % 2 == 0)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn forge(range: (u16, u16), stop: &AtomicBool) -> u64 {
    let socket = UdpSocket::bind("127.0.0.3:0").expect("bind 127.0.0.3");
    let streams = [
        forged_packets(0x4242_0001, false),
        forged_packets(0x4242_8001, true),
    ];
    let started = Instant::now();
    let (mut sent, mut ports) = (0u64, Vec::new());
    for tick in 0..3000usize {
        if stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        if tick % 10 == 0 {
            ports = bound_even_ports(range);
        }
        for stream in &streams {
            let Some(bytes) = stream.get(tick % stream.len()) else {
                continue;
            };
            for port in &ports {
                let to = SocketAddr::from(([127, 0, 0, 1], *port));
                sent += u64::from(socket.send_to(bytes, to).is_ok());
            }
        }
        let due = started + Duration::from_millis(20 * (tick as u64 + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    sent
}

/// The unit's RFC 2833 capture replayed by SIPp while the forger sprays:
/// the unit's message 1234181602000002 is the only alarm stored and
/// acknowledged (on today's main the forged packets were decoded too).
#[test]
fn forged_rfc4733_and_inband_digits_from_another_address_are_not_decoded() {
    let test = "forged_rfc4733_and_inband_digits_from_another_address_are_not_decoded";
    if !need_sipp(test) {
        return;
    }
    let Some(d) = Daemon::start(test, &config()) else {
        return;
    };
    let root = rfc2833_captures(&d.dir.path, "1234181602000002", "stream");
    let sc = scenario_copy(
        "rfc2833_cid.xml",
        &d.dir.path,
        "rfc2833/",
        &root.join("rfc2833"),
    );
    let forger = Forger::start(d.rtp_range());
    let mut run = d.sipp("rfc2833_cid.xml").timeout_s(40);
    run.scenario = sc;
    let result = run.run();
    let sent = forger.stop();
    eprintln!("{test}: forger sent {sent} datagrams");
    result.assert_ok(1);
    metric_eq(&d, m::ALARMS_DECODED, &[("class", "test")], 1.0);
    metric_eq(&d, m::ALARMS_ACKNOWLEDGED, &[], 1.0);
    let records = assert_journal(&d, &[("1234", "602", "1234181602000002")]);
    let dropped = &records[0]["data"]["forensics"]["rtp_dropped"];
    assert!(
        dropped["address"].as_u64().unwrap_or(0) > 0,
        "forged packets counted in the forensics: {dropped}"
    );
    metric_at_least(&d, m::RTP_DROPPED, &[("reason", "address")], 10.0);
    assert!(
        d.metric(m::ALARMS_DECODED, &[("class", "burglary")])
            .is_none(),
        "{}",
        d.metrics()
    );
}

/// An offer with `c=IN IP4 255.255.255.255` gets 488 with Warning 301
/// (today's main answered 200 and sent RTP to the broadcast address).
#[test]
fn offer_to_broadcast_gets_488() {
    let test = "offer_to_broadcast_gets_488";
    let Some(d) = Daemon::start(test, &Config::default()) else {
        return;
    };
    let reply = invite_once(d.sip_port, "255.255.255.255");
    let first = reply.lines().next().unwrap_or_default();
    assert_eq!(first, "SIP/2.0 488 Not Acceptable Here", "{reply}");
    assert!(
        reply
            .lines()
            .any(|l| l.starts_with("Warning: 301 ") && l.contains("broadcast")),
        "{reply}"
    );
    assert!(
        d.metric(m::CALLS_ANSWERED, &[]).is_none_or(|n| n == 0.0),
        "{}",
        d.metrics()
    );
}

/// Sends one INVITE over UDP whose SDP names `c`; returns the final answer.
fn invite_once(sip_port: u16, c: &str) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let local = socket.local_addr().expect("bound");
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let sdp = format!(
        "v=0\r\no=unit 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 {c}\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
    );
    let invite = format!(
        "INVITE sip:112@127.0.0.1:{sip_port} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKbcast1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:unit@127.0.0.1>;tag=b1\r\nTo: <sip:112@127.0.0.1>\r\n\
         Call-ID: bcast-{}@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:unit@{local}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        std::process::id(),
        sdp.len()
    );
    let to = SocketAddr::from(([127, 0, 0, 1], sip_port));
    let mut buf = vec![0u8; 4096];
    for _ in 0..5 {
        socket.send_to(invite.as_bytes(), to).expect("send INVITE");
        while let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let provisional = text.starts_with("SIP/2.0 1");
            if !provisional {
                return text;
            }
        }
    }
    panic!("no final answer to the INVITE");
}

/// Holds every other even port of the daemon's RTP range, the first one
/// included (and their RTCP ports), on 127.0.0.1 in this process, then
/// places eight calls one after another: every call connects and lasts
/// until SIPp's BYE, none ends with `media_failed` (today's main handed out
/// the first port, held, and hung up).
#[test]
fn rtp_ports_held_by_another_process_do_not_end_calls() {
    let test = "rtp_ports_held_by_another_process_do_not_end_calls";
    if !need_sipp(test) {
        return;
    }
    let Some(d) = Daemon::start(test, &Config::default()) else {
        return;
    };
    let (min, max) = d.rtp_range();
    let evens: Vec<u16> = (min..=max).filter(|p| p % 2 == 0).collect();
    let every_other: Vec<u16> = evens.iter().step_by(2).copied().collect();
    let held = hold_ports(&every_other);
    assert!(held.len() > 90, "held {} ports", held.len());
    let result = d
        .sipp("uac_basic.xml")
        .calls(8)
        .rate(10, 1)
        .hold_ms(300)
        .timeout_s(60)
        .run();
    result.assert_ok(8);
    metric_eq(&d, m::CALLS_ANSWERED, &[], 8.0);
    assert!(
        d.metric(m::CALLS_ENDED, &[("reason", "media_failed")])
            .is_none_or(|n| n == 0.0),
        "{}",
        d.metrics()
    );
    log_mentions_skips(&d);
    drop(held);
}

/// Binds each RTP port and its RTCP port that nobody else holds.
fn hold_ports(ports: &[u16]) -> Vec<UdpSocket> {
    ports
        .iter()
        .flat_map(|p| [*p, p + 1])
        .filter_map(|p| UdpSocket::bind(("127.0.0.1", p)).ok())
        .collect()
}

/// The daemon said which ports it skipped (a hint when the test fails).
fn log_mentions_skips(d: &Daemon) {
    let skipped = d
        .log_text()
        .lines()
        .filter(|l| l.contains("RTP port in use by another process"))
        .count();
    eprintln!("{}: {skipped} held ports skipped", d.name);
}
