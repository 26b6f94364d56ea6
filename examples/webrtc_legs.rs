//! Cost of browser legs' WebRTC transport (`media::webrtc`), in one process
//! and without sockets: N legs as the daemon runs them (ICE-lite, DTLS
//! server) each against a browser stand-in (the same transport as DTLS
//! client, its checks built with webrtc-rs's STUN crate). Prints the DTLS
//! handshake CPU per leg, the resident memory per connected transport, and
//! the CPU of 10 s of 20 ms G.711 packets both ways through SRTP.
//!
//! `cargo run --release --example webrtc_legs -- 200`
//!
//! Both ends are the transport, so per-leg figures are the measured totals
//! divided by 2N. Not measured here: sockets, the RtpSession, the bridge
//! (the same for a plain RTP leg).

use std::net::SocketAddr;
use std::time::Instant;

use alarmgate::media::webrtc::{DtlsIdentity, WebRtcState, WebRtcTransport};
use alarmgate::sip::sdp::{DtlsRole, IceCredentials, IcePwd, IceUfrag, WebRtcMedia};
use rtc_stun::attributes::{ATTR_USERNAME, ATTR_USE_CANDIDATE};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::{Message, Setter, TransactionId, BINDING_REQUEST};
use rtc_stun::textattrs::TextAttribute;

struct UseCandidate;

impl Setter for UseCandidate {
    fn add_to(&self, m: &mut Message) -> rtc_shared::error::Result<()> {
        m.add(ATTR_USE_CANDIDATE, &[]);
        Ok(())
    }
}

fn creds(ufrag: String, pwd: &str) -> IceCredentials {
    IceCredentials {
        ufrag: IceUfrag::new(ufrag),
        pwd: IcePwd::new(pwd),
    }
}

fn check(username: &str, key: &IceCredentials) -> Vec<u8> {
    let crypto = rtc_crypto::default_provider().expect("ring");
    let mut m = Message::new();
    let setters: Vec<Box<dyn Setter>> = vec![
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId::new()),
        Box::new(TextAttribute::new(ATTR_USERNAME, username.into())),
        Box::new(UseCandidate),
        Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
            key.pwd.to_string(),
            crypto.crypto(),
        )),
        Box::new(FINGERPRINT),
    ];
    m.build(&setters).expect("check");
    m.raw
}

/// Process CPU time (user + system) from /proc/self/stat, in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

struct Leg {
    leg: WebRtcTransport,
    peer: WebRtcTransport,
}

const LEG: &str = "127.0.0.1:30000";
const PEER: &str = "127.0.0.1:50000";

fn pump(l: &mut Leg, now: Instant) {
    let (leg_addr, peer_addr): (SocketAddr, SocketAddr) =
        (LEG.parse().unwrap(), PEER.parse().unwrap());
    for _ in 0..50 {
        let mut moved = false;
        while let Some(d) = l.leg.poll_transmit() {
            moved = true;
            l.peer.handle_datagram(now, leg_addr, &d.bytes);
        }
        while let Some(d) = l.peer.poll_transmit() {
            moved = true;
            l.leg.handle_datagram(now, peer_addr, &d.bytes);
        }
        if !moved {
            break;
        }
    }
}

fn connect(i: usize, ours: &DtlsIdentity, browser: &DtlsIdentity, now: Instant) -> Leg {
    let leg_ice = creds(format!("leg{i:05}"), "legpasswordlegpassword24");
    let peer_ice = creds(format!("brw{i:05}"), "browserpasswordbrowser22");
    let media =
        |local: &IceCredentials, remote: &IceCredentials, fp: &DtlsIdentity, role| WebRtcMedia {
            local: local.clone(),
            remote: remote.clone(),
            remote_fingerprint: fp.fingerprint().clone(),
            role,
        };
    let mut l = Leg {
        leg: WebRtcTransport::new(
            now,
            ours,
            &media(&leg_ice, &peer_ice, browser, DtlsRole::Server),
        )
        .expect("leg"),
        peer: WebRtcTransport::new(
            now,
            browser,
            &media(&peer_ice, &leg_ice, ours, DtlsRole::Client),
        )
        .expect("peer"),
    };
    let to_leg = check(&format!("{}:{}", leg_ice.ufrag, peer_ice.ufrag), &leg_ice);
    l.leg.handle_datagram(now, PEER.parse().unwrap(), &to_leg);
    let to_peer = check(&format!("{}:{}", peer_ice.ufrag, leg_ice.ufrag), &peer_ice);
    l.peer.handle_datagram(now, LEG.parse().unwrap(), &to_peer);
    pump(&mut l, now);
    l
}

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 8, (seq >> 8) as u8, seq as u8, 0, 0, 0, 0];
    p.extend(ssrc.to_be_bytes());
    p.extend([0xd5u8; 160]);
    p
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200)
        .min(2000);
    let ticks_per_s = 100.0;
    let ours = DtlsIdentity::generate().expect("identity");
    let browser = DtlsIdentity::generate().expect("identity");
    let (rss0, cpu0, wall0) = (rss_kb(), cpu_ticks(), alarmgate::clock::now());
    let now = alarmgate::clock::now();
    let mut legs: Vec<Leg> = (0..n).map(|i| connect(i, &ours, &browser, now)).collect();
    let connected = legs
        .iter()
        .filter(|l| {
            *l.leg.state() == WebRtcState::Connected && *l.peer.state() == WebRtcState::Connected
        })
        .count();
    let (rss1, cpu1, wall1) = (rss_kb(), cpu_ticks(), alarmgate::clock::now());
    let rounds = 500u16; // 10 s of 20 ms packets
    let mut delivered = 0u64;
    for seq in 0..rounds {
        for (i, l) in legs.iter_mut().enumerate() {
            l.leg.send(&rtp(seq, i as u32));
            l.peer.send(&rtp(seq, 0x8000_0000 | i as u32));
            while let Some(d) = l.leg.poll_transmit() {
                delivered += u64::from(
                    l.peer
                        .handle_datagram(now, LEG.parse().unwrap(), &d.bytes)
                        .is_some(),
                );
            }
            while let Some(d) = l.peer.poll_transmit() {
                delivered += u64::from(
                    l.leg
                        .handle_datagram(now, PEER.parse().unwrap(), &d.bytes)
                        .is_some(),
                );
            }
        }
    }
    let (cpu2, wall2) = (cpu_ticks(), alarmgate::clock::now());
    let per = |ticks: u64| ticks as f64 / ticks_per_s / (2 * n) as f64;
    println!("legs: {n}, connected: {connected}");
    println!(
        "handshake: {:.2} ms CPU per transport ({:?} wall for {n} pairs)",
        per(cpu1 - cpu0) * 1000.0,
        wall1 - wall0
    );
    println!(
        "memory: {:.1} KiB RSS per connected transport",
        (rss1.saturating_sub(rss0)) as f64 / (2 * n) as f64
    );
    println!(
        "media: {delivered} packets decrypted of {}; {:.3} % of one core per transport for 50 pps each way ({:?} wall)",
        2 * u64::from(rounds) * n as u64,
        per(cpu2 - cpu1) / 10.0 * 100.0,
        wall2 - wall1
    );
}
