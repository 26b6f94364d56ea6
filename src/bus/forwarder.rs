//! The forwarder task: the journal, in order, to JetStream.
//!
//! It reads only records the journal reports durable
//! ([`JournalHandle::last_durable_seq`]); while idle it sleeps until the
//! journal writer's next group commit wakes it ([`JournalHandle::subscribe`]),
//! or [`FALLBACK_POLL`] at the latest. It publishes up to `max_inflight` of them, then reads their acks in
//! order, advancing the acknowledged position one record at a time. On the
//! first error it backs off (`retry_initial_ms`, doubling to `retry_max_ms`)
//! and resends from the first unacknowledged record with the same ids; the
//! server's duplicate window removes what had arrived after all. The journal
//! writer never waits for it.

// An async driver: it reads the tokio clock for its backoff (clippy.toml).
#![allow(clippy::disallowed_methods)]

use super::ackfile::AckFile;
use super::nats::{Link, LinkError, PendingAck};
use super::tail::Tail;
use super::EventMeta;
use crate::clock;
use crate::config::BusConfig;
use crate::journal::JournalHandle;
use crate::telemetry::metrics as m;
use std::time::{Duration, Instant, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long an idle forwarder sleeps when no group commit wakes it: a
/// safety net only (appends wake it at once).
pub const FALLBACK_POLL: Duration = Duration::from_millis(500);
/// The acknowledged position is saved at most this often while busy (and
/// whenever the forwarder goes idle or stops).
const PERSIST_EVERY: Duration = Duration::from_millis(200);

/// A running forwarder.
pub struct Forwarder {
    stop: watch::Sender<bool>,
    acked: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Forwarder {
    /// Starts forwarding `journal` as `cfg` says; `node` names the client.
    pub fn start(cfg: BusConfig, node: &str, journal: JournalHandle) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let state = State::new(cfg, journal);
        let acked = state.acked_tx.subscribe();
        let node = node.to_string();
        let task = tokio::spawn(async move { state.run(node, stop_rx).await });
        Self { stop, acked, task }
    }

    /// The highest journal seq the bus acknowledged (from `bus-acked.json`
    /// at start, then as acks arrive): journal retention keeps every
    /// segment after it.
    pub fn acked(&self) -> watch::Receiver<u64> {
        self.acked.clone()
    }

    /// Stops after the batch in flight (waiting at most `grace`) and saves the position.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("bus forwarder did not stop in time");
            abort.abort();
        }
    }
}

/// One record sent: its ack to read (None for a record that was not an
/// event) with the event's time, and when it was sent.
struct InFlight {
    seq: u64,
    ack: Option<(PendingAck, Option<u64>)>,
    sent_at: Instant,
}

struct State {
    cfg: BusConfig,
    journal: JournalHandle,
    acks: AckFile,
    tail: Tail,
    acked: u64,
    acked_tx: watch::Sender<u64>,
    durable: watch::Receiver<u64>,
    persisted: u64,
    persisted_at: Instant,
    /// The seq and id time of the oldest record read and not acknowledged.
    head: Option<(u64, u64)>,
}

impl State {
    fn new(cfg: BusConfig, journal: JournalHandle) -> Self {
        let acks = AckFile::new(journal.dir(), &cfg.stream);
        let commits = journal.subscribe();
        let mut acked = acks.load().unwrap_or_else(|err| {
            tracing::error!(%err, "cannot read the bus position: forwarding the whole journal");
            0
        });
        let durable = journal.last_durable_seq();
        if acked > durable {
            tracing::warn!(
                acked,
                durable,
                "bus position is past the journal's end: continuing at the end"
            );
            acked = durable;
        }
        tracing::info!(stream = %cfg.stream, url = %cfg.url, resume_after = acked, backlog = durable - acked, "bus forwarder starting");
        Self {
            tail: Tail::new(journal.dir(), acked + 1),
            acks,
            cfg,
            journal,
            acked,
            acked_tx: watch::Sender::new(acked),
            durable: commits,
            persisted: acked,
            persisted_at: clock::now(),
            head: None,
        }
    }

    async fn run(mut self, node: String, mut stop: watch::Receiver<bool>) {
        let mut delay = self.cfg.retry_initial();
        let mut link: Option<Link> = None;
        metrics::gauge!(m::BUS_UP).set(0.0);
        while !*stop.borrow() {
            let result = self.session(&node, &mut link, &mut stop, &mut delay).await;
            metrics::gauge!(m::BUS_UP).set(0.0);
            let Err(err) = result else { break };
            metrics::counter!(m::BUS_ERRORS, "kind" => err.kind()).increment(1);
            tracing::warn!(%err, retry_in_ms = delay.as_millis() as u64, acked = self.acked, "bus forwarding failed; retrying");
            self.tail.seek(self.acked + 1);
            self.head = None;
            self.persist(true).await;
            self.backoff(delay, &mut stop).await;
            delay = (delay * 2).min(self.cfg.retry_max());
        }
        self.persist(true).await;
        tracing::info!(acked = self.acked, "bus forwarder stopped");
    }

    /// Connects (once), checks the stream, then forwards until stopped or an error.
    async fn session(
        &mut self,
        node: &str,
        link: &mut Option<Link>,
        stop: &mut watch::Receiver<bool>,
        delay: &mut Duration,
    ) -> Result<(), LinkError> {
        let current = match link {
            Some(l) => l.clone(),
            None => {
                let l = Link::connect(&self.cfg, node).await?;
                *link = Some(l.clone());
                l
            }
        };
        current.ensure_stream(&self.cfg).await?;
        tracing::info!(stream = %self.cfg.stream, "bus stream ready; forwarding");
        metrics::gauge!(m::BUS_UP).set(1.0);
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            // seen: a commit from here on wakes the wait below
            self.durable.borrow_and_update();
            self.gauges();
            let batch = self.read_batch()?;
            if batch.is_empty() {
                self.persist(true).await;
                idle(&mut self.durable, stop, FALLBACK_POLL).await;
                continue;
            }
            self.forward(&current, batch).await?;
            *delay = self.cfg.retry_initial();
            self.persist(false).await;
        }
    }

    /// Up to `max_inflight` durable records after the acknowledged ones.
    fn read_batch(&mut self) -> Result<Vec<crate::journal::Record>, LinkError> {
        let durable = self.journal.last_durable_seq();
        let mut batch = Vec::new();
        while batch.len() < self.cfg.max_inflight as usize {
            match self.tail.next_record(Some(durable)) {
                Ok(Some(record)) => batch.push(record),
                Ok(None) => break,
                Err(err) => {
                    metrics::counter!(m::BUS_ERRORS, "kind" => "journal").increment(1);
                    return Err(LinkError::Publish(format!("reading the journal: {err}")));
                }
            }
        }
        Ok(batch)
    }

    /// Publishes the batch, then reads the acks in order.
    async fn forward(
        &mut self,
        link: &Link,
        batch: Vec<crate::journal::Record>,
    ) -> Result<(), LinkError> {
        let mut pending: Vec<InFlight> = Vec::new();
        for record in batch {
            let sent_at = clock::now();
            let Some(meta) = EventMeta::parse(&record.payload) else {
                tracing::error!(
                    seq = record.seq,
                    "journal record is not a CloudEvent: not forwarded"
                );
                metrics::counter!(m::BUS_ERRORS, "kind" => "invalid_record").increment(1);
                pending.push(InFlight {
                    seq: record.seq,
                    ack: None,
                    sent_at,
                });
                continue;
            };
            if self.head.is_none() {
                self.head = meta.unix_ms().map(|ms| (record.seq, ms));
            }
            let ack = link.publish(&meta, record.seq, record.payload).await?;
            pending.push(InFlight {
                seq: record.seq,
                ack: Some((ack, meta.unix_ms())),
                sent_at,
            });
        }
        for InFlight { seq, ack, sent_at } in pending {
            if let Some((ack, event_ms)) = ack {
                let acked = ack.wait().await?;
                metrics::histogram!(m::BUS_ACK_SECONDS).record(sent_at.elapsed().as_secs_f64());
                if let Some(ms) = event_ms {
                    metrics::histogram!(m::BUS_EVENT_LATENCY).record(age_seconds(ms));
                }
                if acked.duplicate {
                    metrics::counter!(m::BUS_DUPLICATES).increment(1);
                }
                metrics::counter!(m::BUS_FORWARDED).increment(1);
            }
            self.acked = seq;
            self.acked_tx.send_replace(seq);
            if self.head.is_some_and(|(s, _)| s <= seq) {
                self.head = None;
            }
        }
        Ok(())
    }

    /// Backlog size and age, and the acknowledged position.
    fn gauges(&self) {
        let backlog = self.journal.last_durable_seq().saturating_sub(self.acked);
        metrics::gauge!(m::BUS_BACKLOG).set(backlog as f64);
        metrics::gauge!(m::BUS_ACKED_SEQ).set(self.acked as f64);
        let age = match self.head {
            Some((_, ms)) if backlog > 0 => age_seconds(ms),
            _ => 0.0,
        };
        metrics::gauge!(m::BUS_BACKLOG_AGE).set(age);
    }

    /// Sleeps `delay` (keeping the gauges fresh), or until stopped.
    async fn backoff(&mut self, delay: Duration, stop: &mut watch::Receiver<bool>) {
        let until = tokio::time::Instant::now() + delay;
        while tokio::time::Instant::now() < until && !*stop.borrow() {
            if self.head.is_none() {
                // learn the oldest record's age for the gauge
                if let Ok(Some(r)) = self.tail.next_record(Some(self.journal.last_durable_seq())) {
                    self.head = EventMeta::parse(&r.payload)
                        .and_then(|meta| meta.unix_ms())
                        .map(|ms| (r.seq, ms));
                }
                self.tail.seek(self.acked + 1);
            }
            self.gauges();
            let step = until
                .saturating_duration_since(tokio::time::Instant::now())
                .min(Duration::from_millis(250));
            tokio::select! {
                _ = tokio::time::sleep(step) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Saves the acknowledged position if it moved (at most every
    /// [`PERSIST_EVERY`] unless `force`).
    async fn persist(&mut self, force: bool) {
        if self.acked == self.persisted || (!force && self.persisted_at.elapsed() < PERSIST_EVERY) {
            return;
        }
        let (acks, seq) = (self.acks.clone(), self.acked);
        match tokio::task::spawn_blocking(move || acks.store(seq)).await {
            Ok(Ok(())) => {
                self.persisted = seq;
                self.persisted_at = clock::now();
            }
            Ok(Err(err)) => tracing::error!(%err, seq, "cannot save the bus position"),
            Err(err) => tracing::error!(%err, "bus position task failed"),
        }
    }
}

/// Waits for the next group commit, a stop, or `fallback` at most.
async fn idle(
    durable: &mut watch::Receiver<u64>,
    stop: &mut watch::Receiver<bool>,
    fallback: Duration,
) {
    tokio::select! {
        _ = durable.changed() => {}
        _ = tokio::time::sleep(fallback) => {}
        _ = stop.changed() => {}
    }
}

/// Seconds from a Unix-millisecond time to now (0 if in the future).
fn age_seconds(unix_ms: u64) -> f64 {
    let now_ms = clock::wall()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    now_ms.saturating_sub(unix_ms) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant as TokioInstant;

    #[tokio::test(start_paused = true)]
    async fn idle_wakes_on_a_group_commit_and_polls_only_as_a_fallback() {
        let (commits, mut durable) = watch::channel(0u64);
        let (_stop_tx, mut stop) = watch::channel(false);
        durable.borrow_and_update();
        // nothing committed: back after the fallback, in simulated time
        let t = TokioInstant::now();
        idle(&mut durable, &mut stop, FALLBACK_POLL).await;
        assert_eq!(t.elapsed(), FALLBACK_POLL);
        // committed between reading and waiting: no wait at all
        commits.send_replace(5);
        let t = TokioInstant::now();
        idle(&mut durable, &mut stop, FALLBACK_POLL).await;
        assert_eq!(t.elapsed(), Duration::ZERO);
        assert_eq!(*durable.borrow_and_update(), 5);
        // committed while waiting: woken then, not at the next poll
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(7)).await;
            commits.send_replace(6);
            commits
        });
        let t = TokioInstant::now();
        idle(&mut durable, &mut stop, FALLBACK_POLL).await;
        assert_eq!(t.elapsed(), Duration::from_millis(7));
        assert_eq!(*durable.borrow_and_update(), 6);
        drop(writer.await);
    }
}
