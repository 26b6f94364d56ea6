//! Cost per packet of the RTP source check (strict media, BENCHMARKS.md
//! "RTP source check cost").
//!
//! ```sh
//! cargo run --release --example rtp_source_cost            # 2,000,000 packets, 15 rounds
//! cargo run --release --example rtp_source_cost -- 5000000 25
//! ```
//!
//! What `RtpSession::handle_packet` does now before the receiver sees a
//! packet, timed per packet, best and median of the rounds:
//! 1. `RtpPacket::new_checked` + `SourceFilter::admit` + `commit` for the
//!    unit's packets (the accepted path: the cost every real packet pays);
//! 2. the same for a forger's packets from another address (the dropped
//!    path: what a flood costs);
//! 3. for scale, the whole `RtpSession::handle_packet` + `poll_audio` of a
//!    160-byte PCMA packet with the check in it.

// A benchmark measures real time (clippy.toml holds the cores to simulated time).
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alarmgate::media::receiver::EventParams;
use alarmgate::media::rtp::{RtpHeader, RtpPacket};
use alarmgate::media::sender::Seeds;
use alarmgate::media::session::{MediaParams, RtpSession};
use alarmgate::media::source::{SourceFilter, SourceRules};
use alarmgate::media::telephone_event::EventSet;
use alarmgate::media::Codec;

const UNIT: ([u8; 4], u16) = ([10, 0, 0, 5], 4000);
const FORGER: ([u8; 4], u16) = ([10, 0, 0, 66], 4000);

fn packets(n: usize, ssrc: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let header = RtpHeader {
                payload_type: 8,
                sequence_number: i as u16,
                timestamp: (i as u32).wrapping_mul(160),
                ssrc,
                ..RtpHeader::default()
            };
            header.to_vec(&[0xd5; 160]).unwrap_or_default()
        })
        .collect()
}

/// ns per packet of `check` over `packets`.
fn time_check(packets: &[Vec<u8>], from: SocketAddr) -> f64 {
    let mut filter = SourceFilter::new(SourceRules::default(), Some(UNIT.into()));
    let start = Instant::now();
    let t0 = Instant::now();
    for (i, bytes) in packets.iter().enumerate() {
        let now = t0 + Duration::from_micros(20_000 * i as u64);
        let Ok(ssrc) = RtpPacket::new_checked(black_box(bytes)).map(|p| p.ssrc()) else {
            continue;
        };
        if filter.admit(now, black_box(from), ssrc).is_ok() {
            filter.commit(now, from, ssrc);
        }
    }
    black_box(filter.dropped());
    start.elapsed().as_nanos() as f64 / packets.len() as f64
}

fn time_session(packets: &[Vec<u8>]) -> f64 {
    let params = MediaParams {
        codec: Codec::Pcma,
        payload_type: 8,
        telephone_event: Some(EventParams {
            payload_type: 101,
            events: EventSet::default(),
        }),
        ptime_ms: 20,
        remote: Some(UNIT.into()),
        rtcp_mux: false,
        source: SourceRules::default(),
    };
    let seeds = Seeds {
        ssrc: 1,
        sequence_number: 0,
        timestamp: 0,
    };
    let t0 = Instant::now();
    let Ok(mut s) = RtpSession::new(t0, params, seeds, "bench") else {
        return f64::NAN;
    };
    let start = Instant::now();
    for (i, bytes) in packets.iter().enumerate() {
        let now = t0 + Duration::from_micros(20_000 * i as u64);
        let _ = s.handle_packet(now, UNIT.into(), black_box(bytes));
        while let Some(frame) = s.poll_audio() {
            black_box(frame);
        }
    }
    start.elapsed().as_nanos() as f64 / packets.len() as f64
}

fn summary(name: &str, mut ns: Vec<f64>) {
    ns.sort_by(f64::total_cmp);
    let best = ns.first().copied().unwrap_or(f64::NAN);
    let median = ns.get(ns.len() / 2).copied().unwrap_or(f64::NAN);
    println!("{name:<44} best {best:>7.1} ns/packet   median {median:>7.1} ns/packet");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
    let unit = packets(n, 0x1111_2222);
    let forged = packets(n, 0x4242_4242);
    let (mut accepted, mut dropped, mut session) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        accepted.push(time_check(&unit, UNIT.into()));
        dropped.push(time_check(&forged, FORGER.into()));
        session.push(time_session(&unit[..n.min(200_000)]));
    }
    println!("{n} packets per round, {rounds} rounds");
    summary("source check, accepted (parse+admit+commit)", accepted);
    summary("source check, dropped (other address)", dropped);
    summary("whole handle_packet + poll_audio (160 B)", session);
}
