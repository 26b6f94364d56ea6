//! Healing: after a failed write the journal refuses appends until a probe
//! finds the disk writable, then continues on a new segment with the next
//! seq. Real failures (a full disk, a segment that cannot be created, a
//! probe file that cannot be written) where root can make them, the sync
//! test hook otherwise; probes by hand ([`JournalHandle::probe_now`]).

use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::format::{list_segments, segment_path};
use super::reopen::PROBE_FILE;
use super::tests::{append_n, assert_records, config, first_segment, payload, TempDir};
use super::*;
use crate::bus::tail::Tail;

fn segment_seqs(dir: &Path) -> Vec<u64> {
    list_segments(dir)
        .expect("list")
        .iter()
        .map(|s| s.first_seq)
        .collect()
}

#[tokio::test]
async fn a_failed_sync_heals_on_a_new_segment_without_a_gap() {
    let tmp = TempDir::new("heal-sync");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    let flag = j.health_flag();
    append_n(&j, 1..=3).await;
    j.inject_sync_failure();
    assert!(j.append(payload(4)).await.is_err(), "the sync failed");
    assert!(!flag.load(Ordering::Acquire));
    assert!(
        matches!(j.append(payload(4)).await, Err(JournalError::Unhealthy)),
        "refused until a probe, so nothing is acknowledged meanwhile"
    );
    assert!(j.probe_now(), "the disk takes writes: healed");
    assert!(
        flag.load(Ordering::Acquire),
        "the flag /readyz reads is back"
    );
    append_n(&j, 4..=6).await;
    assert_eq!(segment_seqs(tmp.path()), [1, 4], "a new segment");
    assert!(!tmp.path().join(PROBE_FILE).exists());
    let stats = j.stats();
    assert_eq!((stats.outages, stats.write_errors), (1, 1));
    j.close();
    assert_records(tmp.path(), 1..=6);
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("restart");
    assert_eq!(
        j.recovery().last_seq,
        Some(6),
        "start-up accepts the healed files"
    );
    assert_eq!(j.recovery().dropped_bytes, 0);
    j.close();
}

#[tokio::test]
async fn a_probe_that_cannot_write_keeps_refusing_until_it_can() {
    let tmp = TempDir::new("heal-probe");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    append_n(&j, 1..=2).await;
    // A directory where the probe writes: opening it for writing fails (EISDIR).
    fs::create_dir(tmp.path().join(PROBE_FILE)).expect("block the probe");
    j.inject_sync_failure();
    assert!(j.append(payload(3)).await.is_err());
    assert!(!j.probe_now(), "the probe failed");
    assert!(!j.probe_now(), "and again");
    assert!(!j.is_healthy());
    assert!(matches!(
        j.append(payload(3)).await,
        Err(JournalError::Unhealthy)
    ));
    fs::remove_dir(tmp.path().join(PROBE_FILE)).expect("unblock");
    assert!(j.probe_now());
    append_n(&j, 3..=3).await;
    assert_eq!(j.stats().outages, 1, "one outage, however many probes");
    j.close();
    assert_records(tmp.path(), 1..=3);
}

#[tokio::test]
async fn a_full_disk_heals_by_itself_once_writes_work() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let tmp = TempDir::new("heal-full");
    std::os::unix::fs::symlink("/dev/full", first_segment(tmp.path())).expect("symlink");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    let err = j.append(payload(1)).await.expect_err("ENOSPC");
    assert!(matches!(err, JournalError::Io { op: "write", .. }), "{err}");
    assert!(j.probe_now(), "the segment on the full device is replaced");
    append_n(&j, 1..=2).await;
    assert!(!first_segment(tmp.path()).is_symlink());
    j.close();
    assert_records(tmp.path(), 1..=2);
}

#[tokio::test]
async fn a_failed_roll_heals_and_the_failed_segments_are_gone() {
    let tmp = TempDir::new("heal-roll");
    let j = Journal::open(config(tmp.path(), 200)).expect("open");
    append_n(&j, 1..=3).await;
    let blocked: Vec<_> = (4..=10).map(|seq| segment_path(tmp.path(), seq)).collect();
    blocked
        .iter()
        .for_each(|b| fs::create_dir(b).expect("mkdir"));
    let mut next = 4;
    while j.append(payload(next)).await.is_ok() {
        next += 1;
        assert!(next <= 10, "a roll must have failed by now");
    }
    assert!(!j.probe_now(), "a blocked segment path cannot be cleared");
    blocked
        .iter()
        .for_each(|b| fs::remove_dir(b).expect("unblock"));
    assert!(j.probe_now());
    assert_eq!(j.last_durable_seq(), next - 1);
    append_n(&j, next..=next + 8).await;
    j.close();
    assert_records(tmp.path(), 1..=next + 8);
    let j = Journal::open(config(tmp.path(), 200)).expect("restart");
    assert_eq!(j.recovery().last_seq, Some(next + 8));
    j.close();
}

#[tokio::test]
async fn a_follower_continues_across_the_new_segment() {
    let tmp = TempDir::new("heal-tail");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    let mut tail = Tail::new(tmp.path(), 1);
    append_n(&j, 1..=2).await;
    let mut seen = Vec::new();
    let mut drain = |tail: &mut Tail, upto: u64| {
        while let Some(r) = tail.next_record(Some(upto)).expect("read") {
            seen.push((r.seq, r.payload));
        }
    };
    drain(&mut tail, j.last_durable_seq());
    j.inject_sync_failure();
    assert!(j.append(b"never acknowledged".to_vec()).await.is_err());
    drain(&mut tail, j.last_durable_seq());
    assert!(j.probe_now());
    append_n(&j, 3..=4).await;
    drain(&mut tail, j.last_durable_seq());
    let expected: Vec<_> = (1..=4).map(|i| (i, payload(i))).collect();
    assert_eq!(seen, expected, "no gap, no duplicate, no failed record");
    j.close();
}

#[tokio::test]
async fn a_second_failure_after_healing_is_a_second_outage() {
    let tmp = TempDir::new("heal-twice");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    for round in 0..2u64 {
        let seq = round + 1;
        append_n(&j, seq..=seq).await;
        j.inject_sync_failure();
        assert!(j.append(payload(seq + 1)).await.is_err());
        assert!(j.probe_now());
    }
    assert_eq!(j.stats().outages, 2);
    append_n(&j, 3..=3).await;
    assert_eq!(segment_seqs(tmp.path()), [1, 2, 3]);
    j.close();
    assert_records(tmp.path(), 1..=3);
}

#[tokio::test]
async fn a_reader_holding_the_empty_segment_sees_only_what_comes_after_healing() {
    let tmp = TempDir::new("heal-empty");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    // A reader without a durable limit (as a local `events tail` may be)
    // opens the empty first segment.
    let mut tail = Tail::new(tmp.path(), 1);
    assert!(tail.next_record(None).expect("read").is_none());
    j.inject_sync_failure();
    assert!(j.append(b"never acknowledged".to_vec()).await.is_err());
    assert!(j.probe_now());
    assert_eq!(segment_seqs(tmp.path()), [1], "the empty segment is reused");
    append_n(&j, 1..=1).await;
    let record = tail.next_record(None).expect("read").expect("a record");
    assert_eq!((record.seq, record.payload), (1, payload(1)));
    j.close();
}
