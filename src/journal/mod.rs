//! The durable local journal: every decoded alarm is stored here, and synced
//! to disk, before its kissoff tone starts.
//!
//! # Guarantee
//!
//! An append completes with `Ok(seq)` only after its record is written and
//! `fdatasync`ed (with [`SyncMode::Always`]); the caller may then acknowledge
//! the alarm. If the journal cannot write or sync, the append fails, the
//! journal turns unhealthy ([`JournalHandle::is_healthy`], for `/readyz` and
//! call admission) and refuses every later append, so nothing is
//! acknowledged meanwhile; a failed `fsync` is never retried on the same
//! file, because the page cache state is then unknown.
//!
//! # Healing
//!
//! While unhealthy, the writer probes (1 s after the failure, then backing
//! off to every 5 s, see [`heal`]): it writes and syncs a scratch file, and
//! when that works it throws away whatever the failed writes left after the
//! last durable record and continues on a new segment (see [`reopen`]), with
//! the next sequence number, and turns healthy again. A short disk-full thus
//! ends by itself within seconds of space coming back, no restart needed.
//! Records durable before the outage stay; followers (the bus forwarder,
//! event streams) continue across the new segment.
//!
//! The converse is not promised: a failed append may still be found on disk
//! after a restart (at-least-once; the unit retries and the bus deduplicates).
//!
//! # Format
//!
//! A directory of append-only segment files `<first_seq:020>.seg`. Each holds
//! consecutive records (see [`format`](mod@format) for the 18-byte header: magic, length,
//! seq, CRC-32 of seq and payload). Sequence numbers start at 1, increase by
//! one per record across segments, and are never reused. A segment rolls when
//! the next record would take it past [`JournalConfig::segment_bytes`]. A
//! `LOCK` file keeps a second writer out.
//!
//! # Recovery
//!
//! [`Journal::open`] verifies every record of every segment. A torn or corrupt
//! tail (no valid record after it) of the newest segment is a crash
//! mid-append: it is truncated away and logged. Any other damage (a bad record
//! followed by valid ones, a sealed segment, a gap in the sequence) is an
//! error naming the file and byte offset; nothing is skipped silently.
//!
//! Known limit: if a crash persists a later page of an unacknowledged batch
//! but not an earlier one, the damage is followed by valid records and is
//! reported as corruption rather than guessed away; a person decides.
//!
//! # Writing and reading
//!
//! One `std::thread` owns the files and does group commit: it writes every
//! request waiting in its channel, syncs once, then completes them all.
//! [`JournalReader::read_from`] iterates records from a sequence number across
//! segments.
//!
//! # Retention
//!
//! [`retention`] deletes whole closed segments, oldest first, by age and by
//! total size, and never one holding a record the bus has not acknowledged
//! (when a bus is configured). [`JournalHandle::remove_segments_before`] is
//! the low-level hook underneath.

pub mod crc32;
pub mod format;
mod handle;
pub mod heal;
mod reader;
mod recovery;
mod reopen;
pub mod retention;
mod writer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_crash;
#[cfg(test)]
mod tests_failure;
#[cfg(test)]
mod tests_heal;
#[cfg(test)]
mod tests_retention;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use format::Defect;
pub use handle::{Callback, JournalHandle, JournalStats};
pub use reader::{JournalReader, Records};
pub use recovery::RecoveryReport;
pub use retention::RetentionPolicy;

/// Counter: records made durable.
pub const RECORDS_WRITTEN: &str = "alarmgate_journal_records_written_total";
/// Counter: `fdatasync` calls that succeeded (one per group commit).
pub const SYNCS: &str = "alarmgate_journal_syncs_total";
/// Histogram: seconds per `fdatasync`.
pub const SYNC_SECONDS: &str = "alarmgate_journal_sync_seconds";
/// Counter: failed writes, syncs or segment creations (each turns the journal unhealthy).
pub const WRITE_ERRORS: &str = "alarmgate_journal_write_errors_total";
/// Counter: outages (healthy to refusing appends).
pub const OUTAGES: &str = "alarmgate_journal_outages_total";
/// Gauge: seconds the current outage has lasted, updated at each probe (0 when healthy).
pub const UNHEALTHY_SECONDS: &str = "alarmgate_journal_unhealthy_seconds";
/// Histogram: how long each outage lasted (its `_sum` is the total unhealthy time).
pub const OUTAGE_SECONDS: &str = "alarmgate_journal_outage_seconds";

/// Default segment size: 64 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

/// Whether appends wait for `fdatasync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Sync every group commit before completing it. The only mode for production.
    Always,
    /// Never sync (data reaches the page cache only). For tests and benchmarks.
    Never,
}

/// Where and how the journal writes.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// The journal directory; created if missing.
    pub dir: PathBuf,
    /// A segment rolls when the next record would take it past this size.
    pub segment_bytes: u64,
    /// Whether appends wait for `fdatasync`.
    pub sync: SyncMode,
}

impl JournalConfig {
    /// A production config for `dir`: 64 MiB segments, sync always.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            sync: SyncMode::Always,
        }
    }
}

/// Opens journals for writing.
#[derive(Debug)]
pub struct Journal;

impl Journal {
    /// Locks `config.dir`, recovers it (see the module docs) and starts the
    /// writer thread.
    pub fn open(config: JournalConfig) -> Result<JournalHandle, JournalError> {
        writer::open(config)
    }
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number.
    pub seq: u64,
    /// The bytes the caller appended.
    pub payload: Vec<u8>,
}

/// Why a journal operation failed. Cloneable: one failed group commit fails
/// every append in it with the same error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    /// A file operation failed.
    #[error("journal: cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done ("write", "sync", "create segment", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: Arc<io::Error>,
    },
    /// A record on disk is damaged somewhere other than a recoverable tail.
    #[error("journal: corrupt record in {} at offset {offset}: {defect}", path.display())]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the damaged record.
        offset: u64,
        /// What is wrong.
        defect: Defect,
    },
    /// Another writer holds the directory's `LOCK`.
    #[error("journal: {} is locked by another writer", .0.display())]
    Locked(PathBuf),
    /// An earlier write or sync failed and no probe has reopened the journal yet.
    #[error(
        "journal: unhealthy after a write or sync failure; probing until the disk takes writes"
    )]
    Unhealthy,
    /// The writer thread has stopped (closed, or the journal was dropped).
    #[error("journal: writer closed")]
    Closed,
    /// A payload larger than [`format::MAX_PAYLOAD`].
    #[error("journal: payload of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The payload's length.
        len: usize,
        /// The maximum.
        max: usize,
    },
}

impl JournalError {
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn corrupt(path: &Path, offset: u64, defect: Defect) -> Self {
        Self::Corrupt {
            path: path.to_path_buf(),
            offset,
            defect,
        }
    }
}
