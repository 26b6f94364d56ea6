//! The callback list rebuilt from the journal at start (issue 9: "rebuild
//! callbacks from the journal"; issue 10: data alarms must not vanish from
//! the operators' screens when the node restarts).
//!
//! Every entry the list ever held was announced by an
//! `alarmgate.call.callback` event carrying what the list shows (tenant,
//! caller, class, event code, what was heard or the data alarm's protocol,
//! account, fields and recall), and every removal by
//! `alarmgate.call.callback_resolved` with the same subject. So the list
//! at the end of the journal is the callbacks not resolved, in the order
//! they came; [`Pending`] reads them back from the events' bytes. Pure:
//! the runtime reads the journal and passes the records in, with the wall
//! clock of now so each entry's age survives the restart.

use super::callbacks::{Callback, Detail, CALL_CALLBACK, CALL_CALLBACK_RESOLVED};
use super::Switchboard;
use crate::alarm::heard::HeardSummary;
use crate::alarm::report::{DataAlarm, Protocol};
use crate::alarm::EventCode;
use crate::labels::CallLabels;
use crate::routing::CallClass;
use crate::sip::types::CallId;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The part of an event the list needs.
#[derive(Debug, Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    subject: String,
    #[serde(default)]
    data: Value,
}

/// The callbacks still listed at the end of a journal, oldest first.
#[derive(Debug)]
pub struct Pending {
    /// The time the entries are read at (their age is set when restored).
    now: Instant,
    entries: Vec<Option<(SystemTime, Callback)>>,
    by_id: HashMap<String, usize>,
    /// Records that looked like callback events but could not be read.
    pub unreadable: usize,
}

impl Pending {
    /// Nothing read yet, at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            now,
            entries: Vec::new(),
            by_id: HashMap::new(),
            unreadable: 0,
        }
    }

    /// Takes one journal record (any event: the others are skipped cheaply).
    pub fn record(&mut self, payload: &[u8]) {
        if !contains(payload, CALL_CALLBACK.as_bytes()) {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Envelope>(payload) else {
            self.unreadable += 1;
            return;
        };
        match event.kind.as_str() {
            CALL_CALLBACK => match entry(&event, self.now) {
                Some(callback) => self.add(&event, callback),
                None => self.unreadable += 1,
            },
            CALL_CALLBACK_RESOLVED => self.remove(&event.subject),
            _ => {}
        }
    }

    fn add(&mut self, event: &Envelope, callback: Callback) {
        self.remove(&event.subject);
        let at = uuid_v7_time(&event.id).unwrap_or(UNIX_EPOCH);
        self.by_id.insert(event.subject.clone(), self.entries.len());
        self.entries.push(Some((at, callback)));
    }

    fn remove(&mut self, id: &str) {
        if let Some(i) = self.by_id.remove(id) {
            if let Some(slot) = self.entries.get_mut(i) {
                *slot = None;
            }
        }
    }

    /// How many are still listed.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

impl Switchboard {
    /// Lists the journal's unresolved callbacks again, each with the age it
    /// had (`wall_now` minus its event's time), without new events.
    pub fn restore_callbacks(&mut self, now: Instant, wall_now: SystemTime, pending: Pending) {
        let count = pending.len();
        for (at, mut callback) in pending.entries.into_iter().flatten() {
            let age = wall_now.duration_since(at).unwrap_or(Duration::ZERO);
            callback.since = now.checked_sub(age).unwrap_or(now);
            if self.file(callback).is_none() {
                return;
            }
        }
        if count > 0 {
            tracing::info!(
                count,
                "callbacks and data alarms listed again from the journal"
            );
        }
    }
}

/// The entry a `call.callback` event announced.
fn entry(event: &Envelope, since: Instant) -> Option<Callback> {
    let d = &event.data;
    let text = |k: &str| d.get(k).and_then(Value::as_str);
    let labels = CallLabels::new(
        CallId::new(&event.subject),
        text("tenant")?.into(),
        text("calling_number")?.into(),
    );
    let class: CallClass = serde_json::from_value(d.get("class")?.clone()).ok()?;
    let event_code = text("event_code").and_then(|c| EventCode::new(c).ok());
    let detail = match d.get("heard") {
        Some(heard) => Detail::Heard(serde_json::from_value::<HeardSummary>(heard.clone()).ok()?),
        None => Detail::Data(Box::new(DataAlarm {
            labels: labels.clone(),
            protocol: serde_json::from_value::<Protocol>(d.get("protocol")?.clone()).ok()?,
            account: text("account").unwrap_or_default().to_string(),
            class,
            event_code: event_code.clone(),
            fields: d.get("alarm").cloned().unwrap_or(Value::Null),
            recall: d
                .get("recall")
                .and_then(|r| r.get("number"))
                .and_then(Value::as_str)
                .map(Into::into),
        })),
    };
    Some(Callback {
        labels,
        class,
        event_code,
        detail,
        since,
        queue: None,
    })
}

/// The Unix time in a UUIDv7's first 48 bits (our event ids).
fn uuid_v7_time(id: &str) -> Option<SystemTime> {
    let hex: String = id.chars().filter(|c| *c != '-').take(12).collect();
    let ms = u64::from_str_radix(&hex, 16).ok()?;
    Some(UNIX_EPOCH + Duration::from_millis(ms))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiRequest, CallState, CallView};
    use crate::switchboard::tests::{plan, Sim};
    use serde_json::json;

    /// A journal record as the node writes it, `secs` after the Unix epoch.
    fn event(kind: &str, subject: &str, secs: u64, data: Value) -> Vec<u8> {
        let time = UNIX_EPOCH + Duration::from_secs(secs);
        crate::events::record("n1", subject, kind, time, 7, data)
    }

    fn data_alarm(secs: u64, id: &str) -> Vec<u8> {
        let data = json!({"tenant": "demo", "calling_number": "1234", "class": "emergency",
            "event_code": "100", "protocol": "dc09", "account": "1234",
            "alarm": {"zone": "001"}, "recall": {"number": "4512345678", "tenant": "demo"},
            "queue": "q1"});
        event(CALL_CALLBACK, id, secs, data)
    }

    fn unconfirmed(secs: u64, id: &str) -> Vec<u8> {
        let heard = json!({"best": null, "account": null, "attempts": 2,
            "checksum_failures": 1, "malformed": 0, "partials": 1, "kept": []});
        let data = json!({"tenant": "demo", "calling_number": "4512345678",
            "class": "unconfirmed", "event_code": null, "heard": heard, "queue": "q1",
            "recall": {"number": "4512345678", "tenant": "demo"}});
        event(CALL_CALLBACK, id, secs, data)
    }

    fn listed(s: &mut Sim) -> Vec<CallView> {
        s.api(ApiRequest::ListCalls).expect("calls")
    }

    /// Three entries, one resolved, one line of other traffic and one
    /// damaged record: the two unresolved come back in order with their
    /// fields, their ages, and no new event.
    #[test]
    fn the_unresolved_entries_come_back_in_order_with_their_age() {
        let mut s = Sim::new(plan(), None);
        let mut pending = Pending::new(s.now);
        pending.record(&unconfirmed(1_000, "a@unit"));
        pending.record(&data_alarm(1_010, "dc09-1"));
        pending.record(&data_alarm(1_020, "dc09-2"));
        pending.record(&event("alarmgate.call.queued", "x", 1_021, json!({})));
        pending.record(&event(CALL_CALLBACK_RESOLVED, "dc09-1", 1_030, json!({})));
        pending.record(b"{\"type\":\"alarmgate.call.callback\" broken");
        assert_eq!((pending.len(), pending.unreadable), (2, 1));
        let wall = UNIX_EPOCH + Duration::from_secs(1_100);
        let now = s.now + Duration::from_secs(500);
        s.now = now;
        s.sb.restore_callbacks(now, wall, pending);
        let calls = listed(&mut s);
        let ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a@unit", "dc09-2"]);
        assert!(calls.iter().all(|c| c.state == CallState::Callback));
        assert_eq!((calls[0].waited_s, calls[1].waited_s), (100, 80));
        assert_eq!(calls[0].heard.as_ref().map(|h| h.attempts), Some(2));
        assert_eq!(calls[1].protocol, Some(Protocol::Dc09));
        assert_eq!(calls[1].alarm, Some(json!({"zone": "001"})));
        assert_eq!(
            calls[1].recall.as_ref().map(|r| r.number.as_str()),
            Some("4512345678")
        );
        assert!(s.outputs().is_empty(), "restoring journals nothing new");
    }

    #[test]
    fn an_entry_listed_again_after_a_resolution_counts_once() {
        let s = Sim::new(plan(), None);
        let mut pending = Pending::new(s.now);
        pending.record(&data_alarm(1, "dc09-1"));
        pending.record(&data_alarm(2, "dc09-1"));
        assert_eq!(pending.len(), 1);
        pending.record(&event(CALL_CALLBACK_RESOLVED, "dc09-1", 3, json!({})));
        assert!(pending.is_empty());
    }

    #[test]
    fn the_time_of_an_event_is_read_from_its_uuid_v7_id() {
        let id = crate::events::uuid_v7(1_795_339_246_123, 42);
        let at = uuid_v7_time(&id).expect("time");
        assert_eq!(at, UNIX_EPOCH + Duration::from_millis(1_795_339_246_123));
        assert_eq!(uuid_v7_time("not-a-uuid"), None);
    }
}
