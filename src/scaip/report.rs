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
