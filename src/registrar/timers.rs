//! The registrar's timers: one deadline queue ([`TimerQueue`]) holding each
//! binding at its next deadline (probe, silence or expiry), so that the
//! switchboard's `handle_timeout` on every timer of any core and the SIP
//! driver's `poll_timeout` on every turn cost O(log n) in the bindings, not a
//! walk of them all.
//!
//! A binding records the instant it is armed at (`Entry::armed`); a queue
//! entry at another instant, or of a binding that is gone, is stale. Every
//! change that moves a binding's deadline re-arms it, and every public call
//! ends by dropping stale heads, so [`Registrar::poll_timeout`] is exact.

use std::time::Instant;

use super::liveness::{self, Step};
use super::Registrar;
use crate::routing::OperatorId;

impl Registrar {
    /// Expires bindings, removes silent ones and queues due keep-alives:
    /// only the bindings whose deadline came, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut changed = false;
        while let Some((at, (op, key))) = self.timers.pop_due(now) {
            changed |= self.binding_due(now, at, &op, &key);
        }
        self.prune_timers();
        self.blocker.purge(now);
        if changed {
            self.update_gauges();
        }
    }

    /// The next instant [`Registrar::handle_timeout`] has work, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Runs the timer of binding `key` of `op` armed at `at`; true when the
    /// binding went.
    fn binding_due(&mut self, now: Instant, at: Instant, op: &OperatorId, key: &str) -> bool {
        let k = self.config.keepalive_interval;
        let Some(entry) = self.table.get_mut(op, key).filter(|e| e.armed == Some(at)) else {
            return false;
        };
        entry.armed = None;
        match liveness::step(op, entry, now, k, &mut self.next_probe) {
            Step::Remove(reason) => {
                let Some(gone) = self.table.remove(op, key) else {
                    return false;
                };
                if let Some(id) = gone.live.outstanding {
                    self.in_flight.remove(&id);
                }
                self.note_removed(op, &gone.binding, reason);
                self.note_reachability(op, true);
                return true;
            }
            Step::Probe(probe) => {
                self.in_flight
                    .insert(probe.id, (op.clone(), key.to_owned()));
                self.probes.push_back(probe);
            }
            Step::Wait => {}
        }
        self.arm_binding(op, key);
        false
    }

    /// Arms binding `key` of `op` at its next deadline unless it is armed
    /// there already (its older entry, if any, turns stale).
    pub(super) fn arm_binding(&mut self, op: &OperatorId, key: &str) {
        let k = self.config.keepalive_interval;
        let Some(entry) = self.table.get_mut(op, key) else {
            return;
        };
        let due = liveness::next_deadline(entry, k);
        if entry.armed != Some(due) {
            entry.armed = Some(due);
            self.timers.arm(due, (op.clone(), key.to_owned()));
        }
    }

    /// Drops stale entries at the head of the queue.
    pub(super) fn prune_timers(&mut self) {
        let table = &self.table;
        self.timers.prune(|at, (op, key)| {
            let entries = table.entries(op);
            entries.iter().any(|e| e.key == *key && e.armed == Some(at))
        });
    }

    /// Queue entries held, stale ones included (for tests of the bound).
    #[cfg(test)]
    pub(super) fn timer_entries(&self) -> usize {
        self.timers.len()
    }
}
