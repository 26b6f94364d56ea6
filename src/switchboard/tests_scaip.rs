//! SCAIP with real SIP text in simulated time: the unit's MESSAGE answered
//! 200, its alarm stored before the `<mrs>` (a MESSAGE of ours) says
//! `snu=0`, the voice call that follows linked to the alarm and queued with
//! it, the data alarm when no call comes, `RE`, heartbeats, refusals.

use super::scaip::{StoreToken, ALARM_WITHDRAWN, UNIT_HEARTBEAT};
use super::tests::*;
use super::*;
use crate::alarm::report::Protocol;
use crate::api::{ApiRequest, CallState as Phase, CallView};
use crate::scaip::Policy;

pub(super) const ESSENCE_ME: &str = "<mrq><ref>00001883</ref><cha>0</cha><mty>ME</mty><cid>26317</cid><dty>02</dty><did>00</did><crd>gsm:+37284463906</crd><stc>010</stc></mrq>";
const ESSENCE_PI: &str = "<mrq><ref>00001A85</ref><cha>0</cha><mty>PI</mty><cid>26317</cid><dty>02</dty><did>00</did><crd>no-voice:</crd><stc>102</stc></mrq>";
const ESSENCE_RE: &str = "<mrq><ref>00001884</ref><mty>RE</mty><cid>26317</cid><dty>02</dty></mrq>";

pub(super) fn scaip_sim() -> Sim {
    let mut s = Sim::new(plan(), None);
    s.sb.config.scaip.enabled = true;
    s.sb.config.scaip.link_window = secs(60);
    s.sb.config.scaip.default_policy = Policy {
        hbi: Some(3600),
        ..Policy::default()
    };
    s
}

/// A MESSAGE from the unit (From 4512345678, the number its calls show).
pub(super) fn message(n: u32, content_type: &str, body: &str) -> String {
    format!(
        "MESSAGE sip:112@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {UNIT};branch=z9hG4bKm{n};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:4512345678@127.0.0.1>;tag=m{n}\r\nTo: <sip:112@127.0.0.1>\r\n\
Call-ID: msg-{n}\r\nCSeq: 1 MESSAGE\r\nContact: <sip:unit@{UNIT}>\r\n\
Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

pub(super) fn scaip(n: u32, body: &str) -> String {
    message(n, "application/scaip+xml", body)
}

/// The stores asked for since the last look.
pub(super) fn stores(s: &mut Sim) -> Vec<(StoreToken, EventRecord)> {
    s.outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Store { token, record } => Some((token, record)),
            _ => None,
        })
        .collect()
}

fn events(outputs: &[Output], kind: &str) -> usize {
    let is = |o: &&Output| matches!(o, Output::Event(e) if e.kind == kind);
    outputs.iter().filter(is).count()
}

pub(super) fn calls(s: &mut Sim) -> Vec<CallView> {
    s.api(ApiRequest::ListCalls).expect("calls")
}

/// Sends `body`, checks the 200 and that nothing else went out; returns the store.
pub(super) fn stored(s: &mut Sim, n: u32, body: &str) -> (StoreToken, EventRecord) {
    s.send(UNIT, &scaip(n, body));
    assert_eq!(
        lines(&s.sent()),
        vec!["SIP/2.0 200 OK"],
        "no <mrs> before the journal"
    );
    let mut stores = stores(s);
    assert_eq!(stores.len(), 1);
    stores.remove(0)
}

/// Our `<mrs>` MESSAGE: checked, answered 200 by the unit; returns its body.
pub(super) fn mrs(s: &mut Sim) -> String {
    let out = s.sent();
    let (to, text) = find(&out, "MESSAGE sip:unit@127.0.0.1:5070 SIP/2.0");
    assert_eq!(to, UNIT);
    assert_eq!(header(text, "Content-Type"), "application/scaip+xml");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    s.send(UNIT, &reply(text, 200, ""));
    body
}

#[test]
fn an_alarm_is_stored_before_snu_0_and_its_voice_call_is_linked() {
    let mut s = scaip_sim();
    s.available("op1", OP1);
    let (token, record) = stored(&mut s, 1, ESSENCE_ME);
    assert_eq!(record.kind, crate::events::ALARM_RECEIVED);
    assert!(
        record.subject.starts_with("scaip-00001883-"),
        "{}",
        record.subject
    );
    let d = &record.data;
    assert_eq!(
        (d["protocol"].as_str(), d["account"].as_str()),
        (Some("scaip"), Some("26317"))
    );
    assert_eq!(
        (d["event_code"].as_str(), d["classification"].as_str()),
        (Some("101"), Some("voice"))
    );
    assert_eq!(d["calling_number"], "4512345678");
    assert_eq!(
        (d["scaip"]["stc"].as_str(), d["scaip"]["stc_name"].as_str()),
        (Some("010"), Some("manual alarm"))
    );
    assert_eq!(d["scaip"]["dty_name"], "local unit and controller");
    s.sb.scaip_stored(s.now, token, true);
    let body = mrs(&mut s);
    assert!(
        body.starts_with("<mrs><ref>00001883</ref><snu>0</snu>"),
        "{body}"
    );
    assert!(body.contains("<mre>1</mre><cre>61</cre>"), "{body}");
    assert!(calls(&mut s).is_empty(), "waits for its voice call");
    s.advance(secs(5));
    s.send(UNIT, &invite("voice-1"));
    let out = s.sent();
    let want = [
        "SIP/2.0 100 Trying",
        "SIP/2.0 200 OK",
        "INVITE sip:op1@127.0.0.1:5081 SIP/2.0",
    ];
    assert_eq!(lines(&out), want, "linked at once: the operator rings");
    s.send(UNIT, &from_unit("ACK", "voice-1", &to_tag(&out[1].1), 1));
    let linked = calls(&mut s);
    assert_eq!(linked.len(), 1, "one call with its alarm: {linked:?}");
    let c = &linked[0];
    assert_eq!((c.id.as_str(), c.class), ("voice-1", CallClass::Emergency));
    assert_eq!(c.event_code.as_ref().map(|e| e.as_str()), Some("101"));
    assert_eq!(
        (c.protocol, c.account.as_deref()),
        (Some(Protocol::Scaip), Some("26317"))
    );
    let alarm = c.alarm.as_ref().expect("the alarm's fields");
    assert_eq!(alarm["scaip"]["ref"], "00001883");
    assert!(s.sb.devices.values().any(|d| d.routed && d.alarm.is_some()));
    s.advance(secs(120));
    assert!(
        calls(&mut s).iter().all(|c| c.state != Phase::Callback),
        "linked: no data alarm later"
    );
}

#[test]
fn storage_failure_answers_snu_5_and_acknowledges_nothing() {
    let mut s = scaip_sim();
    let (token, _) = stored(&mut s, 1, ESSENCE_ME);
    s.sb.scaip_stored(s.now, token, false);
    let body = mrs(&mut s);
    assert!(body.contains("<snu>5</snu>"), "{body}");
    assert!(!body.contains("<mre>"), "{body}");
    s.advance(secs(120));
    assert!(
        calls(&mut s).is_empty(),
        "nothing listed for what is not stored"
    );
}

#[test]
fn an_alarm_without_its_voice_call_becomes_a_data_alarm_at_the_window() {
    let mut s = scaip_sim();
    let (token, _) = stored(&mut s, 1, ESSENCE_ME);
    s.sb.scaip_stored(s.now, token, true);
    mrs(&mut s);
    s.advance(secs(59));
    assert!(calls(&mut s).is_empty());
    s.advance(secs(1));
    let listed = calls(&mut s);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let c = &listed[0];
    assert_eq!((c.state, c.class), (Phase::Callback, CallClass::Emergency));
    assert!(c.id.starts_with("scaip-00001883-"));
    let recall = c.recall.as_ref().map(|r| r.number.as_str());
    assert_eq!(
        recall,
        Some("+37284463906"),
        "the unit's number, one click away"
    );
}

#[test]
fn a_reset_withdraws_the_waiting_alarm() {
    let mut s = scaip_sim();
    let (token, _) = stored(&mut s, 1, ESSENCE_ME);
    s.sb.scaip_stored(s.now, token, true);
    mrs(&mut s);
    let (token, record) = stored(&mut s, 2, ESSENCE_RE);
    assert_eq!(record.data["classification"], "cancel");
    s.sb.scaip_stored(s.now, token, true);
    assert!(mrs(&mut s).contains("<snu>0</snu>"));
    assert_eq!(events(&s.outputs(), ALARM_WITHDRAWN), 1);
    s.advance(secs(120));
    assert!(calls(&mut s).is_empty(), "withdrawn: never listed");
}

#[test]
fn a_heartbeat_is_stored_then_answered_with_hbi_and_never_queued() {
    let mut s = scaip_sim();
    let (token, record) = stored(&mut s, 1, ESSENCE_PI);
    assert_eq!(
        (record.kind, record.subject.as_str()),
        (UNIT_HEARTBEAT, "26317")
    );
    s.sb.scaip_stored(s.now, token, true);
    let body = mrs(&mut s);
    assert!(body.contains("<ref>00001A85</ref><snu>0</snu>"), "{body}");
    assert!(body.contains("<hbi>3600</hbi>"), "{body}");
    s.advance(secs(120));
    assert!(calls(&mut s).is_empty());
}

#[test]
fn refusals_415_413_400_and_snu_7() {
    let mut s = scaip_sim();
    s.send(UNIT, &message(1, "text/plain", ESSENCE_ME));
    assert_eq!(lines(&s.sent()), vec!["SIP/2.0 415 Unsupported Media Type"]);
    let big = format!("<mrq>{}</mrq>", " ".repeat(9000));
    s.send(UNIT, &scaip(2, &big));
    assert_eq!(
        lines(&s.sent()),
        vec!["SIP/2.0 413 Request Entity Too Large"]
    );
    s.send(
        UNIT,
        &scaip(
            3,
            "<!DOCTYPE x [<!ENTITY a \"b\">]><mrq><ref>&a;</ref></mrq>",
        ),
    );
    assert_eq!(lines(&s.sent()), vec!["SIP/2.0 400 Bad Request"]);
    s.send(UNIT, &scaip(4, "<mrq><ref>9</ref><dty>2</dty></mrq>"));
    let out = s.sent();
    assert_eq!(lines(&out)[0], "SIP/2.0 200 OK");
    assert!(find(&out, "MESSAGE ")
        .1
        .contains("<ref>9</ref><snu>7</snu>"));
    assert!(stores(&mut s).is_empty());
}

#[test]
fn message_is_405_when_scaip_is_off() {
    let mut s = Sim::new(plan(), None);
    s.send(UNIT, &scaip(1, ESSENCE_ME));
    assert_eq!(lines(&s.sent()), vec!["SIP/2.0 405 Method Not Allowed"]);
}

#[test]
fn an_in_call_command_becomes_its_digit_on_the_units_leg_of_a_scaip_call_only() {
    use crate::api::ApiError;
    use crate::scaip::control::InCallCommand;
    let mut s = scaip_sim();
    let (token, _) = stored(&mut s, 1, ESSENCE_ME);
    s.sb.scaip_stored(s.now, token, true);
    mrs(&mut s);
    s.send(UNIT, &invite("voice-1"));
    let ok = s.sent()[1].1.clone();
    s.send(UNIT, &from_unit("ACK", "voice-1", &to_tag(&ok), 1));
    let outputs = s.outputs();
    let device = outputs
        .iter()
        .find_map(|o| match o {
            Output::StopAlarm { group } => Some(*group),
            _ => None,
        })
        .expect("the linked SCAIP call runs no Contact ID handshake");
    assert_eq!(
        s.sb.unit_command("voice-1", InCallCommand::ListenIn),
        Ok(())
    );
    assert_eq!(
        s.sb.unit_command("voice-1", InCallCommand::ClearDown),
        Ok(())
    );
    let digits: Vec<(CallHandle, String, u32)> = s
        .outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Digits {
                group,
                leg,
                digits,
                duration_ms,
            } if group == leg => Some((leg, digits, duration_ms)),
            _ => None,
        })
        .collect();
    let want = vec![
        (device, "7".to_string(), 150),
        (device, "0".to_string(), 150),
    ];
    assert_eq!(digits, want);
    let nobody = s.sb.unit_command("nobody", InCallCommand::ClearDown);
    assert!(
        matches!(nobody, Err(ApiError::NotFound { .. })),
        "{nobody:?}"
    );
    s.device_call("cid-1");
    let plain = s.sb.unit_command("cid-1", InCallCommand::ClearDown);
    assert!(
        matches!(plain, Err(ApiError::Conflict { .. })),
        "not a SCAIP unit: {plain:?}"
    );
    assert!(!s
        .outputs()
        .iter()
        .any(|o| matches!(o, Output::Digits { .. })));
}
