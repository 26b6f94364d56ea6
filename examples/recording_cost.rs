//! The cost of call recording (BENCHMARKS.md, "Call recording"): the bridge
//! tap's CPU per call-second on the media thread, and the writer thread's CPU
//! and disk per call-second, for `CALLS` recordings written together.
//! Bounded: `CALLS` × `SECONDS` of audio, into a temp directory removed after.
//!
//!     cargo run --release --example recording_cost -- [CALLS] [SECONDS]

// a benchmark reads the real clock (clippy.toml holds the cores to simulated time)
#![allow(clippy::disallowed_methods)]

use alarmgate::media::recording::{RecordingTap, FRAME_SAMPLES};
use alarmgate::recording::store::Store;
use alarmgate::recording::writer::{EventSink, RecorderHandle, RecordingMeta};
use alarmgate::recording::RecordingId;
use std::time::Instant;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().unwrap_or(0));
    let calls = args.next().filter(|&n| n > 0).unwrap_or(50).min(500);
    let seconds = args.next().filter(|&n| n > 0).unwrap_or(20).min(120);
    let frames = seconds * 50;
    let voice: Vec<i16> = (0..FRAME_SAMPLES)
        .map(|i| ((i as f32 * 0.785).sin() * 8000.0) as i16)
        .collect();

    // the tap: what the media thread pays per recorded call
    let mut tap = RecordingTap::new(200);
    let t0 = Instant::now();
    let mut keep = 0i64;
    for _ in 0..frames * calls {
        tap.device(&voice);
        tap.operator(&voice);
        keep += i64::from(tap.tick()[7]);
    }
    let tap_s = t0.elapsed().as_secs_f64();
    println!(
        "tap: {:.2} µs per 20 ms frame, {:.3} ms CPU per call-second (checksum {keep})",
        tap_s * 1e6 / (frames * calls) as f64,
        tap_s * 1e3 / (seconds * calls) as f64
    );

    // the writer: CALLS recordings interleaved frame by frame, as the workers send them
    let dir = std::env::temp_dir().join(format!("alarmgate-recording-cost-{}", std::process::id()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink: EventSink = Box::new(move |_kind, _subject, data| {
        let _ = tx.send(data);
    });
    let capacity = (calls * frames) as usize;
    let writer = RecorderHandle::spawn(Store::new(&dir), sink, capacity).expect("writer thread");
    let ids: Vec<RecordingId> = (0..calls)
        .map(|c| RecordingId::from_random(u128::from(c) + 1))
        .collect();
    let t0 = Instant::now();
    for id in &ids {
        let meta = RecordingMeta {
            id: id.clone(),
            tenant: "bench".into(),
            call_id: id.to_string(),
        };
        writer.begin(meta);
    }
    let frame: Vec<i16> = voice.iter().flat_map(|&s| [s, s / 2]).collect();
    for _ in 0..frames {
        for id in &ids {
            writer.audio(id, frame.clone());
        }
    }
    ids.iter().for_each(|id| writer.finish(id, 0));
    let mut bytes = 0;
    for _ in 0..calls {
        let data = rx.recv().expect("event");
        bytes += data["bytes"].as_u64().unwrap_or(0);
    }
    let write_s = t0.elapsed().as_secs_f64();
    let call_seconds = (seconds * calls) as f64;
    println!(
        "writer: {calls} calls × {seconds} s in {write_s:.2} s wall: {:.3} ms per call-second, {:.0} call-seconds per second; disk {:.1} kB per call-second ({} MB total, SHA-256 included)",
        write_s * 1e3 / call_seconds,
        call_seconds / write_s,
        bytes as f64 / call_seconds / 1000.0,
        bytes / 1_000_000
    );
    let _ = std::fs::remove_dir_all(&dir);
}
