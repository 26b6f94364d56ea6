//! The writer thread: a stereo WAV with its hash and duration in the event,
//! an unwritable directory that fails the recording and nothing else, and
//! the bounded queue.

use super::*;
use crate::dsp::goertzel::Goertzel;
use std::path::PathBuf;
use std::sync::mpsc::Receiver as StdReceiver;
use std::time::Duration;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alarmgate-rec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn sink() -> (EventSink, StdReceiver<(String, String, Value)>) {
    let (tx, rx) = channel();
    let sink: EventSink = Box::new(move |kind, subject, data| {
        let _ = tx.send((kind.to_string(), subject.to_string(), data));
    });
    (sink, rx)
}

fn meta(random: u128) -> RecordingMeta {
    RecordingMeta {
        id: RecordingId::from_random(random),
        tenant: TenantId::new("aarhus"),
        call_id: "call-1@unit".into(),
    }
}

/// `frames` stereo frames: a 1000 Hz tone left, 1400 Hz right.
fn tones(frames: usize) -> Vec<StereoFrame> {
    let at = |f: f32, n: usize| {
        let t = n as f32 / SAMPLE_RATE as f32;
        (8000.0 * (2.0 * std::f32::consts::PI * f * t).sin()) as i16
    };
    (0..frames)
        .map(|k| {
            (0..FRAME_SAMPLES)
                .flat_map(|i| {
                    let n = k * FRAME_SAMPLES + i;
                    [at(1000.0, n), at(1400.0, n)]
                })
                .collect()
        })
        .collect()
}

fn power(samples: &[i16], freq: f32) -> f32 {
    let mut g = Goertzel::new(freq, SAMPLE_RATE as f32);
    g.push_pcm(samples);
    g.power()
}

#[test]
fn a_recording_is_a_stereo_wav_whose_hash_and_duration_are_journalled() {
    let dir = temp("ok");
    let (sink, events) = sink();
    let handle = RecorderHandle::spawn(Store::new(&dir), sink, 100).expect("thread");
    let meta = meta(1);
    handle.begin(meta.clone());
    for frame in tones(50) {
        assert!(handle.audio(&meta.id, frame));
    }
    handle.finish(&meta.id, 3);
    let (kind, subject, data) = events.recv_timeout(Duration::from_secs(30)).expect("event");
    assert_eq!(
        (kind.as_str(), subject.as_str()),
        ("alarmgate.recording.stored", "call-1@unit")
    );
    assert_eq!(data["duration_s"], 1.0);
    assert_eq!(data["frames_dropped"], 3);
    let event = crate::events::record(
        "n1",
        &subject,
        "alarmgate.recording.stored",
        crate::clock::wall(),
        1,
        data.clone(),
    );
    let event: Value = serde_json::from_slice(&event).expect("JSON");
    assert_eq!(
        crate::bus::schema::validate(&event),
        Vec::<String>::new(),
        "schema"
    );
    let path = PathBuf::from(data["path"].as_str().unwrap_or_default());
    assert_eq!(path, Store::new(&dir).wav(&meta.tenant, &meta.id));
    assert_eq!(
        data["sha256"].as_str(),
        Some(digest(&path).unwrap().0.as_str())
    );
    let mut reader = hound::WavReader::open(&path).expect("a WAV file");
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = reader.samples::<i16>().map_while(Result::ok).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(left.len(), 8000);
    assert!(
        power(&left, 1000.0) > 100.0 * power(&left, 1400.0),
        "unit left"
    );
    assert!(
        power(&right, 1400.0) > 100.0 * power(&right, 1000.0),
        "operator right"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_directory_fails_the_recording_and_nothing_else() {
    let dir = temp("ro");
    std::fs::write(&dir, b"a file where the directory should be").expect("file");
    let (sink, events) = sink();
    let handle = RecorderHandle::spawn(Store::new(&dir), sink, 100).expect("thread");
    let first = meta(2);
    handle.begin(first.clone());
    for frame in tones(5) {
        handle.audio(&first.id, frame);
    }
    handle.finish(&first.id, 0);
    let (kind, _, data) = events.recv_timeout(Duration::from_secs(30)).expect("event");
    assert_eq!(kind, "alarmgate.recording.failed");
    assert!(
        data["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("create:"),
        "{data}"
    );
    // the writer lives on for the next call
    let next = meta(3);
    handle.begin(next.clone());
    handle.finish(&next.id, 0);
    let (kind, _, _) = events.recv_timeout(Duration::from_secs(30)).expect("event");
    assert_eq!(kind, "alarmgate.recording.failed");
    let _ = std::fs::remove_file(&dir);
}

#[test]
fn a_full_queue_refuses_frames_without_blocking() {
    let (handle, _rx) = RecorderHandle::detached(3);
    let id = RecordingId::from_random(4);
    let accepted = tones(10)
        .into_iter()
        .filter(|f| handle.audio(&id, f.clone()))
        .count();
    assert_eq!(
        accepted, 3,
        "the queue holds 3 frames; the rest are dropped"
    );
}
