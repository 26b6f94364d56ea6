//! A SCAIP request as the record keeps it and the operators see it: the
//! `scaip` object of `alarmgate.alarm.received` (every tag as received,
//! with the names of its codes), the event's data, and the [`DataAlarm`]
//! the switchboard lists when no voice call carries the alarm.

use super::receiver::{self, Assessment};
use super::request::Mrq;
use crate::alarm::report::{DataAlarm, Protocol};
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

/// The `data` of `alarmgate.alarm.received` for a SCAIP request.
pub fn event_data(origin: &Origin<'_>, mrq: &Mrq, a: &Assessment) -> Value {
    json!({
        "tenant": origin.tenant.as_str(),
        "calling_number": origin.calling_number,
        "protocol": Protocol::Scaip.as_str(),
        "account": mrq.cid,
        "event_code": a.event_code.as_ref().map(|c| c.as_str().to_owned()),
        "event_name": a.event_code.as_ref().and_then(|c| c.name()),
        "classification": class_name(a.class),
        "scaip": scaip_fields(mrq),
    })
}

/// The `data` of `alarmgate.unit.heartbeat`.
pub fn heartbeat_data(tenant: &TenantId, mrq: &Mrq) -> Value {
    json!({"tenant": tenant.as_str(), "protocol": "scaip", "account": mrq.cid})
}

fn class_name(class: crate::alarm::AlarmClass) -> &'static str {
    use crate::alarm::AlarmClass as C;
    match class {
        C::Voice => "voice",
        C::Technical => "technical",
        C::Test => "test",
        C::Cancel => "cancel",
    }
}

/// The alarm as operators see it: public id `id`, recall `recall` (the
/// unit's number: a `crd` number, else the MESSAGE's caller).
pub fn data_alarm(
    id: &str,
    origin: &Origin<'_>,
    mrq: &Mrq,
    a: &Assessment,
    recall: Option<String>,
) -> DataAlarm {
    let caller = recall.clone().unwrap_or_else(|| mrq.cid.clone());
    let fields = json!({
        "protocol": "scaip",
        "account": mrq.cid,
        "event_code": a.event_code.as_ref().map(|c| c.as_str().to_owned()),
        "event_name": a.event_code.as_ref().and_then(|c| c.name()),
        "scaip": scaip_fields(mrq),
    });
    DataAlarm {
        labels: CallLabels::new(CallId::new(id), origin.tenant.clone(), Caller::new(caller)),
        protocol: Protocol::Scaip,
        account: mrq.cid.clone(),
        class: receiver::call_class(a),
        event_code: a.event_code.clone(),
        fields,
        recall: recall.map(Caller::new),
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
        let data = event_data(&origin, &mrq, &a);
        assert_eq!(data["scaip"]["crd"], json!(["gsm:+4511", "sip:9"]));
        assert_eq!(data["scaip"]["lco_name"], "home");
        let time = UNIX_EPOCH + Duration::from_secs(1_795_339_246);
        let record = crate::events::data_alarm_received("n1", "scaip-00001883-ab", time, 7, data);
        let event: Value = serde_json::from_slice(&record).unwrap();
        assert_eq!(
            crate::bus::schema::validate(&event),
            Vec::<String>::new(),
            "{event}"
        );
        let hb = crate::events::record(
            "n1",
            "26317",
            "alarmgate.unit.heartbeat",
            time,
            8,
            heartbeat_data(&tenant, &mrq),
        );
        let hb: Value = serde_json::from_slice(&hb).unwrap();
        assert_eq!(
            crate::bus::schema::validate(&hb),
            Vec::<String>::new(),
            "{hb}"
        );
    }
}
