//! Recovery on open: verify every segment, truncate a torn tail of the newest.
//!
//! A crash mid-append leaves, at the end of the newest segment, a partial
//! record, zeros, or stale bytes: damage with no valid record after it. That
//! tail was never acknowledged (its sync never completed) and is cut off.
//! Damage followed by a valid record, or in a sealed segment, means stored
//! data is broken: recovery stops with [`JournalError::Corrupt`] so that a
//! person looks at it, instead of skipping acknowledged alarms.

use std::fs::{self, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::format::{self, decode, Defect, Segment, HEADER_LEN, MAGIC};
use super::JournalError;

/// What recovery found, for logs and the daemon's start-up report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files found.
    pub segments: usize,
    /// Valid records found.
    pub records: u64,
    /// The first record's seq, if any.
    pub first_seq: Option<u64>,
    /// The last valid record's seq, if any.
    pub last_seq: Option<u64>,
    /// Bytes cut off the newest segment's torn tail.
    pub dropped_bytes: u64,
    /// Where the torn tail began (file, offset), if one was dropped.
    pub dropped_at: Option<(PathBuf, u64)>,
}

/// The recovered state the writer continues from.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// The seq the next append gets.
    pub next_seq: u64,
    /// The newest segment and its valid length, if any segment exists.
    pub active: Option<(Segment, u64)>,
    /// What was found.
    pub report: RecoveryReport,
}

/// The result of scanning one segment.
struct Scan {
    next_seq: u64,
    records: u64,
    valid_len: u64,
    file_len: u64,
}

/// Scans `dir`, truncating a torn tail (see the module docs).
pub(crate) fn recover(dir: &Path) -> Result<Recovered, JournalError> {
    let segments = format::list_segments(dir)?;
    let mut report = RecoveryReport {
        segments: segments.len(),
        ..Default::default()
    };
    let mut next_seq = segments.first().map_or(1, |s| s.first_seq);
    let mut active = None;
    for (i, seg) in segments.iter().enumerate() {
        if seg.first_seq != next_seq {
            let defect = Defect::SeqGap {
                expected: next_seq,
                found: seg.first_seq,
            };
            return Err(JournalError::corrupt(&seg.path, 0, defect));
        }
        let is_last = i + 1 == segments.len();
        let scan = scan_segment(seg, is_last)?;
        if scan.valid_len < scan.file_len {
            truncate_tail(seg, &scan, &mut report)?;
        }
        report.records += scan.records;
        next_seq = scan.next_seq;
        if is_last {
            active = Some((seg.clone(), scan.valid_len));
        }
    }
    if report.records > 0 {
        report.first_seq = segments.first().map(|s| s.first_seq);
        report.last_seq = Some(next_seq - 1);
    }
    Ok(Recovered {
        next_seq,
        active,
        report,
    })
}

/// Verifies every record of one segment.
fn scan_segment(seg: &Segment, is_last: bool) -> Result<Scan, JournalError> {
    let buf = read_segment(&seg.path)?;
    let mut scan = Scan {
        next_seq: seg.first_seq,
        records: 0,
        valid_len: 0,
        file_len: buf.len() as u64,
    };
    let mut off = 0usize;
    while off < buf.len() {
        let defect = match decode(&buf[off..]) {
            Ok(rec) if rec.seq == scan.next_seq => {
                off += rec.size;
                scan.next_seq += 1;
                scan.records += 1;
                scan.valid_len = off as u64;
                continue;
            }
            Ok(rec) => Defect::SeqGap {
                expected: scan.next_seq,
                found: rec.seq,
            },
            Err(defect) => defect,
        };
        if is_last && !valid_record_after(&buf, off, scan.next_seq) {
            return Ok(scan);
        }
        return Err(JournalError::corrupt(&seg.path, off as u64, defect));
    }
    Ok(scan)
}

/// Reads the segment's bytes, up to its length when opened.
fn read_segment(path: &Path) -> Result<Vec<u8>, JournalError> {
    let read = || -> std::io::Result<Vec<u8>> {
        let file = fs::File::open(path)?;
        let len = file.metadata()?.len();
        let mut buf = Vec::with_capacity(len as usize);
        file.take(len).read_to_end(&mut buf)?;
        Ok(buf)
    };
    read().map_err(|e| JournalError::io("read", path, e))
}

/// True when a valid record with seq `>= min_seq` starts anywhere at or after
/// `from`. Valid records with a lower seq are stale bytes (a file system can
/// expose old blocks after a crash) and count as damage.
fn valid_record_after(buf: &[u8], from: usize, min_seq: u64) -> bool {
    let magic = MAGIC.to_le_bytes();
    let end = buf.len().saturating_sub(HEADER_LEN - 1);
    (from..end).any(|off| {
        buf[off..].starts_with(&magic) && decode(&buf[off..]).is_ok_and(|r| r.seq >= min_seq)
    })
}

/// Cuts the torn tail off, syncs the file, and records what was dropped.
fn truncate_tail(
    seg: &Segment,
    scan: &Scan,
    report: &mut RecoveryReport,
) -> Result<(), JournalError> {
    let dropped = scan.file_len - scan.valid_len;
    tracing::warn!(
        file = %seg.path.display(),
        offset = scan.valid_len,
        dropped_bytes = dropped,
        last_good_seq = scan.next_seq - 1,
        "journal: dropping torn tail of the newest segment (a crash interrupted an append that was never acknowledged)"
    );
    OpenOptions::new()
        .write(true)
        .open(&seg.path)
        .and_then(|f| {
            f.set_len(scan.valid_len)?;
            f.sync_all()
        })
        .map_err(|e| JournalError::io("truncate", &seg.path, e))?;
    report.dropped_bytes += dropped;
    report.dropped_at = Some((seg.path.clone(), scan.valid_len));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::format::encode;

    fn records(seqs: std::ops::RangeInclusive<u64>) -> Vec<u8> {
        let mut buf = Vec::new();
        for seq in seqs {
            encode(seq, format!("alarm {seq}").as_bytes(), &mut buf);
        }
        buf
    }

    #[test]
    fn resync_finds_a_valid_record_behind_damage() {
        let buf = records(1..=3);
        let third = 2 * (HEADER_LEN + "alarm 1".len());
        assert!(valid_record_after(&buf, 1, 2));
        assert!(valid_record_after(&buf, third, 3));
        assert!(!valid_record_after(&buf, third + 1, 3));
        assert!(
            !valid_record_after(&buf, 1, 4),
            "lower seqs are stale, not valid"
        );
    }

    #[test]
    fn zeros_and_garbage_hold_no_valid_record() {
        assert!(!valid_record_after(&[0u8; 4096], 0, 1));
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(!valid_record_after(&garbage, 0, 1));
    }
}
