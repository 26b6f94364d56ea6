//! SCAIP through the alarm core, with real SIP text in simulated time: a
//! retransmitted request (same `ref`, same unit) is journalled and listed
//! once and answered with the same `<mrs>`; what was not stored is not
//! remembered (its repeat is stored); a journal that does not answer in
//! time gets `snu=5` and its late answer acknowledges nothing; too many
//! stores in flight get `snu=6` (busy) without a store.

use super::tests::*;
use super::tests_scaip::*;
use crate::alarm::core::{AlarmCore, CoreConfig};
use crate::api::CallState as Phase;

#[test]
fn a_retransmitted_alarm_is_stored_once_and_answered_the_same() {
    let mut s = scaip_sim();
    let (token, _) = stored(&mut s, 1, ESSENCE_ME);
    s.send(UNIT, &scaip(2, ESSENCE_ME));
    assert_eq!(lines(&s.sent()), vec!["SIP/2.0 200 OK"], "in flight: wait");
    assert!(stores(&mut s).is_empty(), "not stored twice");
    s.sb.scaip_stored(s.now, token, true);
    let first = mrs(&mut s);
    assert!(first.contains("<snu>0</snu>"), "{first}");
    s.advance(secs(10));
    s.send(UNIT, &scaip(3, ESSENCE_ME));
    let out = s.sent();
    assert_eq!(lines(&out)[0], "SIP/2.0 200 OK");
    let text = &find(&out, "MESSAGE ").1;
    assert_eq!(
        text.split("\r\n\r\n").nth(1),
        Some(first.as_str()),
        "the same <mrs>"
    );
    s.send(UNIT, &reply(text, 200, ""));
    assert!(stores(&mut s).is_empty(), "not stored twice");
    s.advance(secs(120));
    let listed = calls(&mut s);
    assert_eq!(listed.len(), 1, "listed once: {listed:?}");
    assert_eq!(listed[0].state, Phase::Callback);
    s.advance(secs(300));
    stored(&mut s, 4, ESSENCE_ME);
}

#[test]
fn a_request_that_was_not_stored_is_stored_again_when_repeated() {
    let mut s = scaip_sim();
    let (token, _) = stored(&mut s, 1, ESSENCE_ME);
    s.sb.scaip_stored(s.now, token, false);
    assert!(mrs(&mut s).contains("<snu>5</snu>"));
    let (token, _) = stored(&mut s, 2, ESSENCE_ME);
    s.sb.scaip_stored(s.now, token, true);
    assert!(mrs(&mut s).contains("<snu>0</snu>"));
}

#[test]
fn a_store_not_answered_in_time_is_snu_5_and_its_late_answer_acknowledges_nothing() {
    let mut s = scaip_sim();
    let (token, _) = stored(&mut s, 1, ESSENCE_ME);
    s.advance(secs(4));
    assert!(s.sent().is_empty(), "still waiting for the journal");
    s.advance(secs(1));
    let body = mrs(&mut s);
    assert!(body.contains("<snu>5</snu>"), "{body}");
    s.sb.scaip_stored(s.now, token, true);
    assert!(s.sent().is_empty(), "no snu=0 after the timeout");
    s.advance(secs(120));
    assert!(calls(&mut s).is_empty(), "nothing listed");
}

#[test]
fn too_many_stores_in_flight_get_snu_6_busy_and_no_store() {
    let mut s = scaip_sim();
    let config = CoreConfig {
        max_pending: 1,
        ..CoreConfig::default()
    };
    s.sb.scaip.core = AlarmCore::new(config);
    let (token, _) = stored(&mut s, 1, ESSENCE_ME);
    let other = ESSENCE_ME.replace("00001883", "00001890");
    s.send(UNIT, &scaip(2, &other));
    let out = s.sent();
    assert_eq!(lines(&out)[0], "SIP/2.0 200 OK");
    let busy = &find(&out, "MESSAGE ").1;
    assert!(busy.contains("<ref>00001890</ref><snu>6</snu>"), "{busy}");
    s.send(UNIT, &reply(busy, 200, ""));
    assert!(stores(&mut s).is_empty());
    s.sb.scaip_stored(s.now, token, true);
    assert!(mrs(&mut s).contains("<ref>00001883</ref><snu>0</snu>"));
    let (_, record) = stored(&mut s, 3, &other);
    assert!(
        record.subject.starts_with("scaip-00001890-"),
        "busy is not remembered: sent again, stored"
    );
}
