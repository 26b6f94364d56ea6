//! The recording writer: one thread that turns the media workers' stereo
//! frames into WAV files, so no disk write ever runs on a media tick.
//!
//! The queue is bounded in audio frames ([`RecorderHandle::audio`] refuses a
//! frame when `capacity` frames wait; the caller counts it as dropped); the
//! start and finish of each recording always get through (two small messages
//! per call), in order with its audio. A file that cannot be created or
//! written (a full or read-only disk) is abandoned: the call goes on, the
//! failure is counted and journalled as `alarmgate.recording.failed`.

use super::store::Store;
use super::RecordingId;
use crate::labels::TenantId;
use crate::media::recording::{StereoFrame, CHANNELS, FRAME_SAMPLES, SAMPLE_RATE};
use crate::telemetry::metrics as m;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufWriter, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

/// Where the writer's events go: (type, subject (the Call-ID), data).
pub type EventSink = Box<dyn Fn(&'static str, &str, Value) + Send>;

/// What a recording is of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingMeta {
    /// Its id.
    pub id: RecordingId,
    /// The tenant whose call it is.
    pub tenant: TenantId,
    /// The device call's SIP Call-ID.
    pub call_id: String,
}

enum Msg {
    Start(RecordingMeta),
    Audio(RecordingId, StereoFrame),
    Finish(RecordingId, u64),
}

/// The media workers' side of the writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RecorderHandle {
    tx: Sender<Msg>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl RecorderHandle {
    /// Starts the writer thread over `store`, with at most `capacity` audio
    /// frames waiting; events go to `sink`.
    pub fn spawn(store: Store, sink: EventSink, capacity: usize) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let counter = queued.clone();
        std::thread::Builder::new()
            .name("recording-writer".into())
            .spawn(move || run(&rx, &counter, &store, &sink))?;
        Ok(Self {
            tx,
            queued,
            capacity: capacity.max(1),
        })
    }

    /// A handle whose queue nobody reads (tests of the bound).
    #[cfg(test)]
    fn detached(capacity: usize) -> (Self, Receiver<Msg>) {
        let (tx, rx) = channel();
        let queued = Arc::new(AtomicUsize::new(0));
        (
            Self {
                tx,
                queued,
                capacity,
            },
            rx,
        )
    }

    /// Opens a recording's file (on the writer thread).
    pub fn begin(&self, meta: RecordingMeta) {
        let _ = self.tx.send(Msg::Start(meta));
    }

    /// Queues one frame; false (dropped, counted) when the queue is full.
    pub fn audio(&self, id: &RecordingId, frame: StereoFrame) -> bool {
        if self.queued.load(Ordering::Acquire) >= self.capacity {
            metrics::counter!(m::RECORDING_FRAMES_DROPPED).increment(1);
            return false;
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        let sent = self.tx.send(Msg::Audio(id.clone(), frame)).is_ok();
        if !sent {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        sent
    }

    /// Closes a recording; `dropped` frames never reached the writer.
    pub fn finish(&self, id: &RecordingId, dropped: u64) {
        let _ = self.tx.send(Msg::Finish(id.clone(), dropped));
    }
}

type Wav = hound::WavWriter<BufWriter<std::fs::File>>;

/// One recording being written.
struct Open {
    meta: RecordingMeta,
    wav: Result<Wav, String>,
    frames: u64,
}

fn run(rx: &Receiver<Msg>, queued: &AtomicUsize, store: &Store, sink: &EventSink) {
    let mut open: HashMap<RecordingId, Open> = HashMap::new();
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Start(meta) => {
                let wav = create(store, &meta);
                open.insert(
                    meta.id.clone(),
                    Open {
                        meta,
                        wav,
                        frames: 0,
                    },
                );
                metrics::gauge!(m::RECORDINGS_ACTIVE).set(open.len() as f64);
            }
            Msg::Audio(id, frame) => {
                queued.fetch_sub(1, Ordering::AcqRel);
                if let Some(rec) = open.get_mut(&id) {
                    rec.write(&frame);
                }
            }
            Msg::Finish(id, dropped) => {
                if let Some(rec) = open.remove(&id) {
                    rec.finish(store, sink, dropped);
                }
                metrics::gauge!(m::RECORDINGS_ACTIVE).set(open.len() as f64);
            }
        }
    }
    for (_, rec) in open.drain() {
        rec.finish(store, sink, 0);
    }
}

fn create(store: &Store, meta: &RecordingMeta) -> Result<Wav, String> {
    let spec = hound::WavSpec {
        channels: CHANNELS,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    std::fs::create_dir_all(store.tenant_dir(&meta.tenant)).map_err(|e| format!("create: {e}"))?;
    hound::WavWriter::create(store.part(&meta.tenant, &meta.id), spec)
        .map_err(|e| format!("create: {e}"))
}

impl Open {
    fn write(&mut self, frame: &[i16]) {
        let Ok(wav) = self.wav.as_mut() else {
            return;
        };
        let result = frame.iter().try_for_each(|&s| wav.write_sample(s));
        match result {
            Ok(()) => self.frames += 1,
            Err(e) => self.wav = Err(format!("write: {e}")),
        }
    }

    fn finish(self, store: &Store, sink: &EventSink, dropped: u64) {
        let (tenant, id) = (&self.meta.tenant, &self.meta.id);
        let part = store.part(tenant, id);
        let done = self
            .wav
            .and_then(|w| w.finalize().map_err(|e| format!("finalize: {e}")))
            .and_then(|()| {
                let wav = store.wav(tenant, id);
                std::fs::rename(&part, &wav).map_err(|e| format!("rename: {e}"))?;
                let (sha256, bytes) = digest(&wav).map_err(|e| format!("hash: {e}"))?;
                Ok((wav, sha256, bytes))
            });
        let mut data = json!({
            "tenant": tenant,
            "recording_id": id.as_str(),
            "frames_dropped": dropped,
        });
        let kind = match done {
            Ok((wav, sha256, bytes)) => {
                metrics::counter!(m::RECORDINGS_STORED).increment(1);
                data["path"] = Value::from(wav.to_string_lossy().to_string());
                data["sha256"] = Value::from(sha256);
                data["bytes"] = Value::from(bytes);
                data["duration_s"] = Value::from(duration_s(self.frames));
                "alarmgate.recording.stored"
            }
            Err(reason) => {
                let _ = std::fs::remove_file(&part);
                let kind = reason.split(':').next().unwrap_or("write").to_string();
                metrics::counter!(m::RECORDING_FAILURES, "reason" => kind).increment(1);
                tracing::warn!(recording = %id, %reason, "recording failed; the call was not affected");
                data["reason"] = Value::from(reason);
                "alarmgate.recording.failed"
            }
        };
        sink(kind, &self.meta.call_id, data);
    }
}

/// Seconds of audio in `frames` stereo frames.
pub fn duration_s(frames: u64) -> f64 {
    (frames * FRAME_SAMPLES as u64) as f64 / f64::from(SAMPLE_RATE)
}

/// SHA-256 (hex) and length of a file.
pub fn digest(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let (mut hasher, mut buf, mut total) = (Sha256::new(), vec![0u8; 64 * 1024], 0u64);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
        total += n as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((hex, total))
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
