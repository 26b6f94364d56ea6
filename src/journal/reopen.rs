//! Healing after a failed write: the probe, and the reopen on a new segment.
//!
//! A failed write or sync leaves the files in an unknown state after the last
//! successful group commit (a partial record, records whose sync failed, a
//! segment created by a roll). None of that was acknowledged. The reopen
//! throws it away, as recovery at start-up cuts a torn tail: it removes every
//! segment created after the last durable one, truncates that one to its
//! durable length (through a new file descriptor, and syncs it), and creates
//! a new segment for the next sequence number (a durable segment that holds
//! no record yet is cut to zero in place and reused instead, so that a reader
//! holding it open never sees the failed bytes). The old descriptor, whose
//! failed `fsync` leaves the page cache untrustworthy, is never written
//! again. Sequence numbers continue from the last durable record: no gap, no
//! duplicate, and a crash at any step leaves a directory that start-up
//! recovery accepts (later segments go first, newest first).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::format::{self, Segment};
use super::{JournalError, SyncMode};

/// The scratch file a probe writes, syncs and removes.
pub(crate) const PROBE_FILE: &str = "PROBE";
/// What a probe writes: room for many records, so that readiness does not
/// come back for a disk with a few bytes free.
const PROBE_BYTES: usize = 64 * 1024;

/// Where the last successful group commit left the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DurableEnd {
    /// The segment holding the last durable record (or the empty newest one).
    pub path: PathBuf,
    /// That segment's first seq.
    pub first_seq: u64,
    /// Its length up to the end of the last durable record.
    pub len: u64,
}

/// Checks that the disk takes a write (and a sync) again.
pub(crate) fn probe(dir: &Path, sync: SyncMode) -> Result<(), JournalError> {
    let path = dir.join(PROBE_FILE);
    let written = write_probe(&path, sync);
    if path.is_file() {
        let _ = fs::remove_file(&path);
    }
    written.map_err(|e| JournalError::io("probe", &path, e))
}

fn write_probe(path: &Path, sync: SyncMode) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all(&[0u8; PROBE_BYTES])?;
    if sync == SyncMode::Always {
        file.sync_data()?;
    }
    Ok(())
}

/// Discards everything after `end` and returns the file to append to, for
/// `next_seq` (the seq after the last durable record): a new segment, or
/// the durable segment itself when it holds no record (it is then cut to
/// zero in place, so a reader holding it open sees only what comes next).
pub(crate) fn reopen(
    dir: &Path,
    end: &DurableEnd,
    next_seq: u64,
    sync: SyncMode,
) -> Result<File, JournalError> {
    remove_later(dir, end.first_seq)?;
    let reuse = end.len == 0 && end.first_seq == next_seq && is_regular(&end.path);
    let file = if reuse {
        truncate(&end.path, 0)?;
        OpenOptions::new()
            .append(true)
            .open(&end.path)
            .map_err(|e| JournalError::io("open", &end.path, e))?
    } else {
        if end.len > 0 {
            truncate(&end.path, end.len)?;
        } else {
            remove_segment(&end.path)?;
        }
        super::writer::create_segment(&format::segment_path(dir, next_seq))?
    };
    if sync == SyncMode::Always {
        format::sync_dir(dir)?;
    }
    Ok(file)
}

/// Removes, newest first, the segments after the one starting at `first_seq`
/// (made by rolls in failed writes: none of their records was acknowledged).
fn remove_later(dir: &Path, first_seq: u64) -> Result<(), JournalError> {
    let mut later: Vec<Segment> = format::list_segments(dir)?
        .into_iter()
        .filter(|s| s.first_seq > first_seq)
        .collect();
    later.reverse();
    later.iter().try_for_each(|seg| remove_segment(&seg.path))
}

/// Removes a segment of a failed write (absent already is fine).
fn remove_segment(path: &Path) -> Result<(), JournalError> {
    tracing::warn!(file = %path.display(), "journal: removing a segment of a failed write (never acknowledged)");
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(JournalError::io("remove", path, e)),
        _ => Ok(()),
    }
}

/// True for a regular file (not a symlink to a device, say).
fn is_regular(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// Cuts the durable segment back to `len` and syncs it. A segment that
/// retention removed meanwhile (all its records on the bus) is fine.
fn truncate(path: &Path, len: u64) -> Result<(), JournalError> {
    let file = match OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(JournalError::io("open", path, e)),
    };
    let cut = || -> io::Result<u64> {
        let found = file.metadata()?.len();
        if found != len {
            file.set_len(len)?;
        }
        file.sync_all()?;
        Ok(found.saturating_sub(len))
    };
    let dropped = cut().map_err(|e| JournalError::io("truncate", path, e))?;
    if dropped > 0 {
        tracing::warn!(
            file = %path.display(),
            offset = len,
            dropped_bytes = dropped,
            "journal: dropping the tail of a failed write (never acknowledged)"
        );
    }
    Ok(())
}
