//! The decisions per message, on the §4.5 device samples, and the link
//! window in simulated time.

use super::*;
use crate::labels::TenantId;
use crate::scaip::link::LinkTable;
use crate::scaip::report::{self, Origin};
use crate::scaip::request::SAMPLES;
use std::time::{Duration, Instant};

const CT: Option<&str> = Some("application/scaip+xml");

fn stored(body: &str) -> Mrq {
    match decide(CT, body.as_bytes()) {
        Decision::Store(m) => *m,
        other => panic!("not stored: {other:?}"),
    }
}

#[test]
fn heartbeats_are_answered_with_hbi_and_never_want_voice() {
    for body in &SAMPLES[..3] {
        let Decision::Heartbeat(mrq) = decide(CT, body.as_bytes()) else {
            panic!("{body}")
        };
        let policy = Policy {
            hbi: Some(900),
            ..Policy::default()
        };
        let mrs = heartbeat_answer(&mrq, &policy);
        assert_eq!(
            (mrs.status, mrs.hbi, mrs.voice),
            (Status::Ok, Some(900), None)
        );
        assert_eq!(mrs.reference, mrq.reference);
    }
}

#[test]
fn alarms_want_voice_and_get_the_tenant_policy_only_once_durable() {
    let classifier = Classifier::default();
    let policy = Policy {
        voice: VoiceRequest {
            mre: 1,
            cre: 62,
            tnu: Some("+4570000000".into()),
        },
        hbi: None,
    };
    for body in &SAMPLES[3..6] {
        let mrq = stored(body);
        let a = assess(&mrq, &classifier);
        assert_eq!(
            a.event_code.as_ref().map(|c| c.as_str()),
            Some("101"),
            "{body}"
        );
        assert!(a.for_person && a.wants_voice, "{body}");
        let class = crate::alarm::core_queue::routing_class(a.class, a.event_code.as_ref());
        assert_eq!(class, crate::routing::CallClass::Emergency);
        let ok = answer(&mrq, &a, &policy, true);
        assert_eq!(
            (ok.status, ok.voice.as_ref()),
            (Status::Ok, Some(&policy.voice))
        );
        let failed = answer(&mrq, &a, &policy, false);
        assert_eq!((failed.status, failed.voice), (Status::NotTreated, None));
        assert_eq!(failed.reference, mrq.reference);
    }
}

#[test]
fn callback_and_no_voice_alarms_go_to_a_person_without_waiting() {
    let classifier = Classifier::default();
    let a = assess(&stored(SAMPLES[6]), &classifier);
    assert!(
        a.for_person && !a.wants_voice,
        "cha=1: the centre calls back"
    );
    let body = "<mrq><ref>1</ref><cid>7</cid><dty>3</dty><crd>no-voice:</crd></mrq>";
    let a = assess(&stored(body), &classifier);
    assert!(a.for_person && !a.wants_voice);
}

#[test]
fn technical_test_and_reset_are_stored_but_not_for_a_person() {
    let classifier = Classifier::default();
    let cases = [
        (
            "<mrq><ref>1</ref><cid>7</cid><dty>2</dty><mty>IN</mty><stc>016</stc></mrq>",
            AlarmClass::Technical,
        ),
        (
            "<mrq><ref>2</ref><cid>7</cid><dty>2</dty><mty>ME</mty><stc>102</stc></mrq>",
            AlarmClass::Test,
        ),
        (
            "<mrq><ref>3</ref><cid>7</cid><dty>2</dty><mty>RE</mty></mrq>",
            AlarmClass::Cancel,
        ),
        (
            "<mrq><ref>4</ref><cid>7</cid><dty>2</dty><stc>19</stc></mrq>",
            AlarmClass::Cancel,
        ),
    ];
    for (body, class) in cases {
        let a = assess(&stored(body), &classifier);
        assert_eq!(
            (a.class, a.for_person, a.wants_voice),
            (class, false, false),
            "{body}"
        );
    }
}

#[test]
fn refusals_per_the_standard() {
    assert_eq!(
        decide(Some("text/plain"), SAMPLES[3].as_bytes()),
        Decision::Refuse(415)
    );
    assert_eq!(decide(None, SAMPLES[3].as_bytes()), Decision::Refuse(415));
    let ct = Some("Application/SCAIP+xml; charset=utf-8");
    assert!(matches!(
        decide(ct, SAMPLES[3].as_bytes()),
        Decision::Store(_)
    ));
    let big = format!("<mrq>{}</mrq>", " ".repeat(9000));
    assert_eq!(decide(CT, big.as_bytes()), Decision::Refuse(413));
    assert_eq!(decide(CT, b"<mrq><ref>1</mrq>"), Decision::Refuse(400));
    assert_eq!(decide(CT, b"<!DOCTYPE x><mrq/>"), Decision::Refuse(400));
    let Decision::Reject(mrs) = decide(CT, b"<mrq><ref>77</ref><dty>2</dty></mrq>") else {
        panic!()
    };
    assert_eq!(
        (mrs.reference.as_str(), mrs.status),
        ("77", Status::MandatoryMissing)
    );
    let Decision::Reject(mrs) = decide(CT, b"<mrq><ref>78</ref><cid>1</cid><dty>A</dty></mrq>")
    else {
        panic!()
    };
    assert_eq!(
        (mrs.reference.as_str(), mrs.status),
        ("78", Status::WrongData)
    );
}

fn waiting_alarm(table: &mut LinkTable, now: Instant, body: &str, caller: &str) {
    let mrq = stored(body);
    let a = assess(&mrq, &Classifier::default());
    let tenant = TenantId::from("demo");
    let origin = Origin {
        tenant: &tenant,
        calling_number: caller,
    };
    let alarm = crate::alarm::core::data_alarm(report::decoded("scaip-1", &origin, &mrq, &a));
    let mut numbers = mrq.caller_numbers();
    numbers.extend([caller.to_owned(), mrq.cid.clone()]);
    table.insert(now, Duration::from_secs(60), &mrq.cid, numbers, alarm);
}

#[test]
fn the_voice_call_links_by_crd_caller_or_cid_within_the_window() {
    let t0 = crate::clock::epoch();
    let demo = TenantId::from("demo");
    let mut table = LinkTable::default();
    waiting_alarm(&mut table, t0, SAMPLES[3], "unit26317");
    assert!(table
        .link(&TenantId::from("other"), "+37284463906")
        .is_none());
    assert!(
        table.link(&demo, "0037284463906").is_some(),
        "crd number, any prefix"
    );
    waiting_alarm(&mut table, t0, SAMPLES[4], "4520304050");
    assert!(
        table.link(&demo, "20304050").is_some(),
        "the MESSAGE's caller"
    );
    waiting_alarm(&mut table, t0, SAMPLES[5], "x");
    assert!(table.link(&demo, "999998").is_some(), "the cid");
    assert!(table.is_empty());
}

#[test]
fn an_unlinked_alarm_becomes_a_data_alarm_when_the_window_passes() {
    let t0 = crate::clock::epoch();
    let mut table = LinkTable::default();
    waiting_alarm(&mut table, t0, SAMPLES[3], "4520304050");
    assert_eq!(table.next_deadline(), Some(t0 + Duration::from_secs(60)));
    assert!(table.expire(t0 + Duration::from_millis(59_999)).is_empty());
    let due = table.expire(t0 + Duration::from_secs(60));
    assert_eq!(due.len(), 1);
    let alarm = &due[0].alarm;
    assert_eq!(
        alarm.recall.as_ref().map(|c| c.as_str()),
        Some("+37284463906")
    );
    assert_eq!(alarm.class, crate::routing::CallClass::Emergency);
    assert_eq!(alarm.fields["scaip"]["stc"], "010");
    assert_eq!(alarm.fields["scaip"]["stc_name"], "manual alarm");
    assert_eq!(table.next_deadline(), None);
}

#[test]
fn a_reset_withdraws_the_waiting_alarm_of_its_unit_only() {
    let t0 = crate::clock::epoch();
    let demo = TenantId::from("demo");
    let mut table = LinkTable::default();
    waiting_alarm(&mut table, t0, SAMPLES[3], "a");
    waiting_alarm(&mut table, t0, SAMPLES[5], "b");
    assert!(table.is_waiting(&demo, "26317"));
    assert_eq!(table.withdraw(&demo, "26317").len(), 1);
    assert!(!table.is_waiting(&demo, "26317"));
    assert_eq!(table.len(), 1);
}
