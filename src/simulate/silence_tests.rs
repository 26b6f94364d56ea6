//! The simulator against a receiver that sends no RTP while it listens, as
//! Asterisk's AlarmReceiver does (and gateways with silence suppression or
//! comfort noise): the handshake's end is heard by the clock, and the digits
//! start the unit's pause after it, not whenever a later packet comes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;

use super::args::{DeviceArgs, DeviceConfig, DtmfMode};
use super::media::{MediaLeg, Shape};
use super::sequencer::{SeqAction, Sequencer};
use crate::clock::epoch;
use crate::media::g711::Codec;
use crate::media::rtp::RtpHeader;
use crate::media::tone::{ToneGenerator, ToneSpec};
use crate::media::MediaParams;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: DeviceArgs,
}

const MS: Duration = Duration::from_millis(1);

fn config() -> DeviceConfig {
    let cli = Cli::try_parse_from(["x", "sip:112@127.0.0.1"]).expect("args");
    DeviceConfig::from_args(&cli.args).expect("valid")
}

/// The receiver's RTP: 500 ms of silence, the handshake (300 ms), then, if
/// `comfort_noise`, one RFC 3389 packet (payload type 13), then nothing.
fn receiver_packets(t0: Instant, comfort_noise: bool) -> Vec<(Instant, Vec<u8>)> {
    let mut tone = ToneGenerator::new(ToneSpec::contact_id_handshake());
    let mut out = Vec::new();
    for k in 0..40u16 {
        let mut pcm = [0i16; 160];
        if k >= 25 {
            tone.fill(&mut pcm);
        }
        let mut payload = [0u8; 160];
        Codec::Pcma.encode_into(&pcm, &mut payload);
        out.push((t0 + MS * 20 * u32::from(k), packet(8, k, &payload)));
    }
    if comfort_noise {
        out.push((t0 + MS * 800, packet(13, 40, &[70])));
    }
    out
}

fn packet(payload_type: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let header = RtpHeader {
        marker: seq == 0,
        payload_type,
        sequence_number: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: 0x5eed,
        csrcs: Vec::new(),
    };
    header.to_vec(payload).expect("packet")
}

/// Runs the unit's media leg and sequencer in 1 ms steps for 3 s; returns
/// when the digits were planned to start and when that was decided.
fn first_digits(comfort_noise: bool) -> Option<(Instant, Instant)> {
    let t0 = epoch() + Duration::from_secs(1);
    let cfg = config();
    let params = MediaParams {
        codec: Codec::Pcma,
        payload_type: 8,
        telephone_event: None,
        ptime_ms: 20,
        remote: None,
        rtcp_mux: false,
        source: crate::media::source::SourceRules::default(),
    };
    let shape = Shape {
        on: cfg.tone_on,
        off: cfg.tone_off,
        impairments: cfg.impairments,
    };
    let far: SocketAddr = "127.0.0.2:7000".parse().expect("address");
    let mut leg = MediaLeg::new(t0, params, far, DtmfMode::Inband, shape, 7);
    let mut seq = Sequencer::new(t0, &cfg);
    let mut wire = receiver_packets(t0, comfort_noise);
    wire.reverse();
    let mut now = t0;
    while now < t0 + Duration::from_secs(3) {
        while wire.last().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, bytes)) = wire.pop() {
                leg.handle_packet(now, far, &bytes);
            }
        }
        if leg.poll_timeout() <= now {
            leg.handle_timeout(now);
        }
        while leg.poll_transmit(now).is_some() {}
        while let Some((id, edge)) = leg.poll_tone() {
            seq.on_tone(id, edge);
        }
        seq.handle_timeout(now);
        if let Some(SeqAction::SendDigits { at, .. }) = seq.poll_action() {
            return Some((at, now));
        }
        now += MS;
    }
    None
}

/// The handshake ends 800 ms in and the receiver then sends nothing: the
/// digits are planned for the unit's pause after the handshake's end, and
/// decided before that instant. (Before: never, until a later packet.)
#[test]
fn digits_start_on_time_after_a_handshake_followed_by_no_rtp() {
    let pause = config().pause;
    for comfort_noise in [false, true] {
        let (at, decided) = first_digits(comfort_noise).expect("digits planned");
        let handshake_end = epoch() + Duration::from_secs(1) + MS * 800;
        let expected = handshake_end + pause;
        let error = if at > expected {
            at - expected
        } else {
            expected - at
        };
        assert!(error <= MS * 10, "digits at {at:?}, expected {expected:?}");
        assert!(decided <= at, "decided at {decided:?}, after {at:?}");
    }
}
