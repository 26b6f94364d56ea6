//! What a stored DC-09 message says in the journal: the `data` of
//! `alarmgate.alarm.received` (protocol `dc09`, the decoded event, its
//! class, and a `dc09` object with the raw frame fields) or of
//! `alarmgate.unit.heartbeat` for a `NULL`, and the fields operators see
//! when the alarm is listed as a data alarm.

use serde_json::{json, Value};

use super::message::Event;
use super::receiver::{Message, Payload};
use crate::alarm::classify::{AlarmClass, Classifier};

/// The class of an event: the tenant classifier on the Contact ID code (a
/// SIA code's twin), else the classifier's fallback (a person sees it).
pub fn classify(event: &Event, classifier: &Classifier) -> AlarmClass {
    match &event.contact_id {
        Some((q, code)) => classifier.classify_event(code, q),
        None => classifier.fallback(),
    }
}

/// The alarm's public id: `dc09-<account>-<seq>-<8 hex>`.
pub fn public_id(message: &Message, random: u32) -> String {
    format!(
        "dc09-{}-{}-{random:08x}",
        message.account, message.header.seq
    )
}

/// The fields an operator needs (also the top of the journal record).
pub fn fields(event: &Event, class: AlarmClass) -> Value {
    let (qualifier, code) = match &event.contact_id {
        Some((q, c)) => (Some(q), Some(c)),
        None => (None, None),
    };
    json!({
        "event_code": code.map(|c| c.to_string()),
        "event_name": code.and_then(|c| c.name()),
        "qualifier": qualifier.map(|q| q.to_string()),
        "qualifier_name": qualifier.and_then(|q| q.name()),
        "sia_code": event.sia_code,
        "group": event.group,
        "zone": event.zone,
        "user": event.user,
        "text": event.text,
        "classification": class_name(class),
    })
}

/// `data` of `alarmgate.alarm.received` (an event) or
/// `alarmgate.unit.heartbeat` (a `NULL`; `class` is ignored).
pub fn data(message: &Message, class: AlarmClass) -> Value {
    let mut data = match &message.payload {
        Payload::Event(event) => fields(event, class),
        Payload::LinkTest => json!({}),
    };
    if let Some(map) = data.as_object_mut() {
        map.insert("tenant".into(), json!(message.tenant.as_str()));
        map.insert("protocol".into(), json!("dc09"));
        map.insert("account".into(), json!(message.account));
        if matches!(message.payload, Payload::Event(_)) {
            map.insert("dc09".into(), raw(message));
        }
    }
    data
}

/// The raw frame fields, as received.
fn raw(message: &Message) -> Value {
    let h = &message.header;
    json!({
        "id": h.id.to_string(),
        "sequence": h.seq.to_string(),
        "receiver": h.receiver.as_ref().map(|r| r.to_string()),
        "line": h.line.as_ref().map(|l| l.to_string()),
        "encrypted": h.id.encrypted,
        "timestamp": message.body.timestamp.map(|t| t.to_string()),
        "data": message.body.data,
        "extended": message.body.extended,
        "known_account": message.known_account,
        "frame": message.raw,
    })
}

fn class_name(class: AlarmClass) -> &'static str {
    match class {
        AlarmClass::Voice => "voice",
        AlarmClass::Technical => "technical",
        AlarmClass::Test => "test",
        AlarmClass::Cancel => "cancel",
    }
}
