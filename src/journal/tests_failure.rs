//! Failure handling: a failed sync, a full disk, a segment that cannot be
//! created (all real failures as root, except the sync, which uses a test
//! hook), the directory lock, and a closed journal.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use super::format::segment_path;
use super::tests::{append_n, assert_records, config, first_segment, payload, TempDir};
use super::*;

#[tokio::test]
async fn failed_sync_turns_unhealthy_and_is_never_retried() {
    let tmp = TempDir::new("syncfail");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    let flag = j.health_flag();
    append_n(&j, 1..=3).await;
    j.inject_sync_failure();
    let err = j.append(payload(4)).await.expect_err("sync failed");
    assert!(matches!(err, JournalError::Io { op: "sync", .. }), "{err}");
    assert!(!j.is_healthy() && !flag.load(Ordering::Acquire));
    assert!(matches!(
        j.append(payload(5)).await,
        Err(JournalError::Unhealthy)
    ));
    assert_eq!(j.stats().write_errors, 1);
    assert_eq!(j.last_durable_seq(), 3);
    j.close();
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("reopen");
    assert!(j.is_healthy());
    let seq = j.append(payload(99)).await.expect("append after reopen");
    assert!(
        seq == 4 || seq == 5,
        "the unacknowledged record 4 may or may not be on disk: {seq}"
    );
    j.close();
}

#[tokio::test]
async fn write_to_a_full_disk_fails_the_append_and_turns_unhealthy() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let tmp = TempDir::new("full");
    std::os::unix::fs::symlink("/dev/full", first_segment(tmp.path())).expect("symlink");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    let err = j.append(payload(1)).await.expect_err("ENOSPC");
    match &err {
        JournalError::Io {
            op: "write",
            source,
            ..
        } => assert_eq!(source.raw_os_error(), Some(28)),
        other => panic!("expected a write error, got {other}"),
    }
    assert!(!j.is_healthy());
    assert!(matches!(
        j.append(payload(2)).await,
        Err(JournalError::Unhealthy)
    ));
    j.close();
}

#[tokio::test]
async fn segment_that_cannot_be_created_fails_the_batch_even_as_root() {
    let tmp = TempDir::new("nocreate");
    let j = Journal::open(config(tmp.path(), 200)).expect("open");
    append_n(&j, 1..=3).await;
    // A directory where the next segment file must go: creating it fails
    // with EEXIST whatever our privileges. The roll comes at seq 5 or so.
    let blocked: Vec<PathBuf> = (4..=10).map(|seq| segment_path(tmp.path(), seq)).collect();
    blocked
        .iter()
        .for_each(|b| fs::create_dir(b).expect("mkdir in the roll path"));
    let mut failed = None;
    for i in 4..=10 {
        if let Err(e) = j.append(payload(i)).await {
            failed = Some(e);
            break;
        }
    }
    assert!(
        matches!(
            failed,
            Some(JournalError::Io {
                op: "create segment",
                ..
            })
        ),
        "{failed:?}"
    );
    assert!(!j.is_healthy());
    assert!(matches!(
        j.append(payload(11)).await,
        Err(JournalError::Unhealthy)
    ));
    j.close();
    blocked
        .iter()
        .for_each(|b| fs::remove_dir(b).expect("unblock"));
    let j = Journal::open(config(tmp.path(), 200)).expect("reopen");
    assert!(j.is_healthy());
    // Records of the failed batch synced before the roll stay (never the
    // reverse: every acknowledged record is there).
    let last = j.last_durable_seq();
    assert!(last >= 3, "{last}");
    assert_eq!(j.append(payload(last + 1)).await.expect("append"), last + 1);
    j.close();
    assert_records(tmp.path(), 1..=last + 1);
}

#[tokio::test]
async fn a_second_writer_is_locked_out_and_closed_handles_refuse() {
    let tmp = TempDir::new("lock");
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open");
    assert!(matches!(
        Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)),
        Err(JournalError::Locked(_))
    ));
    j.close();
    assert!(!j.is_healthy(), "a closed journal is not ready");
    assert!(matches!(
        j.append(payload(1)).await,
        Err(JournalError::Closed)
    ));
    let (tx, rx) = mpsc::channel();
    j.append_with(payload(1), Box::new(move |r| tx.send(r).expect("send")));
    assert!(matches!(
        rx.recv().expect("called back"),
        Err(JournalError::Closed)
    ));
    let j = Journal::open(config(tmp.path(), DEFAULT_SEGMENT_BYTES)).expect("open after close");
    let too_big = vec![0u8; format::MAX_PAYLOAD + 1];
    assert!(matches!(
        j.append(too_big).await,
        Err(JournalError::TooLarge { .. })
    ));
    assert!(j.is_healthy(), "a refused payload is not a disk failure");
    j.close();
}
