//! Alarms that came as data (SCAIP, DC-09, supervision) in simulated time:
//! listed at once for the tenant's operators with their protocol, fields
//! and recall, journalled as `call.callback`, and resolved by a recall of
//! the unit's number or a disposition. The harness is in `tests`.

use super::tests::*;
use super::*;
use crate::alarm::report::{DataAlarm, Protocol};
use crate::api::{ApiRequest, CallState as Phase, CallView, Disposition};
use crate::labels::CallLabels;
use crate::sip::types::CallId;
use serde_json::json;

fn data_alarm(id: &str, recall: Option<&str>) -> DataAlarm {
    DataAlarm {
        labels: CallLabels::new(CallId::new(id), "demo".into(), "1234".into()),
        protocol: Protocol::Dc09,
        account: "1234".into(),
        class: CallClass::Emergency,
        event_code: crate::alarm::EventCode::new("100").ok(),
        fields: json!({"event_name": "Medical", "zone": "001"}),
        recall: recall.map(Into::into),
    }
}

fn calls(s: &mut Sim) -> Vec<CallView> {
    s.api(ApiRequest::ListCalls).expect("calls")
}

fn callback_events(s: &mut Sim) -> Vec<EventRecord> {
    s.outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Event(e) if e.kind.starts_with("alarmgate.call.callback") => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn a_data_alarm_is_listed_at_once_with_its_fields_and_recall() {
    let mut s = Sim::new(plan(), None);
    s.sb.queue_data_alarm(s.now, data_alarm("dc09-1", Some("4512345678")));
    let listed = calls(&mut s);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let c = &listed[0];
    assert_eq!(
        (c.id.as_str(), c.state, c.class),
        ("dc09-1", Phase::Callback, CallClass::Emergency)
    );
    assert_eq!(
        (c.protocol, c.account.as_deref()),
        (Some(Protocol::Dc09), Some("1234"))
    );
    assert_eq!(
        c.alarm.as_ref().map(|a| a["zone"].clone()),
        Some(json!("001"))
    );
    assert_eq!(
        c.recall.as_ref().map(|r| r.number.as_str()),
        Some("4512345678")
    );
    assert_eq!(c.queue.as_ref().map(|q| q.as_str()), Some("q1"));
    let events = callback_events(&mut s);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data["protocol"], "dc09");
    assert_eq!(events[0].data["alarm"]["event_name"], "Medical");
}

#[test]
fn a_recall_of_the_units_number_resolves_it_and_no_number_means_no_recall() {
    let mut s = Sim::new(plan(), None);
    s.sb.queue_data_alarm(s.now, data_alarm("dc09-1", Some("4512345678")));
    s.sb.queue_data_alarm(s.now, data_alarm("dc09-2", None));
    let listed = calls(&mut s);
    assert!(listed
        .iter()
        .any(|c| c.id == "dc09-2" && c.recall.is_none()));
    s.sb.recalled(&"demo".into(), &"4512345678".into(), "recall-1", "op1");
    let left: Vec<String> = calls(&mut s).into_iter().map(|c| c.id).collect();
    assert_eq!(
        left,
        vec!["dc09-2".to_string()],
        "the account is not a number to recall"
    );
}

#[test]
fn a_disposition_resolves_a_data_alarm() {
    let mut s = Sim::new(plan(), None);
    s.sb.queue_data_alarm(s.now, data_alarm("dc09-1", None));
    let done: Result<(), crate::api::ApiError> = s.api(ApiRequest::Disposition {
        call: "dc09-1".into(),
        disposition: Disposition::FalseAlarm,
        note: None,
        by: "desk-1".into(),
    });
    assert_eq!(done, Ok(()));
    assert!(calls(&mut s).is_empty());
    let events = callback_events(&mut s);
    assert_eq!(
        events.last().map(|e| e.kind),
        Some(callbacks::CALL_CALLBACK_RESOLVED)
    );
}
