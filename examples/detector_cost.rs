//! Contact ID receive-path cost per 20 ms frame per channel (BENCHMARKS.md,
//! "Contact ID detector cost").
//!
//! ```sh
//! cargo run --release --example detector_cost            # 60 s of audio, 15 rounds
//! cargo run --release --example detector_cost -- 120 25  # seconds of audio, rounds
//! ```
//!
//! The audio is what one alarm call's receive side carries: per 4 s "call",
//! 1.1 s of line noise (the unit waits for our handshake), the 16 DTMF
//! digits of a Contact ID 602 at -10 dBm0 (55 ms on, 55 ms off) with the
//! same noise under them, then noise again (kissoff, quiet line). The noise
//! is white, -50 dBm0. It goes through G.711 A-law and back, as on the wire.
//!
//! Stages timed, each over every 20 ms frame of the audio, best and median of
//! the rounds (the best is the cost without interference from other jobs):
//! 1. `DtmfDetector::process` on 160 decoded samples;
//! 2. `AlarmPipeline::handle_frame` (detector + Contact ID receiver + timers),
//!    a new pipeline per 4 s call, storage confirmed at once;
//! 3. `RtpSession::handle_packet` + `poll_audio` (RTP parse, reorder buffer,
//!    G.711 decode) per packet;
//! 4. 3 then 2: the whole receive path of one call per packet;
//! 5. `RtpSession::poll_transmit` per packet (what the daemon sends back:
//!    RTP with G.711 encoding of silence).
//!
//! It checks its own work: every 4 s call must decode its message, or the
//! example exits 1 (a detector that finds nothing is cheap and wrong).

// A benchmark measures real time (clippy.toml holds the cores to simulated time).
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alarmgate::alarm::classify::Classifier;
use alarmgate::alarm::pipeline::{AlarmPipeline, PipelineAction, PipelineConfig};
use alarmgate::dsp::DtmfDetector;
use alarmgate::media::receiver::{AudioFrame, EventParams};
use alarmgate::media::rtp::RtpHeader;
use alarmgate::media::sender::Seeds;
use alarmgate::media::telephone_event::EventSet;
use alarmgate::media::tone::{dtmf_tone, Component, Segment, ToneGenerator, ToneSpec};
use alarmgate::media::{Codec, MediaParams, RtpSession};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FRAME: usize = 160;
const PTIME: Duration = Duration::from_millis(20);
const CALL_FRAMES: usize = 200; // 4 s
const DIGITS: &str = "1234181602000002";

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(60);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
    let frames = seconds * 50 / CALL_FRAMES * CALL_FRAMES;
    let calls = frames / CALL_FRAMES;
    let audio = Audio::new(frames);
    println!(
        "# detector_cost: {frames} frames of 20 ms ({calls} calls of 4 s), {rounds} rounds; \
         {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    println!(
        "{:<44} {:>12} {:>12} {:>14}",
        "stage", "best ns", "median ns", "best µs/s/chan"
    );

    let detector = measure(rounds, || detect(&audio));
    report("DtmfDetector::process (160 samples)", &detector, frames);

    let (pipeline, decoded) = measure_with(rounds, || pipeline_only(&audio));
    report("AlarmPipeline::handle_frame", &pipeline, frames);

    let session = measure(rounds, || session_only(&audio));
    report("RtpSession receive + G.711 decode", &session, frames);

    let (whole, decoded_whole) = measure_with(rounds, || receive_path(&audio));
    report("receive path: RtpSession + AlarmPipeline", &whole, frames);

    let send = measure(rounds, || send_path(frames));
    report("RtpSession::poll_transmit (send, silence)", &send, frames);

    println!("# messages decoded per pass: pipeline {decoded}, receive path {decoded_whole}, expected {calls}");
    if decoded != calls || decoded_whole != calls {
        eprintln!("detector_cost: decoded {decoded}/{decoded_whole} messages, expected {calls}");
        std::process::exit(1);
    }
}

/// The audio of the run: PCM per frame and the RTP packets carrying it.
struct Audio {
    pcm: Vec<[i16; FRAME]>,
    packets: Vec<Vec<u8>>,
}

impl Audio {
    fn new(frames: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(4733);
        let sigma = f64::from(alarmgate::media::tone::amplitude(-50.0)) / 2f64.sqrt();
        let mut pcm = Vec::with_capacity(frames);
        let mut gen = None;
        for i in 0..frames {
            let in_call = i % CALL_FRAMES;
            if in_call == 55 {
                gen = Some(ToneGenerator::new(digits_spec()));
            }
            let mut frame = [0i16; FRAME];
            if let Some(g) = gen.as_mut() {
                if !g.fill(&mut frame) {
                    gen = None;
                }
            }
            for s in frame.iter_mut() {
                let n = sigma * gaussian(&mut rng);
                *s = (f64::from(*s) + n).round().clamp(-32768.0, 32767.0) as i16;
            }
            // Through A-law and back, as on the wire.
            let mut law = [0u8; FRAME];
            Codec::Pcma.encode_into(&frame, &mut law);
            Codec::Pcma.decode_into(&law, &mut frame);
            pcm.push(frame);
        }
        let packets = pcm
            .iter()
            .enumerate()
            .map(|(i, frame)| {
                let mut law = [0u8; FRAME];
                Codec::Pcma.encode_into(frame, &mut law);
                let header = RtpHeader {
                    marker: i == 0,
                    payload_type: 8,
                    sequence_number: i as u16,
                    timestamp: (i * FRAME) as u32,
                    ssrc: 0x1234_5678,
                    csrcs: Vec::new(),
                };
                header.to_vec(&law).unwrap_or_default()
            })
            .collect();
        Self { pcm, packets }
    }
}

fn digits_spec() -> ToneSpec {
    let mut segments = Vec::new();
    for (low, high) in DIGITS.chars().filter_map(dtmf_tone) {
        let c = |freq_hz| Component {
            freq_hz,
            level_dbm0: -10.0,
        };
        segments.push(Segment::dual(c(low), c(high), 55));
        segments.push(Segment::silence(55));
    }
    ToneSpec::once(segments)
}

fn gaussian(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn detect(audio: &Audio) -> usize {
    let mut det = DtmfDetector::default();
    let t0 = Instant::now();
    let mut events = 0;
    for (i, frame) in audio.pcm.iter().enumerate() {
        det.process(t0 + PTIME * i as u32, black_box(frame));
        while det.poll_event().is_some() {
            events += 1;
        }
    }
    events
}

/// Feeds one frame into `pipe` and acts like the worker: storage confirmed
/// at once. Returns the messages stored.
fn feed(pipe: &mut AlarmPipeline, now: Instant, frame: &AudioFrame) -> usize {
    pipe.handle_frame(now, frame);
    let mut stored = 0;
    while let Some(action) = pipe.poll_action() {
        if let PipelineAction::Store { seq, .. } = action {
            pipe.confirm_stored(now, seq);
            stored += 1;
        }
    }
    stored
}

fn new_pipeline(answered: Instant) -> AlarmPipeline {
    AlarmPipeline::new(answered, PipelineConfig::default(), Classifier::default())
}

fn pipeline_only(audio: &Audio) -> usize {
    let t0 = Instant::now();
    let mut pipe = new_pipeline(t0);
    let mut stored = 0;
    for (i, frame) in audio.pcm.iter().enumerate() {
        let now = t0 + PTIME * i as u32;
        if i % CALL_FRAMES == 0 {
            pipe = new_pipeline(now);
        }
        let frame = AudioFrame::Audio {
            seq: i as u16,
            timestamp: (i * FRAME) as u32,
            samples: frame.to_vec(),
        };
        stored += feed(&mut pipe, now, black_box(&frame));
    }
    stored
}

fn params() -> MediaParams {
    MediaParams {
        codec: Codec::Pcma,
        payload_type: 8,
        telephone_event: Some(EventParams {
            payload_type: 101,
            events: EventSet::parse("0-16").unwrap_or_default(),
        }),
        ptime_ms: 20,
        remote: Some(SocketAddr::from(([127, 0, 0, 1], 40000))),
        rtcp_mux: false,
        source: alarmgate::media::source::SourceRules::default(),
    }
}

fn new_session(now: Instant) -> RtpSession {
    let seeds = Seeds {
        ssrc: 7,
        sequence_number: 1,
        timestamp: 1,
    };
    match RtpSession::new(now, params(), seeds, "bench") {
        Ok(s) => s,
        Err(e) => panic!("session: {e}"),
    }
}

const SRC: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

fn session_only(audio: &Audio) -> usize {
    let t0 = Instant::now();
    let mut session = new_session(t0);
    let mut samples = 0;
    for (i, packet) in audio.packets.iter().enumerate() {
        let now = t0 + PTIME * i as u32;
        let _ = session.handle_packet(now, SRC, black_box(packet));
        while let Some(frame) = session.poll_audio() {
            if let AudioFrame::Audio { samples: s, .. } = black_box(frame) {
                samples += s.len();
            }
        }
    }
    samples
}

fn receive_path(audio: &Audio) -> usize {
    let t0 = Instant::now();
    let mut session = new_session(t0);
    let mut pipe = new_pipeline(t0);
    let mut stored = 0;
    for (i, packet) in audio.packets.iter().enumerate() {
        let now = t0 + PTIME * i as u32;
        if i % CALL_FRAMES == 0 {
            pipe = new_pipeline(now);
        }
        let _ = session.handle_packet(now, SRC, black_box(packet));
        while let Some(frame) = session.poll_audio() {
            stored += feed(&mut pipe, now, &frame);
        }
        while let Some(event) = session.poll_event() {
            pipe.handle_telephone_event(now, &event);
        }
    }
    stored
}

fn send_path(frames: usize) -> usize {
    let t0 = Instant::now();
    let mut session = new_session(t0);
    let mut bytes = 0;
    for i in 0..frames {
        let now = t0 + PTIME * i as u32;
        while let Some(t) = session.poll_transmit(now) {
            bytes += black_box(t.bytes).len();
        }
    }
    bytes
}

/// Per-round wall times of `f` (which returns something to keep alive).
fn measure(rounds: usize, f: impl FnMut() -> usize) -> Vec<Duration> {
    measure_with(rounds, f).0
}

fn measure_with(rounds: usize, mut f: impl FnMut() -> usize) -> (Vec<Duration>, usize) {
    let mut last = black_box(f()); // warm-up
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            last = black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    (times, last)
}

fn report(stage: &str, times: &[Duration], frames: usize) {
    let per = |d: Duration| d.as_nanos() as f64 / frames as f64;
    let best = times.first().map_or(0.0, |d| per(*d));
    let median = times.get(times.len() / 2).map_or(0.0, |d| per(*d));
    // 50 frames a second per channel: CPU µs per second of audio per channel.
    println!(
        "{stage:<44} {best:>12.0} {median:>12.0} {:>14.1}",
        best * 50.0 / 1000.0
    );
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
