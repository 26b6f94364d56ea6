//! Where `since=<id>` (and `events replay --since`) resumes, without reading
//! the journal from its start.
//!
//! Event ids are UUIDv7: their first 48 bits are the Unix milliseconds at
//! which the event was made, and events are appended moments after they are
//! made. So the journal is sorted by id time, give or take [`SLACK`]. The
//! search reads the first record of each segment (one small read per
//! segment: the index is the segment list itself, nothing is stored) and
//! starts in the last segment that begins at least [`SLACK`] before the id's
//! time, reading forward until it finds the id or passes its time by
//! [`SLACK`]:
//!
//! - found: resume just after it;
//! - the id is older than the oldest record kept by more than [`SLACK`]
//!   (retention removed it): resume at the oldest record, without reading;
//! - otherwise not found (an id from another node, a wall clock stepped
//!   back by more than [`SLACK`]): the whole journal is read as before, and
//!   the answer is the first record whose id sorts after the given one.
//!
//! A clock stepped back can only make a consumer see events again, never
//! skip one: every shortcut resumes at or before the exact answer.

use std::path::Path;

use super::tail::Tail;
use super::{uuid_v7_millis, EventMeta};
use crate::journal::format;
use crate::journal::JournalError;

/// How far out of time order the journal's events may be, in milliseconds.
pub const SLACK_MS: u64 = 5 * 60 * 1000;
/// [`SLACK_MS`] as a duration, for the docs.
pub const SLACK: std::time::Duration = std::time::Duration::from_millis(SLACK_MS);

/// The seq to continue from to see the events after the one with `id` (see
/// the module docs); the seq the next record will get when none is later.
pub fn seq_after_id(dir: &Path, id: &str) -> Result<u64, JournalError> {
    let Some(t) = uuid_v7_millis(id) else {
        return Ok(scan(dir, 1, id, None)?.answer());
    };
    let starts = segment_starts(dir)?;
    let Some(&(oldest_seq, oldest_ms)) = starts.first() else {
        return Ok(scan(dir, 1, id, None)?.answer());
    };
    if oldest_ms.is_some_and(|ms| t.saturating_add(SLACK_MS) < ms) {
        return Ok(oldest_seq);
    }
    let from = starts
        .iter()
        .rev()
        .find(|(_, ms)| ms.is_some_and(|ms| ms.saturating_add(SLACK_MS) <= t))
        .map_or(oldest_seq, |(seq, _)| *seq);
    let near = scan(dir, from, id, Some(t.saturating_add(SLACK_MS)))?;
    if near.found.is_some() || from <= oldest_seq {
        return Ok(near.answer());
    }
    Ok(scan(dir, 1, id, None)?.answer())
}

/// Each segment's first seq and the id time of its first record (None when
/// that record is not a CloudEvent with a UUIDv7 id).
pub fn segment_starts(dir: &Path) -> Result<Vec<(u64, Option<u64>)>, JournalError> {
    let mut out = Vec::new();
    for seg in format::list_segments(dir)? {
        let first = Tail::new(dir, seg.first_seq).next_record(None)?;
        let ms = first
            .filter(|r| r.seq == seg.first_seq)
            .and_then(|r| EventMeta::parse(&r.payload))
            .and_then(|meta| meta.unix_ms());
        out.push((seg.first_seq, ms));
    }
    Ok(out)
}

/// What a scan saw.
struct Scan {
    found: Option<u64>,
    first_later: Option<u64>,
    end: u64,
}

impl Scan {
    fn answer(&self) -> u64 {
        self.found.or(self.first_later).unwrap_or(self.end)
    }
}

/// Reads from `from` until `id` is found, or (with `stop_after`) a record
/// made after that time is read, or the end.
fn scan(dir: &Path, from: u64, id: &str, stop_after: Option<u64>) -> Result<Scan, JournalError> {
    let mut tail = Tail::new(dir, from);
    let mut first_later = None;
    while let Some(record) = tail.next_record(None)? {
        let Some(meta) = EventMeta::parse(&record.payload) else {
            continue;
        };
        if meta.id == id {
            return Ok(Scan {
                found: Some(record.seq + 1),
                first_later,
                end: tail.next_seq(),
            });
        }
        if first_later.is_none() && meta.id.as_str() > id {
            first_later = Some(record.seq);
        }
        let past = meta.unix_ms().zip(stop_after).is_some_and(|(ms, s)| ms > s);
        if past {
            break;
        }
    }
    Ok(Scan {
        found: None,
        first_later,
        end: tail.next_seq(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Journal, JournalConfig, SyncMode};
    use std::path::PathBuf;

    /// 100 events made 10 s apart from `T0` (ids `uuid_v7(T0 + 10 s * i, i)`),
    /// 10 to a segment: 1000 s of journal, each segment 100 s.
    const T0: u64 = 1_800_000_000_000;
    const STEP: u64 = 10_000;

    fn id(i: u64) -> String {
        crate::events::uuid_v7(T0 + STEP * i, u128::from(i))
    }

    fn event(id: &str) -> Vec<u8> {
        format!(r#"{{"id":"{id}","type":"alarmgate.call.ended","data":{{"p":"xxxx"}}}}"#)
            .into_bytes()
    }

    async fn journal(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("alarmgate-since-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let size = (crate::journal::format::HEADER_LEN + event(&id(0)).len()) as u64;
        let j = Journal::open(JournalConfig {
            dir: dir.clone(),
            segment_bytes: 10 * size,
            sync: SyncMode::Never,
        })
        .expect("open");
        for i in 0..100 {
            j.append(event(&id(i))).await.expect("append");
        }
        j.close();
        assert_eq!(format::list_segments(&dir).expect("list").len(), 10);
        dir
    }

    /// The old answer: read everything from the start.
    fn full(dir: &Path, id: &str) -> u64 {
        scan(dir, 1, id, None).expect("scan").answer()
    }

    /// Damages record 5's payload (in the first segment, not its first record).
    fn damage_first_segment(dir: &Path) {
        let seg = &format::list_segments(dir).expect("list")[0].path;
        let mut bytes = std::fs::read(seg).expect("read");
        let rec = bytes.len() / 10;
        bytes[4 * rec + crate::journal::format::HEADER_LEN + 3] ^= 0x20;
        std::fs::write(seg, bytes).expect("write");
    }

    #[tokio::test]
    async fn ids_resolve_as_a_full_scan_would() {
        let dir = journal("same").await;
        for i in [0, 1, 9, 10, 37, 55, 98, 99] {
            assert_eq!(seq_after_id(&dir, &id(i)).expect("seek"), i + 2);
            assert_eq!(full(&dir, &id(i)), i + 2);
        }
        // an id that was never in the journal, between records 41 and 42
        let between = crate::events::uuid_v7(T0 + STEP * 41 + 5, 7);
        assert_eq!(seq_after_id(&dir, &between).expect("seek"), 43);
        assert_eq!(full(&dir, &between), 43);
        // later than everything: the end; not a UUIDv7: the old scan
        let late = crate::events::uuid_v7(T0 + STEP * 500, 0);
        assert_eq!(seq_after_id(&dir, &late).expect("seek"), 101);
        assert_eq!(
            seq_after_id(&dir, "not-a-uuid").expect("scan"),
            full(&dir, "not-a-uuid")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_late_id_is_found_without_reading_the_early_segments() {
        let dir = journal("seek").await;
        damage_first_segment(&dir);
        assert!(
            scan(&dir, 1, &id(90), None).is_err(),
            "a read from the start meets the damage"
        );
        assert_eq!(
            seq_after_id(&dir, &id(90)).expect("seek past the damage"),
            92
        );
        assert_eq!(
            seq_after_id(&dir, &id(60)).expect("seek past the damage"),
            62
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_id_removed_by_retention_resumes_at_the_oldest_kept() {
        let dir = journal("gone").await;
        let removed = crate::journal::format::remove_segments_before(&dir, 31).expect("retention");
        assert_eq!(removed, 3);
        damage_first_segment(&dir); // now the segment starting at 31
                                    // id 2 is 280 s older than the oldest kept (31), within the slack:
                                    // read from 31 only until past its time (stopping before the damage)
        assert_eq!(seq_after_id(&dir, &id(2)).expect("a short read"), 31);
        // an id 10 minutes older than the oldest kept: the oldest, at once
        let old = crate::events::uuid_v7(T0 - 600_000, 1);
        assert_eq!(seq_after_id(&dir, &old).expect("no read"), 31);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
