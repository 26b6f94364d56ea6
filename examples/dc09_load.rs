//! DC-09 receiver rate (BENCHMARKS.md, "DC-09 and SCAIP receiver rates").
//!
//! ```text
//! cargo run --release --example dc09_load -- --to 127.0.0.1:12000 [--udp] [--key KEY]
//!     [--conns N] [--sources K] [--seconds S] [--warmup W] [--max-per-conn M]
//!     [--pid DAEMON_PID] [--message "1602 00 000"] [--timeout-ms 5000]
//! ```
//!
//! N panels, each on its own TCP connection or UDP socket (from 127.0.0.1
//! up to 127.0.0.K, so many peers are many sources), each with its own
//! account (`B000` + i), send `ADM-CID` frames (a 602 test by default, so
//! nothing is queued for a person) built by `alarmgate simulate dc09`'s
//! planner, plain or AES-encrypted with `--key`, one at a time: the next
//! frame goes when the previous one's `ACK` came back (closed loop), so
//! the rate is what the receiver acknowledges durably (it answers only
//! after the journal's fdatasync). A UDP frame unanswered within
//! `--timeout-ms` counts as `none` and the panel goes on with the next
//! sequence number. Prints one JSON line (see `load_common::summary`).

// A benchmark measures real time and draws random pads.
#![allow(clippy::disallowed_methods)]

mod load_common;

use alarmgate::simulate::dc09::{as_expected, read_answer, Dc09Args, KeyFormatArg, Scenario};
use load_common::{arg, Common, Sample};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

enum Link {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

fn open(
    to: SocketAddr,
    from: std::net::IpAddr,
    udp: bool,
    timeout: Duration,
) -> std::io::Result<Link> {
    if udp {
        let s = UdpSocket::bind(SocketAddr::new(from, 0))?;
        s.connect(to)?;
        s.set_read_timeout(Some(timeout))?;
        return Ok(Link::Udp(s));
    }
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.bind(&SocketAddr::new(from, 0).into())?;
    sock.connect_timeout(&to.into(), timeout)?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    Ok(Link::Tcp(s))
}

impl Link {
    /// Sends `frame`; the answer, or None (timeout, closed).
    fn exchange(&mut self, frame: &[u8], buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        Ok(match self {
            Link::Tcp(s) => {
                s.write_all(frame)?;
                s.read(buf).ok().filter(|n| *n > 0)
            }
            Link::Udp(s) => {
                s.send(frame)?;
                s.recv(buf).ok()
            }
        })
    }
}

fn panel_args(args: &[String], i: usize) -> Dc09Args {
    Dc09Args {
        to: String::new(),
        udp: false,
        scenario: Scenario::Alarm,
        account: format!("{:X}", 0xB000 + i),
        receiver: None,
        line: "1".into(),
        key: arg(args, "--key").map(str::to_owned),
        key_format: KeyFormatArg::Ascii,
        message: arg(args, "--message").unwrap_or("1602 00 000").to_owned(),
        sia: None,
        seq: 1,
        count: 1,
        timeout_ms: 5000,
        json: false,
    }
}

/// One panel's closed loop.
fn panel(
    args: &[String],
    to: SocketAddr,
    common: &Common,
    i: usize,
    start: Instant,
    end: Instant,
    stop: &AtomicBool,
) -> Vec<Sample> {
    let udp = args.iter().any(|a| a == "--udp");
    let timeout = Duration::from_millis(
        arg(args, "--timeout-ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5000),
    );
    let mut plan = panel_args(args, i);
    let key = plan.key.as_deref().and_then(|k| {
        alarmgate::dc09::crypto::Key::parse(k, alarmgate::dc09::crypto::KeyFormat::Ascii).ok()
    });
    let mut samples = Vec::new();
    let mut link = match open(to, common.source(i), udp, timeout) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("panel {i}: {e}");
            return samples;
        }
    };
    let mut buf = vec![0u8; 4200];
    let mut n = 0u64;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) && n < common.max_per_conn {
        plan.seq = u16::try_from(1 + n % 9999).unwrap_or(1);
        n += 1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let Ok(frames) = plan.plan(now, rand::random()) else {
            break;
        };
        let Some(frame) = frames.first() else { break };
        let sent = Instant::now();
        let got = link.exchange(&frame.bytes, &mut buf).unwrap_or(None);
        let latency = sent.elapsed();
        let answer = read_answer(got.map(|n| &buf[..n]), key.as_ref());
        let ok = as_expected(frame.expect, &answer);
        samples.push(Sample {
            at_s: sent.duration_since(start).as_secs_f64(),
            latency_us: latency.as_micros() as u64,
            answer: answer.kind,
            ok,
        });
        if got.is_none() && !udp {
            match open(to, common.source(i), udp, timeout) {
                Ok(l) => link = l,
                Err(_) => break,
            }
        }
    }
    samples
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let common = Common::parse(&args);
    let Ok(to) = arg(&args, "--to")
        .unwrap_or("127.0.0.1:12000")
        .parse::<SocketAddr>()
    else {
        eprintln!("--to host:port");
        std::process::exit(2);
    };
    let label = format!(
        "dc09 {}{}",
        if args.iter().any(|a| a == "--udp") {
            "udp"
        } else {
            "tcp"
        },
        if arg(&args, "--key").is_some() {
            " encrypted"
        } else {
            " plain"
        }
    );
    let (a, c) = (args.clone(), common.clone());
    let (samples, warm, end, _) = load_common::run(&common, move |i, start, end, stop| {
        panel(&a, to, &c, i, start, end, stop)
    });
    println!(
        "{}",
        load_common::summary(&label, &common, &samples, warm, end)
    );
}
