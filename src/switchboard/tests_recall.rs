//! Switchboard flows in simulated time with real SIP text: recalls,
//! dispositions, reloads during calls, forwards that ring too long. The
//! harness is in `tests`.

use super::tests::*;
use super::tests_flows::{invite_to, overflow_plan, two_operators, unregister};
use super::*;
use crate::api::{ApiError, ApiRequest, CallState as Phase, Disposition, OperatorState as Api};
use crate::call::EndReason;
use crate::routing::{OperatorId, QueueId, QueuePlan, TargetId, TenantPlan, CALL_OVERFLOWED};
use serde_json::json;

pub(super) fn recall(s: &mut Sim, operator: &str) -> Result<String, ApiError> {
    s.api::<crate::api::RecallAccepted>(ApiRequest::Recall {
        operator: OperatorId::new(operator),
        number: "4512345678".into(),
        tenant: "demo".into(),
        by: "test".into(),
    })
    .map(|r| r.id)
}

/// A recall answered by op1 and by the device: (op1's INVITE, the trunk INVITE).
pub(super) fn recall_connected(s: &mut Sim) -> (String, String) {
    s.available("op1", OP1);
    let id = recall(s, "op1").expect("accepted");
    let op_invite = invite_to(&s.sent(), OP1);
    assert_eq!(header(&op_invite, "Call-ID"), id, "the recall's id");
    assert!(header(&op_invite, "From").starts_with("<sip:4512345678@"));
    s.send(OP1, &reply(&op_invite, 180, ""));
    assert_eq!(s.op_state("op1").0, Api::Ringing);
    s.send(OP1, &reply(&op_invite, 200, &answer_sdp(&op_invite)));
    let out = s.sent();
    assert_eq!(find(&out, "ACK ").0, OP1);
    let trunk = invite_to(&out, TRUNK);
    assert!(trunk.starts_with(&format!("INVITE sip:4512345678@{TRUNK} SIP/2.0")));
    let (_, op_leg, _) = leg_started(&s.outputs()).expect("op1's media");
    s.send(TRUNK, &reply(&trunk, 200, &answer_sdp(&trunk)));
    assert_eq!(find(&s.sent(), "ACK ").0, TRUNK);
    let ev = s.outputs();
    let (_, device_leg, group) = leg_started(&ev).expect("the device's media");
    assert_eq!(
        group, op_leg,
        "the device leg joins the operator leg's group"
    );
    assert_eq!(bridges(&ev), vec![(op_leg, device_leg, op_leg)]);
    assert_eq!(s.op_state("op1").0, Api::OnCall);
    (op_invite, trunk)
}

#[test]
fn a_recall_rings_the_operator_then_the_device_and_either_bye_ends_both() {
    let mut s = Sim::new(plan(), None);
    let (op_invite, trunk) = recall_connected(&mut s);
    s.send(TRUNK, &from_phone("BYE", &trunk, TRUNK, 2));
    let out = s.sent();
    assert_eq!(find(&out, "SIP/2.0 200").0, TRUNK);
    let bye = find(&out, "BYE ");
    assert_eq!(bye.0, OP1);
    assert_eq!(header(&bye.1, "Call-ID"), header(&op_invite, "Call-ID"));
    assert_eq!(s.op_state("op1").0, Api::WrapUp);

    let mut s = Sim::new(plan(), None);
    let (op_invite, trunk) = recall_connected(&mut s);
    s.send(OP1, &from_phone("BYE", &op_invite, OP1, 2));
    let out = s.sent();
    let bye = find(&out, "BYE ");
    assert_eq!(bye.0, TRUNK);
    assert_eq!(header(&bye.1, "Call-ID"), header(&trunk, "Call-ID"));
    assert_eq!(s.op_state("op1").0, Api::WrapUp);
    assert!(s.sb.recalls.is_empty());
}

#[test]
fn a_recall_needs_an_available_operator_and_a_trunk() {
    let mut s = Sim::new(plan(), None);
    assert!(s.register("op1", OP1).is_empty());
    assert!(matches!(
        recall(&mut s, "op1"),
        Err(ApiError::Conflict { .. })
    ));
    assert!(matches!(
        recall(&mut s, "op9"),
        Err(ApiError::NotFound { .. })
    ));
    s.sb.config.recall_trunks.clear();
    assert!(matches!(
        recall(&mut s, "op1"),
        Err(ApiError::BadRequest { .. })
    ));
    assert!(s.sent().is_empty() && s.sb.recalls.is_empty());
}

fn dispose(s: &mut Sim, call: &str) -> Result<(), ApiError> {
    s.api(ApiRequest::Disposition {
        call: call.into(),
        disposition: Disposition::FalseAlarm,
        note: Some("pressed by mistake".into()),
        by: "desk-1".into(),
        taken_by: None,
    })
}

#[test]
fn dispositions_for_live_and_recently_ended_calls_and_not_for_unknown_ones() {
    let mut s = Sim::new(plan(), None);
    let (_, ok) = s.device_call("dev8@unit");
    s.outputs();
    assert_eq!(dispose(&mut s, "dev8@unit"), Ok(()));
    let recs = records(&s.outputs());
    assert_eq!(recs.len(), 1);
    let (kind, subject, data) = &recs[0];
    assert_eq!(
        (*kind, subject.as_str()),
        (api::CALL_DISPOSITION, "dev8@unit")
    );
    let expected = json!({"tenant": "demo", "disposition": "false_alarm",
        "note": "pressed by mistake", "by": "desk-1"});
    assert_eq!(data, &expected);
    s.send(UNIT, &from_unit("BYE", "dev8@unit", &to_tag(&ok), 2));
    s.outputs();
    assert_eq!(dispose(&mut s, "dev8@unit"), Ok(()), "recently ended");
    assert_eq!(records(&s.outputs())[0].2["tenant"], json!("demo"));
    let unknown = dispose(&mut s, "nobody@nowhere");
    assert!(matches!(unknown, Err(ApiError::NotFound { .. })));
    assert!(s.outputs().is_empty());
}

#[test]
fn a_reload_during_a_connected_call_keeps_it() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let (device, invite, _) = offered(&mut s, "dev9@unit");
    s.send(OP1, &reply(&invite, 200, &answer_sdp(&invite)));
    s.sent();
    s.outputs();
    let mut next = plan();
    next.queues[0].wrap_up = secs(3);
    next.operators
        .push(crate::routing::OperatorPlan::new("op3", &["q1"]));
    let result = s.sb.reconfigure(s.now, Some(next), None, config());
    assert_eq!(result, Ok(()));
    assert!(s.sent().is_empty(), "nothing hung up");
    let connected = (
        "dev9@unit".to_string(),
        Phase::Connected,
        Some("op1".into()),
    );
    assert_eq!(s.calls(), vec![connected]);
    assert_eq!(s.op_state("op1").0, Api::OnCall);
    assert!(s.sb.devices[&device].leg.is_some());
    s.send(OP1, &from_phone("BYE", &invite, OP1, 2));
    assert_eq!(find(&s.sent(), "BYE ").0, UNIT);
    assert_eq!(s.op_state("op1").0, Api::WrapUp);
    s.advance(secs(3));
    assert_eq!(s.op_state("op1").0, Api::Available, "the new wrap-up time");
    assert_eq!(end_reasons(&s.outputs()), vec![EndReason::RemoteBye]);
}

#[test]
fn a_recall_the_device_does_not_answer_hangs_up_the_operator_once() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let id = recall(&mut s, "op1").expect("accepted");
    let op_invite = invite_to(&s.sent(), OP1);
    s.send(OP1, &reply(&op_invite, 200, &answer_sdp(&op_invite)));
    let trunk = invite_to(&s.sent(), TRUNK);
    s.outputs();
    assert_eq!(dispose(&mut s, &id), Ok(()), "a live recall");
    s.send(TRUNK, &reply(&trunk, 486, ""));
    let out = s.sent();
    assert_eq!(find(&out, "ACK ").0, TRUNK);
    assert_eq!(find(&out, "BYE ").0, OP1, "one BYE to the operator");
    assert_eq!(s.op_state("op1").0, Api::WrapUp);
    assert!(bridges(&s.outputs()).is_empty());
    s.send(OP1, &reply(&find(&out, "BYE ").1, 200, ""));
    assert!(s.sent().is_empty());
    assert!(s.sb.recalls.is_empty() && s.sb.legs.is_empty());
    assert_eq!(dispose(&mut s, &id), Ok(()), "a recently ended recall");
    let recs = records(&s.outputs());
    assert!(recs.iter().all(|r| r.1 == id), "{recs:?}");
}

#[test]
fn a_recall_the_operator_does_not_answer_is_cancelled_and_released() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let id = recall(&mut s, "op1").expect("accepted");
    let op_invite = invite_to(&s.sent(), OP1);
    s.send(OP1, &reply(&op_invite, 180, ""));
    let recs = records(&s.outputs());
    let offered = recs.iter().find(|r| r.0 == crate::routing::CALL_OFFERED);
    let offered = offered.expect("offered");
    assert_eq!((&offered.1, &offered.2["tenant"]), (&id, &json!("demo")));
    assert_eq!(s.calls().len(), 1);
    s.advance(secs(14));
    assert!(s.sent().is_empty());
    s.advance(secs(1)); // the ring timeout of the operator's queue
    let out = s.sent();
    assert_eq!(find(&out, "CANCEL ").0, OP1);
    assert!(
        out.iter().all(|(to, _)| to == OP1),
        "no trunk call: {out:?}"
    );
    assert!(s.sb.recalls.is_empty() && s.calls().is_empty());
    assert_eq!(s.op_state("op1").0, Api::Paused);
    s.send(OP1, &reply(&op_invite, 487, ""));
    assert_eq!(lines(&s.sent()), vec![format!("ACK sip:op1@{OP1} SIP/2.0")]);
    assert!(s.sb.legs.is_empty());
}

#[test]
fn a_forward_that_rings_too_long_is_cancelled_and_goes_to_the_last_resort() {
    let mut s = Sim::new(overflow_plan(), None);
    let (device, _) = s.device_call("dev10@unit");
    s.sb.queue(s.now, device, CallClass::Voice, None);
    let invite = invite_to(&s.sent(), PARTNER);
    s.send(PARTNER, &reply(&invite, 180, ""));
    s.advance(crate::routing::FORWARD_TIMEOUT);
    let out = s.sent();
    assert_eq!(find(&out, "CANCEL ").0, PARTNER);
    invite_to(&out, LAST);
    s.send(PARTNER, &reply(&invite, 487, ""));
    let late = s.sent();
    assert_eq!(
        lines(&late),
        vec![format!("ACK sip:partner@{PARTNER} SIP/2.0")]
    );
    assert_eq!(s.calls()[0].1, Phase::Forwarding);
    assert_eq!(
        s.sb.devices[&device]
            .leg
            .map(|l| s.sb.legs[&l].role.clone()),
        Some(LegRole::Forward {
            device,
            target: TargetId::new("lr")
        })
    );
}

#[test]
fn targets_without_a_route_fail_over_to_the_last_resort_retry_without_looping() {
    let mut s = Sim::new(overflow_plan(), None);
    s.sb.config.targets.clear();
    let (device, _) = s.device_call("dev13@unit");
    s.sb.queue(s.now, device, CallClass::Voice, None);
    assert!(s.sent().is_empty(), "nowhere to send it");
    let recs = records(&s.outputs());
    assert!(recs.iter().any(|r| r.0 == CALL_OVERFLOWED));
    assert_eq!(s.calls().len(), 1, "never dropped");
    s.sb.config = config();
    s.advance(crate::routing::LAST_RESORT_RETRY);
    let out = s.sent();
    let retry = invite_to(&out, LAST);
    assert!(
        retry.starts_with(&format!("INVITE sip:lr@{LAST} ")),
        "the last resort again"
    );
}

#[test]
fn unregistering_while_ringing_cancels_and_offers_the_next_operator() {
    let (mut s, _, invite, _) = two_operators(plan());
    let out = unregister(&mut s, 3);
    assert_eq!(lines(&out[..1]), vec!["SIP/2.0 200 OK"]);
    assert_eq!(find(&out, "CANCEL ").0, OP1);
    assert_eq!(
        header(&find(&out, "CANCEL ").1, "Call-ID"),
        header(&invite, "Call-ID")
    );
    invite_to(&out, OP2);
    assert!(!s.reachable("op1"));
    assert_eq!(s.op_state("op2").0, Api::Ringing);
}

#[test]
fn a_reload_removing_the_operator_on_a_call_keeps_the_call_until_its_end() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let (device, invite, _) = offered(&mut s, "dev14@unit");
    s.send(OP1, &reply(&invite, 200, &answer_sdp(&invite)));
    s.sent();
    s.outputs();
    let mut next = plan();
    next.operators.retain(|o| o.id.as_str() != "op1");
    let credentials = [(OperatorId::new("op2"), Default::default())]
        .into_iter()
        .collect();
    assert_eq!(
        s.sb.reconfigure(s.now, Some(next), Some(credentials), config()),
        Ok(())
    );
    assert!(s.sent().is_empty(), "the call goes on");
    assert!(s.sb.devices[&device].leg.is_some());
    s.send(OP1, &from_phone("BYE", &invite, OP1, 2));
    assert_eq!(find(&s.sent(), "BYE ").0, UNIT);
    assert!(s.calls().is_empty());
}

#[test]
fn the_call_list_names_a_recall_by_its_tenant_and_number() {
    // op1 serves tenant acme's queue first: the recall is still demo's.
    let mut p = plan();
    p.queues
        .insert(0, QueuePlan::new("q0", "acme", secs(15), secs(10)));
    p.tenants.push(TenantPlan {
        id: "acme".into(),
        default_queue: QueueId::new("q0"),
        last_resort: TargetId::new("lr"),
    });
    p.operators[0].queues.insert(0, QueueId::new("q0"));
    let mut s = Sim::new(p, None);
    s.available("op1", OP1);
    let id = recall(&mut s, "op1").expect("accepted");
    let calls: Result<Vec<crate::api::CallView>, _> = s.api(ApiRequest::ListCalls);
    let calls = calls.expect("calls");
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!((c.id.as_str(), c.state), (id.as_str(), Phase::Ringing));
    assert_eq!(
        (c.tenant.as_str(), c.caller.as_str()),
        ("demo", "4512345678")
    );
}

#[test]
fn a_recall_whose_operator_leg_cannot_start_is_refused_not_accepted() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    // Draining: no outgoing leg starts, so nobody's phone is being rung.
    s.sb.with_core(s.now, |core, _, now| core.begin_drain(now, secs(30)));
    let refused = recall(&mut s, "op1");
    assert!(
        matches!(refused, Err(ApiError::Unavailable { .. })),
        "{refused:?}"
    );
    assert!(s.sent().is_empty() && s.sb.recalls.is_empty());
}

#[test]
fn a_recall_the_operator_declines_still_takes_a_disposition() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let id = recall(&mut s, "op1").expect("accepted");
    let op_invite = invite_to(&s.sent(), OP1);
    s.send(OP1, &reply(&op_invite, 603, ""));
    assert!(s.sb.recalls.is_empty() && s.sb.legs.is_empty());
    s.outputs();
    assert_eq!(dispose(&mut s, &id), Ok(()), "the id POST /recalls gave");
    assert_eq!(records(&s.outputs())[0].2["tenant"], json!("demo"));
}
