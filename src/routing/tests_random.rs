//! Randomised invariant tests: many seeds of random inputs (calls, hang-ups,
//! phones coming and going, API commands, offer and forward outcomes,
//! reloads, time passing) with the invariants checked after every step.

use super::operator::OperatorState;
use super::queue::CallState;
use super::router::Timer;
use super::tests::secs;
use super::*;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// xorshift64*: small, seeded, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// Three queues of one tenant with every kind of overflow rule, eight
/// operators with mixed queues and skills, two targets.
fn random_plan(variant: bool) -> Plan {
    let mut q1 = QueuePlan::new("q1", "t", secs(15), secs(5));
    q1.aging_per_s = 2;
    q1.overflow = vec![
        OverflowRule {
            when: OverflowWhen::LongerThan(6),
            to: OverflowTo::Queue(QueueId::new("q2")),
        },
        OverflowRule {
            when: OverflowWhen::AfterWaiting(secs(40)),
            to: OverflowTo::Queue(QueueId::new("q3")),
        },
    ];
    let mut q2 = QueuePlan::new("q2", "t", secs(10), secs(0));
    q2.skills = vec!["nurse".into()];
    q2.overflow = vec![OverflowRule {
        when: OverflowWhen::NoOperatorsLoggedIn,
        to: OverflowTo::Target(TargetId::new("partner")),
    }];
    let mut q3 = QueuePlan::new("q3", "t", secs(20), secs(3));
    q3.overflow = vec![OverflowRule {
        when: OverflowWhen::AfterWaiting(secs(60)),
        to: OverflowTo::Target(TargetId::new("partner")),
    }];
    let ops = [
        ("a", "q1 q2"),
        ("b", "q1"),
        ("c", "q1 q3"),
        ("d", "q2"),
        ("e", "q2 q3"),
        ("f", "q3"),
        ("g", "q1 q2 q3"),
        ("h", "q1"),
    ];
    let mut plan = Plan {
        queues: vec![q1, q2, q3],
        operators: ops.iter().map(|(id, qs)| operator(id, qs)).collect(),
        targets: ["partner", "lr"]
            .iter()
            .map(|t| TargetPlan {
                id: TargetId::new(*t),
                uri: String::new(),
                trunk: None,
            })
            .collect(),
        tenants: vec![TenantPlan {
            id: "t".into(),
            default_queue: QueueId::new("q1"),
            last_resort: TargetId::new("lr"),
        }],
    };
    if variant {
        plan.operators.retain(|o| o.id.as_str() != "h");
        plan.queues.retain(|q| q.id.as_str() != "q3");
        plan.queues[0]
            .overflow
            .retain(|r| r.to != OverflowTo::Queue(QueueId::new("q3")));
        plan.queues[0].priorities.technical = 400;
        for o in &mut plan.operators {
            o.queues.retain(|q| q.as_str() != "q3");
        }
    }
    plan
}

fn operator(id: &str, queues: &str) -> OperatorPlan {
    let qs: Vec<&str> = queues.split(' ').collect();
    let mut p = OperatorPlan::new(id, &qs);
    if id < "e" {
        p.skills = vec!["nurse".into()];
    }
    p.login_on_register = id != "g";
    p
}

/// One random input.
fn step(
    r: &mut Router,
    rng: &mut Rng,
    now: &mut Instant,
    next_call: &mut u64,
    variant: &mut bool,
    seen: &mut HashSet<&'static str>,
) {
    let ops: Vec<OperatorId> = r.plan().operators.iter().map(|o| o.id.clone()).collect();
    let calls = call_states(r);
    let any_op = rng
        .pick(&ops)
        .cloned()
        .unwrap_or_else(|| OperatorId::new("a"));
    match rng.below(100) {
        0..=14 if calls.len() < 40 => enqueue(r, rng, *now, next_call),
        15..=19 => {
            if let Some((call, _)) = rng.pick(&calls) {
                r.call_gone(*now, *call);
            }
        }
        20..=27 => {
            let _ = r.set_reachable(*now, &any_op, rng.below(3) != 0);
        }
        28..=35 => {
            let command = [
                OperatorCommand::Login,
                OperatorCommand::Logout,
                OperatorCommand::Available,
                OperatorCommand::Pause {
                    reason: "break".into(),
                },
            ];
            let _ = r.command(*now, &any_op, command[rng.below(4)].clone());
        }
        36..=55 => offer_outcome(r, rng, *now, &calls),
        56..=62 => {
            let connected: Vec<CallRef> = calls
                .iter()
                .filter(|(_, s)| matches!(s, CallState::Connected { .. }))
                .map(|(c, _)| *c)
                .collect();
            if let Some(c) = rng.pick(&connected) {
                r.connected_ended(*now, *c);
            }
        }
        63..=68 => forward_outcome(r, rng, *now, &calls),
        69..=70 => {
            // A recall to a free operator if there is one (else refused).
            *next_call += 1;
            let free = r.free.iter().next().map(|(_, id)| id.clone());
            let _ = r.direct_offer(*now, CallRef::device(*next_call), &free.unwrap_or(any_op));
        }
        71 => {
            *variant = !*variant;
            let _ = r.reconfigure(*now, random_plan(*variant));
        }
        _ => {
            let until = *now + Duration::from_millis(rng.next() % 20_000);
            while let Some(at) = r.poll_timeout().filter(|at| *at <= until) {
                *now = (*now).max(at);
                r.handle_timeout(*now);
            }
            *now = until;
            r.handle_timeout(*now);
        }
    }
    while let Some(a) = r.poll_action() {
        seen.insert(action_kind(&a));
    }
    while let Some(e) = r.poll_event() {
        seen.insert(e.event_type());
    }
}

fn action_kind(a: &RoutingAction) -> &'static str {
    match a {
        RoutingAction::Offer { .. } => "offer",
        RoutingAction::CancelOffer { .. } => "cancel",
        RoutingAction::Forward { .. } => "forward",
        RoutingAction::CancelForward { .. } => "cancel-forward",
        RoutingAction::Release { .. } => "release",
    }
}

fn enqueue(r: &mut Router, rng: &mut Rng, now: Instant, next_call: &mut u64) {
    *next_call += 1;
    let classes = [
        CallClass::Emergency,
        CallClass::Voice,
        CallClass::Recall,
        CallClass::Technical,
    ];
    let queues = [None, Some("q1"), Some("q2"), Some("q3"), Some("q9")];
    let call = WaitingCall {
        call: CallRef::device(*next_call),
        tenant: "t".into(),
        queue: queues[rng.below(queues.len())].map(QueueId::new),
        class: classes[rng.below(4)],
        event_code: None,
        caller: Default::default(),
    };
    assert!(r.enqueue(now, call).is_ok());
}

/// Every call and its state, in call order (deterministic).
fn call_states(r: &Router) -> Vec<(CallRef, CallState)> {
    let mut calls: Vec<(CallRef, CallState)> =
        r.calls.iter().map(|(k, c)| (*k, c.state.clone())).collect();
    calls.sort_unstable_by_key(|(k, _)| *k);
    calls
}

fn offer_outcome(r: &mut Router, rng: &mut Rng, now: Instant, calls: &[(CallRef, CallState)]) {
    let ringing: Vec<(CallRef, &OperatorId)> = calls
        .iter()
        .filter_map(|(c, s)| match s {
            CallState::Ringing { operator, .. } => Some((*c, operator)),
            _ => None,
        })
        .collect();
    let Some((call, operator)) = rng.pick(&ringing) else {
        return;
    };
    let outcomes = [
        OfferOutcome::Ringing,
        OfferOutcome::Answered,
        OfferOutcome::Busy,
        OfferOutcome::Declined,
        OfferOutcome::Unreachable,
    ];
    let result = r.offer_result(now, *call, operator, outcomes[rng.below(5)]);
    assert!(result.is_ok(), "a live offer: {result:?}");
}

fn forward_outcome(r: &mut Router, rng: &mut Rng, now: Instant, calls: &[(CallRef, CallState)]) {
    let forwarding: Vec<(CallRef, &TargetId)> = calls
        .iter()
        .filter_map(|(c, s)| match s {
            CallState::Forwarding {
                target,
                done: false,
                ..
            } => Some((*c, target)),
            _ => None,
        })
        .collect();
    if let Some((call, target)) = rng.pick(&forwarding) {
        let result = r.forward_result(now, *call, target, rng.below(3) == 0);
        assert!(result.is_ok(), "a live forward: {result:?}");
    }
}

/// The invariants, from the router's own records.
fn check(r: &Router, now: Instant) {
    let mut holders: HashMap<CallRef, OperatorId> = HashMap::new();
    for (id, o) in &r.operators {
        if let Some(call) = o.state.call() {
            assert!(
                holders.insert(call, id.clone()).is_none(),
                "call {call} held by two operators"
            );
            let c = r.calls.get(&call).expect("an operator's call is known");
            assert_eq!(
                c.operator(),
                Some(id),
                "operator {id} and call {call} disagree"
            );
        }
        let has_timer = |at: Option<Instant>| {
            at.is_some_and(|at| r.timers.contains(&(at, Timer::Operator(id.clone()))))
        };
        match &o.state {
            OperatorState::Ringing { .. } | OperatorState::WrapUp => {
                assert!(has_timer(o.deadline), "{id} has no exit")
            }
            _ => {}
        }
        assert_eq!(
            r.free.contains(&(o.idle_since, id.clone())),
            o.is_free(),
            "free index of {id}"
        );
        let failed = o.failed_until;
        assert!(
            failed.is_none() || has_timer(failed),
            "{id} unreachable for good"
        );
    }
    assert!(r.free.iter().all(|(_, id)| r.operators.contains_key(id)));
    let mut waiting = 0;
    for (call, c) in &r.calls {
        match &c.state {
            CallState::Ringing { operator, .. } | CallState::Connected { operator } => {
                assert_eq!(
                    holders.get(call),
                    Some(operator),
                    "call {call} in {:?}",
                    c.state
                );
            }
            CallState::Waiting => {
                waiting += 1;
                check_waiting(r, c, now);
            }
            CallState::Forwarding { deadline, done, .. } => {
                assert!(
                    *done || r.timers.contains(&(*deadline, Timer::Call(*call))),
                    "forward {call} has no timeout"
                );
            }
        }
    }
    assert_eq!(
        waiting,
        r.waiting.total(),
        "waiting lists and waiting calls agree"
    );
}

/// A waiting call is in its queue's list and no free operator could take it.
fn check_waiting(r: &Router, c: &super::queue::Call, now: Instant) {
    let q = c.queue.clone().expect("a waiting call has a queue");
    let listed = r.waiting.contains(&q, &c.entry());
    assert!(listed, "call {} forgotten", c.info.call);
    for (_, id) in &r.free {
        let o = &r.operators[id];
        let may = o.eligible.contains(&q) && !o.has_refused(c.info.call, now);
        assert!(!may, "call {} waits while {id} is free", c.info.call);
    }
    if let Some(at) = c.retry_at {
        let pending = at > now && r.timers.contains(&(at, Timer::Call(c.info.call)));
        assert!(pending, "call {} has no retry", c.info.call);
    }
}

/// One seed's run: `steps` random inputs, invariants after each; returns
/// the kinds of actions and events seen (the run must not be vacuous).
fn run(seed: u64, steps: usize) -> HashSet<&'static str> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut now = crate::clock::epoch();
    let mut r = Router::new(random_plan(false), now).expect("valid plan");
    let (mut next_call, mut variant, mut seen) = (0, false, HashSet::new());
    for _ in 0..steps {
        step(
            &mut r,
            &mut rng,
            &mut now,
            &mut next_call,
            &mut variant,
            &mut seen,
        );
        check(&r, now);
    }
    seen
}

#[test]
fn invariants_hold_over_long_random_runs() {
    let (seeds, steps) = (200u64, 5_000);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get() as u64);
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                for seed in (1..=seeds).filter(|s| s % threads == t) {
                    let seen = run(seed, steps);
                    assert_eq!(seen.len(), 10, "seed {seed} saw only {seen:?}");
                }
            });
        }
    });
}
