//! A SCAIP request as the alarm core takes it ([`decoded`]): the `scaip`
//! object of `alarmgate.alarm.received` (every tag as received, with the
//! names of its codes), its class and code, and the unit's recall number;
//! the core writes the event and the data alarm operators see.

use super::receiver::{self, Assessment};
use super::request::{MessageType, Mrq};
use crate::alarm::core::{DecodedAlarm, Report};
use crate::alarm::report::Protocol;
use crate::labels::{CallLabels, Caller, TenantId};
use crate::sip::types::CallId;
use serde_json::{json, Map, Value};

/// Every tag as received (a repeated tag becomes a list), plus `dty_name`,
/// `stc_name`, `lco_name` and `mty` as decided (defaults applied).
pub fn scaip_fields(mrq: &Mrq) -> Value {
    let mut map = Map::new();
    for f in &mrq.fields {
        let text = Value::String(f.text.clone());
        match map.get_mut(&f.tag) {
            Some(Value::Array(list)) => list.push(text),
            Some(one) => *one = Value::Array(vec![one.take(), text]),
            None => {
                map.insert(f.tag.clone(), text);
            }
        }
    }
    if let Value::Object(names) = receiver::code_names(mrq) {
        map.extend(names);
    }
    map.insert("message_type".into(), json!(mrq.mty.as_str()));
    Value::Object(map)
}

/// Who sent a request, and where it belongs.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// The MESSAGE's From user.
    pub calling_number: &'a str,
}

/// The request for the alarm core: public id `id` (a heartbeat: the
/// unit's `cid`), the assessment's class and code, the `scaip` fields (in
/// the event and shown to operators), recall on the unit's number.
pub fn decoded(id: &str, origin: &Origin<'_>, mrq: &Mrq, a: &Assessment) -> DecodedAlarm {
    let heartbeat = mrq.mty == MessageType::Heartbeat;
    let recall = recall_number(mrq, origin.calling_number);
    let caller = recall.clone().unwrap_or_else(|| mrq.cid.clone());
    let (fields, raw) = if heartbeat {
        (json!({}), json!({}))
    } else {
        let raw = json!({ "calling_number": origin.calling_number });
        (json!({ "scaip": scaip_fields(mrq) }), raw)
    };
    DecodedAlarm {
        protocol: Protocol::Scaip,
        report: if heartbeat {
            Report::Heartbeat
        } else {
            Report::Alarm
        },
        labels: CallLabels::new(CallId::new(id), origin.tenant.clone(), Caller::new(caller)),
        account: mrq.cid.clone(),
        event_code: a.event_code.clone(),
        class: a.class,
        fields,
        raw,
        recall: recall.map(Caller::new),
        voice_follows: a.wants_voice,
    }
}

/// The number to recall the unit on: its first `crd` number, else the
/// MESSAGE's caller when that is a number.
pub fn recall_number(mrq: &Mrq, calling_number: &str) -> Option<String> {
    let caller = calling_number.trim_start_matches('+');
    let is_number = !caller.is_empty() && caller.bytes().all(|b| b.is_ascii_digit());
    mrq.callers
        .iter()
        .find_map(|c| match c {
            super::request::CallerId::Gsm(n) | super::request::CallerId::Sip(n)
                if !n.is_empty() =>
            {
                Some(n.clone())
            }
            _ => None,
        })
        .or_else(|| is_number.then(|| calling_number.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::core::store_record;
    use crate::alarm::Classifier;
    use crate::scaip::receiver::assess;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_scaip_alarm_event_and_heartbeat_meet_the_event_schema() {
        let body = "<mrq><ref>00001883</ref><mty>ME</mty><cid>26317</cid><dty>02</dty><crd>gsm:+4511</crd><crd>sip:9</crd><stc>010</stc><lco>2</lco></mrq>";
        let mrq = Mrq::parse(body.as_bytes()).unwrap();
        let a = assess(&mrq, &Classifier::default());
        let tenant = TenantId::from("demo");
        let origin = Origin {
            tenant: &tenant,
            calling_number: "4511",
        };
        let alarm = decoded("scaip-00001883-ab", &origin, &mrq, &a);
        assert_eq!(alarm.recall.as_ref().map(|c| c.as_str()), Some("+4511"));
        let r = store_record(&alarm);
        assert_eq!(r.data["scaip"]["crd"], json!(["gsm:+4511", "sip:9"]));
        assert_eq!(r.data["scaip"]["lco_name"], "home");
        let time = UNIX_EPOCH + Duration::from_secs(1_795_339_246);
        let record = crate::events::record("n1", &r.subject, r.kind, time, 7, r.data);
        let event: Value = serde_json::from_slice(&record).unwrap();
        assert_eq!(event["type"], crate::events::ALARM_RECEIVED);
        assert_eq!(
            crate::bus::schema::validate(&event),
            Vec::<String>::new(),
            "{event}"
        );
        let pi = "<mrq><mty>PI</mty><ref>1998218577</ref><cid>10149471</cid><dty>2</dty></mrq>";
        let pi = Mrq::parse(pi.as_bytes()).unwrap();
        let a = assess(&pi, &Classifier::default());
        let r = store_record(&decoded("10149471", &origin, &pi, &a));
        let hb = crate::events::record("n1", &r.subject, r.kind, time, 8, r.data);
        let hb: Value = serde_json::from_slice(&hb).unwrap();
        assert_eq!(hb["type"], crate::events::UNIT_HEARTBEAT);
        assert_eq!(
            hb["data"],
            json!({"tenant": "demo", "protocol": "scaip", "account": "10149471"})
        );
        assert_eq!(
            crate::bus::schema::validate(&hb),
            Vec::<String>::new(),
            "{hb}"
        );
    }
}
