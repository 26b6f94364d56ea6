//! Behaviour tests of the journal on real files: round trip, reopen, torn
//! tails, mid-segment corruption, segment roll and retention, group commit,
//! readers beside the writer. Failures are in `tests_failure.rs`, the crash
//! and the benchmark in `tests_crash.rs`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use super::format::{segment_path, Defect, HEADER_LEN};
use super::*;

/// A unique directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "alarmgate-journal-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn config(dir: &Path, segment_bytes: u64) -> JournalConfig {
    JournalConfig {
        dir: dir.to_path_buf(),
        segment_bytes,
        sync: SyncMode::Always,
    }
}

pub(crate) fn payload(i: u64) -> Vec<u8> {
    format!("{{\"account\":\"1234\",\"event\":{i}}}").into_bytes()
}

pub(crate) async fn append_n(j: &JournalHandle, range: std::ops::RangeInclusive<u64>) {
    for i in range {
        assert_eq!(j.append(payload(i)).await.expect("append"), i);
    }
}

pub(crate) fn read_all(dir: &Path, from: u64) -> Vec<Record> {
    let reader = JournalReader::open(dir).expect("reader");
    reader
        .read_from(from)
        .collect::<Result<_, _>>()
        .expect("read")
}

pub(crate) fn assert_records(dir: &Path, seqs: std::ops::RangeInclusive<u64>) {
    let records = read_all(dir, *seqs.start());
    let expected: Vec<Record> = seqs
        .map(|seq| Record {
            seq,
            payload: payload(seq),
        })
        .collect();
    assert_eq!(records, expected);
}

pub(crate) fn first_segment(dir: &Path) -> PathBuf {
    segment_path(dir, 1)
}

/// Byte offset of record `seq` in a first segment written by `append_n`.
fn offset_of(seq: u64) -> u64 {
    (1..seq)
        .map(|i| (HEADER_LEN + payload(i).len()) as u64)
        .sum()
}

#[tokio::test]
async fn append_then_read_back() {
    let tmp = TempDir::new("roundtrip");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    append_n(&j, 1..=20).await;
    assert_eq!(j.last_durable_seq(), 20);
    assert_eq!(j.stats().records_written, 20);
    assert!(j.is_healthy());
    assert_records(tmp.path(), 1..=20);
    assert_records(tmp.path(), 7..=20);
    assert!(read_all(tmp.path(), 21).is_empty());
    j.close();
}

#[tokio::test]
async fn subscribers_are_woken_by_each_commit_with_the_durable_seq() {
    let tmp = TempDir::new("subscribe");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    append_n(&j, 1..=3).await;
    let mut rx = j.subscribe();
    assert_eq!(*rx.borrow_and_update(), 3, "starts at the durable seq");
    let waiter = tokio::spawn(async move {
        rx.changed().await.expect("writer alive");
        let seq = *rx.borrow_and_update();
        (seq, rx)
    });
    append_n(&j, 4..=4).await;
    let (seq, rx) = waiter.await.expect("waiter");
    assert_eq!(seq, 4, "woken by the commit, not by a poll");
    assert!(!rx.has_changed().expect("open"), "one wake per commit");
    j.close();
}

#[tokio::test]
async fn seq_continues_after_reopen() {
    let tmp = TempDir::new("reopen");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    append_n(&j, 1..=5).await;
    j.close();
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("reopen");
    assert_eq!(j.recovery().last_seq, Some(5));
    assert_eq!(j.recovery().dropped_bytes, 0);
    assert_eq!(j.last_durable_seq(), 5);
    append_n(&j, 6..=8).await;
    j.close();
    assert_records(tmp.path(), 1..=8);
}

#[tokio::test]
async fn torn_tail_mid_record_is_dropped_and_appends_continue() {
    let tmp = TempDir::new("torn");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    append_n(&j, 1..=5).await;
    j.close();
    let seg = first_segment(tmp.path());
    let cut = offset_of(5) + HEADER_LEN as u64 + 3;
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .and_then(|f| f.set_len(cut))
        .expect("truncate");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("reopen");
    let report = j.recovery().clone();
    assert_eq!(report.last_seq, Some(4));
    assert_eq!(report.dropped_bytes, HEADER_LEN as u64 + 3);
    assert_eq!(report.dropped_at, Some((seg.clone(), offset_of(5))));
    append_n(&j, 5..=6).await;
    j.close();
    assert_records(tmp.path(), 1..=6);
}

#[tokio::test]
async fn garbage_or_zeros_after_the_last_record_are_dropped() {
    let garbage: Vec<u8> = (0..700u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    for (name, tail) in [("garbage", garbage), ("zeros", vec![0u8; 4096])] {
        let tmp = TempDir::new(name);
        let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
        append_n(&j, 1..=3).await;
        j.close();
        let mut f = OpenOptions::new()
            .append(true)
            .open(first_segment(tmp.path()))
            .expect("open seg");
        f.write_all(&tail).expect("append tail");
        let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("reopen");
        assert_eq!(j.recovery().dropped_bytes, tail.len() as u64, "{name}");
        append_n(&j, 4..=4).await;
        j.close();
        assert_records(tmp.path(), 1..=4);
    }
}

#[tokio::test]
async fn corruption_in_the_middle_names_file_and_offset() {
    let tmp = TempDir::new("middle");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    append_n(&j, 1..=5).await;
    j.close();
    let seg = first_segment(tmp.path());
    let mut bytes = fs::read(&seg).expect("read");
    bytes[offset_of(2) as usize + HEADER_LEN + 4] ^= 0x40;
    fs::write(&seg, &bytes).expect("write");
    let expect_corrupt = |e: JournalError| match e {
        JournalError::Corrupt {
            path,
            offset,
            defect: Defect::Crc { .. },
        } => {
            assert_eq!((path, offset), (seg.clone(), offset_of(2)));
        }
        other => panic!("expected Corrupt, got {other}"),
    };
    expect_corrupt(
        Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect_err("must refuse"),
    );
    let mut it = JournalReader::open(tmp.path())
        .expect("reader")
        .read_from(1);
    assert_eq!(it.next().expect("record 1").expect("ok").seq, 1);
    expect_corrupt(it.next().expect("an error").expect_err("corrupt"));
    assert!(it.next().is_none());
    assert_eq!(
        fs::read(&seg).expect("read"),
        bytes,
        "nothing was truncated"
    );
}

#[tokio::test]
async fn damage_at_the_end_of_a_sealed_segment_is_an_error() {
    let tmp = TempDir::new("sealed");
    let j = Journal::open(config(tmp.path(), 200)).expect("open");
    append_n(&j, 1..=12).await;
    j.close();
    let seg = first_segment(tmp.path());
    let len = fs::metadata(&seg).expect("meta").len();
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .and_then(|f| f.set_len(len - 1))
        .expect("truncate");
    match Journal::open(config(tmp.path(), 200)) {
        Err(JournalError::Corrupt {
            path,
            defect: Defect::Truncated { .. },
            ..
        }) => assert_eq!(path, seg),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn segments_roll_are_read_across_and_removed_by_retention() {
    let tmp = TempDir::new("roll");
    let j = Journal::open(config(tmp.path(), 256)).expect("open");
    append_n(&j, 1..=60).await;
    let segments = format::list_segments(tmp.path()).expect("list");
    assert!(segments.len() > 5, "{} segments", segments.len());
    for s in &segments {
        assert!(fs::metadata(&s.path).expect("meta").len() <= 256);
    }
    assert_records(tmp.path(), 1..=60);
    assert_records(tmp.path(), 33..=60);
    let removed = j.remove_segments_before(33).expect("retention");
    let kept = format::list_segments(tmp.path()).expect("list");
    assert_eq!(removed + kept.len(), segments.len());
    assert!(kept[0].first_seq <= 33 && kept[1].first_seq > 33);
    assert_records(tmp.path(), 33..=60);
    assert_eq!(read_all(tmp.path(), 1)[0].seq, kept[0].first_seq);
    j.remove_segments_before(u64::MAX).expect("retention");
    assert_eq!(
        format::list_segments(tmp.path()).expect("list").len(),
        1,
        "newest segment kept"
    );
    j.close();
    let j = Journal::open(config(tmp.path(), 256)).expect("reopen");
    append_n(&j, 61..=70).await;
    j.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_shares_syncs_between_concurrent_appends() {
    let tmp = TempDir::new("group");
    let j = Journal::open(config(tmp.path(), 16 << 10)).expect("open");
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..8u64 {
        let j = j.clone();
        tasks.spawn(async move {
            let pending: Vec<_> = (0..125u64)
                .map(|i| j.append(payload(task * 1000 + i)))
                .collect();
            let mut seqs = Vec::new();
            for p in pending {
                seqs.push(p.await.expect("durable"));
            }
            seqs
        });
    }
    let mut seqs: Vec<u64> = tasks.join_all().await.into_iter().flatten().collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    let stats = j.stats();
    assert_eq!(stats.records_written, 1000);
    assert!(stats.syncs < 250, "{} syncs for 1000 appends", stats.syncs);
    assert_eq!(read_all(tmp.path(), 1).len(), 1000);
    j.close();
}

#[test]
fn append_with_from_plain_threads_calls_back_once_each() {
    let tmp = TempDir::new("callbacks");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (j, tx) = (j.clone(), tx.clone());
            s.spawn(move || {
                for i in 0..50 {
                    let tx = tx.clone();
                    j.append_with(
                        payload(t * 100 + i),
                        Box::new(move |r| tx.send(r).expect("send")),
                    );
                }
            });
        }
    });
    drop(tx);
    let mut seqs: Vec<u64> = rx.iter().map(|r| r.expect("durable")).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=400).collect::<Vec<_>>());
    j.close();
}

#[tokio::test]
async fn a_reader_stops_quietly_at_a_record_still_being_written() {
    let tmp = TempDir::new("inflight");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    append_n(&j, 1..=3).await;
    let mut partial = Vec::new();
    format::encode(4, &payload(4), &mut partial);
    partial.truncate(HEADER_LEN + 2);
    let mut f = OpenOptions::new()
        .append(true)
        .open(first_segment(tmp.path()))
        .expect("open seg");
    f.write_all(&partial).expect("write partial");
    assert_records(tmp.path(), 1..=3);
    j.close();
}
