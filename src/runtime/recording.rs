//! Call recording in the daemon: the writer thread with its events going to
//! the journal, and the hourly retention sweep (see [`crate::recording`]).
//!
//! Nothing here can stop a call: a writer that cannot start is logged and
//! counted, and the node runs without recording.

use crate::config::Config;
use crate::journal::JournalHandle;
use crate::recording::retention::{self, SWEEP_EVERY};
use crate::recording::store::Store;
use crate::recording::writer::{EventSink, RecorderHandle};
use crate::recording::Recorder;
use crate::telemetry::metrics as m;
use std::sync::Arc;

/// Journal events of the recording side: (type, subject, data) to a record.
pub fn journal_sink(journal: &JournalHandle, node: &str) -> EventSink {
    let (journal, node) = (journal.clone(), node.to_string());
    Box::new(move |kind, subject, data| {
        let payload = crate::events::record(
            &node,
            subject,
            kind,
            crate::clock::wall(),
            rand::random(),
            data,
        );
        crate::bus::emit::append(&journal, kind, payload);
    })
}

/// Starts the writer and the retention sweep when any tenant records;
/// None when none does (or the writer thread could not start).
pub fn start(config: &Config, journal: &JournalHandle) -> Option<Recorder> {
    let tenants = Arc::new(config.recording_tenants());
    let store = Store::new(&config.recording.dir);
    // retention runs even when recording was turned off: old files still expire
    spawn_sweep(
        store.clone(),
        tenants.clone(),
        journal_sink(journal, &config.node.name),
    );
    if !tenants.values().any(|t| t.enabled) {
        return None;
    }
    let sink = journal_sink(journal, &config.node.name);
    let capacity = config.recording.queue_frames as usize;
    match RecorderHandle::spawn(store, sink, capacity) {
        Ok(writer) => Some(Recorder { writer, tenants }),
        Err(err) => {
            tracing::error!(%err, "cannot start the recording writer: calls are not recorded");
            metrics::counter!(m::RECORDING_FAILURES, "reason" => "writer").increment(1);
            None
        }
    }
}

fn spawn_sweep(
    store: Store,
    tenants: Arc<
        std::collections::HashMap<crate::labels::TenantId, crate::recording::TenantRecording>,
    >,
    sink: EventSink,
) {
    let sink = Arc::new(std::sync::Mutex::new(sink));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            let (store, tenants, sink) = (store.clone(), tenants.clone(), sink.clone());
            let swept = tokio::task::spawn_blocking(move || {
                let sink = sink
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                retention::sweep(&store, &tenants, crate::clock::wall(), &sink)
            })
            .await;
            match swept {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "recording retention"),
                Err(err) => tracing::warn!(%err, "recording retention sweep failed"),
            }
        }
    });
}
