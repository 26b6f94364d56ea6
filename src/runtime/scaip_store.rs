//! Store, then answer: the one place a SCAIP request meets the journal.
//!
//! The switchboard hands over [`Output::Store`](crate::switchboard::Output)
//! with the alarm core's record (`alarmgate.alarm.received`, or
//! `alarmgate.unit.heartbeat`); this appends it and, once
//! the journal has synced it (or failed), sends the outcome back to the SIP
//! driver, which tells the switchboard ([`Switchboard::scaip_stored`]): a
//! `<mrs>` with `snu=0` only for what is durable. Without a journal nothing
//! is durable, so nothing is acknowledged. The channel is unbounded because
//! the callback runs on the journal thread and must never block or drop an
//! outcome; its length is bounded by the MESSAGEs admitted.
//!
//! [`Switchboard::scaip_stored`]: crate::switchboard::Switchboard::scaip_stored

use crate::clock;
use crate::journal::JournalHandle;
use crate::switchboard::scaip::StoreToken;
use crate::switchboard::EventRecord;
use crate::telemetry::metrics as m;
use tokio::sync::mpsc::UnboundedSender;

/// A store's outcome: durable or not.
pub type Stored = (StoreToken, bool);

/// Appends `record`; reports `(token, durable)` on `done` exactly once.
pub fn store_then_answer(
    journal: Option<&JournalHandle>,
    node: &str,
    token: StoreToken,
    record: EventRecord,
    done: &UnboundedSender<Stored>,
) {
    let Some(journal) = journal else {
        let _ = done.send((token, false));
        return;
    };
    let payload = crate::events::record(
        node,
        &record.subject,
        record.kind,
        clock::wall(),
        rand::random(),
        record.data,
    );
    let done = done.clone();
    journal.append_with(
        payload,
        Box::new(move |result| {
            match &result {
                Ok(_) => {
                    let kind = crate::bus::emit::short(record.kind);
                    metrics::counter!(m::EVENTS_WRITTEN, "type" => kind).increment(1)
                }
                Err(err) => tracing::error!(%err, "journal append failed: no snu=0"),
            }
            let _ = done.send((token, result.is_ok()));
        }),
    );
}
