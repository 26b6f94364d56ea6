//! The cloneable handle async callers and media workers append through.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{oneshot, watch};

use super::format::{self, MAX_PAYLOAD};
use super::recovery::RecoveryReport;
use super::JournalError;

/// A completion callback for [`JournalHandle::append_with`].
pub type Callback = Box<dyn FnOnce(Result<u64, JournalError>) + Send>;

/// A callback that is called exactly once: with the result, or with
/// [`JournalError::Closed`] if it is dropped unanswered.
pub(crate) struct Completion(Option<Callback>);

impl Completion {
    pub(crate) fn new(cb: Callback) -> Self {
        Self(Some(cb))
    }

    /// Calls the callback with `result`.
    pub(crate) fn complete(mut self, result: Result<u64, JournalError>) {
        if let Some(cb) = self.0.take() {
            cb(result);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(cb) = self.0.take() {
            cb(Err(JournalError::Closed));
        }
    }
}

/// A request to the writer thread.
pub(crate) enum Msg {
    /// Store `payload`, then complete `done`.
    Append { payload: Vec<u8>, done: Completion },
    /// Finish the current batch and stop.
    Close,
    /// Test hook: probe now if unhealthy; answers whether the journal is healthy.
    #[cfg(test)]
    Probe(std::sync::mpsc::Sender<bool>),
}

/// State shared between the handles and the writer thread.
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub healthy: Arc<AtomicBool>,
    pub durable_seq: AtomicU64,
    /// The same seq, sent after each group commit: wakes followers
    /// (the bus forwarder, event streams) instead of polling.
    pub durable_tx: watch::Sender<u64>,
    pub records: AtomicU64,
    pub syncs: AtomicU64,
    pub write_errors: AtomicU64,
    pub outages: AtomicU64,
    pub recovery: RecoveryReport,
    pub thread: Mutex<Option<JoinHandle<()>>>,
    /// Test hook: the next sync fails as if the disk had returned EIO.
    #[cfg(test)]
    pub fail_next_sync: AtomicBool,
}

/// Counters since the journal was opened (also exported as metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalStats {
    /// Records made durable.
    pub records_written: u64,
    /// Successful syncs (group commits).
    pub syncs: u64,
    /// Failed writes or syncs.
    pub write_errors: u64,
    /// Times the journal turned unhealthy (each healed by a probe, or ongoing).
    pub outages: u64,
}

/// Appends to an open journal. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct JournalHandle {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for JournalHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalHandle")
            .field("dir", &self.shared.dir)
            .field("healthy", &self.is_healthy())
            .field("durable_seq", &self.last_durable_seq())
            .finish()
    }
}

impl JournalHandle {
    pub(crate) fn new(tx: Sender<Msg>, shared: Arc<Shared>) -> Self {
        Self { tx, shared }
    }

    /// Appends `payload`. The request is queued at once (in call order); the
    /// future resolves with the record's seq only once it is durable, so the
    /// caller may then send the kissoff. On `Err`, do not acknowledge.
    pub fn append(
        &self,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<u64, JournalError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        self.append_with(
            payload,
            Box::new(move |result| {
                let _ = tx.send(result);
            }),
        );
        async move { rx.await.unwrap_or(Err(JournalError::Closed)) }
    }

    /// Appends `payload` and calls `callback` exactly once with the outcome,
    /// for callers outside the async runtime (media workers). The callback
    /// runs on the journal thread (keep it short: it delays the next group
    /// commit), or on the calling thread if the request is refused at once.
    pub fn append_with(&self, payload: Vec<u8>, callback: Callback) {
        let done = Completion::new(callback);
        if payload.len() > MAX_PAYLOAD {
            let len = payload.len();
            return done.complete(Err(JournalError::TooLarge {
                len,
                max: MAX_PAYLOAD,
            }));
        }
        if let Err(refused) = self.tx.send(Msg::Append { payload, done }) {
            drop(refused); // the Completion answers Closed
        }
    }

    /// False from a failed write or sync until a probe has reopened the
    /// journal, and once the writer has stopped.
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::Acquire)
    }

    /// The health flag itself, for the daemon's readiness check.
    pub fn health_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.shared.healthy)
    }

    /// The highest seq known durable (0 when none). A reader that must not
    /// see records that could still be lost stops here.
    pub fn last_durable_seq(&self) -> u64 {
        self.shared.durable_seq.load(Ordering::Acquire)
    }

    /// Wakes on every group commit with the new [`Self::last_durable_seq`]
    /// (the writer sends after the sync, before completing the appends).
    /// Followers wait on `changed()`; a waiting receiver never delays the
    /// writer.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.durable_tx.subscribe()
    }

    /// Counters since open.
    pub fn stats(&self) -> JournalStats {
        JournalStats {
            records_written: self.shared.records.load(Ordering::Relaxed),
            syncs: self.shared.syncs.load(Ordering::Relaxed),
            write_errors: self.shared.write_errors.load(Ordering::Relaxed),
            outages: self.shared.outages.load(Ordering::Relaxed),
        }
    }

    /// What recovery found when this journal was opened.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.shared.recovery
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Retention: deletes, oldest first, every segment whose records all have
    /// a seq below `seq` (the newest segment is never deleted). Returns how
    /// many segments were removed. A reader already inside a removed segment
    /// keeps reading it; one that has not opened it yet gets an error.
    pub fn remove_segments_before(&self, seq: u64) -> Result<usize, JournalError> {
        format::remove_segments_before(&self.shared.dir, seq)
    }

    /// Completes the appends already queued, stops the writer thread and
    /// releases the directory lock. Later appends fail with
    /// [`JournalError::Closed`]. Blocks until the thread has stopped.
    pub fn close(&self) {
        let _ = self.tx.send(Msg::Close);
        let thread = self.shared.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Test hook: makes the next sync fail as if the disk returned EIO.
    #[cfg(test)]
    pub(crate) fn inject_sync_failure(&self) {
        self.shared.fail_next_sync.store(true, Ordering::Release);
    }

    /// Test hook: an unhealthy journal probes now (unit tests never probe on
    /// the clock). Send it with no append in flight. True when healthy after.
    #[cfg(test)]
    pub(crate) fn probe_now(&self) -> bool {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Probe(tx)).is_err() {
            return false;
        }
        rx.recv().unwrap_or(false)
    }
}
