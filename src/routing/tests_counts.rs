//! The operators-by-state counts behind the `alarmgate_operators` gauge.

use super::tests::{plan, Sim};
use super::*;

fn count(s: &Sim, state: &str) -> usize {
    s.r.operator_state_counts()
        .iter()
        .find(|(name, _)| *name == state)
        .map_or(usize::MAX, |(_, n)| *n)
}

#[test]
fn every_state_is_counted_and_zeros_are_reported() {
    let mut s = Sim::new(plan());
    assert_eq!(count(&s, "logged_out"), 4, "a, b, c and d start logged out");
    assert_eq!(count(&s, "available"), 0, "a zero is a series too");
    s.online(&["a", "b"]);
    s.enqueue(1, CallClass::Voice);
    assert_eq!(count(&s, "ringing"), 1);
    assert_eq!(count(&s, "available"), 1);
    s.result(1, "a", OfferOutcome::Answered);
    assert_eq!(count(&s, "on_call"), 1);
    assert_eq!(count(&s, "logged_out"), 2);
    let total: usize = s.r.operator_state_counts().iter().map(|(_, n)| n).sum();
    assert_eq!(total, 4, "each operator in exactly one state");
}
