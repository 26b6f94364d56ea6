//! A recall's own events in simulated time: `alarmgate.recall.connected`
//! when the unit answers, `alarmgate.recall.ended` with why and whether the
//! unit had answered, all under the recall's public id (its call record's
//! key), valid against the event schema.

use super::recall_events::{RECALL_CONNECTED, RECALL_ENDED};
use super::tests::*;
use super::tests_flows::invite_to;
use super::tests_recall::{recall, recall_connected};
use serde_json::{json, Value};

fn of_kind(recs: &[(&'static str, String, Value)], kind: &str) -> Vec<(String, Value)> {
    recs.iter()
        .filter(|r| r.0 == kind)
        .map(|r| (r.1.clone(), r.2.clone()))
        .collect()
}

#[test]
fn a_connected_recall_journals_the_units_answer_and_its_end() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let id = recall(&mut s, "op1").expect("accepted");
    let op_invite = invite_to(&s.sent(), OP1);
    s.send(OP1, &reply(&op_invite, 200, &answer_sdp(&op_invite)));
    let trunk = invite_to(&s.sent(), TRUNK);
    let mut recs = records(&s.outputs());
    assert!(
        of_kind(&recs, RECALL_CONNECTED).is_empty(),
        "the unit has not answered"
    );
    s.send(TRUNK, &reply(&trunk, 200, &answer_sdp(&trunk)));
    recs.extend(records(&s.outputs()));
    let connected = of_kind(&recs, RECALL_CONNECTED);
    let want = json!({"tenant": "demo", "calling_number": "4512345678", "call": "recall-1"});
    assert_eq!(connected, vec![(id.clone(), want)], "{recs:?}");
    assert!(of_kind(&recs, RECALL_ENDED).is_empty(), "not ended yet");
    s.send(TRUNK, &from_phone("BYE", &trunk, TRUNK, 2));
    let ended = of_kind(&records(&s.outputs()), RECALL_ENDED);
    let want = json!({"tenant": "demo", "calling_number": "4512345678", "call": "recall-1",
        "reason": "unit_leg_ended", "connected": true});
    assert_eq!(ended, vec![(id, want)], "one end, when the unit hung up");
}

#[test]
fn a_recall_the_operator_ends_is_ended_once_by_the_operator_leg() {
    let mut s = Sim::new(plan(), None);
    let (op_invite, _) = recall_connected(&mut s);
    s.outputs();
    s.send(OP1, &from_phone("BYE", &op_invite, OP1, 2));
    let mut recs = records(&s.outputs());
    let sent = s.sent();
    let bye = find(&sent, "BYE ");
    s.send(TRUNK, &reply(&bye.1, 200, ""));
    recs.extend(records(&s.outputs()));
    let ended = of_kind(&recs, RECALL_ENDED);
    assert_eq!(ended.len(), 1, "{recs:?}");
    assert_eq!(ended[0].0, header(&op_invite, "Call-ID"));
    assert_eq!(
        (&ended[0].1["reason"], &ended[0].1["connected"]),
        (&json!("operator_leg_ended"), &json!(true))
    );
}

#[test]
fn a_recall_the_unit_never_answers_ends_unconnected() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let id = recall(&mut s, "op1").expect("accepted");
    let op_invite = invite_to(&s.sent(), OP1);
    s.send(OP1, &reply(&op_invite, 200, &answer_sdp(&op_invite)));
    let trunk = invite_to(&s.sent(), TRUNK);
    s.send(TRUNK, &reply(&trunk, 486, ""));
    let mut recs = records(&s.outputs());
    let sent = s.sent();
    let bye = find(&sent, "BYE ");
    s.send(OP1, &reply(&bye.1, 200, ""));
    recs.extend(records(&s.outputs()));
    assert!(of_kind(&recs, RECALL_CONNECTED).is_empty(), "{recs:?}");
    let ended = of_kind(&recs, RECALL_ENDED);
    assert_eq!(ended.len(), 1, "{recs:?}");
    assert_eq!(
        (&ended[0].0, &ended[0].1["connected"]),
        (&id, &json!(false))
    );
}

#[test]
fn a_recall_the_operator_does_not_answer_ends_as_not_answering() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let id = recall(&mut s, "op1").expect("accepted");
    let op_invite = invite_to(&s.sent(), OP1);
    s.send(OP1, &reply(&op_invite, 180, ""));
    s.advance(secs(15)); // the ring timeout of the operator's queue
    let mut recs = records(&s.outputs());
    s.send(OP1, &reply(&op_invite, 487, ""));
    recs.extend(records(&s.outputs()));
    let ended = of_kind(&recs, RECALL_ENDED);
    let want = json!({"tenant": "demo", "calling_number": "4512345678", "call": "recall-1",
        "reason": "operator_not_answering", "connected": false});
    assert_eq!(ended, vec![(id, want)], "{recs:?}");
}
