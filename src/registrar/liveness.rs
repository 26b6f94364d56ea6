//! Keep-alives and expiry of bindings.
//!
//! With keep-alive interval `K` and `last_heard` the time of the last
//! REGISTER or answered probe of a binding:
//!
//! - an OPTIONS probe is due at `last_heard + K` (one at a time);
//! - after a miss (timeout or transport error), the next probe is due `K/2`
//!   after the miss was reported;
//! - the binding goes at the second consecutive miss, or at
//!   `last_heard + 2K` if it has not been heard from by then, whichever
//!   comes first;
//! - it also goes at its `expires_at`.
//!
//! So a softphone that stops answering is out at most `2K` after the last
//! time it answered. Any response to a probe (even 4xx/5xx) counts as heard.

use std::time::{Duration, Instant};

use super::bindings::{Binding, Entry, Table};
use super::events::{Probe, ProbeId, RemoveReason};
use crate::routing::OperatorId;

/// Consecutive misses that remove a binding.
pub const MISSES_TO_REMOVE: u32 = 2;

/// The probe state of one binding.
#[derive(Debug, Clone, Default)]
pub(crate) struct Liveness {
    /// The probe in flight, if any.
    pub outstanding: Option<ProbeId>,
    /// Consecutive misses.
    pub misses: u32,
    /// When the next probe is due after a miss.
    pub retry_at: Option<Instant>,
}

impl Liveness {
    /// The binding answered (or refreshed).
    pub(crate) fn heard(&mut self) {
        self.misses = 0;
        self.retry_at = None;
    }
}

/// When the next probe of `entry` is due, if keep-alives are on and none is
/// in flight.
fn probe_due(entry: &Entry, k: Option<Duration>) -> Option<Instant> {
    let k = k?;
    if entry.live.outstanding.is_some() {
        return None;
    }
    Some(entry.live.retry_at.unwrap_or(entry.binding.last_heard + k))
}

/// When silence removes `entry`.
fn silence_deadline(entry: &Entry, k: Option<Duration>) -> Option<Instant> {
    k.map(|k| entry.binding.last_heard + 2 * k)
}

/// The earliest instant at which [`step`] has work for `entry`.
pub(crate) fn next_deadline(entry: &Entry, k: Option<Duration>) -> Instant {
    [probe_due(entry, k), silence_deadline(entry, k)]
        .into_iter()
        .flatten()
        .fold(entry.binding.expires_at, Instant::min)
}

/// Why `entry` must go at `now`, if it must.
fn due_removal(entry: &Entry, now: Instant, k: Option<Duration>) -> Option<RemoveReason> {
    if now >= entry.binding.expires_at {
        return Some(RemoveReason::Expired);
    }
    silence_deadline(entry, k)
        .filter(|deadline| now >= *deadline)
        .map(|_| RemoveReason::Unresponsive)
}

/// What the timer does for one binding at `now`.
#[derive(Debug)]
pub(crate) enum Step {
    /// The binding must go.
    Remove(RemoveReason),
    /// A keep-alive is due (now outstanding on the binding).
    Probe(Probe),
    /// Nothing yet.
    Wait,
}

/// The timer's work for `entry` of `op` at `now` (probe ids from `next_id`).
pub(crate) fn step(
    op: &OperatorId,
    entry: &mut Entry,
    now: Instant,
    k: Option<Duration>,
    next_id: &mut u64,
) -> Step {
    if let Some(reason) = due_removal(entry, now, k) {
        return Step::Remove(reason);
    }
    if probe_due(entry, k).is_none_or(|due| now < due) {
        return Step::Wait;
    }
    let id = ProbeId(*next_id);
    *next_id += 1;
    entry.live.outstanding = Some(id);
    entry.live.retry_at = None;
    Step::Probe(probe(id, op, &entry.binding))
}

fn probe(id: ProbeId, op: &OperatorId, binding: &Binding) -> Probe {
    Probe {
        id,
        operator: op.clone(),
        contact: binding.contact.clone(),
        peer: binding.peer,
    }
}

/// Applies a probe's result to the binding `key` of `op`; returns the
/// binding when this miss removes it.
pub(crate) fn record_result(
    table: &mut Table,
    now: Instant,
    target: (&OperatorId, &str),
    id: ProbeId,
    ok: bool,
    k: Duration,
) -> Option<Binding> {
    let (op, key) = target;
    let entry = table.get_mut(op, key)?;
    if entry.live.outstanding != Some(id) {
        return None;
    }
    entry.live.outstanding = None;
    if ok {
        entry.binding.last_heard = now;
        entry.live.heard();
        return None;
    }
    entry.live.misses += 1;
    if entry.live.misses < MISSES_TO_REMOVE {
        entry.live.retry_at = Some(now + k / 2);
        return None;
    }
    table.remove(op, key).map(|e| e.binding)
}
