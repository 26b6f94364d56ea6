//! Call events into the journal, from the runtime (the call core is pure and
//! only reports [`CallEvent`]s): `alarmgate.call.started` when a call is
//! answered and its media opens, `alarmgate.call.ended` with the reason and
//! duration. Appends are fire-and-forget: the SIP driver never waits for the
//! disk (only alarms wait, before their kissoff), and a failed append is
//! logged and counted by the journal, whose health already turns `/readyz`.

use crate::call::{CallEvent, CallHandle};
use crate::clock;
use crate::events;
use crate::journal::JournalHandle;
use crate::telemetry::metrics as m;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Appends `payload` (an event of `kind`) without waiting; counts it once durable.
pub fn append(journal: &JournalHandle, kind: &'static str, payload: Vec<u8>) {
    journal.append_with(
        payload,
        Box::new(move |result| match result {
            Ok(_) => metrics::counter!(m::EVENTS_WRITTEN, "type" => short(kind)).increment(1),
            Err(err) => tracing::warn!(%err, kind, "event not stored"),
        }),
    );
}

/// The type without its `alarmgate.` prefix, for metric labels.
pub fn short(kind: &'static str) -> &'static str {
    kind.strip_prefix("alarmgate.").unwrap_or(kind)
}

#[derive(Debug, Clone)]
struct CallInfo {
    call_id: String,
    tenant: String,
    caller: String,
}

/// Turns the call core's events into journal records. Owned by the SIP driver.
#[derive(Debug)]
pub struct CallEvents {
    journal: Option<JournalHandle>,
    node: Arc<str>,
    calls: HashMap<CallHandle, CallInfo>,
}

impl CallEvents {
    /// Writes to `journal` (none: writes nothing) as node `node`.
    pub fn new(journal: Option<JournalHandle>, node: &str) -> Self {
        Self {
            journal,
            node: Arc::from(node),
            calls: HashMap::new(),
        }
    }

    /// Looks at one event on its way to the media engine.
    pub fn observe(&mut self, event: &CallEvent) {
        let Some(journal) = self.journal.clone() else {
            return;
        };
        match event {
            CallEvent::MediaStart {
                call,
                call_id,
                tenant,
                caller,
                media,
                ..
            } => {
                let info = CallInfo {
                    call_id: call_id.to_string(),
                    tenant: tenant.clone(),
                    caller: caller.clone(),
                };
                let data = json!({
                    "tenant": tenant,
                    "calling_number": caller,
                    "codec": format!("{:?}", media.codec),
                    "telephone_event": media.telephone_event_pt.is_some(),
                });
                let record = self.record(&info, events::CALL_STARTED, data);
                append(&journal, events::CALL_STARTED, record);
                self.calls.insert(*call, info);
            }
            CallEvent::Ended {
                call,
                call_id,
                reason,
                duration,
            } => {
                // A call that never got media (cancelled, refused) has no start record.
                let info = self.calls.remove(call).unwrap_or_else(|| CallInfo {
                    call_id: call_id.to_string(),
                    tenant: String::new(),
                    caller: String::new(),
                });
                let mut data = json!({
                    "reason": reason.as_str(),
                    "duration_ms": duration.as_millis() as u64,
                    "answered": !info.tenant.is_empty(),
                });
                if !info.tenant.is_empty() {
                    data["tenant"] = Value::from(info.tenant.as_str());
                    data["calling_number"] = Value::from(info.caller.as_str());
                }
                let record = self.record(&info, events::CALL_ENDED, data);
                append(&journal, events::CALL_ENDED, record);
            }
            // media changes and the operator legs are not call events (yet)
            _ => {}
        }
    }

    fn record(&self, info: &CallInfo, kind: &str, data: Value) -> Vec<u8> {
        events::record(
            &self.node,
            &info.call_id,
            kind,
            clock::wall(),
            rand::random(),
            data,
        )
    }
}

/// The JSON bytes of an `alarmgate.alarm.acknowledged` event: the kissoff of
/// the stored alarm `received_id` went out `kissoff_after_ms` after its last digit.
pub fn alarm_acknowledged(
    node: &str,
    call_id: &str,
    tenant: &str,
    calling_number: &str,
    received_id: Option<&str>,
    duplicate: bool,
    kissoff_after_ms: u64,
) -> Vec<u8> {
    let data = json!({
        "tenant": tenant,
        "calling_number": calling_number,
        "received_id": received_id,
        "duplicate": duplicate,
        "kissoff_after_ms": kissoff_after_ms,
    });
    events::record(
        node,
        call_id,
        events::ALARM_ACKNOWLEDGED,
        clock::wall(),
        rand::random(),
        data,
    )
}
