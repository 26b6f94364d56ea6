//! The alarm core in simulated time: nothing acknowledged before it is
//! durable, nothing acknowledged that could not be stored or was stored
//! too late, voice alarms with no call listed for operators with the
//! most urgent class, technical ones only when configured.

use super::core::*;
use super::report::Protocol;
use super::{AlarmClass, EventCode};
use crate::labels::CallLabels;
use crate::routing::CallClass;
use crate::sip::types::CallId;
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};

fn alarm(code: &str, class: AlarmClass) -> DecodedAlarm {
    DecodedAlarm {
        protocol: Protocol::Dc09,
        report: Report::Alarm,
        labels: CallLabels::new(CallId::new("dc09-1"), "demo".into(), "1234".into()),
        account: "1234".into(),
        event_code: EventCode::new(code).ok(),
        class,
        fields: json!({"zone": "001", "protocol": "not this"}),
        raw: json!({"dc09": {
            "id": "SIA-DCS", "sequence": "0001", "encrypted": false,
            "data": "#1234|NRI1/BA01", "frame": "\"SIA-DCS\"0001L0#1234[#1234|NRI1/BA01]",
        }}),
        recall: None,
        voice_follows: false,
    }
}

fn core(list_technical: bool) -> AlarmCore {
    let config = CoreConfig {
        store_timeout: Duration::from_secs(5),
        list_technical,
        max_pending: 2,
    };
    AlarmCore::new(config)
}

/// Decodes `a` and returns its id and its event as the runtime writes it.
fn store(core: &mut AlarmCore, a: DecodedAlarm) -> (AlarmId, serde_json::Value) {
    let now = crate::clock::epoch();
    let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    match core.handle_decoded(now, a).as_slice() {
        [AlarmAction::Store { id, record }] => {
            let bytes = crate::events::record(
                "n1",
                &record.subject,
                record.kind,
                wall,
                7,
                record.data.clone(),
            );
            let event = serde_json::from_slice(&bytes).unwrap_or_default();
            assert_eq!(crate::bus::schema::validate(&event), Vec::<String>::new());
            (*id, event)
        }
        other => panic!("one store first, nothing else: {other:?}"),
    }
}

#[test]
fn a_medical_alarm_is_stored_then_acknowledged_then_listed_as_an_emergency() {
    let mut c = core(false);
    let (id, record) = store(&mut c, alarm("100", AlarmClass::Voice));
    assert_eq!(record["type"], "alarmgate.alarm.received");
    let data = &record["data"];
    assert_eq!(
        (
            &data["protocol"],
            &data["account"],
            &data["event_code"],
            &data["classification"]
        ),
        (
            &json!("dc09"),
            &json!("1234"),
            &json!("100"),
            &json!("voice")
        )
    );
    assert_eq!(data["zone"], "001", "the protocol's fields are kept");
    assert_eq!(
        data["dc09"]["data"], "#1234|NRI1/BA01",
        "and its raw fields"
    );
    let now = crate::clock::epoch();
    let actions = c.handle_stored(now, id, true);
    assert_eq!(actions.first(), Some(&AlarmAction::Acknowledge { id }));
    match actions.get(1) {
        Some(AlarmAction::List(listed)) => assert_eq!(listed.class, CallClass::Emergency),
        other => panic!("listed for operators: {other:?}"),
    }
    assert!(c.handle_stored(now, id, true).is_empty(), "answered once");
}

#[test]
fn what_cannot_be_stored_is_never_acknowledged() {
    let mut c = core(false);
    let (id, _) = store(&mut c, alarm("100", AlarmClass::Voice));
    let actions = c.handle_stored(crate::clock::epoch(), id, false);
    let reason = Withheld::StorageFailed;
    assert_eq!(actions, [AlarmAction::Withhold { id, reason }]);
}

#[test]
fn a_store_answered_after_the_timeout_is_not_acknowledged() {
    let mut c = core(false);
    let t0 = crate::clock::epoch();
    let (id, _) = store(&mut c, alarm("100", AlarmClass::Voice));
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    assert!(c
        .handle_timeout(t0 + Duration::from_millis(4_999))
        .is_empty());
    let reason = Withheld::StorageTimeout;
    let late = c.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(late, [AlarmAction::Withhold { id, reason }]);
    assert!(c
        .handle_stored(t0 + Duration::from_secs(6), id, true)
        .is_empty());
    assert_eq!((c.pending(), c.poll_timeout()), (0, None));
}

#[test]
fn technical_alarms_and_alarms_with_a_call_are_not_listed_by_default() {
    let now = crate::clock::epoch();
    let mut c = core(false);
    let (id, _) = store(&mut c, alarm("602", AlarmClass::Test));
    assert_eq!(
        c.handle_stored(now, id, true),
        [AlarmAction::Acknowledge { id }]
    );
    let mut with_call = alarm("100", AlarmClass::Voice);
    with_call.voice_follows = true;
    let (id, _) = store(&mut c, with_call);
    assert_eq!(
        c.handle_stored(now, id, true),
        [AlarmAction::Acknowledge { id }]
    );
    let mut c = core(true);
    let (id, _) = store(&mut c, alarm("302", AlarmClass::Technical));
    let listed = c.handle_stored(now, id, true);
    assert!(matches!(listed.get(1), Some(AlarmAction::List(a)) if a.class == CallClass::Technical));
}

#[test]
fn too_many_stores_in_flight_are_withheld_as_busy_without_storing() {
    let mut c = core(false);
    let (first, _) = store(&mut c, alarm("100", AlarmClass::Voice));
    store(&mut c, alarm("100", AlarmClass::Voice));
    let now = crate::clock::epoch();
    match c
        .handle_decoded(now, alarm("100", AlarmClass::Voice))
        .as_slice()
    {
        [AlarmAction::Withhold { reason, .. }] => assert_eq!(*reason, Withheld::Busy),
        other => panic!("busy, nothing stored: {other:?}"),
    }
    assert_eq!(c.pending(), 2);
    c.handle_stored(now, first, true);
    store(&mut c, alarm("100", AlarmClass::Voice));
}

#[test]
fn a_heartbeat_is_stored_as_one_then_acknowledged_and_never_listed() {
    let mut c = core(true);
    let mut hb = alarm("602", AlarmClass::Test);
    hb.report = Report::Heartbeat;
    hb.labels = CallLabels::new(CallId::new("dc09-1234"), "demo".into(), "1234".into());
    hb.raw = json!({});
    let (id, record) = store(&mut c, hb);
    assert_eq!(record["type"], "alarmgate.unit.heartbeat");
    assert_eq!(
        record["data"],
        json!({"tenant": "demo", "protocol": "dc09", "account": "1234"})
    );
    let actions = c.handle_stored(crate::clock::epoch(), id, true);
    assert_eq!(actions, [AlarmAction::Acknowledge { id }]);
}

#[test]
fn an_alarm_with_no_known_code_is_listed_as_an_emergency() {
    let mut c = core(false);
    let mut unknown = alarm("100", AlarmClass::Voice);
    unknown.event_code = None;
    let (id, record) = store(&mut c, unknown);
    assert!(record["data"].get("event_code").is_none());
    let actions = c.handle_stored(crate::clock::epoch(), id, true);
    match actions.get(1) {
        Some(AlarmAction::List(a)) => {
            assert_eq!(a.class, CallClass::Emergency);
            assert_eq!(
                (&a.fields["protocol"], &a.fields["zone"]),
                (&json!("dc09"), &json!("001"))
            );
        }
        other => panic!("listed: {other:?}"),
    }
}
