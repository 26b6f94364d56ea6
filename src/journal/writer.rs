//! The writer thread: owns the files, does group commit, turns unhealthy on
//! a failure and heals by itself.
//!
//! Blocking file IO runs on this dedicated `std::thread`, never on the async
//! runtime. Each turn it takes every request waiting in its channel (up to
//! [`MAX_BATCH`]), writes them with one `write`, syncs once, and only then
//! completes them. A failed write or sync fails the batch and every append
//! after it, until a probe on the [`heal`](super::heal) schedule finds the
//! disk writable again and [`reopen`](super::reopen) starts a new segment:
//! the failed file descriptor is not trusted again (after a failed `fsync`
//! the kernel may have dropped the dirty pages and reports success next time).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;

use super::format::{self, HEADER_LEN};
use super::handle::{Completion, JournalHandle, Msg, Shared};
use super::heal::Outage;
use super::recovery::{self, Recovered};
use super::reopen::DurableEnd;
use super::{JournalConfig, JournalError, SyncMode, RECORDS_WRITTEN, SYNCS, SYNC_SECONDS};

/// Most requests in one group commit.
const MAX_BATCH: usize = 4096;
/// Name of the lock file that keeps a second writer out.
const LOCK_FILE: &str = "LOCK";
/// Unit tests probe by hand ([`JournalHandle::probe_now`]), never by the
/// wall clock, so that no test depends on how fast it runs.
const MANUAL_PROBES: bool = cfg!(test);

#[path = "writer_heal.rs"]
mod heal_impl;

/// Locks and recovers the directory, then starts the writer thread.
pub(crate) fn open(config: JournalConfig) -> Result<JournalHandle, JournalError> {
    let dir = config.dir.clone();
    fs::create_dir_all(&dir).map_err(|e| JournalError::io("create directory", &dir, e))?;
    let lock = lock_dir(&dir)?;
    let recovered = recovery::recover(&dir)?;
    let (file, end) = open_active(&config, &recovered)?;
    tracing::info!(dir = %dir.display(), report = ?recovered.report, "journal: opened");
    let shared = Arc::new(new_shared(dir.clone(), &recovered));
    let writer = Writer {
        config,
        file,
        path: end.path.clone(),
        seg_first: end.first_seq,
        seg_len: end.len,
        next_seq: recovered.next_seq,
        buf: Vec::new(),
        shared: Arc::clone(&shared),
        durable_end: end,
        outage: None,
        _lock: lock,
    };
    let (tx, rx) = mpsc::channel();
    let thread = thread::Builder::new()
        .name("journal-writer".into())
        .spawn(move || writer.run(rx))
        .map_err(|e| JournalError::io("start the writer thread for", &dir, e))?;
    if let Ok(mut slot) = shared.thread.lock() {
        *slot = Some(thread);
    }
    Ok(JournalHandle::new(tx, shared))
}

fn new_shared(dir: PathBuf, recovered: &Recovered) -> Shared {
    Shared {
        dir,
        healthy: Arc::new(AtomicBool::new(true)),
        durable_seq: AtomicU64::new(recovered.next_seq - 1),
        durable_tx: tokio::sync::watch::Sender::new(recovered.next_seq - 1),
        records: AtomicU64::new(0),
        syncs: AtomicU64::new(0),
        write_errors: AtomicU64::new(0),
        outages: AtomicU64::new(0),
        recovery: recovered.report.clone(),
        thread: Mutex::new(None),
        #[cfg(test)]
        fail_next_sync: AtomicBool::new(false),
    }
}

/// Takes the directory's advisory lock (released when the writer stops).
fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| JournalError::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(JournalError::Locked(dir.to_path_buf())),
        Err(TryLockError::Error(e)) => Err(JournalError::io("lock", &path, e)),
    }
}

/// Opens the newest segment for appending, or creates the first one.
fn open_active(
    config: &JournalConfig,
    rec: &Recovered,
) -> Result<(File, DurableEnd), JournalError> {
    if let Some((seg, len)) = &rec.active {
        let file = OpenOptions::new()
            .append(true)
            .open(&seg.path)
            .map_err(|e| JournalError::io("open", &seg.path, e))?;
        let end = DurableEnd {
            path: seg.path.clone(),
            first_seq: seg.first_seq,
            len: *len,
        };
        return Ok((file, end));
    }
    let path = format::segment_path(&config.dir, rec.next_seq);
    let file = create_segment(&path)?;
    format::sync_dir(&config.dir)?;
    let end = DurableEnd {
        path,
        first_seq: rec.next_seq,
        len: 0,
    };
    Ok((file, end))
}

pub(super) fn create_segment(path: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(path)
        .map_err(|e| JournalError::io("create segment", path, e))
}

/// An append waiting for its group commit.
struct Pending {
    payload: Vec<u8>,
    done: Completion,
}

/// Sets the health flag to false when the thread ends, however it ends.
struct UnhealthyOnExit(Arc<AtomicBool>);

impl Drop for UnhealthyOnExit {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The writer thread's state.
struct Writer {
    config: JournalConfig,
    file: File,
    path: PathBuf,
    /// The current segment's first seq.
    seg_first: u64,
    seg_len: u64,
    next_seq: u64,
    buf: Vec<u8>,
    shared: Arc<Shared>,
    /// Where the last successful group commit ended (a reopen cuts back to it).
    durable_end: DurableEnd,
    /// Set while appends are refused.
    outage: Option<Outage>,
    _lock: File,
}

impl Writer {
    /// The thread's loop: one group commit per turn until closed.
    fn run(mut self, rx: Receiver<Msg>) {
        let _exit = UnhealthyOnExit(Arc::clone(&self.shared.healthy));
        let mut batch = Vec::new();
        while let Some(first) = self.next_msg(&rx) {
            let closing = gather(first, &rx, &mut batch);
            self.process(&mut batch);
            if closing {
                break;
            }
        }
    }

    /// Commits the batch and completes every request in it.
    fn process(&mut self, batch: &mut Vec<Pending>) {
        if batch.is_empty() {
            return;
        }
        if self.outage.is_some() {
            batch
                .drain(..)
                .for_each(|p| p.done.complete(Err(JournalError::Unhealthy)));
            return;
        }
        let first_seq = self.next_seq;
        match self.commit(batch) {
            Ok(()) => self.succeed(first_seq, batch),
            Err(e) => {
                self.fail(&e, batch.len());
                batch
                    .drain(..)
                    .for_each(|p| p.done.complete(Err(e.clone())));
            }
        }
    }

    /// Writes the batch (rolling segments as needed), then syncs once.
    fn commit(&mut self, batch: &[Pending]) -> Result<(), JournalError> {
        for p in batch {
            let size = (HEADER_LEN + p.payload.len()) as u64;
            let used = self.seg_len + self.buf.len() as u64;
            if used > 0 && used + size > self.config.segment_bytes {
                self.roll()?;
            }
            format::encode(self.next_seq, &p.payload, &mut self.buf);
            self.next_seq += 1;
        }
        self.flush()?;
        self.sync()
    }

    /// Seals the current segment (write, sync) and starts the next one.
    fn roll(&mut self) -> Result<(), JournalError> {
        self.flush()?;
        self.sync()?;
        let path = format::segment_path(&self.config.dir, self.next_seq);
        self.file = create_segment(&path)?;
        self.path = path;
        self.seg_first = self.next_seq;
        self.seg_len = 0;
        if self.config.sync == SyncMode::Always {
            format::sync_dir(&self.config.dir)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), JournalError> {
        self.file
            .write_all(&self.buf)
            .map_err(|e| JournalError::io("write", &self.path, e))?;
        self.seg_len += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// One `fdatasync` of the current segment (none with [`SyncMode::Never`]).
    fn sync(&mut self) -> Result<(), JournalError> {
        if self.config.sync == SyncMode::Never {
            return Ok(());
        }
        let started = crate::clock::now();
        self.sync_data()
            .map_err(|e| JournalError::io("sync", &self.path, e))?;
        metrics::histogram!(SYNC_SECONDS).record(
            crate::clock::now()
                .saturating_duration_since(started)
                .as_secs_f64(),
        );
        metrics::counter!(SYNCS).increment(1);
        self.shared.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        #[cfg(test)]
        if self.shared.fail_next_sync.swap(false, Ordering::AcqRel) {
            return Err(io::Error::other("injected sync failure"));
        }
        self.file.sync_data()
    }

    fn succeed(&mut self, first_seq: u64, batch: &mut Vec<Pending>) {
        let n = batch.len() as u64;
        let last = first_seq + n - 1;
        if self.durable_end.first_seq != self.seg_first {
            self.durable_end.path.clone_from(&self.path);
            self.durable_end.first_seq = self.seg_first;
        }
        self.durable_end.len = self.seg_len;
        self.shared.durable_seq.store(last, Ordering::Release);
        self.shared.durable_tx.send_replace(last);
        self.shared.records.fetch_add(n, Ordering::Relaxed);
        metrics::counter!(RECORDS_WRITTEN).increment(n);
        for (seq, p) in (first_seq..).zip(batch.drain(..)) {
            p.done.complete(Ok(seq));
        }
    }
}

/// Moves `first` and every request already waiting into `batch`. True on close.
fn gather(first: Msg, rx: &Receiver<Msg>, batch: &mut Vec<Pending>) -> bool {
    let mut next = Some(first);
    while let Some(msg) = next {
        match msg {
            Msg::Close => return true,
            Msg::Append { payload, done } => batch.push(Pending { payload, done }),
            // Test hook sent beside appends: not probed (see probe_now).
            #[cfg(test)]
            Msg::Probe(reply) => {
                let _ = reply.send(false);
            }
        }
        next = if batch.len() < MAX_BATCH {
            rx.try_recv().ok()
        } else {
            None
        };
    }
    false
}
