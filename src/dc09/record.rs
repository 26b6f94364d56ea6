//! A stored DC-09 message as the alarm core takes it ([`decoded`]): the
//! decoded event, its class, the fields operators see, and a `dc09` object
//! with the raw frame fields, which the core writes into
//! `alarmgate.alarm.received` (or `alarmgate.unit.heartbeat` for a `NULL`).

use serde_json::{json, Value};

use super::message::Event;
use super::receiver::{Message, Payload};
use crate::alarm::classify::{AlarmClass, Classifier};
use crate::alarm::core::{DecodedAlarm, Report};
use crate::alarm::report::Protocol;
use crate::events::class_name;
use crate::labels::{CallLabels, Caller, TenantId};
use crate::sip::types::CallId;

/// The message for the alarm core, classified by the tenant's `classifier`
/// (none: a person sees it); `random` tells the public ids of repeats apart.
pub fn decoded(message: &Message, classifier: Option<&Classifier>, random: u32) -> DecodedAlarm {
    let (report, id, class, event_code, fields) = match &message.payload {
        Payload::LinkTest => {
            let id = format!("dc09-{}", message.account);
            (Report::Heartbeat, id, AlarmClass::Test, None, json!({}))
        }
        Payload::Event(event) => {
            let class = classifier.map_or(AlarmClass::Voice, |c| classify(event, c));
            let code = event.contact_id.as_ref().map(|(_, c)| c.clone());
            let id = public_id(message, random);
            (Report::Alarm, id, class, code, fields(event, class))
        }
    };
    let raw = match report {
        Report::Alarm => json!({ "dc09": raw(message) }),
        Report::Heartbeat => json!({}),
    };
    DecodedAlarm {
        protocol: Protocol::Dc09,
        report,
        labels: CallLabels::new(
            CallId::new(id),
            TenantId::from(message.tenant.as_str()),
            Caller::new(message.account.clone()),
        ),
        account: message.account.clone(),
        event_code,
        class,
        fields,
        raw,
        recall: None,
        voice_follows: false,
    }
}

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
    without_nulls(json!({
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
    }))
}

/// The raw frame fields, as received.
fn raw(message: &Message) -> Value {
    let h = &message.header;
    without_nulls(json!({
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
    }))
}

/// Drops `null` members: absent fields are left out, not written as null.
fn without_nulls(mut v: Value) -> Value {
    if let Some(map) = v.as_object_mut() {
        map.retain(|_, field| !field.is_null());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::core::store_record;
    use crate::dc09::accounts::{Directory, UnknownAccount};
    use crate::dc09::receiver::{Dc09Receiver, Decision, Now, ReceiverConfig};
    use crate::dc09::timestamp::Window;
    use crate::labels::TenantId;
    use std::time::{Duration, UNIX_EPOCH};

    fn stored(frame: &[u8]) -> Message {
        let rx = Dc09Receiver::new(ReceiverConfig {
            directory: Directory {
                rules: Vec::new(),
                unknown: UnknownAccount::Accept(TenantId::from("demo")),
            },
            window: Window::default(),
            repeat_window_s: 600,
            max_remembered: 10,
        });
        let now = Now {
            unix: 1_727_273_530,
            random: [0; 16],
        };
        match rx.decide(frame, now) {
            Decision::Store { message, .. } => *message,
            other => panic!("{other:?}"),
        }
    }

    fn event(kind: &str, data: Value, subject: &str) -> Value {
        let bytes = crate::events::record(
            "n1",
            subject,
            kind,
            UNIX_EPOCH + Duration::from_secs(1),
            7,
            data,
        );
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn alarm_and_heartbeat_records_follow_the_schema() {
        let m =
            stored(b"\n8344003D\"ADM-CID\"0001R1L1#1234[#1234|1101 01 001]_14:12:04,09-25-2024\r");
        let Payload::Event(e) = &m.payload else {
            panic!("no event")
        };
        assert_eq!(classify(e, &Classifier::default()), AlarmClass::Voice);
        let alarm = decoded(&m, Some(&Classifier::default()), 0xdead_beef);
        let r = store_record(&alarm);
        assert_eq!(r.data["event_code"], "101");
        assert_eq!(r.data["classification"], "voice");
        assert_eq!(r.data["dc09"]["receiver"], "1");
        assert_eq!(r.data["dc09"]["encrypted"], false);
        assert!(r.data.get("sia_code").is_none());
        assert_eq!(r.subject, "dc09-1234-0001-deadbeef");
        let v = event(r.kind, r.data, &r.subject);
        assert_eq!(v["type"], crate::events::ALARM_RECEIVED);
        assert_eq!(crate::bus::schema::validate(&v), Vec::<String>::new());
        let null = stored(b"\n25A70015\"NULL\"0003R1L1#1234[]\r");
        let r = store_record(&decoded(&null, None, 0));
        let v = event(r.kind, r.data, &r.subject);
        assert_eq!(v["type"], crate::events::UNIT_HEARTBEAT);
        assert_eq!(v["subject"], "dc09-1234");
        assert_eq!(
            v["data"],
            json!({"tenant": "demo", "protocol": "dc09", "account": "1234"})
        );
        assert_eq!(crate::bus::schema::validate(&v), Vec::<String>::new());
    }

    #[test]
    fn sia_codes_classify_through_their_contact_id_twin() {
        let m =
            stored(b"\n7998003C\"SIA-DCS\"0002R1L1#1234[#1234|Nri1/MA001]_14:12:05,09-25-2024\r");
        let Payload::Event(e) = &m.payload else {
            panic!("no event")
        };
        assert_eq!(classify(e, &Classifier::default()), AlarmClass::Voice);
        let f = fields(e, AlarmClass::Voice);
        assert_eq!(
            (f["sia_code"].as_str(), f["event_code"].as_str()),
            (Some("MA"), Some("100"))
        );
        let rp = crate::dc09::message::parse_sia_dcs("#1|NRP").unwrap();
        assert_eq!(classify(&rp, &Classifier::default()), AlarmClass::Test);
        let unknown = crate::dc09::message::parse_sia_dcs("#1|NXQ1").unwrap();
        assert_eq!(
            classify(&unknown, &Classifier::default()),
            AlarmClass::Voice
        );
    }
}
