//! Retention: the pure plan in simulated wall time, then whole passes on
//! real segment files whose modification times the test sets.

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::format;
use super::retention::{plan, run_pass, Plan, RetentionPolicy, SegmentInfo};
use super::tests::TempDir;
use super::{Journal, JournalConfig, JournalReader, SyncMode};

const HOUR: Duration = Duration::from_secs(3600);

/// A fixed wall-clock start for simulated time.
fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// Segments of `bytes` each, 10 records apiece, sealed one hour apart from
/// `t0`; the last one is the newest.
fn segments(n: u64, bytes: u64) -> Vec<SegmentInfo> {
    (0..n)
        .map(|i| SegmentInfo {
            first_seq: 1 + 10 * i,
            bytes,
            modified: t0() + HOUR * i as u32,
            path: PathBuf::from(format!("{i}.seg")),
        })
        .collect()
}

fn by_age(h: u32) -> RetentionPolicy {
    RetentionPolicy {
        max_age: Some(HOUR * h),
        max_bytes: None,
    }
}

fn by_size(max: u64) -> RetentionPolicy {
    RetentionPolicy {
        max_age: None,
        max_bytes: Some(max),
    }
}

#[test]
fn age_deletes_the_segments_sealed_before_the_limit() {
    let segs = segments(5, 100);
    // now = t0 + 4h: segment ages are 4h, 3h, 2h, 1h, 0h (newest)
    let now = t0() + HOUR * 4;
    let p = plan(&segs, &by_age(2), now, None);
    assert_eq!((p.delete, p.held, p.delete_bytes), (3, 0, 300));
    assert_eq!(
        plan(&segs, &by_age(5), now, None),
        Plan {
            total_bytes: 500,
            ..Plan::default()
        }
    );
}

#[test]
fn size_deletes_oldest_first_until_under_the_limit() {
    let segs = segments(5, 100);
    let p = plan(&segs, &by_size(250), t0(), None);
    assert_eq!((p.delete, p.delete_bytes, p.total_bytes), (3, 300, 500));
    assert_eq!(plan(&segs, &by_size(500), t0(), None).delete, 0);
    // even a limit of 0 never touches the newest segment
    assert_eq!(plan(&segs, &by_size(0), t0(), None).delete, 4);
}

#[test]
fn nothing_without_limits_and_never_the_newest_segment() {
    let segs = segments(3, 1 << 30);
    let far = t0() + HOUR * 100_000;
    assert_eq!(
        plan(&segs, &RetentionPolicy::default(), far, None).delete,
        0
    );
    let only = segments(1, 1 << 30);
    let p = plan(&only, &by_size(1), far, None);
    assert_eq!((p.delete, p.held), (0, 0));
    assert_eq!(plan(&[], &by_size(1), far, None), Plan::default());
}

#[test]
fn a_segment_with_unforwarded_records_is_held_with_all_after_it() {
    let segs = segments(5, 100); // seqs 1-10, 11-20, 21-30, 31-40, 41-
    let now = t0() + HOUR * 10; // every closed segment is due by age
                                // the bus acknowledged up to 15: only the first segment is all forwarded
    let p = plan(&segs, &by_age(1), now, Some(15));
    assert_eq!((p.delete, p.held, p.delete_bytes), (1, 3, 100));
    // up to 20 exactly: the second one goes too
    assert_eq!(plan(&segs, &by_age(1), now, Some(20)).delete, 2);
    // nothing acknowledged: nothing deleted, by age or by size
    assert_eq!(plan(&segs, &by_age(1), now, Some(0)).held, 4);
    let p = plan(&segs, &by_size(150), t0(), Some(0));
    assert_eq!((p.delete, p.held), (0, 4));
    // all acknowledged: as without a bus
    assert_eq!(plan(&segs, &by_age(1), now, Some(u64::MAX)).delete, 4);
}

#[test]
fn only_a_prefix_goes_even_when_a_later_segment_looks_older() {
    let mut segs = segments(4, 100);
    segs[0].modified = t0() + HOUR * 9; // touched later (copied back, say)
    let p = plan(&segs, &by_age(2), t0() + HOUR * 10, None);
    assert_eq!(p.delete, 0, "the oldest is young: nothing after it goes");
}

#[test]
fn a_clock_before_the_files_deletes_nothing_by_age() {
    let segs = segments(3, 100);
    let p = plan(&segs, &by_age(1), t0() - HOUR * 24, None);
    assert_eq!(p.delete, 0);
}

/// A journal of 60 records in segments of about 10, closed; returns its segments.
async fn filled(dir: &std::path::Path) -> Vec<format::Segment> {
    let j = Journal::open(JournalConfig {
        dir: dir.to_path_buf(),
        segment_bytes: 10 * (format::HEADER_LEN as u64 + 20),
        sync: SyncMode::Never,
    })
    .expect("open");
    for i in 0..60 {
        j.append(format!("record number {i:06}").into_bytes())
            .await
            .expect("append");
    }
    j.close();
    format::list_segments(dir).expect("list")
}

fn set_modified(path: &std::path::Path, at: SystemTime) {
    let f = File::options()
        .write(true)
        .open(path)
        .expect("open segment");
    f.set_modified(at).expect("set mtime");
}

#[tokio::test]
async fn a_pass_deletes_files_and_readers_start_at_the_oldest_kept() {
    let dir = TempDir::new("retention-pass");
    let segs = filled(dir.path()).await;
    assert_eq!(segs.len(), 6);
    for (i, seg) in segs.iter().enumerate() {
        set_modified(&seg.path, t0() + HOUR * i as u32);
    }
    // ages at t0+5h: 5h 4h 3h 2h 1h 0h; limit 2h30; the bus has up to 25
    let now = t0() + HOUR * 5;
    let policy = RetentionPolicy {
        max_age: Some(HOUR * 5 / 2),
        max_bytes: None,
    };
    let report = run_pass(dir.path(), &policy, now, Some(25)).expect("pass");
    assert_eq!((report.plan.delete, report.plan.held), (2, 1));
    assert_eq!(report.first_seq_left, Some(21));
    assert!(!segs[0].path.exists() && !segs[1].path.exists());
    assert!(segs[2].path.exists());
    let first = JournalReader::open(dir.path())
        .expect("reader")
        .read_from(1)
        .next()
        .expect("a record")
        .expect("readable");
    assert_eq!(first.seq, 21);
    // the bus caught up: the held segment goes on the next pass
    let report = run_pass(dir.path(), &policy, now, Some(60)).expect("pass");
    assert_eq!((report.plan.delete, report.first_seq_left), (1, Some(31)));
    // the journal still opens, and continues the sequence
    let j = Journal::open(JournalConfig::new(dir.path())).expect("reopen");
    assert_eq!(j.append(b"after".to_vec()).await.expect("append"), 61);
    j.close();
}

#[tokio::test]
async fn a_pass_by_size_without_a_bus_keeps_the_journal_under_the_limit() {
    let dir = TempDir::new("retention-size");
    let segs = filled(dir.path()).await;
    let total: u64 = segs
        .iter()
        .map(|s| std::fs::metadata(&s.path).expect("stat").len())
        .sum();
    let limit = total / 2;
    let report = run_pass(dir.path(), &by_size(limit), t0(), None).expect("pass");
    assert!(report.plan.delete >= 3, "{report:?}");
    assert!(report.plan.total_bytes - report.plan.delete_bytes <= limit);
    let left: u64 = format::list_segments(dir.path())
        .expect("list")
        .iter()
        .map(|s| std::fs::metadata(&s.path).expect("stat").len())
        .sum();
    assert_eq!(left, report.plan.total_bytes - report.plan.delete_bytes);
    assert_eq!(report.segments_left, segs.len() - report.plan.delete);
}
