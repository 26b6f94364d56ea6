//! WebRTC operator legs through a running daemon (BENCHMARKS.md, "WebRTC
//! operator legs"), driven by `bench/webrtc_legs.sh`.
//!
//! N browser operators, each a webrtc-rs `rtc` PeerConnection (the interop
//! tests' stand-in, `tests/interop/webrtc/browser.rs`) whose SIP goes over
//! its own WebSocket (`sip` subprotocol, digest REGISTER as op<k>). The alarm
//! units are plain RTP SIP callers from this process too (PCMA, the
//! daemon configured without Contact ID so each call is queued at once).
//!
//! Per call: the unit calls; the daemon rings a browser over its socket;
//! the browser answers (200 OK sent = `answered`), ICE/DTLS/SRTP connect
//! and it plays 700 Hz; the unit, once it hears 700 Hz, starts 1000 Hz
//! (`onset`, its first toned packet sent); the browser hears 1000 Hz
//! (`heard`, the first toned packet). Two-way audio = `heard`, which the
//! unit only starts after hearing the browser. The bridge's delay unit →
//! browser = `heard - onset` (one process, one clock). After `--hold-s`
//! the browser hangs up.
//!
//! `cargo run --release --example webrtc_bench -- --ws 127.0.0.1:PORT
//!  --sip 127.0.0.1:PORT --operators N --calls N --concurrent C --rate R
//!  --hold-s S --tick-ms T [--daemon-pid PID]`
//!
//! Every loop is bounded: calls, and a deadline of calls/rate + hold + 60 s.

// A bench driver, not a core: it reads the clock itself.
#![allow(clippy::disallowed_methods)]

#[allow(dead_code)]
#[path = "../tests/interop/webrtc/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "../tests/interop/webrtc/sip_ua.rs"]
mod sip_ua;

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use alarmgate::sip::digest;
use browser::Browser;
use sip_ua::Msg;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message, WebSocket};

#[path = "webrtc_bench/unit.rs"]
mod unit;
use unit::Unit;

struct Args {
    ws: SocketAddr,
    sip: SocketAddr,
    operators: usize,
    calls: usize,
    concurrent: usize,
    rate: f64,
    hold: Duration,
    tick: Duration,
    daemon_pid: Option<u32>,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    let num = |name: &str, default: f64| get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let addr = |name: &str| get(name).and_then(|v| v.parse().ok()).expect(name);
    Args {
        ws: addr("--ws"),
        sip: addr("--sip"),
        operators: num("--operators", 1.0) as usize,
        calls: num("--calls", 1.0) as usize,
        concurrent: num("--concurrent", 1.0) as usize,
        rate: num("--rate", 5.0),
        hold: Duration::from_secs_f64(num("--hold-s", 5.0)),
        tick: Duration::from_millis(num("--tick-ms", 2.0) as u64),
        daemon_pid: get("--daemon-pid").and_then(|v| v.parse().ok()),
    }
}

/// One browser operator: its WebSocket and its call.
struct Phone {
    user: String,
    ws: WebSocket<TcpStream>,
    local: SocketAddr,
    call: Option<OpCall>,
}

struct OpCall {
    invite: Msg,
    browser: Browser,
    answered: Instant,
    /// The unit call's index (its Call-ID at the unit side is not ours).
    hung_up: bool,
}

impl Phone {
    fn connect(k: usize, ws: SocketAddr) -> Self {
        let stream = TcpStream::connect(ws).expect("ws connect");
        let local = stream.local_addr().expect("bound");
        let mut request = format!("ws://{ws}").into_client_request().expect("request");
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "sip".parse().expect("header"));
        let (socket, _) = tokio_tungstenite::tungstenite::client(request, stream).expect("upgrade");
        Self {
            user: format!("op{k}"),
            ws: socket,
            local,
            call: None,
        }
    }

    fn send(&mut self, text: String) {
        let _ = self.ws.send(Message::text(text));
    }

    fn recv(&mut self) -> Option<Msg> {
        match self.ws.read() {
            Ok(Message::Text(t)) => Some(Msg {
                text: t.to_string(),
                from: self.local,
            }),
            _ => None,
        }
    }

    fn register_text(&self, ws: SocketAddr, cseq: u32, auth: Option<&str>) -> String {
        let (u, l) = (&self.user, self.local);
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER sip:{ws} SIP/2.0\r\nVia: SIP/2.0/WS {u}.invalid;branch=z9hG4bKr{cseq}{u}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{u}@{ws}>;tag=r{u}\r\nTo: <sip:{u}@{ws}>\r\n\
             Call-ID: reg-{u}-{l}\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{u}@{u}.invalid;transport=ws>;expires=600\r\n{auth}Content-Length: 0\r\n\r\n"
        )
    }

    /// Digest REGISTER, blocking (before the socket goes non-blocking).
    fn register(&mut self, ws: SocketAddr, password: &str) -> u16 {
        self.send(self.register_text(ws, 1, None));
        let Some(challenge) = self.recv() else {
            return 0;
        };
        let Some(www) = challenge.header("WWW-Authenticate") else {
            return sip_ua::status(&challenge);
        };
        let uri = format!("sip:{ws}");
        let auth = digest::respond(www, "REGISTER", &uri, &self.user, password, "b3nc4", 1)
            .expect("digest");
        self.send(self.register_text(ws, 2, Some(&auth)));
        self.recv().map_or(0, |m| sip_ua::status(&m))
    }

    fn respond(&mut self, request: &Msg, code: u16, sdp: Option<&str>) {
        let contact = format!("<sip:{u}@{u}.invalid;transport=ws>", u = self.user);
        self.send(sip_ua::reply(request, code, &contact, sdp));
    }

    /// BYE in the dialog of the call's INVITE.
    fn bye(&mut self) {
        let Some(call) = self.call.as_ref() else {
            return;
        };
        let i = &call.invite;
        let target = i.header("Contact").unwrap_or_default();
        let target = target.trim_matches(|c| c == '<' || c == '>').to_owned();
        let text = format!(
            "BYE {target} SIP/2.0\r\nVia: SIP/2.0/WS {u}.invalid;branch=z9hG4bKbye{n}\r\n\
             Max-Forwards: 70\r\nFrom: {to};tag=op\r\nTo: {from}\r\nCall-ID: {id}\r\n\
             CSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n",
            u = self.user,
            n = call.answered.elapsed().as_nanos(),
            to = i.header("To").unwrap_or_default(),
            from = i.header("From").unwrap_or_default(),
            id = i.header("Call-ID").unwrap_or_default(),
        );
        self.send(text);
    }

    /// Handles what the daemon sent: an INVITE is answered at once.
    fn serve(&mut self) {
        while let Some(msg) = self.recv() {
            let start = msg.start().to_owned();
            if start.starts_with("INVITE ") && self.call.is_none() {
                self.respond(&msg, 180, None);
                let (browser, answer) = Browser::answer(msg.body(), 700.0, 1000.0, false);
                browser.set_nonblocking();
                self.respond(&msg, 200, Some(&answer));
                self.call = Some(OpCall {
                    invite: msg,
                    browser,
                    answered: Instant::now(),
                    hung_up: false,
                });
            } else if start.starts_with("BYE ") || start.starts_with("OPTIONS ") {
                self.respond(&msg, 200, None);
            } else if start.starts_with("INVITE ") {
                self.respond(&msg, 486, None);
            }
        }
    }
}

fn proc_cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn proc_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let k = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(k - 1).copied().unwrap_or(f64::NAN)
}

fn main() {
    let a = args();
    let rss0 = a.daemon_pid.map(proc_rss_kb).unwrap_or(0);
    let mut phones: Vec<Phone> = (1..=a.operators).map(|k| Phone::connect(k, a.ws)).collect();
    for p in &mut phones {
        let pw = format!("pw-{}", p.user);
        let status = p.register(a.ws, &pw);
        assert_eq!(status, 200, "{} REGISTER", p.user);
        p.ws.get_mut().set_nonblocking(true).expect("nonblocking");
    }
    eprintln!("{} browsers registered over ws", phones.len());
    std::thread::sleep(Duration::from_millis(500));
    let sip = UdpSocket::bind("127.0.0.1:0").expect("unit sip");
    sip.set_nonblocking(true).expect("nonblocking");
    let mut units: Vec<Unit> = Vec::new();
    let begin = Instant::now();
    let deadline =
        begin + Duration::from_secs_f64(a.calls as f64 / a.rate) + a.hold + Duration::from_secs(60);
    let mut buf = vec![0u8; 4096];
    let (mut steady, mut peak_legs) = (None::<(Instant, u64)>, 0usize);
    let mut steady_cpu = None;
    let mut peak_legs_at = (0usize, Instant::now());
    while Instant::now() < deadline {
        let now = Instant::now();
        let active = units.iter().filter(|u| !u.done).count();
        let due = (now - begin).as_secs_f64() * a.rate;
        if units.len() < a.calls && active < a.concurrent && (units.len() as f64) < due {
            let u = Unit::call(&sip, a.sip, units.len());
            units.push(u);
        }
        unit::receive_sip(&sip, &mut units, &mut buf);
        for u in units.iter_mut() {
            u.step(&sip, now, &mut buf);
        }
        for p in phones.iter_mut() {
            p.serve();
            step_browser(p, &mut buf, a.hold);
        }
        let legs = phones
            .iter()
            .filter(|p| {
                p.call
                    .as_ref()
                    .is_some_and(|c| c.browser.heard_at.is_some() && !c.hung_up)
            })
            .count();
        peak_legs = peak_legs.max(legs);
        // The steady state: every leg up, or all calls made and no new leg
        // for 10 s (some never came up: the report says how many did).
        if legs > peak_legs_at.0 {
            peak_legs_at = (legs, Instant::now());
        }
        let settled = units.len() == a.calls && peak_legs_at.1.elapsed() >= Duration::from_secs(10);
        if let (Some(pid), None) = (a.daemon_pid, steady) {
            if legs > 0 && (legs == a.concurrent.min(a.calls) || settled) {
                steady = Some((Instant::now(), proc_cpu_ticks(pid)));
            }
        }
        if let (Some(pid), Some((t0, c0)), None) = (a.daemon_pid, steady, steady_cpu) {
            if t0.elapsed() >= a.hold.mul_f64(0.5).max(Duration::from_secs(1)) {
                let secs = t0.elapsed().as_secs_f64();
                let ticks = proc_cpu_ticks(pid) - c0;
                steady_cpu = Some((ticks as f64 / 100.0 / secs * 100.0, proc_rss_kb(pid), legs));
            }
        }
        let finished = units.len() == a.calls && units.iter().all(|u| u.done);
        if finished && phones.iter().all(|p| p.call.is_none()) {
            break;
        }
        std::thread::sleep(a.tick);
    }
    report(&a, &units, &phones, peak_legs, steady_cpu, rss0);
}

/// Runs the browser's call; hangs up `hold` after two-way audio; forgets
/// the call a second later.
fn step_browser(p: &mut Phone, buf: &mut [u8], hold: Duration) {
    let Some(call) = p.call.as_mut() else { return };
    call.browser.step(buf);
    let heard = call.browser.heard_at;
    if let (Some(at), false) = (heard, call.hung_up) {
        if at.elapsed() >= hold {
            call.hung_up = true;
            RESULTS.with(|r| {
                r.borrow_mut().push(LegResult {
                    caller: call.invite.header("From").unwrap_or_default().to_owned(),
                    answered: call.answered,
                    connected: call.browser.connected_at,
                    heard: call.browser.heard_at,
                    packets_in: call.browser.packets_in,
                })
            });
            p.bye();
        }
    }
    if p.call.as_ref().is_some_and(|c| {
        c.hung_up
            && c.browser
                .heard_at
                .is_some_and(|h| h.elapsed() >= hold + Duration::from_secs(1))
    }) {
        if let Some(mut c) = p.call.take() {
            c.browser.close();
        }
    }
}

struct LegResult {
    /// The INVITE's From: the unit's number.
    caller: String,
    answered: Instant,
    connected: Option<Instant>,
    heard: Option<Instant>,
    packets_in: u64,
}

thread_local! {
    static RESULTS: std::cell::RefCell<Vec<LegResult>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn report(
    a: &Args,
    units: &[Unit],
    phones: &[Phone],
    peak_legs: usize,
    steady: Option<(f64, u64, usize)>,
    rss0: u64,
) {
    let legs = RESULTS.with(|r| r.take());
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut connect: Vec<f64> = legs
        .iter()
        .filter_map(|l| Some(ms(l.connected? - l.answered)))
        .collect();
    let mut two_way: Vec<f64> = legs
        .iter()
        .filter_map(|l| Some(ms(l.heard? - l.answered)))
        .collect();
    // The bridge's delay: the unit's onset to the browser's first toned
    // packet, the leg matched to its unit by the caller number.
    let mut delay: Vec<f64> = legs
        .iter()
        .filter_map(|l| {
            let unit = units
                .iter()
                .find(|u| l.caller.contains(&format!("sip:{}@", u.caller)))?;
            Some(ms(l.heard?.saturating_duration_since(unit.onset?)))
        })
        .collect();
    let heards = legs.iter().filter(|l| l.heard.is_some()).count();
    for v in [&mut connect, &mut two_way, &mut delay] {
        v.sort_by(f64::total_cmp);
    }
    let both_ways = units
        .iter()
        .filter(|u| u.heard.is_some())
        .count()
        .min(heards);
    let still = phones.iter().filter(|p| p.call.is_some()).count();
    println!(
        "calls={} concurrent={} operators={} legs_two_way={} peak_concurrent_two_way={} unanswered_units={} open_at_end={}",
        a.calls,
        a.concurrent,
        a.operators,
        both_ways,
        peak_legs,
        units.iter().filter(|u| u.answered.is_none()).count(),
        still
    );
    for (name, v) in [
        ("answer_to_connected_ms", &connect),
        ("answer_to_two_way_ms", &two_way),
        ("bridge_delay_unit_to_browser_ms", &delay),
    ] {
        println!(
            "{name}: n={} p50={:.1} p99={:.1} max={:.1}",
            v.len(),
            pct(v, 0.5),
            pct(v, 0.99),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    if let Some((cpu, rss, legs)) = steady {
        let legs = legs.max(1) as f64;
        println!(
            "daemon_steady: legs={legs} cpu={cpu:.1}% ({:.3}% of a core per leg) rss={rss}kB (before calls {rss0}kB, {:.1} kB per leg)",
            cpu / legs,
            (rss.saturating_sub(rss0)) as f64 / legs
        );
    }
    let mut refused: Vec<u16> = units.iter().filter_map(|u| u.refused).collect();
    refused.sort_unstable();
    println!("units_refused={} codes={refused:?}", refused.len());
    let packets: u64 = legs.iter().map(|l| l.packets_in).sum();
    println!("browser_packets_in_total={packets}");
}
