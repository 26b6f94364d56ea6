//! Rule tests of the routing engine in simulated time: priorities, aging,
//! longest idle, ring-no-answer, refusals, unreachable phones, wrap-up,
//! API commands, direct offers. Overflow and reload: `tests_overflow`.

use super::*;
use std::time::{Duration, Instant};

/// A device call's handle number, to compare orders with plain numbers
/// (`u64::MAX` for a recall: these tests route device calls).
pub(super) fn number(call: CallRef) -> u64 {
    match call {
        CallRef::Device(handle) => handle.0,
        CallRef::Recall(_) => u64::MAX,
    }
}

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub(super) fn op(id: &str) -> OperatorId {
    OperatorId::new(id)
}

/// Tenant `t1`, queues `q1` (ring 15 s, wrap-up 10 s, aging 1/s) and `q2`,
/// operators a, b, c on q1 and d on q2, targets `partner` and `lr` (last resort).
pub(super) fn plan() -> Plan {
    let mut q1 = QueuePlan::new("q1", "t1", secs(15), secs(10));
    q1.aging_per_s = 1;
    let q2 = QueuePlan::new("q2", "t1", secs(15), secs(0));
    let target = |id: &str| TargetPlan {
        id: TargetId::new(id),
        uri: format!("sip:{id}@x"),
        trunk: None,
    };
    Plan {
        queues: vec![q1, q2],
        operators: vec![
            OperatorPlan::new("a", &["q1"]),
            OperatorPlan::new("b", &["q1"]),
            OperatorPlan::new("c", &["q1"]),
            OperatorPlan::new("d", &["q2"]),
        ],
        targets: vec![target("partner"), target("lr")],
        tenants: vec![TenantPlan {
            id: "t1".into(),
            default_queue: QueueId::new("q1"),
            last_resort: TargetId::new("lr"),
        }],
    }
}

/// A router driven in simulated time; actions and events collected.
pub(super) struct Sim {
    pub r: Router,
    pub now: Instant,
    pub actions: Vec<RoutingAction>,
    pub events: Vec<RoutingEvent>,
}

impl Sim {
    pub fn new(plan: Plan) -> Self {
        let now = crate::clock::epoch();
        let r = Router::new(plan, now).expect("test plan is valid");
        Self {
            r,
            now,
            actions: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Advances time, firing deadlines in order.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(at) = self.r.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.r.handle_timeout(self.now);
        }
        self.now = end;
        self.r.handle_timeout(end);
        self.drain();
    }

    pub fn drain(&mut self) {
        while let Some(a) = self.r.poll_action() {
            self.actions.push(a);
        }
        while let Some(e) = self.r.poll_event() {
            self.events.push(e);
        }
    }

    pub fn take_actions(&mut self) -> Vec<RoutingAction> {
        self.drain();
        std::mem::take(&mut self.actions)
    }

    pub fn online(&mut self, ops: &[&str]) {
        for o in ops {
            self.r
                .set_reachable(self.now, &op(o), true)
                .expect("known operator");
            self.advance(secs(1));
        }
    }

    pub fn enqueue(&mut self, call: u64, class: CallClass) {
        let w = WaitingCall {
            call: CallRef::device(call),
            tenant: "t1".into(),
            queue: None,
            class,
            event_code: None,
            caller: format!("unit-{call}").into(),
        };
        self.r.enqueue(self.now, w).expect("enqueued");
        self.drain();
    }

    pub fn result(&mut self, call: u64, o: &str, outcome: OfferOutcome) {
        self.r
            .offer_result(self.now, CallRef::device(call), &op(o), outcome)
            .expect("a live offer");
        self.drain();
    }

    pub fn state(&self, o: &str) -> OperatorState {
        self.r
            .operator_state(&op(o))
            .cloned()
            .unwrap_or(OperatorState::LoggedOut)
    }
}

pub(super) fn offer(call: u64, o: &str) -> RoutingAction {
    RoutingAction::Offer {
        call: CallRef::device(call),
        operator: op(o),
    }
}

pub(super) fn cancel(call: u64, o: &str) -> RoutingAction {
    RoutingAction::CancelOffer {
        call: CallRef::device(call),
        operator: op(o),
    }
}

/// Answers `call` at `o` and ends it at once.
fn talk(s: &mut Sim, call: u64, o: &str) {
    s.result(call, o, OfferOutcome::Answered);
    s.r.connected_ended(s.now, CallRef::device(call));
    s.drain();
}

#[test]
fn an_emergency_overtakes_a_voice_call() {
    let mut s = Sim::new(plan());
    s.enqueue(1, CallClass::Voice);
    s.enqueue(2, CallClass::Technical);
    s.enqueue(3, CallClass::Emergency);
    s.online(&["a"]);
    assert_eq!(s.take_actions(), vec![offer(3, "a")]);
    talk(&mut s, 3, "a");
    s.advance(secs(10));
    assert_eq!(s.take_actions(), vec![offer(1, "a")]);
}

#[test]
fn aging_lets_a_long_wait_overtake_a_higher_class() {
    let mut s = Sim::new(plan());
    s.enqueue(1, CallClass::Voice); // 50 + 1/s
    s.advance(secs(60));
    s.enqueue(2, CallClass::Emergency); // 100, 50 points ahead but 60 s younger
    s.enqueue(3, CallClass::Voice); // same class as 1, later: FIFO
    s.online(&["a", "b", "c"]);
    let offers = s.take_actions();
    assert_eq!(offers, vec![offer(1, "a"), offer(2, "b"), offer(3, "c")]);
}

#[test]
fn the_longest_idle_operator_gets_the_call() {
    let mut s = Sim::new(plan());
    s.online(&["a", "b", "c"]);
    s.enqueue(1, CallClass::Voice);
    assert_eq!(s.take_actions(), vec![offer(1, "a")]);
    talk(&mut s, 1, "a");
    s.advance(secs(10)); // a wraps up, idle since the call ended
    s.enqueue(2, CallClass::Voice);
    s.enqueue(3, CallClass::Voice);
    s.enqueue(4, CallClass::Voice);
    assert_eq!(
        s.take_actions(),
        vec![offer(2, "b"), offer(3, "c"), offer(4, "a")]
    );
}

#[test]
fn ring_no_answer_pauses_the_operator_and_offers_the_next() {
    let mut s = Sim::new(plan());
    s.online(&["a", "b"]);
    s.enqueue(1, CallClass::Emergency);
    s.advance(secs(14));
    assert_eq!(s.take_actions(), vec![offer(1, "a")]);
    s.advance(secs(1));
    assert_eq!(s.take_actions(), vec![cancel(1, "a"), offer(1, "b")]);
    assert_eq!(
        s.state("a"),
        OperatorState::Paused {
            reason: RING_NO_ANSWER.into()
        }
    );
    let paused = s.events.iter().any(|e| {
        matches!(e, RoutingEvent::OperatorState(c) if c.operator == op("a") && c.reason == RING_NO_ANSWER)
    });
    assert!(paused);
    s.r.command(s.now, &op("a"), OperatorCommand::Available)
        .expect("unpause");
    assert_eq!(s.state("a"), OperatorState::Available);
}

#[test]
fn a_decline_goes_to_the_next_at_once_and_holds_off_that_call() {
    let mut s = Sim::new(plan());
    s.online(&["a", "b"]);
    s.enqueue(1, CallClass::Voice);
    s.take_actions();
    s.result(1, "a", OfferOutcome::Declined);
    assert_eq!(s.take_actions(), vec![offer(1, "b")]);
    assert_eq!(s.state("a"), OperatorState::Available);
    s.result(1, "b", OfferOutcome::Busy);
    s.enqueue(2, CallClass::Voice);
    // Both refused call 1: call 2 goes to the longest idle (a); 1 waits.
    assert_eq!(s.take_actions(), vec![offer(2, "a")]);
    s.advance(REFUSAL_HOLDOFF);
    assert_eq!(s.take_actions(), vec![offer(1, "b")]);
}

#[test]
fn an_unreachable_phone_leaves_the_rotation_until_it_registers() {
    let mut s = Sim::new(plan());
    s.online(&["a", "b"]);
    s.enqueue(1, CallClass::Voice);
    s.take_actions();
    s.result(1, "a", OfferOutcome::Unreachable);
    assert_eq!(s.take_actions(), vec![offer(1, "b")]);
    s.enqueue(2, CallClass::Voice);
    assert_eq!(s.take_actions(), vec![], "a is unreachable, b rings");
    let view = s.r.snapshot(s.now);
    assert!(!view.operators[0].reachable);
    s.r.set_reachable(s.now, &op("a"), true).expect("known");
    assert_eq!(s.take_actions(), vec![offer(2, "a")]);
}

#[test]
fn a_phone_the_registrar_still_holds_alive_is_tried_again_later() {
    let mut s = Sim::new(plan());
    s.online(&["a"]);
    s.enqueue(1, CallClass::Voice);
    s.take_actions();
    s.result(1, "a", OfferOutcome::Unreachable);
    s.advance(UNREACHABLE_RECHECK - secs(1));
    assert_eq!(s.take_actions(), vec![]);
    s.advance(secs(1));
    assert_eq!(s.take_actions(), vec![offer(1, "a")]);
}

#[test]
fn unregistering_while_ringing_reoffers_at_once() {
    let mut s = Sim::new(plan());
    s.online(&["a", "b"]);
    s.enqueue(1, CallClass::Voice);
    s.take_actions();
    s.r.set_reachable(s.now, &op("a"), false).expect("known");
    assert_eq!(s.take_actions(), vec![cancel(1, "a"), offer(1, "b")]);
}

#[test]
fn an_operator_logged_in_by_its_phone_is_logged_out_when_the_last_phone_goes() {
    let mut s = Sim::new(plan());
    s.online(&["a"]);
    assert_eq!(s.state("a"), OperatorState::Available);
    s.r.set_reachable(s.now, &op("a"), false).expect("known");
    assert_eq!(s.state("a"), OperatorState::LoggedOut);
    s.r.set_reachable(s.now, &op("a"), true).expect("known");
    assert_eq!(s.state("a"), OperatorState::Available);
}

#[test]
fn an_operator_on_a_call_stays_on_it_when_its_phone_goes() {
    let mut s = Sim::new(plan());
    s.online(&["a"]);
    s.enqueue(1, CallClass::Voice);
    s.take_actions();
    s.r.offer_result(s.now, CallRef::device(1), &op("a"), OfferOutcome::Answered)
        .expect("offered");
    s.r.set_reachable(s.now, &op("a"), false).expect("known");
    assert_eq!(
        s.state("a"),
        OperatorState::OnCall {
            call: CallRef::device(1)
        }
    );
}

#[test]
fn wrap_up_holds_the_next_call_until_it_ends() {
    let mut s = Sim::new(plan());
    s.online(&["a"]);
    s.enqueue(1, CallClass::Voice);
    talk(&mut s, 1, "a");
    assert_eq!(s.state("a"), OperatorState::WrapUp);
    s.enqueue(2, CallClass::Emergency);
    s.advance(secs(9));
    assert_eq!(s.take_actions(), vec![offer(1, "a")]);
    s.advance(secs(1));
    assert_eq!(s.take_actions(), vec![offer(2, "a")]);
}

#[test]
fn logout_while_ringing_cancels_and_reoffers() {
    let mut s = Sim::new(plan());
    s.online(&["a", "b"]);
    s.enqueue(1, CallClass::Voice);
    s.take_actions();
    s.r.command(s.now, &op("a"), OperatorCommand::Logout)
        .expect("logout");
    assert_eq!(s.take_actions(), vec![cancel(1, "a"), offer(1, "b")]);
    assert_eq!(s.state("a"), OperatorState::LoggedOut);
    s.result(1, "b", OfferOutcome::Answered);
    let refused = s.r.command(s.now, &op("b"), OperatorCommand::Logout);
    assert!(matches!(
        refused,
        Err(RoutingError::InvalidTransition {
            from: "on_call",
            ..
        })
    ));
    let late =
        s.r.offer_result(s.now, CallRef::device(1), &op("a"), OfferOutcome::Answered);
    assert!(
        matches!(late, Err(RoutingError::NoSuchOffer { .. })),
        "crossed 200: hang up that leg"
    );
}

#[test]
fn the_caller_hanging_up_frees_the_operator() {
    let mut s = Sim::new(plan());
    s.online(&["a"]);
    s.enqueue(1, CallClass::Voice);
    s.take_actions();
    s.r.call_gone(s.now, CallRef::device(1));
    assert_eq!(s.take_actions(), vec![cancel(1, "a")]);
    assert_eq!(s.state("a"), OperatorState::Available);
    assert!(s.r.snapshot(s.now).calls.is_empty());
}

#[test]
fn a_direct_offer_rings_the_operator_and_a_failure_releases_it() {
    let mut s = Sim::new(plan());
    s.online(&["a"]);
    s.r.direct_offer(s.now, CallRef::device(9), &op("a"))
        .expect("available");
    assert_eq!(s.take_actions(), vec![offer(9, "a")]);
    let busy = s.r.direct_offer(s.now, CallRef::device(10), &op("a"));
    assert!(matches!(
        busy,
        Err(RoutingError::NotAvailable {
            state: "ringing",
            ..
        })
    ));
    s.result(9, "a", OfferOutcome::Declined);
    assert_eq!(
        s.take_actions(),
        vec![RoutingAction::Release {
            call: CallRef::device(9)
        }]
    );
    assert!(s.r.snapshot(s.now).calls.is_empty());
}

#[test]
fn the_snapshot_shows_queues_operators_and_calls() {
    let mut s = Sim::new(plan());
    s.enqueue(1, CallClass::Voice);
    s.enqueue(2, CallClass::Emergency);
    s.online(&["a"]);
    s.advance(secs(4));
    let view = s.r.snapshot(s.now);
    assert_eq!(view.queues[0].waiting.len(), 1);
    assert_eq!(view.queues[0].waiting[0].waited_ms, 5000);
    assert_eq!(view.queues[0].waiting[0].priority, 55);
    assert_eq!(view.operators[0].call, Some(CallRef::device(2)));
    assert_eq!(view.calls[1].state, CallPhase::Ringing);
    let json = serde_json::to_value(&view).expect("serialisable");
    assert_eq!(json["operators"][0]["state"], "ringing");
    assert_eq!(json["calls"][0]["state"], "waiting");
}

#[test]
fn events_carry_their_cloudevents_type_and_data() {
    let mut s = Sim::new(plan());
    s.online(&["a"]);
    s.enqueue(1, CallClass::Emergency);
    s.result(1, "a", OfferOutcome::Answered);
    let types: Vec<&str> = s.events.iter().map(RoutingEvent::event_type).collect();
    assert_eq!(
        types,
        vec![
            OPERATOR_STATE,
            CALL_QUEUED,
            OPERATOR_STATE,
            CALL_OFFERED,
            OPERATOR_STATE,
            CALL_ANSWERED
        ]
    );
    assert_eq!(s.events[1].data()["class"], "emergency");
    assert_eq!(s.events[1].data()["priority"], 100);
    assert_eq!(s.events[5].data()["operator"], "a");
    assert_eq!(s.events[0].data()["to"]["state"], "available");
    assert_eq!(s.events[0].subject(), "a");
}
