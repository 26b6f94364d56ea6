//! Unconfirmed alarms and callbacks with real SIP text in simulated time:
//! an alarm that never decoded waits as class `unconfirmed` with what was
//! heard, goes first, and if the unit hangs up before a person took it,
//! stays as a callback until recalled or given a disposition. The harness
//! is in `tests`.

use super::tests::*;
use super::tests_flows::invite_to;
use super::*;
use crate::alarm::{AttemptFault, Heard};
use crate::api::{ApiError, ApiRequest, CallState as Phase, CallView, Disposition, QueueView};
use crate::labels::CallLabels;
use crate::routing::OperatorId;
use crate::sip::types::CallId;

const BAD: &str = "1234181602000003";

fn alarm(call_id: &str) -> UnconfirmedAlarm {
    let mut heard = Heard::default();
    heard.record(BAD, AttemptFault::Checksum);
    heard.record("12341816", AttemptFault::Partial);
    UnconfirmedAlarm {
        labels: CallLabels::new(CallId::new(call_id), "demo".into(), "4512345678".into()),
        heard,
        event_code: None,
    }
}

fn calls(s: &mut Sim) -> Vec<CallView> {
    s.api(ApiRequest::ListCalls).expect("calls")
}

fn queues(s: &mut Sim) -> Vec<QueueView> {
    s.api(ApiRequest::ListQueues).expect("queues")
}

fn dispose(s: &mut Sim, call: &str) -> Result<(), ApiError> {
    s.api(ApiRequest::Disposition {
        call: call.into(),
        disposition: Disposition::FalseAlarm,
        note: None,
        by: "desk-1".into(),
        taken_by: None,
    })
}

fn recall(s: &mut Sim, number: &str) -> Result<String, ApiError> {
    s.api::<crate::api::RecallAccepted>(ApiRequest::Recall {
        operator: OperatorId::new("op1"),
        number: number.into(),
        tenant: "demo".into(),
        by: "desk-1".into(),
    })
    .map(|r| r.id)
}

/// The unit's BYE in the dialog its 200 OK opened; what was sent then.
fn unit_hangs_up(s: &mut Sim, call_id: &str, ok: &str) -> Vec<String> {
    s.send(UNIT, &from_unit("BYE", call_id, &to_tag(ok), 2));
    let sent = lines(&s.sent());
    assert_eq!(sent.first().map(String::as_str), Some("SIP/2.0 200 OK"));
    sent
}

/// The one callback listed, with what an operator needs.
fn the_callback(s: &mut Sim, call_id: &str) -> CallView {
    let listed = calls(s);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let cb = listed[0].clone();
    assert_eq!((cb.id.as_str(), cb.state), (call_id, Phase::Callback));
    assert_eq!(cb.class, CallClass::Unconfirmed);
    assert_eq!(cb.caller, "4512345678");
    let recall = cb.recall.clone().expect("the recall body");
    assert_eq!(
        (recall.number.as_str(), recall.tenant.as_str()),
        ("4512345678", "demo")
    );
    let heard = cb.heard.clone().expect("what was heard");
    assert_eq!(heard.best.map(|b| b.digits), Some(BAD.to_string()));
    assert_eq!((heard.checksum_failures, heard.partials), (1, 1));
    cb
}

/// A voice call waits; then an alarm that never decoded is queued: it is
/// listed as `unconfirmed` with what was heard, rings op1 first (its
/// priority is the emergency's), and when the unit hangs up while op1's
/// phone rings, the ringing stops and the entry stays as a callback, in
/// `/calls` and in its queue, with a `call.callback` record.
#[test]
fn an_unconfirmed_alarm_goes_first_and_stays_as_a_callback_when_the_unit_hangs_up() {
    let mut s = Sim::new(plan(), None);
    let (voice, _) = s.device_call("voice1@unit");
    s.sb.queue(s.now, voice, CallClass::Voice, None);
    let (device, ok) = s.device_call("bad1@unit");
    s.sb.queue_unconfirmed(s.now, device, alarm("bad1@unit"));
    let waiting = calls(&mut s);
    let unconfirmed = waiting
        .iter()
        .find(|c| c.id == "bad1@unit")
        .expect("listed");
    assert_eq!(
        (unconfirmed.class, unconfirmed.state),
        (CallClass::Unconfirmed, Phase::Waiting)
    );
    assert!(unconfirmed.heard.is_some() && unconfirmed.recall.is_none());
    let q = &queues(&mut s)[0];
    assert_eq!(q.calls[0].id, "bad1@unit", "first in the queue: {q:?}");

    assert!(s.register("op1", OP1).is_empty());
    let state = s.set_state("op1", crate::api::RequestedState::Available);
    assert_eq!(state, Ok(crate::api::OperatorState::Ringing));
    let invite = invite_to(&s.sent(), OP1);
    let ringing = calls(&mut s);
    let ringing = ringing.iter().find(|c| c.state == Phase::Ringing);
    assert_eq!(ringing.map(|c| c.id.as_str()), Some("bad1@unit"));
    s.send(OP1, &reply(&invite, 180, ""));
    s.outputs();
    let sent = unit_hangs_up(&mut s, "bad1@unit", &ok);
    assert!(sent.iter().any(|l| l.starts_with("CANCEL ")), "{sent:?}");
    assert!(header(&invite, "To").contains("op1"));
    let out = s.outputs();
    let recs = records(&out);
    let cb = recs
        .iter()
        .find(|(k, _, _)| *k == callbacks::CALL_CALLBACK)
        .expect("a call.callback record");
    assert_eq!(cb.1, "bad1@unit");
    assert_eq!(cb.2["heard"]["best"]["digits"], BAD);
    assert_eq!(cb.2["recall"]["number"], "4512345678");

    let listed: Vec<_> = calls(&mut s)
        .into_iter()
        .filter(|c| c.id == "bad1@unit")
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, Phase::Callback);
    let q = &queues(&mut s)[0];
    let entry = q
        .calls
        .iter()
        .find(|c| c.id == "bad1@unit")
        .expect("in its queue");
    assert_eq!(entry.state, Phase::Callback);
    assert_eq!(
        q.waiting, 1,
        "the voice call; a callback is not waiting: {q:?}"
    );
}

/// The unit hung up before the media worker gave up on it: the request
/// finds no call, so the callback is kept at once. A disposition removes
/// it, with a `call.callback_resolved` record; a second one finds the call
/// among those recently ended but no callback.
#[test]
fn a_unit_hanging_up_first_leaves_a_callback_that_a_disposition_resolves() {
    let mut s = Sim::new(plan(), None);
    let (device, ok) = s.device_call("bad2@unit");
    unit_hangs_up(&mut s, "bad2@unit", &ok);
    s.outputs();
    s.sb.queue_unconfirmed(s.now, device, alarm("bad2@unit"));
    assert_eq!(kinds(&s.outputs()), vec![callbacks::CALL_CALLBACK]);
    s.advance(secs(30));
    let cb = the_callback(&mut s, "bad2@unit");
    assert_eq!(cb.waited_s, 30);
    assert_eq!(cb.queue.map(|q| q.to_string()), Some("q1".into()));

    assert_eq!(dispose(&mut s, "bad2@unit"), Ok(()));
    let out = s.outputs();
    let recs = records(&out);
    let kinds: Vec<_> = recs.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(
        kinds,
        vec![api::CALL_DISPOSITION, callbacks::CALL_CALLBACK_RESOLVED]
    );
    assert_eq!(recs[1].2["resolution"], "disposition");
    assert_eq!(recs[1].2["disposition"], "false_alarm");
    assert_eq!(recs[1].2["by"], "desk-1");
    assert!(calls(&mut s).is_empty());
    assert_eq!(dispose(&mut s, "bad2@unit"), Ok(()));
    assert_eq!(kinds_of(&mut s), vec![api::CALL_DISPOSITION]);
}

fn kinds_of(s: &mut Sim) -> Vec<&'static str> {
    kinds(&s.outputs())
}

/// A recall of the callback's number for its tenant (the body its `recall`
/// field gives) removes it: "recall one click away". Another number does not.
#[test]
fn recalling_the_number_resolves_the_callback() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let (device, ok) = s.device_call("bad3@unit");
    unit_hangs_up(&mut s, "bad3@unit", &ok);
    s.sb.queue_unconfirmed(s.now, device, alarm("bad3@unit"));
    s.outputs();
    let cb = the_callback(&mut s, "bad3@unit");
    let number = cb.recall.map(|r| r.number).unwrap_or_default();
    let id = recall(&mut s, number.as_str()).expect("recall accepted");
    let out = s.outputs();
    let recs = records(&out);
    let resolved = recs
        .iter()
        .find(|(k, _, _)| *k == callbacks::CALL_CALLBACK_RESOLVED)
        .expect("resolved");
    assert_eq!(resolved.1, "bad3@unit");
    assert_eq!(resolved.2["resolution"], "recalled");
    assert_eq!(resolved.2["recall_id"], id.as_str());
    assert!(calls(&mut s).iter().all(|c| c.state != Phase::Callback));
}

/// An unconfirmed alarm an operator answered is served: its end leaves no
/// callback.
#[test]
fn an_answered_unconfirmed_alarm_leaves_no_callback() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let (device, ok) = s.device_call("bad4@unit");
    s.sb.queue_unconfirmed(s.now, device, alarm("bad4@unit"));
    let invite = find(&s.sent(), "INVITE ").1.clone();
    s.send(OP1, &reply(&invite, 200, &answer_sdp(&invite)));
    s.sent();
    s.outputs();
    let sent = unit_hangs_up(&mut s, "bad4@unit", &ok);
    assert!(
        sent.iter().any(|l| l.starts_with("BYE ")),
        "op1's leg ends: {sent:?}"
    );
    assert!(!kinds_of(&mut s).contains(&callbacks::CALL_CALLBACK));
    assert!(calls(&mut s).iter().all(|c| c.state != Phase::Callback));
}

/// A disposition given while the unconfirmed alarm waits settles it: the
/// unit hanging up afterwards leaves no callback.
#[test]
fn a_disposition_while_waiting_leaves_no_callback() {
    let mut s = Sim::new(plan(), None);
    let (device, ok) = s.device_call("bad5@unit");
    s.sb.queue_unconfirmed(s.now, device, alarm("bad5@unit"));
    assert_eq!(dispose(&mut s, "bad5@unit"), Ok(()));
    s.outputs();
    unit_hangs_up(&mut s, "bad5@unit", &ok);
    assert!(!kinds_of(&mut s).contains(&callbacks::CALL_CALLBACK));
    assert!(calls(&mut s).is_empty());
}
