//! Retention: deleting the oldest whole segments by age and by total size.
//!
//! Rules, in order:
//!
//! - only whole, closed segments go (never the newest, which the writer
//!   appends to), and only a prefix of the journal: the oldest first, and
//!   never one newer than a segment that is kept, so the journal stays one
//!   run of consecutive sequence numbers;
//! - a closed segment is *due* when its last write (its file's modification
//!   time: the moment it was sealed) is older than `max_age`, or while the
//!   journal's total size is above `max_bytes`;
//! - with a bus, a due segment is deleted only if the bus acknowledged every
//!   record in it (`forwarded` = the highest acknowledged seq); otherwise it
//!   is *held*, as is every segment after it, and counted in
//!   [`RETENTION_HELD`] so that an alert can say the disk fills because
//!   the bus is behind. Without a bus, due segments go.
//!
//! [`plan`] is pure (segments, limits, `now`, floor in; the prefix to delete
//! out); [`run_pass`] lists the directory, plans, deletes and syncs the
//! directory once; [`start`] runs a pass every [`PASS_EVERY`] on the blocking
//! pool and keeps the metrics.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::format;
use super::{JournalError, JournalHandle};

/// Counter: segments deleted by retention.
pub const RETENTION_SEGMENTS: &str = "alarmgate_journal_retention_segments_deleted_total";
/// Counter: bytes deleted by retention.
pub const RETENTION_BYTES: &str = "alarmgate_journal_retention_bytes_deleted_total";
/// Gauge: segments that retention would delete but the bus has not acknowledged yet.
pub const RETENTION_HELD: &str = "alarmgate_journal_retention_held_segments";
/// Gauge: the journal's size on disk, bytes (every segment).
pub const JOURNAL_BYTES: &str = "alarmgate_journal_bytes";
/// Gauge: segment files in the journal.
pub const JOURNAL_SEGMENTS: &str = "alarmgate_journal_segments";

/// How often the daemon runs a retention pass (and refreshes the size gauges).
pub const PASS_EVERY: Duration = Duration::from_secs(30);

/// The limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Delete closed segments sealed longer ago than this.
    pub max_age: Option<Duration>,
    /// Delete the oldest closed segments while the journal is larger than this.
    pub max_bytes: Option<u64>,
}

/// One segment as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The seq of its first record.
    pub first_seq: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its last write.
    pub modified: SystemTime,
    /// The file.
    pub path: PathBuf,
}

/// What a pass decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// How many of the oldest segments to delete.
    pub delete: usize,
    /// Segments due but held for the bus.
    pub held: usize,
    /// Bytes of the segments to delete.
    pub delete_bytes: u64,
    /// Bytes of every segment before deleting.
    pub total_bytes: u64,
}

/// Decides which oldest segments go. `segments` sorted by `first_seq` (the
/// last is the newest, never deleted); `forwarded`: the highest seq the bus
/// acknowledged, `None` without a bus.
pub fn plan(
    segments: &[SegmentInfo],
    policy: &RetentionPolicy,
    now: SystemTime,
    forwarded: Option<u64>,
) -> Plan {
    let total: u64 = segments.iter().map(|s| s.bytes).sum();
    let mut out = Plan {
        total_bytes: total,
        ..Plan::default()
    };
    let mut remaining = total;
    let mut blocked = false;
    for pair in segments.windows(2) {
        let (seg, next) = (&pair[0], &pair[1]);
        let age = now.duration_since(seg.modified).unwrap_or(Duration::ZERO);
        let too_old = policy.max_age.is_some_and(|max| age >= max);
        let too_big = policy.max_bytes.is_some_and(|max| remaining > max);
        if !too_old && !too_big {
            break;
        }
        // the segment's last record is the one before the next segment's first
        let last_seq = next.first_seq.saturating_sub(1);
        blocked = blocked || forwarded.is_some_and(|f| last_seq > f);
        remaining -= seg.bytes;
        if blocked {
            out.held += 1;
        } else {
            out.delete += 1;
            out.delete_bytes += seg.bytes;
        }
    }
    out
}

/// The segments in `dir` with their sizes and modification times.
pub fn scan(dir: &Path) -> Result<Vec<SegmentInfo>, JournalError> {
    let mut out = Vec::new();
    for seg in format::list_segments(dir)? {
        let meta = match fs::metadata(&seg.path) {
            Ok(meta) => meta,
            // deleted between listing and looking: not ours to count
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(JournalError::io("stat", &seg.path, e)),
        };
        let modified = meta
            .modified()
            .map_err(|e| JournalError::io("stat", &seg.path, e))?;
        out.push(SegmentInfo {
            first_seq: seg.first_seq,
            bytes: meta.len(),
            modified,
            path: seg.path,
        });
    }
    Ok(out)
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// The plan it carried out.
    pub plan: Plan,
    /// Segment files after the pass.
    pub segments_left: usize,
    /// The oldest seq kept, if any segment is left.
    pub first_seq_left: Option<u64>,
}

/// Lists `dir`, plans with `now` and `forwarded`, deletes, syncs the directory.
pub fn run_pass(
    dir: &Path,
    policy: &RetentionPolicy,
    now: SystemTime,
    forwarded: Option<u64>,
) -> Result<PassReport, JournalError> {
    let segments = scan(dir)?;
    let plan = plan(&segments, policy, now, forwarded);
    for seg in &segments[..plan.delete] {
        match fs::remove_file(&seg.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(JournalError::io("remove", &seg.path, e)),
        }
    }
    if plan.delete > 0 {
        format::sync_dir(dir)?;
    }
    let left = &segments[plan.delete..];
    Ok(PassReport {
        segments_left: left.len(),
        first_seq_left: left.first().map(|s| s.first_seq),
        plan,
    })
}

/// The running retention task.
#[derive(Debug)]
pub struct Retention {
    task: JoinHandle<()>,
}

impl Retention {
    /// Stops the task (a pass in progress finishes on the blocking pool).
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Runs a pass on `journal` now and every `every`. `forwarded` is the bus
/// forwarder's acknowledged seq (`None` without a bus).
pub fn start(
    journal: &JournalHandle,
    policy: RetentionPolicy,
    forwarded: Option<watch::Receiver<u64>>,
    every: Duration,
) -> Retention {
    describe();
    let dir = journal.dir().to_path_buf();
    tracing::info!(
        ?policy,
        bus_floor = forwarded.is_some(),
        "journal retention"
    );
    let task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let floor = forwarded.as_ref().map(|rx| *rx.borrow());
            let dir = dir.clone();
            let now = crate::clock::wall();
            let pass = tokio::task::spawn_blocking(move || run_pass(&dir, &policy, now, floor));
            match pass.await {
                Ok(Ok(report)) => record(&report, floor),
                Ok(Err(err)) => tracing::error!(%err, "journal retention pass failed"),
                Err(err) => tracing::error!(%err, "journal retention task failed"),
            }
        }
    });
    Retention { task }
}

fn record(report: &PassReport, floor: Option<u64>) {
    let plan = &report.plan;
    let left = plan.total_bytes - plan.delete_bytes;
    metrics::gauge!(JOURNAL_BYTES).set(left as f64);
    metrics::gauge!(JOURNAL_SEGMENTS).set(report.segments_left as f64);
    metrics::gauge!(RETENTION_HELD).set(plan.held as f64);
    if plan.delete > 0 {
        metrics::counter!(RETENTION_SEGMENTS).increment(plan.delete as u64);
        metrics::counter!(RETENTION_BYTES).increment(plan.delete_bytes);
        tracing::info!(
            segments = plan.delete,
            bytes = plan.delete_bytes,
            first_seq_left = report.first_seq_left,
            "journal retention deleted old segments"
        );
    }
    if plan.held > 0 {
        tracing::warn!(
            held = plan.held,
            bus_acked = floor,
            "journal retention: segments past the limits are kept until the bus acknowledges them"
        );
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, Unit};
    describe_counter!(RETENTION_SEGMENTS, "Journal segments deleted by retention");
    describe_counter!(
        RETENTION_BYTES,
        Unit::Bytes,
        "Journal bytes deleted by retention"
    );
    describe_gauge!(
        RETENTION_HELD,
        "Journal segments past the retention limits kept for the bus"
    );
    describe_gauge!(JOURNAL_BYTES, Unit::Bytes, "Journal size on disk");
    describe_gauge!(JOURNAL_SEGMENTS, "Journal segment files");
}
