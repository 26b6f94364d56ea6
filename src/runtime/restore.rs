//! What the node lists again at start from its journal, read on a blocking
//! thread before the SIP listeners open: the callbacks and data alarms no
//! operator resolved before the node stopped
//! ([`crate::switchboard::restore::Pending`]).

use crate::clock;
use crate::journal::{JournalHandle, JournalReader};
use crate::switchboard::restore::Pending;
use std::path::Path;
use std::time::Instant;

/// The unresolved callbacks in `journal`, up to its last durable record.
pub async fn pending_callbacks(journal: &JournalHandle) -> Pending {
    let dir = journal.dir().to_path_buf();
    let upto = journal.last_durable_seq();
    let now = clock::now();
    let read = move || read(&dir, upto, now);
    tokio::task::spawn_blocking(read)
        .await
        .unwrap_or_else(|_| Pending::new(now))
}

fn read(dir: &Path, upto: u64, now: Instant) -> Pending {
    let mut pending = Pending::new(now);
    let reader = match JournalReader::open(dir) {
        Ok(reader) => reader,
        Err(err) => {
            tracing::warn!(%err, "callbacks not listed again: the journal cannot be read");
            return pending;
        }
    };
    for record in reader.read_from(0) {
        match record {
            Ok(r) if r.seq <= upto => pending.record(&r.payload),
            Ok(_) => break,
            Err(err) => {
                tracing::warn!(%err, "journal damage: callbacks listed from the records before it");
                break;
            }
        }
    }
    if pending.unreadable > 0 {
        tracing::warn!(
            records = pending.unreadable,
            "callback events that could not be read"
        );
    }
    pending
}
