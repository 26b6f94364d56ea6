//! Call events into the journal, from the runtime (the call core is pure and
//! only reports [`CallEvent`]s): `alarmgate.call.started` when a call is
//! answered and its media opens, `alarmgate.call.ended` with the reason and
//! duration. Both are about device calls only: an outgoing leg (operator,
//! forward, recall) is part of a call, journalled by the routing events. Appends are fire-and-forget: the SIP driver never waits for the
//! disk (only alarms wait, before their kissoff), and a failed append is
//! logged and counted by the journal, whose health already turns `/readyz`.

// Called by the drivers: the event ids (UUIDv7) draw their random bits here (clippy.toml).
#![allow(clippy::disallowed_methods)]

use crate::call::{CallEvent, CallHandle, EndReason};
use crate::clock;
use crate::events;
use crate::journal::JournalHandle;
use crate::labels::{CallLabels, Caller, TenantId};
use crate::telemetry::metrics as m;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
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

/// Turns the call core's events into journal records. Owned by the SIP driver.
#[derive(Debug)]
pub struct CallEvents {
    journal: Option<JournalHandle>,
    node: Arc<str>,
    calls: HashMap<CallHandle, CallLabels>,
    /// Outgoing legs with media open: their end is not a call's end.
    legs: HashSet<CallHandle>,
}

impl CallEvents {
    /// Writes to `journal` (none: writes nothing) as node `node`.
    pub fn new(journal: Option<JournalHandle>, node: &str) -> Self {
        Self {
            journal,
            node: Arc::from(node),
            calls: HashMap::new(),
            legs: HashSet::new(),
        }
    }

    /// Looks at one event on its way to the media engine.
    pub fn observe(&mut self, event: &CallEvent) {
        let Some(journal) = self.journal.clone() else {
            return;
        };
        if let Some((kind, record)) = self.record_for(event) {
            append(&journal, kind, record);
        }
    }

    /// The journal record an event means, if any. Outgoing legs (operator
    /// offers, forwards, recalls) are not calls of their own: their media
    /// start is remembered by handle and neither it nor their end is written.
    fn record_for(&mut self, event: &CallEvent) -> Option<(&'static str, Vec<u8>)> {
        match event {
            CallEvent::MediaStart {
                call,
                outgoing: true,
                ..
            } => {
                self.legs.insert(*call);
                None
            }
            CallEvent::MediaStart {
                call,
                call_id,
                tenant,
                caller,
                media,
                ..
            } => {
                let info = CallLabels::new(call_id.clone(), tenant.clone(), caller.clone());
                let data = json!({
                    "tenant": tenant,
                    "calling_number": caller,
                    "codec": format!("{:?}", media.codec),
                    "telephone_event": media.telephone_event_pt.is_some(),
                });
                let record = self.record(&info, events::CALL_STARTED, data);
                self.calls.insert(*call, info);
                Some((events::CALL_STARTED, record))
            }
            CallEvent::Ended { call, reason, .. }
                if self.legs.remove(call) || *reason == EndReason::LegFailed =>
            {
                None
            }
            CallEvent::Ended {
                call,
                call_id,
                reason,
                duration,
            } => {
                // A call that never got media (cancelled, refused) has no start record.
                let info = (self.calls.remove(call)).unwrap_or_else(|| {
                    CallLabels::new(call_id.clone(), TenantId::default(), Caller::default())
                });
                let mut data = json!({
                    "reason": reason.as_str(),
                    "duration_ms": duration.as_millis() as u64,
                    "answered": !info.tenant.as_str().is_empty(),
                });
                if !info.tenant.as_str().is_empty() {
                    data["tenant"] = Value::from(info.tenant.as_str());
                    data["calling_number"] = Value::from(info.caller.as_str());
                }
                let record = self.record(&info, events::CALL_ENDED, data);
                Some((events::CALL_ENDED, record))
            }
            // media changes, ringing, probes: not call events
            _ => None,
        }
    }

    fn record(&self, info: &CallLabels, kind: &str, data: Value) -> Vec<u8> {
        events::record(
            &self.node,
            info.call_id.as_str(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::HoldAudio;
    use crate::sip::sdp::{Codec, Direction, NegotiatedMedia};
    use crate::sip::types::CallId;
    use std::time::Duration;

    fn start(call: u64, outgoing: bool) -> CallEvent {
        CallEvent::MediaStart {
            call: CallHandle(call),
            group: CallHandle(1),
            outgoing,
            call_id: CallId::new(format!("c{call}")),
            tenant: "demo".into(),
            caller: "4512345678".into(),
            local_port: 40000,
            media: NegotiatedMedia {
                codec: Codec::Pcma,
                payload_type: 8,
                telephone_event_pt: Some(101),
                remote: None,
                direction: Direction::SendRecv,
                ptime_ms: 20,
                webrtc: None,
            },
            hold: HoldAudio::Silence,
        }
    }

    fn end(call: u64, reason: EndReason) -> CallEvent {
        CallEvent::Ended {
            call: CallHandle(call),
            call_id: CallId::new(format!("c{call}")),
            reason,
            duration: Duration::from_secs(3),
        }
    }

    fn kinds(sink: &mut CallEvents, list: &[CallEvent]) -> Vec<&'static str> {
        list.iter()
            .filter_map(|e| sink.record_for(e).map(|(kind, _)| kind))
            .collect()
    }

    #[test]
    fn device_calls_are_written_and_outgoing_legs_are_not() {
        let mut sink = CallEvents::new(None, "n1");
        let list = [
            start(1, false),
            start(2, true),
            end(3, EndReason::LegFailed),
            end(2, EndReason::RemoteBye),
            end(1, EndReason::BridgePeerHungUp),
            end(4, EndReason::Cancelled),
        ];
        assert_eq!(
            kinds(&mut sink, &list),
            vec![events::CALL_STARTED, events::CALL_ENDED, events::CALL_ENDED]
        );
        assert!(sink.legs.is_empty() && sink.calls.is_empty());
    }

    #[test]
    fn every_end_reason_of_a_device_call_fits_the_schema() {
        let reasons = [
            EndReason::RemoteBye,
            EndReason::Cancelled,
            EndReason::MaxDuration,
            EndReason::NoAck,
            EndReason::Shutdown,
            EndReason::MediaFailed,
            EndReason::Settled,
            EndReason::BridgePeerHungUp,
            EndReason::Forwarded,
            EndReason::HungUp,
        ];
        let mut sink = CallEvents::new(None, "n1");
        for (i, reason) in reasons.into_iter().enumerate() {
            let list = [start(i as u64, false), end(i as u64, reason)];
            for event in &list {
                let (_, bytes) = sink.record_for(event).expect("a record");
                let value: Value = serde_json::from_slice(&bytes).expect("json");
                let problems = crate::bus::schema::validate(&value);
                assert!(problems.is_empty(), "{reason:?}: {problems:?}");
            }
        }
    }
}
