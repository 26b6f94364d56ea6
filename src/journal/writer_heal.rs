//! The writer's outage handling: waiting for requests while probing on the
//! [`heal`](super::super::heal) schedule, turning unhealthy on a failure,
//! and resuming on a new segment once a probe succeeds.

use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use super::{Writer, MANUAL_PROBES};
use crate::journal::format;
use crate::journal::handle::Msg;
use crate::journal::heal::Outage;
use crate::journal::reopen::{self, DurableEnd};
use crate::journal::{JournalError, OUTAGES, OUTAGE_SECONDS, UNHEALTHY_SECONDS, WRITE_ERRORS};

impl Writer {
    /// Waits for the next request; during an outage, probes when one is due
    /// (before taking more requests, so a steady stream cannot starve it).
    /// None when every handle is gone.
    pub(super) fn next_msg(&mut self, rx: &Receiver<Msg>) -> Option<Msg> {
        let msg = self.receive(rx)?;
        #[cfg(test)]
        if let Msg::Probe(reply) = msg {
            let healed = self.outage.is_none() || self.probe(crate::clock::now());
            let _ = reply.send(healed);
            return self.next_msg(rx);
        }
        Some(msg)
    }

    /// The next message, probing whenever a probe falls due meanwhile.
    fn receive(&mut self, rx: &Receiver<Msg>) -> Option<Msg> {
        loop {
            let due = self.outage.as_ref().map(Outage::next_probe);
            let Some(due) = due.filter(|_| !MANUAL_PROBES) else {
                return rx.recv().ok();
            };
            let now = crate::clock::now();
            if now >= due {
                self.probe(now);
                continue;
            }
            match rx.recv_timeout(due - now) {
                Ok(msg) => return Some(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Turns unhealthy: appends are refused until a probe reopens the
    /// journal. This file descriptor is never written again.
    pub(super) fn fail(&mut self, e: &JournalError, failed_appends: usize) {
        self.buf.clear();
        self.shared.healthy.store(false, Ordering::Release);
        self.shared.write_errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(WRITE_ERRORS).increment(1);
        if self.outage.is_none() {
            self.outage = Some(Outage::begin(crate::clock::now()));
            self.shared.outages.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(OUTAGES).increment(1);
        }
        tracing::error!(error = %e, failed_appends, "journal: write failed; refusing appends and probing every 1-5 s until the disk takes writes again");
    }

    /// Tries to heal: a probe write, then a reopen on a new segment. True
    /// when the journal is healthy again.
    fn probe(&mut self, now: Instant) -> bool {
        let Some(outage) = self.outage.as_mut() else {
            return true;
        };
        metrics::gauge!(UNHEALTHY_SECONDS).set(outage.duration(now).as_secs_f64());
        let dir = &self.config.dir;
        let next = self.shared.durable_seq.load(Ordering::Acquire) + 1;
        let reopened = reopen::probe(dir, self.config.sync)
            .and_then(|()| reopen::reopen(dir, &self.durable_end, next, self.config.sync));
        match reopened {
            Ok(file) => {
                self.resume(file, next, now);
                true
            }
            Err(e) => {
                outage.probe_failed(now);
                let failed_probes = outage.failed_probes();
                tracing::warn!(error = %e, failed_probes, "journal: still cannot write");
                false
            }
        }
    }

    /// Continues on the new segment `file`, which starts at `next`.
    fn resume(&mut self, file: File, next: u64, now: Instant) {
        let path = format::segment_path(&self.config.dir, next);
        self.file = file;
        self.durable_end = DurableEnd {
            path: path.clone(),
            first_seq: next,
            len: 0,
        };
        self.path = path;
        self.seg_first = next;
        self.seg_len = 0;
        self.next_seq = next;
        self.buf.clear();
        let lasted = self
            .outage
            .take()
            .map(|o| o.duration(now))
            .unwrap_or_default();
        metrics::histogram!(OUTAGE_SECONDS).record(lasted.as_secs_f64());
        metrics::gauge!(UNHEALTHY_SECONDS).set(0.0);
        self.shared.healthy.store(true, Ordering::Release);
        tracing::info!(
            outage_seconds = lasted.as_secs_f64(),
            next_seq = next,
            "journal: writable again on a new segment; accepting appends"
        );
    }
}
