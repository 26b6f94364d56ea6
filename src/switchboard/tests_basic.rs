//! The switchboard's main flow in simulated time with real SIP text:
//! register, log in, offer, answer, bridge, BYE both ways, wrap-up; the
//! caller hanging up while the phone rings; log-in by registration. The
//! harness is in `tests`.

use super::tests::*;
use super::*;
use crate::api::{OperatorState as Api, RequestedState};
use crate::call::EndReason;
use serde_json::json;

#[test]
fn register_login_offer_answer_bridge_bye_and_wrap_up() {
    use crate::api::CallState as Phase;
    use crate::routing::{CALL_ANSWERED, CALL_OFFERED, CALL_QUEUED, OPERATOR_STATE};
    let mut s = Sim::new(plan(), None);
    assert!(s.register("op1", OP1).is_empty());
    assert!(s.reachable("op1"), "the registrar told the router");
    assert_eq!(s.op_state("op1").0, Api::LoggedOut, "no login_on_register");
    assert_eq!(
        s.set_state("op1", RequestedState::Available),
        Ok(Api::Available)
    );
    let recs = records(&s.outputs());
    assert_eq!(recs.len(), 1);
    assert_eq!((recs[0].0, recs[0].1.as_str()), (OPERATOR_STATE, "op1"));

    let (device, _) = s.device_call("dev1@unit");
    s.sb.queue(s.now, device, CallClass::Emergency, emergency());
    let out = s.sent();
    assert_eq!(lines(&out), vec![format!("INVITE sip:op1@{OP1} SIP/2.0")]);
    let (to, invite) = out[0].clone();
    assert_eq!(to, OP1, "to the flow the phone registered from");
    assert_eq!(header(&invite, "Content-Type"), "application/sdp");
    assert!(
        invite.contains(" RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000"),
        "{invite}"
    );
    assert!(header(&invite, "From").starts_with("<sip:4512345678@"));
    let recs = records(&s.outputs());
    let call_recs: Vec<_> = recs.iter().filter(|r| r.0 != OPERATOR_STATE).collect();
    assert_eq!(
        call_recs.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![CALL_QUEUED, CALL_OFFERED]
    );
    for (_, subject, data) in &call_recs {
        assert_eq!(
            (subject.as_str(), &data["tenant"]),
            ("dev1@unit", &json!("demo"))
        );
    }
    assert_eq!(call_recs[1].2["operator"], json!("op1"));

    s.send(OP1, &reply(&invite, 180, ""));
    assert!(s.sent().is_empty());
    assert_eq!(s.op_state("op1").0, Api::Ringing);
    let ringing = ("dev1@unit".to_string(), Phase::Ringing, Some("op1".into()));
    assert_eq!(s.calls(), vec![ringing]);

    s.advance(secs(3));
    assert!(s.sent().is_empty(), "no retransmission after the 180");
    s.send(OP1, &reply(&invite, 200, &answer_sdp(&invite)));
    let out = s.sent();
    assert_eq!(lines(&out), vec![format!("ACK sip:op1@{OP1} SIP/2.0")]);
    assert_eq!(out[0].0, OP1);
    let ev = s.outputs();
    let (at, leg, group) = leg_started(&ev).expect("the leg's media starts");
    assert_eq!(group, device, "the leg is in the device's media group");
    let bridge_at = ev.iter().position(|o| matches!(o, Output::Bridge { .. }));
    assert!(
        bridge_at > Some(at),
        "the bridge follows the leg's MediaStart"
    );
    assert_eq!(bridges(&ev), vec![(device, device, leg)]);
    assert!(kinds(&ev).contains(&CALL_ANSWERED));
    assert_eq!(s.op_state("op1").0, Api::OnCall);
    let connected = (
        "dev1@unit".to_string(),
        Phase::Connected,
        Some("op1".into()),
    );
    assert_eq!(s.calls(), vec![connected]);

    s.advance(secs(60));
    assert!(s.sent().is_empty());
    s.send(OP1, &from_phone("BYE", &invite, OP1, 2));
    let out = s.sent();
    assert_eq!(lines(&out).len(), 2, "{out:?}");
    let ok = find(&out, "SIP/2.0 200");
    assert_eq!((ok.0.as_str(), header(&ok.1, "CSeq")), (OP1, "2 BYE"));
    let bye = find(&out, "BYE ").clone();
    assert_eq!(bye.0, UNIT);
    assert!(bye.1.starts_with(&format!("BYE sip:unit@{UNIT} SIP/2.0")));
    assert_eq!(header(&bye.1, "Call-ID"), "dev1@unit");
    assert_eq!(s.op_state("op1").0, Api::WrapUp);
    let ev = s.outputs();
    assert_eq!(
        end_reasons(&ev),
        vec![EndReason::RemoteBye],
        "the leg's end"
    );
    s.send(UNIT, &reply(&bye.1, 200, ""));
    let ev = s.outputs();
    assert_eq!(end_reasons(&ev), vec![EndReason::BridgePeerHungUp]);
    assert!(s.calls().is_empty());

    s.advance(secs(9));
    assert_eq!(s.op_state("op1").0, Api::WrapUp);
    s.advance(secs(1));
    assert_eq!(s.op_state("op1"), (Api::Available, None));
    assert_eq!(kinds(&s.outputs()), vec![OPERATOR_STATE]);
}

#[test]
fn the_device_hanging_up_while_the_phone_rings_cancels_the_offer() {
    use crate::routing::OPERATOR_STATE;
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let (device, invite, ok) = offered(&mut s, "dev2@unit");
    s.send(OP1, &reply(&invite, 180, ""));
    s.advance(secs(4));
    s.outputs();
    s.send(UNIT, &from_unit("BYE", "dev2@unit", &to_tag(&ok), 2));
    let out = s.sent();
    assert_eq!(find(&out, "SIP/2.0 200").0, UNIT);
    let cancel = find(&out, "CANCEL ").clone();
    assert_eq!(cancel.0, OP1);
    assert_eq!(header(&cancel.1, "Call-ID"), header(&invite, "Call-ID"));
    assert_eq!(header(&cancel.1, "CSeq"), "1 CANCEL");
    assert_eq!(lines(&out).len(), 2, "{out:?}");
    let ev = s.outputs();
    assert_eq!(end_reasons(&ev), vec![EndReason::RemoteBye]);
    let state = records(&ev).into_iter().find(|r| r.0 == OPERATOR_STATE);
    assert_eq!(
        state.map(|r| r.2["reason"].clone()),
        Some(json!("caller-gone"))
    );
    assert!(s.calls().is_empty(), "the call is gone from the API");
    assert_eq!(s.op_state("op1").0, Api::Available);
    assert!(!s.sb.devices.contains_key(&device));

    // The phone confirms: 200 to the CANCEL, 487 to the INVITE (ACKed).
    s.send(OP1, &reply(&cancel.1, 200, ""));
    s.send(OP1, &reply(&invite, 487, ""));
    let out = s.sent();
    assert_eq!(lines(&out), vec![format!("ACK sip:op1@{OP1} SIP/2.0")]);
    let ev = s.outputs();
    assert!(bridges(&ev).is_empty() && records(&ev).is_empty(), "{ev:?}");
    assert!(
        end_reasons(&ev).is_empty(),
        "an unanswered leg is no call: {ev:?}"
    );
    assert!(s.sb.legs.is_empty());
    assert_eq!(s.op_state("op1").0, Api::Available);
}

#[test]
fn login_on_register_offers_a_waiting_call_to_the_newest_contact() {
    let mut p = plan();
    p.operators[0].login_on_register = true;
    let mut s = Sim::new(p, None);
    let (device, _) = s.device_call("dev11@unit");
    s.sb.queue(s.now, device, CallClass::Voice, None);
    assert!(s.sent().is_empty(), "nobody to ring");
    let out = s.register("op1", OP1);
    assert_eq!(lines(&out), vec![format!("INVITE sip:op1@{OP1} SIP/2.0")]);
    assert_eq!(
        out[0].0, OP1,
        "logged in by the REGISTER, rung after its 200"
    );
    assert_eq!(s.op_state("op1").0, Api::Ringing);
    let reason = records(&s.outputs())
        .into_iter()
        .find(|r| r.0 == crate::routing::OPERATOR_STATE)
        .map(|r| r.2["reason"].clone());
    assert_eq!(reason, Some(json!("registered")));
}

#[test]
fn logging_out_while_ringing_cancels_and_the_device_hanging_up_ends_the_operator_leg() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    s.advance(secs(1));
    s.available("op2", OP2);
    let (_, invite, ok) = offered(&mut s, "dev12@unit");
    s.send(OP1, &reply(&invite, 180, ""));
    assert_eq!(
        s.set_state("op1", RequestedState::LoggedOut),
        Ok(Api::LoggedOut)
    );
    let out = s.sent();
    let cancel = find(&out, "CANCEL ").clone();
    assert_eq!(cancel.0, OP1);
    let (to, op2_invite) = find(&out, "INVITE ").clone();
    assert_eq!(to, OP2);
    s.send(OP1, &reply(&cancel.1, 200, ""));
    s.send(OP1, &reply(&invite, 487, ""));
    assert_eq!(lines(&s.sent()), vec![format!("ACK sip:op1@{OP1} SIP/2.0")]);
    s.send(OP2, &reply(&op2_invite, 200, &answer_sdp(&op2_invite)));
    s.sent();
    assert_eq!(s.op_state("op2").0, Api::OnCall);
    s.send(UNIT, &from_unit("BYE", "dev12@unit", &to_tag(&ok), 2));
    let out = s.sent();
    assert_eq!(find(&out, "SIP/2.0 200").0, UNIT);
    let bye = find(&out, "BYE ");
    assert_eq!(bye.0, OP2);
    assert_eq!(header(&bye.1, "Call-ID"), header(&op2_invite, "Call-ID"));
    assert_eq!(s.op_state("op2").0, Api::WrapUp);
    assert!(s.calls().is_empty());
    s.send(OP2, &reply(&bye.1, 200, ""));
    assert!(s.sent().is_empty());
    assert!(s.sb.legs.is_empty() && s.sb.devices.is_empty());
}

#[test]
fn an_operator_leg_that_fails_after_the_answer_puts_the_call_back_in_the_queue() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    s.advance(secs(1));
    s.available("op2", OP2);
    let (device, invite, _ok) = offered(&mut s, "dev9@unit");
    s.send(OP1, &reply(&invite, 200, &answer_sdp(&invite)));
    s.sent();
    let (_, leg, _) = leg_started(&s.outputs()).expect("the leg's media starts");
    // The media engine cannot open the leg's RTP socket.
    s.sb.with_core(s.now, |core, tl, now| core.media_failed(tl, now, leg));
    let mut out = s.sent();
    let bye = find(&out, "BYE ").clone();
    assert_eq!(bye.0, OP1, "the failed leg is hung up: {out:?}");
    s.send(OP1, &reply(&bye.1, 200, ""));
    out.extend(s.sent());
    assert!(
        out.iter()
            .all(|(to, m)| !(to == UNIT && m.starts_with("BYE "))),
        "the citizen is not dropped: {out:?}"
    );
    assert_eq!(
        lines(&out)
            .iter()
            .filter(|l| l.starts_with("INVITE sip:op2@"))
            .count(),
        1,
        "the call is offered again, to the next operator: {out:?}"
    );
    assert!(s.sb.devices.contains_key(&device));
}

#[test]
fn no_free_rtp_port_for_the_leg_does_not_mark_the_operator_unreachable() {
    // One port pair: the device call takes it, the operator's leg finds none.
    let mut s = Sim::with_ports(plan(), None, (40000, 40001));
    s.available("op1", OP1);
    let (device, _) = s.device_call("dev8@unit");
    s.sb.queue(s.now, device, CallClass::Voice, None);
    assert!(s.sent().is_empty(), "no INVITE without a port");
    assert!(s.reachable("op1"), "the phone is not blamed");
    assert_eq!(s.op_state("op1").0, Api::Available);
}
