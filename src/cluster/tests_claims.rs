//! The claim core's rules one by one (the randomised run in `sim_tests`
//! covers their interleavings).

use super::claims::{ClaimEvent, Claims};
use super::node::{KvOp, KvReply};
use super::records::ClaimState;
use super::{NodeId, TicketId};
use crate::routing::OperatorId;

fn ids() -> (NodeId, NodeId, OperatorId, TicketId, TicketId) {
    let (a, b) = (NodeId::new("a"), NodeId::new("b"));
    (
        a,
        b,
        OperatorId::new("anna"),
        TicketId::new("t1"),
        TicketId::new("t2"),
    )
}

fn revision_of(op: &KvOp) -> Option<u64> {
    match op {
        KvOp::Update { revision, .. } => Some(*revision),
        _ => None,
    }
}

#[test]
fn a_claim_held_by_a_live_node_is_busy_and_one_of_a_gone_node_is_taken_by_cas() {
    let (a, b, op, t1, t2) = ids();
    let mut on_a = Claims::new(a.clone());
    let write = on_a.try_claim(&op, &t1, |_| true).expect("free");
    assert!(matches!(write, KvOp::Create { .. }), "never seen: create");
    let granted = on_a.handle_claim_reply(&op, &KvReply::Written { revision: 5 });
    assert_eq!(
        granted.0,
        Some(ClaimEvent::Granted {
            operator: op.clone(),
            ticket: t1.clone()
        })
    );

    let mut on_b = Claims::new(b.clone());
    let ringing_a = ClaimState::Ringing {
        node: a.clone(),
        ticket: t1.clone(),
    };
    on_b.handle_update(&op, ringing_a, 5);
    assert!(on_b.busy_elsewhere(&op, |_| true));
    assert_eq!(
        on_b.try_claim(&op, &t2, |_| true),
        None,
        "busy elsewhere, no round trip"
    );
    let takeover = on_b.try_claim(&op, &t2, |n| *n != a).expect("a is gone");
    assert_eq!(
        revision_of(&takeover),
        Some(5),
        "compare-and-set on a's claim"
    );
}

#[test]
fn a_lost_compare_and_set_is_a_refusal_not_a_grant() {
    let (a, _, op, t1, _) = ids();
    let mut claims = Claims::new(a);
    claims.try_claim(&op, &t1, |_| true);
    let (event, _) = claims.handle_claim_reply(&op, &KvReply::Conflict);
    assert_eq!(
        event,
        Some(ClaimEvent::Refused {
            operator: op.clone(),
            ticket: t1
        })
    );
    assert!(!claims.holds(&op));
}

#[test]
fn a_claim_taken_over_while_frozen_is_lost_and_never_acted_on() {
    let (a, b, op, t1, t2) = ids();
    let mut on_a = Claims::new(a.clone());
    on_a.try_claim(&op, &t1, |_| true);
    on_a.handle_claim_reply(&op, &KvReply::Written { revision: 5 });
    // a froze; b took the operator over; a wakes and re-reads.
    assert_eq!(on_a.reverify().len(), 1);
    let taken = ClaimState::Ringing {
        node: b,
        ticket: t2,
    };
    let (event, _) = on_a.handle_update(&op, taken, 9);
    assert_eq!(
        event,
        Some(ClaimEvent::Lost {
            operator: op.clone(),
            ticket: t1
        })
    );
    assert_eq!(on_a.answered(&op), None, "no write on a stale claim");
    assert_eq!(on_a.release(&op), None);
}

#[test]
fn an_answer_writes_busy_at_the_epoch_and_a_conflict_there_loses_the_claim() {
    let (a, _, op, t1, _) = ids();
    let mut claims = Claims::new(a);
    claims.try_claim(&op, &t1, |_| true);
    claims.handle_claim_reply(&op, &KvReply::Written { revision: 5 });
    let busy = claims.answered(&op).expect("a write");
    assert_eq!(revision_of(&busy), Some(5));
    let lost = claims.handle_write_reply(&op, &KvReply::Conflict);
    assert!(matches!(lost, Some(ClaimEvent::Lost { .. })));
}

#[test]
fn a_claim_of_ours_we_do_not_hold_is_put_back_to_available() {
    let (a, _, op, t1, _) = ids();
    let mut claims = Claims::new(a.clone());
    let stale = ClaimState::Busy {
        node: a,
        ticket: t1,
    };
    let (_, write) = claims.handle_update(&op, stale, 12);
    assert_eq!(write.as_ref().and_then(revision_of), Some(12));
}

#[test]
fn degraded_claims_are_local_then_republished_and_a_lost_ring_settles() {
    let (a, _, op, t1, _) = ids();
    let mut claims = Claims::new(a);
    assert!(claims.grant_locally(&op, &t1));
    assert!(!claims.grant_locally(&op, &t1), "one call at a time");
    let writes = claims.republish();
    assert_eq!(writes.len(), 1);
    let lost = claims.handle_write_reply(&op, &KvReply::Conflict);
    assert!(
        matches!(lost, Some(ClaimEvent::Lost { .. })),
        "the ring elsewhere wins"
    );
}
