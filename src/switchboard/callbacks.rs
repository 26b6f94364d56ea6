//! Unconfirmed alarms and their callbacks (issue 9 item 5), and alarms that
//! came as data (issue 10).
//!
//! A unit whose Contact ID message never decoded is queued with class
//! [`CallClass::Unconfirmed`], carrying what was heard
//! ([`UnconfirmedAlarm`]). If the unit hangs up before a person took the
//! call (units then dial their backup number), the entry stays as a
//! **callback**: listed by `GET /api/v1/calls` (state `callback`) and
//! `GET /api/v1/queues` in its tenant's default queue, with the caller
//! number, tenant, what was heard and the `recall` body `POST /api/v1/calls`
//! needs. It leaves the list when an operator recalls that number for that
//! tenant, or a disposition is given to its id; an `alarmgate.call.callback`
//! event marks its creation and `alarmgate.call.callback_resolved` its end.
//!
//! An alarm that came as **data** ([`DataAlarm`]: SCAIP with no voice
//! call, SIA DC-09, a unit that failed to report) is listed the same way at
//! once, with its class, protocol, decoded fields and the recall of its
//! unit's number when it has one.
//!
//! The list lives in memory and is rebuilt at start from the journal's
//! `call.callback` and `call.callback_resolved` events (see `restore`).

use super::{EventRecord, Output, Switchboard};
use crate::alarm::heard::{Heard, HeardSummary};
use crate::alarm::report::DataAlarm;
use crate::alarm::EventCode;
use crate::call::CallHandle;
use crate::labels::{CallLabels, Caller, TenantId};
use crate::routing::{CallClass, QueueId};
use serde_json::json;
use std::time::Instant;

/// The CloudEvents type of a new callback entry.
pub const CALL_CALLBACK: &str = "alarmgate.call.callback";
/// The CloudEvents type of a callback entry leaving the list.
pub const CALL_CALLBACK_RESOLVED: &str = "alarmgate.call.callback_resolved";

/// At most this many callbacks are listed; beyond, the oldest is dropped
/// (logged; the journal still has it).
const MAX_CALLBACKS: usize = 10_000;

/// An alarm call whose message never decoded, as the alarm leg reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnconfirmedAlarm {
    /// The device call's SIP Call-ID (the entry's public id), its tenant
    /// and the caller (the unit's number).
    pub labels: CallLabels,
    /// What was heard of the failed attempts.
    pub heard: Heard,
    /// A decoded event code of the same call, if an earlier message got through.
    pub event_code: Option<EventCode>,
}

/// One callback waiting for an operator.
#[derive(Debug, Clone)]
pub(crate) struct Callback {
    /// The entry's public id, tenant and the unit's number (or account).
    pub labels: CallLabels,
    /// The class it is listed with.
    pub class: CallClass,
    /// A decoded event code, if any.
    pub event_code: Option<EventCode>,
    /// What the entry holds.
    pub detail: Detail,
    /// When it was listed (the unit hung up, or the data alarm came).
    pub since: Instant,
    /// The tenant's default queue, where it is listed.
    pub queue: Option<QueueId>,
}

/// What a callback entry holds.
#[derive(Debug, Clone)]
pub(crate) enum Detail {
    /// An unconfirmed alarm: what was heard of its attempts.
    Heard(HeardSummary),
    /// An alarm that came as data.
    Data(Box<DataAlarm>),
}

impl Callback {
    /// The number a recall calls.
    pub fn recall_number(&self) -> Option<&Caller> {
        match &self.detail {
            Detail::Heard(_) => Some(&self.labels.caller),
            Detail::Data(alarm) => alarm.recall.as_ref(),
        }
    }
}

/// How a callback left the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution<'a> {
    /// An operator recalled the number: the recall's public id.
    Recalled { recall_id: &'a str },
    /// A disposition was given to the entry's id.
    Disposition { disposition: &'a str },
}

impl Switchboard {
    /// An alarm leg's unconfirmed alarm: queued like any call needing a
    /// person when the call is still up, else kept as a callback at once.
    pub fn queue_unconfirmed(&mut self, now: Instant, call: CallHandle, alarm: UnconfirmedAlarm) {
        let Some(device) = self.devices.get_mut(&call) else {
            return self.add_callback(now, alarm);
        };
        let code = alarm.event_code.clone();
        device.unconfirmed = Some(alarm);
        self.queue(now, call, CallClass::Unconfirmed, code);
    }

    /// A device call ended: an unconfirmed alarm no person took becomes a callback.
    pub(crate) fn unconfirmed_ended(&mut self, now: Instant, device: &super::Device) {
        if let (Some(alarm), false) = (&device.unconfirmed, device.served) {
            self.add_callback(now, alarm.clone());
        }
    }

    fn add_callback(&mut self, now: Instant, alarm: UnconfirmedAlarm) {
        tracing::warn!(call_id = %alarm.labels.call_id, caller = %alarm.labels.caller, "unconfirmed alarm: the unit hung up; kept as a callback");
        let heard = alarm.heard.summary();
        let data = json!({
            "tenant": alarm.labels.tenant,
            "calling_number": alarm.labels.caller,
            "class": CallClass::Unconfirmed.as_str(),
            "event_code": alarm.event_code,
            "heard": heard,
            "recall": {"number": alarm.labels.caller, "tenant": alarm.labels.tenant},
        });
        let entry = Callback {
            labels: alarm.labels,
            class: CallClass::Unconfirmed,
            event_code: alarm.event_code,
            detail: Detail::Heard(heard),
            since: now,
            queue: None,
        };
        self.list(entry, data);
    }

    /// An alarm that came as data (SCAIP with no voice call, DC-09, a unit
    /// that failed to report), already durable in the journal: listed for
    /// the operators of its tenant's default queue, with its recall.
    pub fn queue_data_alarm(&mut self, now: Instant, alarm: DataAlarm) {
        tracing::info!(id = %alarm.labels.call_id, protocol = alarm.protocol.as_str(), class = alarm.class.as_str(), "data alarm listed for the operators");
        let recall = alarm
            .recall
            .as_ref()
            .map(|number| json!({"number": number, "tenant": alarm.labels.tenant}));
        let data = json!({
            "tenant": alarm.labels.tenant,
            "calling_number": alarm.labels.caller,
            "class": alarm.class.as_str(),
            "event_code": alarm.event_code,
            "protocol": alarm.protocol.as_str(),
            "account": alarm.account,
            "alarm": alarm.fields,
            "recall": recall,
        });
        let entry = Callback {
            labels: alarm.labels.clone(),
            class: alarm.class,
            event_code: alarm.event_code.clone(),
            detail: Detail::Data(Box::new(alarm)),
            since: now,
            queue: None,
        };
        self.list(entry, data);
    }

    /// Files `entry` under its tenant's default queue and says so in an
    /// `alarmgate.call.callback` event carrying `data` and the queue.
    fn list(&mut self, entry: Callback, mut data: serde_json::Value) {
        let id = entry.labels.call_id.clone();
        let Some(queue) = self.file(entry) else {
            return;
        };
        data["queue"] = json!(queue);
        self.event(CALL_CALLBACK, id.as_str(), data);
    }

    /// Puts `entry` on the list under its tenant's default queue (dropping
    /// the oldest when full); returns that queue, or `None` when the node
    /// has no operators to list it for.
    pub(crate) fn file(&mut self, mut entry: Callback) -> Option<Option<QueueId>> {
        let Some(router) = self.router.as_ref() else {
            tracing::warn!(id = %entry.labels.call_id, "no operators to list the entry for (journalled)");
            return None;
        };
        entry.queue = router
            .plan()
            .tenants
            .iter()
            .find(|t| t.id == entry.labels.tenant)
            .map(|t| t.default_queue.clone());
        if self.callbacks.len() >= MAX_CALLBACKS {
            let old = self.callbacks.remove(0);
            tracing::warn!(id = %old.labels.call_id, "callback list full: oldest entry dropped from the list");
        }
        let queue = entry.queue.clone();
        self.callbacks.push(entry);
        Some(queue)
    }

    /// Callbacks listed (not yet recalled or given a disposition).
    pub fn callback_count(&self) -> usize {
        self.callbacks.len()
    }

    /// The callback whose public id is `id`.
    pub(crate) fn callback(&self, id: &str) -> Option<&Callback> {
        self.callbacks
            .iter()
            .find(|c| c.labels.call_id.as_str() == id)
    }

    /// Removes the callback `id` (a disposition was given to it).
    pub(crate) fn resolve_callback(&mut self, id: &str, resolution: Resolution<'_>, by: &str) {
        let Some(i) = self
            .callbacks
            .iter()
            .position(|c| c.labels.call_id.as_str() == id)
        else {
            return;
        };
        let callback = self.callbacks.remove(i);
        self.resolved(&callback, resolution, by);
    }

    /// Removes every callback of `number` in `tenant` (an operator recalled it).
    pub(crate) fn recalled(
        &mut self,
        tenant: &TenantId,
        number: &Caller,
        recall_id: &str,
        by: &str,
    ) {
        let (done, kept) = std::mem::take(&mut self.callbacks)
            .into_iter()
            .partition(|c| &c.labels.tenant == tenant && c.recall_number() == Some(number));
        self.callbacks = kept;
        for callback in done {
            self.resolved(&callback, Resolution::Recalled { recall_id }, by);
        }
    }

    fn resolved(&mut self, callback: &Callback, resolution: Resolution<'_>, by: &str) {
        let labels = &callback.labels;
        let mut data = json!({
            "tenant": labels.tenant,
            "calling_number": labels.caller,
            "by": by,
        });
        match resolution {
            Resolution::Recalled { recall_id } => {
                data["resolution"] = json!("recalled");
                data["recall_id"] = json!(recall_id);
            }
            Resolution::Disposition { disposition } => {
                data["resolution"] = json!("disposition");
                data["disposition"] = json!(disposition);
            }
        }
        tracing::info!(call_id = %labels.call_id, ?resolution, "callback resolved");
        self.event(CALL_CALLBACK_RESOLVED, labels.call_id.as_str(), data);
    }

    fn event(&mut self, kind: &'static str, subject: &str, data: serde_json::Value) {
        self.out.push_back(Output::Event(EventRecord {
            kind,
            subject: subject.to_string(),
            data,
        }));
    }
}
