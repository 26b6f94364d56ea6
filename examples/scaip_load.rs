//! SCAIP MESSAGE rate (BENCHMARKS.md, "DC-09 and SCAIP receiver rates").
//!
//! ```text
//! cargo run --release --example scaip_load -- --to 127.0.0.1:5060 [--number 112]
//!     [--kind test|alarm|heartbeat] [--conns N] [--sources K] [--seconds S]
//!     [--warmup W] [--max-per-conn M] [--pid DAEMON_PID] [--timeout-ms 10000]
//! ```
//!
//! N units over UDP, each on its own socket (from 127.0.0.1 up to
//! 127.0.0.K) with its own `cid` (`900000` + i), each with one request
//! outstanding (closed loop): MESSAGE with an `<mrq>`, the centre's 200,
//! then the centre's `<mrs>` in a MESSAGE of its own (answered 200), or in
//! the 200's body. The time measured is MESSAGE sent → `<mrs>` received.
//! A MESSAGE without a final answer is sent again every 500 ms, as
//! `alarmgate simulate scaip` does; one without its `<mrs>` within
//! `--timeout-ms` counts as `none`.
//!
//! `--kind test` (default): `mty=ME`, `stc=0102` (test transmission, a
//! 602): stored, then answered `snu=0`, queued for nobody: the durable
//! alarm path at a rate a storm could bring. `alarm`: `stc=0010` asking
//! for voice (each waits for a voice call that never comes, then goes to
//! the operators as a data alarm: a storm the operators would see).
//! `heartbeat`: `mty=PI` (answered at once, journalled without waiting).
//! The SIP messages are built and read by `alarmgate simulate scaip`'s unit.

// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

mod load_common;

use alarmgate::simulate::scaip::{
    Outcome, ScaipArgs, ScaipMode, ScaipTransport, ScaipUnit, UDP_RETRANSMIT,
};
use load_common::{arg, Common, Sample};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Opts {
    to: SocketAddr,
    number: String,
    kind: String,
    timeout: Duration,
}

fn body(kind: &str, reference: &str, cid: &str) -> String {
    match kind {
        "heartbeat" => format!("<mrq><ref>{reference}</ref><mty>PI</mty><cid>{cid}</cid><dty>0002</dty><stc>0102</stc></mrq>"),
        "alarm" => format!("<mrq><ref>{reference}</ref><cha>0</cha><mty>ME</mty><cid>{cid}</cid><dty>0003</dty><stc>0010</stc><crd>gsm:+4512345678</crd></mrq>"),
        _ => format!("<mrq><ref>{reference}</ref><mty>ME</mty><cid>{cid}</cid><dty>0002</dty><stc>0102</stc></mrq>"),
    }
}

/// One message to its `<mrs>` (or the timeout); the unit answers the centre's MESSAGEs.
fn exchange(
    sock: &UdpSocket,
    unit: &mut ScaipUnit,
    text: &str,
    reference: &str,
    deadline: Instant,
) -> bool {
    let mut buf = vec![0u8; 65_536];
    let mut resend = Instant::now() + UDP_RETRANSMIT;
    if sock.send(text.as_bytes()).is_err() {
        return false;
    }
    while Instant::now() < deadline {
        let outcome = unit.outcome(reference);
        if outcome.is_some_and(Outcome::done) {
            return outcome.is_some_and(|o| o.status == Some(200) && o.mrs.is_some());
        }
        if outcome.is_some_and(|o| o.status.is_none()) && Instant::now() >= resend {
            let _ = sock.send(text.as_bytes());
            resend = Instant::now() + UDP_RETRANSMIT;
        }
        if let Ok(n) = sock.recv(&mut buf) {
            if let Some(answer) = unit.receive(Instant::now(), &buf[..n]) {
                let _ = sock.send(answer.as_bytes());
            }
        }
    }
    false
}

/// One unit's closed loop.
fn unit_loop(
    o: &Opts,
    common: &Common,
    i: usize,
    start: Instant,
    end: Instant,
    stop: &AtomicBool,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let sock = match UdpSocket::bind(SocketAddr::new(common.source(i), 0)).and_then(|s| {
        s.connect(o.to)?;
        s.set_read_timeout(Some(Duration::from_millis(50)))?;
        Ok(s)
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("unit {i}: {e}");
            return samples;
        }
    };
    let local = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let cid = format!("{}", 900_000 + i);
    let args = ScaipArgs {
        target: format!("sip:{}@{}", o.number, o.to),
        mode: ScaipMode::Alarm,
        count: 1,
        cid: cid.clone(),
        caller: format!("45{:08}", 20_000_000 + i),
        transport: ScaipTransport::Udp,
        timeout_s: o.timeout.as_secs().max(1),
        json: false,
    };
    let mut n = 0u64;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) && n < common.max_per_conn {
        // A fresh unit every 10,000 messages: it remembers every message it sent.
        let mut unit = ScaipUnit::new(args.clone(), local.clone(), rand::random());
        for _ in 0..10_000 {
            if Instant::now() >= end || n >= common.max_per_conn {
                break;
            }
            n += 1;
            let reference = format!("b{i:03}n{n:09}");
            let text = unit.message(Instant::now(), &reference, &body(&o.kind, &reference, &cid));
            let sent = Instant::now();
            let ok = exchange(&sock, &mut unit, &text, &reference, sent + o.timeout);
            let answer = match unit.outcome(&reference) {
                Some(Outcome { snu: Some(s), .. }) => format!("snu={s}"),
                Some(Outcome {
                    status: Some(c), ..
                }) => format!("{c} without mrs"),
                _ => "none".into(),
            };
            samples.push(Sample {
                at_s: sent.duration_since(start).as_secs_f64(),
                latency_us: sent.elapsed().as_micros() as u64,
                ok: ok && answer == "snu=0",
                answer,
            });
        }
    }
    samples
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let common = Common::parse(&args);
    let Ok(to) = arg(&args, "--to")
        .unwrap_or("127.0.0.1:5060")
        .parse::<SocketAddr>()
    else {
        eprintln!("--to host:port");
        std::process::exit(2);
    };
    let o = Opts {
        to,
        number: arg(&args, "--number").unwrap_or("112").to_owned(),
        kind: arg(&args, "--kind").unwrap_or("test").to_owned(),
        timeout: Duration::from_millis(
            arg(&args, "--timeout-ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(10_000)
                .clamp(100, 60_000),
        ),
    };
    let label = format!("scaip udp {}", o.kind);
    let c = common.clone();
    let (samples, warm, end, _) = load_common::run(&common, move |i, start, end, stop| {
        unit_loop(&o, &c, i, start, end, stop)
    });
    println!(
        "{}",
        load_common::summary(&label, &common, &samples, warm, end)
    );
}
