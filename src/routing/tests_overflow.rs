//! Overflow, forwarding, the last resort, and reload tests in simulated time.

use super::tests::{cancel, number, offer, op, plan, secs, Sim};
use super::*;

fn rule(when: OverflowWhen, to: OverflowTo) -> OverflowRule {
    OverflowRule { when, to }
}

fn to_queue(q: &str) -> OverflowTo {
    OverflowTo::Queue(QueueId::new(q))
}

fn to_target(t: &str) -> OverflowTo {
    OverflowTo::Target(TargetId::new(t))
}

fn forward(call: u64, t: &str) -> RoutingAction {
    RoutingAction::Forward {
        call: CallRef::device(call),
        target: TargetId::new(t),
    }
}

fn with_rules(rules: Vec<OverflowRule>) -> Plan {
    let mut p = plan();
    p.queues[0].overflow = rules;
    p
}

fn overflows(s: &Sim) -> Vec<(u64, OverflowTo, OverflowTo, OverflowReason)> {
    s.events
        .iter()
        .filter_map(|e| match e {
            RoutingEvent::Overflowed(o) => {
                Some((number(o.call), o.from.clone(), o.to.clone(), o.reason))
            }
            _ => None,
        })
        .collect()
}

fn fail_forward(s: &mut Sim, call: u64, t: &str) {
    s.r.forward_result(s.now, CallRef::device(call), &TargetId::new(t), false)
        .expect("forwarding");
    s.drain();
}

#[test]
fn a_call_overflows_after_waiting() {
    let mut s = Sim::new(with_rules(vec![rule(
        OverflowWhen::AfterWaiting(secs(30)),
        to_queue("q2"),
    )]));
    s.online(&["d"]);
    s.enqueue(1, CallClass::Voice);
    s.advance(secs(29));
    assert_eq!(s.take_actions(), vec![]);
    s.advance(secs(1));
    assert_eq!(s.take_actions(), vec![offer(1, "d")]);
    let moved = (
        1,
        to_queue("q1"),
        to_queue("q2"),
        OverflowReason::AfterWaiting,
    );
    assert_eq!(overflows(&s), vec![moved]);
}

#[test]
fn overflow_never_returns_to_a_visited_queue() {
    let mut p = with_rules(vec![rule(
        OverflowWhen::AfterWaiting(secs(10)),
        to_queue("q2"),
    )]);
    p.queues[1].overflow = vec![rule(OverflowWhen::AfterWaiting(secs(10)), to_queue("q1"))];
    let mut s = Sim::new(p);
    s.enqueue(1, CallClass::Voice);
    s.advance(secs(60));
    assert_eq!(overflows(&s).len(), 1);
    assert_eq!(s.r.snapshot(s.now).queues[1].waiting.len(), 1);
}

#[test]
fn no_operator_logged_in_forwards_to_the_partner() {
    let mut s = Sim::new(with_rules(vec![rule(
        OverflowWhen::NoOperatorsLoggedIn,
        to_target("partner"),
    )]));
    s.online(&["a"]);
    s.r.command(
        s.now,
        &op("a"),
        OperatorCommand::Pause {
            reason: "lunch".into(),
        },
    )
    .expect("pause");
    s.enqueue(1, CallClass::Emergency);
    assert_eq!(s.take_actions(), vec![], "a paused operator is logged in");
    s.r.command(s.now, &op("a"), OperatorCommand::Logout)
        .expect("logout");
    assert_eq!(s.take_actions(), vec![forward(1, "partner")]);
    s.r.forward_result(s.now, CallRef::device(1), &TargetId::new("partner"), true)
        .expect("forwarding");
    let view = s.r.snapshot(s.now);
    assert_eq!(
        (view.calls[0].state, view.calls[0].target.clone()),
        (CallPhase::Forwarding, Some(TargetId::new("partner")))
    );
}

#[test]
fn a_long_queue_sends_its_lowest_ranked_calls_on() {
    let mut s = Sim::new(with_rules(vec![rule(
        OverflowWhen::LongerThan(2),
        to_queue("q2"),
    )]));
    s.enqueue(1, CallClass::Voice);
    s.enqueue(2, CallClass::Voice);
    s.enqueue(3, CallClass::Voice);
    s.enqueue(4, CallClass::Emergency);
    let moved: Vec<u64> = overflows(&s).iter().map(|o| o.0).collect();
    assert_eq!(
        moved,
        vec![3, 2],
        "the emergency stays, the youngest voice calls move"
    );
    let q1: Vec<u64> = s.r.snapshot(s.now).queues[0]
        .waiting
        .iter()
        .map(|w| number(w.call))
        .collect();
    assert_eq!(q1, vec![4, 1]);
}

#[test]
fn a_failed_forward_goes_to_the_last_resort_which_is_retried_while_queued() {
    let mut s = Sim::new(with_rules(vec![rule(
        OverflowWhen::NoOperatorsLoggedIn,
        to_target("partner"),
    )]));
    s.enqueue(1, CallClass::Emergency);
    assert_eq!(s.take_actions(), vec![forward(1, "partner")]);
    fail_forward(&mut s, 1, "partner");
    assert_eq!(s.take_actions(), vec![forward(1, "lr")]);
    fail_forward(&mut s, 1, "lr");
    assert_eq!(
        s.take_actions(),
        vec![],
        "back in the queue, not bounced to the partner"
    );
    assert_eq!(s.r.waiting_count(), 1);
    s.advance(LAST_RESORT_RETRY);
    assert_eq!(s.take_actions(), vec![forward(1, "lr")]);
    fail_forward(&mut s, 1, "lr");
    s.online(&["a"]);
    assert_eq!(s.take_actions(), vec![offer(1, "a")]);
    let reasons: Vec<OverflowReason> = overflows(&s).iter().map(|o| o.3).collect();
    use OverflowReason::*;
    assert_eq!(
        reasons,
        vec![NoOperatorsLoggedIn, ForwardFailed, LastResortRetry]
    );
}

#[test]
fn a_forward_without_an_answer_times_out_to_the_last_resort() {
    let mut s = Sim::new(with_rules(vec![rule(
        OverflowWhen::NoOperatorsLoggedIn,
        to_target("partner"),
    )]));
    s.enqueue(1, CallClass::Voice);
    s.take_actions();
    s.advance(FORWARD_TIMEOUT);
    let cancel_forward = RoutingAction::CancelForward {
        call: CallRef::device(1),
        target: TargetId::new("partner"),
    };
    assert_eq!(s.take_actions(), vec![cancel_forward, forward(1, "lr")]);
}

#[test]
fn a_reload_keeps_calls_and_operators_and_cancels_removed_operators_offers() {
    let mut s = Sim::new(plan());
    s.online(&["a", "b", "c"]);
    for (call, class) in [
        (1, CallClass::Voice),
        (2, CallClass::Voice),
        (3, CallClass::Voice),
    ] {
        s.enqueue(call, class);
    }
    s.enqueue(4, CallClass::Voice);
    s.enqueue(5, CallClass::Technical);
    s.result(1, "a", OfferOutcome::Answered);
    s.take_actions();
    let mut next = plan();
    next.operators.retain(|o| o.id != op("b"));
    next.queues[0].priorities.technical = 500;
    s.r.reconfigure(s.now, next).expect("valid plan");
    assert_eq!(s.take_actions(), vec![cancel(2, "b")]);
    assert_eq!(
        s.state("a"),
        OperatorState::OnCall {
            call: CallRef::device(1)
        }
    );
    assert_eq!(
        s.state("c"),
        OperatorState::Ringing {
            call: CallRef::device(3)
        }
    );
    let waiting: Vec<u64> = s.r.snapshot(s.now).queues[0]
        .waiting
        .iter()
        .map(|w| number(w.call))
        .collect();
    assert_eq!(waiting, vec![5, 2, 4], "re-ranked under the new priorities");
    s.r.connected_ended(s.now, CallRef::device(1));
    s.advance(secs(10));
    assert_eq!(s.take_actions(), vec![offer(5, "a")]);
    let mut broken = plan();
    broken.tenants[0].last_resort = TargetId::new("nowhere");
    assert!(matches!(
        s.r.reconfigure(s.now, broken),
        Err(PlanError::UnknownTarget { .. })
    ));
    assert_eq!(s.r.plan().operators.len(), 3, "the old plan is kept");
}

#[test]
fn a_reload_that_removes_a_queue_moves_its_calls_to_the_default_queue() {
    let mut s = Sim::new(plan());
    let w = WaitingCall {
        call: CallRef::device(1),
        tenant: "t1".into(),
        queue: Some(QueueId::new("q2")),
        class: CallClass::Voice,
        event_code: None,
        caller: Default::default(),
    };
    s.r.enqueue(s.now, w).expect("queued");
    let mut next = plan();
    next.queues.truncate(1);
    next.operators.retain(|o| o.id != op("d"));
    s.r.reconfigure(s.now, next).expect("valid plan");
    s.online(&["a"]);
    assert_eq!(s.take_actions(), vec![offer(1, "a")]);
}

#[test]
fn unknown_tenants_and_duplicate_calls_are_refused_as_values() {
    let mut s = Sim::new(plan());
    s.enqueue(1, CallClass::Voice);
    let dup = WaitingCall {
        call: CallRef::device(1),
        tenant: "t1".into(),
        queue: None,
        class: CallClass::Voice,
        event_code: None,
        caller: Default::default(),
    };
    assert!(matches!(
        s.r.enqueue(s.now, dup.clone()),
        Err(RoutingError::CallExists { .. })
    ));
    let stranger = WaitingCall {
        call: CallRef::device(2),
        tenant: "t9".into(),
        ..dup
    };
    assert!(matches!(
        s.r.enqueue(s.now, stranger),
        Err(RoutingError::UnknownTenant { .. })
    ));
    let nobody = s.r.command(s.now, &op("zz"), OperatorCommand::Login);
    assert!(matches!(nobody, Err(RoutingError::UnknownOperator { .. })));
}
