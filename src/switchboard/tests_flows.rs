//! Switchboard flows in simulated time with real SIP text: ring timeout,
//! refusals and unreachable phones, overflow to an external target and the
//! last resort, keep-alives, recalls, dispositions, reload. The harness is
//! in `tests`.

use super::tests::*;
use super::*;
use crate::api::{ApiRequest, CallState as Phase, OperatorState as Api};
use crate::routing::{
    OverflowRule, OverflowTo, OverflowWhen, TargetId, CALL_OVERFLOWED, RING_NO_ANSWER,
};
use serde_json::json;

/// op1 and op2 available (op1 longest idle), a call ringing op1:
/// (device, our INVITE to op1, the device's 200 OK).
pub(super) fn two_operators(plan: Plan) -> (Sim, CallHandle, String, String) {
    let mut s = Sim::new(plan, None);
    s.available("op1", OP1);
    s.advance(secs(1));
    s.available("op2", OP2);
    let (device, invite, ok) = offered(&mut s, "dev3@unit");
    s.send(OP1, &reply(&invite, 180, ""));
    s.outputs();
    (s, device, invite, ok)
}

/// The one INVITE sent, to `addr`.
pub(super) fn invite_to(out: &[(String, String)], addr: &str) -> String {
    let (to, invite) = find(out, "INVITE ");
    assert_eq!(to, addr, "{out:?}");
    invite.clone()
}

#[test]
fn ring_timeout_cancels_pauses_and_offers_the_next_operator() {
    let (mut s, _, invite, _) = two_operators(plan());
    s.advance(secs(14));
    assert!(s.sent().is_empty());
    s.advance(secs(1));
    let out = s.sent();
    let cancel = find(&out, "CANCEL ");
    assert_eq!(cancel.0, OP1);
    assert_eq!(header(&cancel.1, "Call-ID"), header(&invite, "Call-ID"));
    assert!(invite_to(&out, OP2).starts_with(&format!("INVITE sip:op2@{OP2} ")));
    assert_eq!(
        s.op_state("op1"),
        (Api::Paused, Some(RING_NO_ANSWER.into()))
    );
    assert_eq!(s.op_state("op2").0, Api::Ringing);
    let ringing = ("dev3@unit".to_string(), Phase::Ringing, Some("op2".into()));
    assert_eq!(s.calls(), vec![ringing]);
    // op1's phone answers after all, crossing the CANCEL: hung up at once.
    s.send(OP1, &reply(&invite, 200, &answer_sdp(&invite)));
    let out = s.sent();
    assert!(find(&out, "ACK ").0 == OP1 && find(&out, "BYE ").0 == OP1);
    assert!(bridges(&s.outputs()).is_empty());
    assert_eq!(s.op_state("op2").0, Api::Ringing);
}

#[test]
fn busy_and_decline_go_to_the_next_operator_at_once() {
    for code in [486, 603] {
        let (mut s, _, invite, _) = two_operators(plan());
        s.send(OP1, &reply(&invite, code, ""));
        let out = s.sent();
        assert_eq!(find(&out, "ACK ").0, OP1, "{code}");
        invite_to(&out, OP2);
        assert_eq!(s.op_state("op1").0, Api::Available, "{code}");
        assert!(s.reachable("op1"));
        assert_eq!(s.op_state("op2").0, Api::Ringing);
    }
}

#[test]
fn a_503_makes_the_operator_unreachable_and_the_next_is_rung() {
    let (mut s, _, invite, _) = two_operators(plan());
    s.send(OP1, &reply(&invite, 503, ""));
    let out = s.sent();
    assert_eq!(find(&out, "ACK ").0, OP1);
    invite_to(&out, OP2);
    assert!(!s.reachable("op1"), "out of the rotation");
    assert_eq!(s.op_state("op2").0, Api::Ringing);
    s.advance(crate::routing::UNREACHABLE_RECHECK);
    assert!(
        s.reachable("op1"),
        "still registered: back after the recheck"
    );
}

#[test]
fn no_answer_at_all_is_unreachable_after_timer_b() {
    let mut slow = plan();
    slow.queues[0].ring_timeout = secs(60);
    let mut s = Sim::new(slow, None);
    s.available("op1", OP1);
    s.advance(secs(1));
    s.available("op2", OP2);
    let (_, invite, _) = offered(&mut s, "dev4@unit");
    s.advance(secs(31));
    let out = s.sent();
    assert!(
        out.iter().all(|(to, m)| to == OP1 && *m == invite),
        "retransmissions"
    );
    s.advance(secs(1));
    let out = s.sent();
    let fresh: Vec<_> = out.into_iter().filter(|(to, _)| to == OP2).collect();
    invite_to(&fresh, OP2);
    assert!(!s.reachable("op1"));
}

/// The plan with `q1` forwarding to `partner` while nobody is logged in.
pub(super) fn overflow_plan() -> Plan {
    let mut p = plan();
    p.queues[0].overflow = vec![OverflowRule {
        when: OverflowWhen::NoOperatorsLoggedIn,
        to: OverflowTo::Target(TargetId::new("partner")),
    }];
    p
}

#[test]
fn nobody_logged_in_forwards_to_the_target_and_bridges_its_answer() {
    let mut s = Sim::new(overflow_plan(), None);
    let (device, ok) = s.device_call("dev5@unit");
    s.sb.queue(s.now, device, CallClass::Voice, None);
    let invite = invite_to(&s.sent(), PARTNER);
    assert!(invite.starts_with(&format!("INVITE sip:partner@{PARTNER} SIP/2.0")));
    let recs = records(&s.outputs());
    let overflowed = recs.iter().find(|r| r.0 == CALL_OVERFLOWED).expect("moved");
    assert_eq!(overflowed.1, "dev5@unit");
    assert_eq!(overflowed.2["reason"], json!("no_operators_logged_in"));
    assert_eq!(overflowed.2["tenant"], json!("demo"));
    assert_eq!(s.calls()[0].1, Phase::Forwarding);

    s.send(PARTNER, &reply(&invite, 200, &answer_sdp(&invite)));
    assert_eq!(find(&s.sent(), "ACK ").0, PARTNER);
    let ev = s.outputs();
    let (_, leg, group) = leg_started(&ev).expect("the target's media");
    assert_eq!((group, bridges(&ev)), (device, vec![(device, device, leg)]));
    // The unit hangs up: the target gets a BYE, the call is over.
    s.send(UNIT, &from_unit("BYE", "dev5@unit", &to_tag(&ok), 2));
    let out = s.sent();
    assert_eq!(find(&out, "BYE ").0, PARTNER);
    assert!(s.calls().is_empty());
}

#[test]
fn a_failed_forward_goes_to_the_last_resort() {
    let mut s = Sim::new(overflow_plan(), None);
    let (device, _) = s.device_call("dev6@unit");
    s.sb.queue(s.now, device, CallClass::Voice, None);
    let invite = invite_to(&s.sent(), PARTNER);
    s.outputs();
    s.send(PARTNER, &reply(&invite, 503, ""));
    let out = s.sent();
    assert_eq!(find(&out, "ACK ").0, PARTNER);
    let last = invite_to(&out, LAST);
    assert!(last.starts_with(&format!("INVITE sip:lr@{LAST} SIP/2.0")));
    let recs = records(&s.outputs());
    let moved = recs.iter().find(|r| r.0 == CALL_OVERFLOWED).expect("moved");
    assert_eq!(moved.2["reason"], json!("forward_failed"));
    s.send(LAST, &reply(&last, 200, &answer_sdp(&last)));
    let ev = s.outputs();
    let (_, leg, _) = leg_started(&ev).expect("the last resort's media");
    assert_eq!(bridges(&ev), vec![(device, device, leg)]);
}

#[test]
fn keep_alives_probe_and_silence_removes_the_binding_within_two_intervals() {
    let mut s = Sim::new(plan(), Some(secs(30)));
    s.available("op1", OP1);
    s.advance(secs(29));
    assert!(s.sent().is_empty());
    s.advance(secs(1));
    let out = s.sent();
    assert_eq!(lines(&out), vec![format!("OPTIONS sip:op1@{OP1} SIP/2.0")]);
    assert_eq!(out[0].0, OP1);
    s.send(OP1, &reply(&out[0].1, 200, ""));
    // Heard at 30 s: the next probe at 60 s goes unanswered.
    s.advance(secs(30));
    let probe = s.sent();
    assert_eq!(
        lines(&probe),
        vec![format!("OPTIONS sip:op1@{OP1} SIP/2.0")]
    );
    s.advance(secs(29));
    assert!(s.reachable("op1"));
    s.advance(secs(1));
    assert!(!s.reachable("op1"), "gone 2 intervals after last heard");
    let ops = s
        .api::<Vec<crate::api::OperatorView>>(ApiRequest::ListOperators)
        .expect("ops");
    assert_eq!(ops[0].contacts, 0);
    let unanswered = s.sent();
    assert!(unanswered.iter().all(|(_, m)| m.starts_with("OPTIONS ")));
    // A call now waits: nobody to ring.
    let (device, ok) = s.device_call("dev7@unit");
    s.sb.queue(s.now, device, CallClass::Emergency, emergency());
    assert!(s.sent().iter().all(|(_, m)| !m.starts_with("INVITE")));
    assert_eq!(s.calls()[0].1, Phase::Waiting);
    let queues: Result<Vec<crate::api::QueueView>, _> = s.api(ApiRequest::ListQueues);
    let q = &queues.expect("queues")[0];
    assert_eq!(
        (q.waiting, q.operators_available, q.operators_total),
        (1, 0, 2)
    );
    let waiting = &q.calls[0];
    assert_eq!((waiting.position, waiting.id.as_str()), (1, "dev7@unit"));
    assert_eq!(waiting.event_code, emergency());
    // The unit gives up waiting: the call leaves the queue.
    s.send(UNIT, &from_unit("BYE", "dev7@unit", &to_tag(&ok), 2));
    assert_eq!(lines(&s.sent()), vec!["SIP/2.0 200 OK"]);
    assert!(s.calls().is_empty());
}

#[test]
fn a_forward_leg_that_fails_after_the_answer_puts_the_call_back_in_the_queue() {
    let mut s = Sim::new(overflow_plan(), None);
    let (device, _ok) = s.device_call("dev6@unit");
    s.sb.queue(s.now, device, CallClass::Voice, None);
    let invite = invite_to(&s.sent(), PARTNER);
    s.send(PARTNER, &reply(&invite, 200, &answer_sdp(&invite)));
    s.sent();
    let (_, leg, _) = leg_started(&s.outputs()).expect("the target's media");
    // The media engine cannot open the leg's RTP socket: not a hang-up.
    s.sb.with_core(s.now, |core, tl, now| core.media_failed(tl, now, leg));
    let bye = find(&s.sent(), "BYE ").clone();
    assert_eq!(bye.0, PARTNER);
    s.send(PARTNER, &reply(&bye.1, 200, ""));
    // Back in the queue: nobody is logged in, so it is forwarded again
    // (not held forever under a forward the router thinks is connected).
    let again = invite_to(&s.sent(), PARTNER);
    assert_ne!(header(&again, "Call-ID"), header(&invite, "Call-ID"));
    assert_eq!(s.calls()[0].1, Phase::Forwarding);
    assert!(s.sb.devices.contains_key(&device));
}

#[test]
fn a_phone_logged_in_by_register_that_unregisters_during_a_call_is_logged_out_after_it() {
    let mut p = plan();
    p.operators[0].login_on_register = true;
    let mut s = Sim::new(p, None);
    let (device, ok) = s.device_call("dev12@unit");
    s.sb.queue(s.now, device, CallClass::Voice, None);
    let out = s.register("op1", OP1);
    let invite = invite_to(&out, OP1);
    s.send(OP1, &reply(&invite, 200, &answer_sdp(&invite)));
    s.sent();
    assert_eq!(s.op_state("op1").0, Api::OnCall);
    // The softphone unregisters (Expires: 0, digest) while on the call.
    let out = unregister(&mut s, 3);
    assert_eq!(lines(&out[..1]), vec!["SIP/2.0 200 OK"]);
    assert_eq!(s.op_state("op1").0, Api::OnCall, "the call goes on");
    s.send(UNIT, &from_unit("BYE", "dev12@unit", &to_tag(&ok), 2));
    s.sent();
    s.advance(secs(11));
    // No phone left: logged out (as login_on_register says), not "available".
    assert_eq!(s.op_state("op1").0, Api::LoggedOut);
}

/// op1's phone at `OP1` unregisters (Expires: 0), answering the digest
/// challenge (CSeq `cseq`, then `cseq + 1`): what was sent after the answer.
pub(super) fn unregister(s: &mut Sim, cseq: u32) -> Vec<(String, String)> {
    let bye = |cseq, auth: Option<&str>| {
        register("op1", OP1, cseq, auth).replace("Expires: 600", "Expires: 0")
    };
    s.send(OP1, &bye(cseq, None));
    let out = s.sent();
    let challenge = out[0]
        .1
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate:") && l.contains("MD5"));
    let challenge = challenge.expect("challenged")["WWW-Authenticate:".len()..]
        .trim()
        .to_string();
    let uri = format!("sip:{REALM}");
    let auth =
        crate::sip::digest::respond(&challenge, "REGISTER", &uri, "op1", "op1-pw", "beef", 1);
    s.send(OP1, &bye(cseq + 1, Some(&auth.expect("answer"))));
    s.sent()
}
