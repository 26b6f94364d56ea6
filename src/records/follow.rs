//! Keeping the records up to date: [`catch_up`] applies every durable
//! journal record after the store's applied seq, in batches (one
//! transaction each); [`Follower`] runs it in the daemon whenever the
//! journal's durable seq moves (the bus forwarder's pattern), and feeds
//! finished calls to the frequent-caller [`Detector`], writing an
//! `alarmgate.caller.frequent` event per crossing.
//!
//! Crossings found while replaying records that were already in the journal
//! when the daemon started are not written again (the earlier run wrote
//! them, or the daemon was down); the API's list is computed from the rows
//! and is complete either way.

// The runtime layer: event ids draw random bits and the wall clock here (clippy.toml).
#![allow(clippy::disallowed_methods)]

use super::event::JournalEvent;
use super::frequent::{Crossing, Detector, CALLER_FREQUENT, CROSSINGS};
use super::store::{RecordsError, Store};
use super::CallRecord;
use crate::journal::{JournalHandle, JournalReader};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Events per transaction.
pub const BATCH: usize = 2000;
/// Gauge: the last journal seq applied to the call records.
pub const APPLIED_SEQ: &str = "alarmgate_records_applied_seq";
/// Counter: events applied to the call records.
pub const EVENTS_APPLIED: &str = "alarmgate_records_events_applied_total";
/// Counter: failed projection passes (SQLite or journal errors; retried at the next commit).
pub const ERRORS: &str = "alarmgate_records_errors_total";

/// What a catch-up pass did.
#[derive(Debug, Default)]
pub struct Progress {
    /// Events applied.
    pub events: u64,
    /// Crossings found in records after `live_from`.
    pub crossings: Vec<Crossing>,
}

/// Applies the journal's records `(applied, durable]` to `store`; a store
/// ahead of the journal (a replaced journal) is reset and rebuilt first.
/// Calls that finish are shown to `detector`; crossings at seqs above
/// `live_from` are returned.
pub fn catch_up(
    store: &mut Store,
    reader: &JournalReader,
    durable: u64,
    detector: &mut Detector,
    live_from: u64,
) -> Result<Progress, RecordsError> {
    if store.applied_seq()? > durable {
        tracing::warn!(path = %store.path().display(), "call records are ahead of the journal: rebuilding");
        store.reset()?;
    }
    let applied = store.applied_seq()?;
    let mut progress = Progress::default();
    if applied >= durable {
        return Ok(progress);
    }
    let (mut batch, mut last) = (Vec::with_capacity(BATCH), applied);
    let mut after = applied;
    let mut records = reader.read_from(applied + 1);
    loop {
        let next = records.next().transpose()?.filter(|r| r.seq <= durable);
        if let Some(record) = &next {
            last = record.seq;
            batch.extend(JournalEvent::parse(record.seq, &record.payload));
        }
        let done = next.is_none();
        if batch.len() >= BATCH || (done && last > after) {
            let seqs = (after, last);
            flush(store, &mut batch, seqs, detector, live_from, &mut progress)?;
            after = last;
        }
        if done {
            break;
        }
    }
    Ok(progress)
}

fn flush(
    store: &mut Store,
    batch: &mut Vec<JournalEvent>,
    (after, last): (u64, u64),
    detector: &mut Detector,
    live_from: u64,
    progress: &mut Progress,
) -> Result<(), RecordsError> {
    let applied = store.apply_batch(batch, after, last)?;
    let rows: HashMap<&str, &CallRecord> = applied
        .rows
        .iter()
        .map(|r| (r.call_id.as_str(), r))
        .collect();
    for e in batch.iter().filter(|e| finishes_call(e)) {
        let key = applied.aliases.get(&e.subject).unwrap_or(&e.subject);
        let Some(row) = rows.get(key.as_str()).filter(|r| counts_at(e, r)) else {
            continue;
        };
        let class = row.class.as_deref().unwrap_or("voice");
        let found = detector.observe(
            &row.tenant,
            &row.caller,
            class,
            row.received_ms.unwrap_or(e.time_ms),
        );
        if e.seq > live_from {
            progress.crossings.extend(found);
        }
    }
    progress.events += batch.len() as u64;
    metrics::gauge!(APPLIED_SEQ).set(last as f64);
    batch.clear();
    Ok(())
}

/// True for the event after which a call counts once: its end, or a data
/// alarm (an IP protocol's alarm is a whole call in one event).
pub fn finishes_call(e: &JournalEvent) -> bool {
    match e.kind.as_str() {
        "alarmgate.call.ended" => e.str("tenant").is_some(),
        "alarmgate.recall.ended" => true,
        "alarmgate.alarm.received" => !matches!(e.str("protocol"), None | Some("contact_id")),
        _ => false,
    }
}

/// False for the end of a voice call that carried a data alarm (a SCAIP
/// alarm linked to it): the call counted once, at its alarm.
fn counts_at(e: &JournalEvent, row: &CallRecord) -> bool {
    e.kind != "alarmgate.call.ended" || matches!(row.protocol.as_str(), "voice" | "contact_id" | "")
}

/// The JSON bytes of an `alarmgate.caller.frequent` event.
pub fn crossing_record(
    node: &str,
    c: &Crossing,
    time: std::time::SystemTime,
    random: u128,
) -> Vec<u8> {
    let data = json!({
        "tenant": c.tenant,
        "calling_number": c.caller,
        "window": c.window.as_str(),
        "count": c.count,
        "threshold": c.threshold,
        "call_time": crate::events::rfc3339(std::time::Duration::from_millis(c.at_ms.max(0) as u64)),
    });
    crate::events::record(node, &c.caller, CALLER_FREQUENT, time, random, data)
}

/// Registers the records' metrics with their help texts.
pub fn describe() {
    metrics::describe_gauge!(
        APPLIED_SEQ,
        "The last journal seq applied to the call records"
    );
    metrics::describe_counter!(EVENTS_APPLIED, "Journal events applied to the call records");
    metrics::describe_counter!(
        ERRORS,
        "Failed call-record projection passes (retried at the next commit)"
    );
    metrics::describe_counter!(
        CROSSINGS,
        "Frequent-caller threshold crossings, by tenant and window"
    );
}

#[derive(Debug)]
struct State {
    store: Store,
    detector: Detector,
}

/// The daemon's projection task.
#[derive(Debug)]
pub struct Follower {
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Follower {
    /// Opens the store at `path` and starts following `journal`.
    pub fn start(
        path: PathBuf,
        journal: JournalHandle,
        node: &str,
        mut detector: Detector,
    ) -> Result<Self, RecordsError> {
        describe();
        let store = Store::open(&path)?;
        let now_ms = crate::clock::wall()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let since = now_ms - super::frequent::Window::Month.millis();
        for (tenant, caller, class, at) in store.finished_since(since)? {
            detector.observe(&tenant, &caller, &class, at);
        }
        let reader = JournalReader::open(journal.dir())?;
        let state = Arc::new(Mutex::new(State { store, detector }));
        let (stop, stop_rx) = watch::channel(false);
        let live_from = journal.last_durable_seq();
        let task = tokio::spawn(run(
            state.clone(),
            reader,
            journal,
            Arc::from(node),
            live_from,
            stop_rx,
        ));
        Ok(Self { state, stop, task })
    }

    /// New frequent-caller thresholds (a reloaded config); the calls seen are kept.
    pub fn set_thresholds(&self, thresholds: HashMap<String, super::frequent::Thresholds>) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        guard.detector.set_thresholds(thresholds);
    }

    /// Stops after the pass in progress.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(
    state: Arc<Mutex<State>>,
    reader: JournalReader,
    journal: JournalHandle,
    node: Arc<str>,
    live_from: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut commits = journal.subscribe();
    loop {
        let durable = journal.last_durable_seq();
        let (state2, reader2) = (state.clone(), reader.clone());
        let pass = tokio::task::spawn_blocking(move || {
            let mut guard = state2.lock().unwrap_or_else(|p| p.into_inner());
            let State { store, detector } = &mut *guard;
            catch_up(store, &reader2, durable, detector, live_from)
                .map(|p| (p, store.applied_seq().unwrap_or(0)))
        });
        match pass.await {
            Ok(Ok((progress, applied))) => report(&journal, &node, progress, applied),
            Ok(Err(err)) => {
                metrics::counter!(ERRORS).increment(1);
                tracing::warn!(%err, "call records: projection pass failed; retrying at the next commit");
            }
            Err(err) => tracing::warn!(%err, "call records: projection task failed"),
        }
        tokio::select! {
            changed = commits.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
    }
}

fn report(journal: &JournalHandle, node: &str, progress: Progress, applied: u64) {
    metrics::gauge!(APPLIED_SEQ).set(applied as f64);
    metrics::counter!(EVENTS_APPLIED).increment(progress.events);
    for c in progress.crossings {
        metrics::counter!(CROSSINGS, "tenant" => c.tenant.clone(), "window" => c.window.as_str())
            .increment(1);
        tracing::info!(tenant = %c.tenant, window = c.window.as_str(), count = c.count, "frequent caller");
        let record = crossing_record(node, &c, crate::clock::wall(), rand::random());
        crate::bus::emit::append(journal, CALLER_FREQUENT, record);
    }
}
