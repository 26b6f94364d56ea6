//! Where forwarding resumes after a restart: the highest journal seq the bus
//! acknowledged, in `bus-acked.json` in the journal directory, written to a
//! temporary file, `fsync`ed, renamed over the old one, and the directory
//! synced, so that a crash leaves either the old or the new value.
//!
//! The value may lag the truth (it is written at most every few hundred
//! milliseconds): after a crash the forwarder re-publishes the records after
//! it with the same `Nats-Msg-Id`, and the server drops them as duplicates
//! within the stream's duplicate window.
//!
//! The file names its stream: pointed at another stream, the forwarder
//! starts again from the oldest record the journal keeps.

use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file's name inside the journal directory.
pub const ACK_FILE: &str = "bus-acked.json";

#[derive(Debug, Serialize, Deserialize)]
struct Contents {
    stream: String,
    seq: u64,
}

/// The persisted acknowledged position for one stream.
#[derive(Debug, Clone)]
pub struct AckFile {
    dir: PathBuf,
    stream: String,
}

impl AckFile {
    /// The position file in `journal_dir` for `stream`.
    pub fn new(journal_dir: &Path, stream: &str) -> Self {
        Self {
            dir: journal_dir.to_path_buf(),
            stream: stream.to_string(),
        }
    }

    /// The acknowledged seq: 0 when there is no file, or it names another stream.
    pub fn load(&self) -> io::Result<u64> {
        let text = match fs::read(self.dir.join(ACK_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let contents: Contents = serde_json::from_slice(&text)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if contents.stream != self.stream {
            tracing::warn!(
                old = %contents.stream,
                new = %self.stream,
                "bus stream changed: forwarding the whole journal to the new stream"
            );
            return Ok(0);
        }
        Ok(contents.seq)
    }

    /// Makes `seq` the durable acknowledged position.
    pub fn store(&self, seq: u64) -> io::Result<()> {
        let tmp = self.dir.join(format!("{ACK_FILE}.tmp"));
        let contents = Contents {
            stream: self.stream.clone(),
            seq,
        };
        let bytes = serde_json::to_vec(&contents).map_err(io::Error::other)?;
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, self.dir.join(ACK_FILE))?;
        fs::File::open(&self.dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_stream_change() {
        let dir = std::env::temp_dir().join(format!("alarmgate-ackfile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let a = AckFile::new(&dir, "ALARMGATE");
        assert_eq!(a.load().unwrap(), 0);
        a.store(41).unwrap();
        a.store(42).unwrap();
        assert_eq!(a.load().unwrap(), 42);
        assert_eq!(AckFile::new(&dir, "OTHER").load().unwrap(), 0);
        fs::write(dir.join(ACK_FILE), b"{not json").unwrap();
        assert!(a.load().is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
