//! Routing decisions per second with 200 operators and 1,000 waiting calls.
//!
//! `cargo run --release --example routing_bench [iterations]`
//!
//! Set-up: one tenant, four queues (aging on, mixed classes), 200 operators
//! each serving two queues, all logged in and talking; 1,000 further calls
//! wait. Steady state, per iteration: one connected call ends (wrap-up 0),
//! the router picks the best of the ~1,000 waiting calls it may give that
//! operator (one routing decision: an `Offer`), the operator answers, and a
//! new call arrives so the queues stay at 1,000. Time is simulated (1 ms per
//! iteration); only the wall-clock cost of the router is measured.

// A benchmark measures real time (clippy.toml holds the cores to simulated time).
#![allow(clippy::disallowed_methods)]

use alarmgate::routing::{
    CallClass, CallRef, OfferOutcome, OperatorId, OperatorPlan, Plan, QueueId, QueuePlan, Router,
    RoutingAction, TargetId, TargetPlan, TenantPlan, WaitingCall,
};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

const OPERATORS: usize = 200;
const WAITING: usize = 1_000;
const QUEUES: usize = 4;

fn plan() -> Plan {
    let queues = (0..QUEUES)
        .map(|i| {
            let mut q = QueuePlan::new(
                &format!("q{i}"),
                "t",
                Duration::from_secs(15),
                Duration::ZERO,
            );
            q.aging_per_s = 1;
            q
        })
        .collect();
    let operators = (0..OPERATORS)
        .map(|i| {
            let (a, b) = (format!("q{}", i % QUEUES), format!("q{}", (i + 1) % QUEUES));
            OperatorPlan::new(&format!("op{i}"), &[a.as_str(), b.as_str()])
        })
        .collect();
    Plan {
        queues,
        operators,
        targets: vec![TargetPlan {
            id: TargetId::new("lr"),
            uri: "sip:lr@x".into(),
            trunk: None,
        }],
        tenants: vec![TenantPlan {
            id: "t".into(),
            default_queue: QueueId::new("q0"),
            last_resort: TargetId::new("lr"),
        }],
    }
}

fn waiting_call(n: u64) -> WaitingCall {
    let classes = [
        CallClass::Voice,
        CallClass::Emergency,
        CallClass::Technical,
        CallClass::Voice,
    ];
    WaitingCall {
        call: CallRef::device(n),
        tenant: "t".into(),
        queue: Some(QueueId::new(format!("q{}", n % QUEUES as u64))),
        class: classes[(n % 7 % 4) as usize],
        event_code: None,
        caller: Default::default(),
    }
}

/// Answers every pending offer; returns the calls now connected.
fn answer_offers(r: &mut Router, now: Instant, connected: &mut VecDeque<CallRef>) -> usize {
    let mut offers = Vec::new();
    while let Some(a) = r.poll_action() {
        if let RoutingAction::Offer { call, operator } = a {
            offers.push((call, operator));
        }
    }
    while r.poll_event().is_some() {}
    for (call, operator) in &offers {
        let _ = r.offer_result(now, *call, operator, OfferOutcome::Answered);
        connected.push_back(*call);
    }
    offers.len()
}

fn main() {
    let iterations: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let mut now = Instant::now();
    let Ok(mut r) = Router::new(plan(), now) else {
        return eprintln!("invalid bench plan");
    };
    let mut connected = VecDeque::new();
    for i in 0..OPERATORS {
        let _ = r.set_reachable(now, &OperatorId::new(format!("op{i}")), true);
    }
    let mut next = 0u64;
    for _ in 0..OPERATORS + WAITING {
        next += 1;
        let _ = r.enqueue(now, waiting_call(next));
        answer_offers(&mut r, now, &mut connected);
    }
    println!(
        "set-up: {} operators on call, {} calls waiting",
        connected.len(),
        r.waiting_count()
    );

    let (mut decisions, started) = (0u64, Instant::now());
    let mut enqueue_time = Duration::ZERO;
    for _ in 0..iterations {
        now += Duration::from_millis(1);
        let Some(done) = connected.pop_front() else {
            break;
        };
        r.connected_ended(now, done);
        decisions += answer_offers(&mut r, now, &mut connected) as u64;
        next += 1;
        let t = Instant::now();
        let _ = r.enqueue(now, waiting_call(next));
        enqueue_time += t.elapsed();
    }
    let wall = started.elapsed();
    let per_s = decisions as f64 / wall.as_secs_f64();
    println!(
        "iterations {iterations}, decisions {decisions}, waiting at end {}",
        r.waiting_count()
    );
    println!(
        "wall {:.3} s: {:.0} decisions/s ({:.2} us per call end -> offer -> answer -> new call)",
        wall.as_secs_f64(),
        per_s,
        wall.as_secs_f64() * 1e6 / iterations as f64
    );
    println!(
        "enqueue with ~1,000 waiting and no free operator: {:.2} us",
        enqueue_time.as_secs_f64() * 1e6 / iterations as f64
    );

    let t = Instant::now();
    let view = r.snapshot(now);
    println!(
        "snapshot ({} queues, {} operators, {} calls): {:.2} ms",
        view.queues.len(),
        view.operators.len(),
        view.calls.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
}
