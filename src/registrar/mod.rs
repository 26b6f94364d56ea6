//! The registrar for operators' softphones (pure, sans-IO).
//!
//! REGISTER with digest authentication (MD5 and SHA-256 through
//! [`DigestServer`]: self-validating nonces, `stale=true` on expiry, replay
//! refused, constant-time compare, HA1 hashes only), several bindings per
//! operator (RFC 3261 §10.3), expiry, OPTIONS keep-alives ([`liveness`]) and
//! blocking of sources that keep failing authentication (`blocker.rs`).
//!
//! Calling order: feed [`Registrar::handle_register`] (it returns the
//! response), [`Registrar::probe_result`] and [`Registrar::handle_timeout`];
//! drain [`Registrar::poll_probe`] (OPTIONS to send) and
//! [`Registrar::poll_event`]; sleep until [`Registrar::poll_timeout`].
//!
//! Decisions:
//! - The AOR's user part is the [`OperatorId`]; the digest username must be
//!   the same operator (third-party registration is refused with 403).
//! - A REGISTER without credentials, or with a nonce we did not issue (for
//!   instance from before a restart), gets a fresh 401; a wrong answer, an
//!   unknown user or a replayed `nc` gets 403 and counts as a failure.
//! - A blocked source gets 403 (not silence: over UDP silence only makes the
//!   phone retransmit) without any digest work, counted in
//!   [`metrics::AUTH_BLOCKED`].
//! - Out-of-order CSeq for a binding of the same Call-ID gets 500; more than
//!   `max_contacts` bindings gets 403. Either way nothing changes.
//! - A REGISTER without Contact is a query (RFC 3261 §10.2.3): 200 with the
//!   current bindings. A Contact that is not a `sip:`/`sips:` URI, a bad
//!   `expires`, a missing or user-less To, no Call-ID or CSeq get 400.
//! - Liveness (exact timing in [`liveness`]): with keep-alive interval `K`,
//!   a binding is probed `K` after it was last heard from and goes at the
//!   second consecutive miss or `2K` after it was last heard from, whichever
//!   is first. Each binding keeps the flow ([`Peer`](crate::sip::types::Peer))
//!   of its last REGISTER; probes and calls go back through it.
//! - A browser (SIP over WebSocket) is reachable only over the flow it
//!   registered on: when that flow closes ([`Registrar::flow_closed`]) its
//!   bindings go at once, as RFC 5626 §5.2 would have a flow failure do.

mod bindings;
mod blocker;
mod config;
mod events;
pub mod liveness;
pub mod metrics;
mod password;
mod register;
mod reply;
mod request;
mod snapshot;
mod timers;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_blocker_queue;
#[cfg(test)]
mod tests_blocking;
#[cfg(test)]
mod tests_liveness;
#[cfg(test)]
mod tests_timers;

pub use bindings::{Binding, UpdateError};
pub use config::{Credentials, OperatorCredentials, RegistrarConfig, RegistrarConfigError};
pub use events::{
    AuthFailure, Probe, ProbeId, RegisterOutcome, RegisterReply, RegistrarEvent, RemoveReason,
};
pub use password::PasswordCheck;
pub use request::RegisterError;
pub use snapshot::{BindingView, BlockedView, OperatorView, RegistrarView};

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use crate::routing::OperatorId;
use crate::sip::digest::DigestServer;
use crate::sip::types::Peer;
use crate::timer_queue::TimerQueue;
use bindings::Table;
use blocker::Blocker;

/// The registrar. See the module documentation for the calling order.
#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    credentials: Credentials,
    digest: DigestServer,
    table: Table,
    blocker: Blocker,
    /// Probes in flight: whose binding (operator, contact key).
    in_flight: HashMap<ProbeId, (OperatorId, String)>,
    probes: VecDeque<Probe>,
    events: VecDeque<RegistrarEvent>,
    next_probe: u64,
    salt: u64,
    /// Each binding at its next deadline (`Entry::armed`); see `timers.rs`.
    timers: TimerQueue<(OperatorId, String)>,
}

impl Registrar {
    /// A registrar with these settings and operators; `seed` salts To tags.
    /// `nonce_secret` keys the digest nonces: the driver passes 32 random
    /// bytes, so nonces do not survive a restart (a phone with an old nonce
    /// gets a fresh 401).
    pub fn new(
        config: RegistrarConfig,
        credentials: Credentials,
        seed: u64,
        nonce_secret: [u8; 32],
    ) -> Result<Self, RegistrarConfigError> {
        config.validate()?;
        let digest = DigestServer::new(config.realm.clone(), nonce_secret, config.nonce_ttl);
        let blocker = Blocker::new(
            config.fail_limit,
            config.fail_window,
            config.block_for,
            config.max_tracked_sources,
        );
        Ok(Self {
            config,
            credentials,
            digest,
            table: Table::default(),
            blocker,
            in_flight: HashMap::new(),
            probes: VecDeque::new(),
            events: VecDeque::new(),
            next_probe: 1,
            salt: seed,
            timers: TimerQueue::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Drops in-flight probes whose binding is gone.
    fn forget_stale_probes(&mut self) {
        let table = &self.table;
        self.in_flight
            .retain(|_, (op, key)| table.entries(op).iter().any(|e| e.key == *key));
    }

    /// The next keep-alive to send.
    pub fn poll_probe(&mut self) -> Option<Probe> {
        self.probes.pop_front()
    }

    /// A keep-alive's result: `ok` when the softphone sent any response
    /// (even 4xx/5xx); `false` for a timeout or a transport error. Unknown
    /// or superseded probes are ignored.
    pub fn probe_result(&mut self, now: Instant, id: ProbeId, ok: bool) {
        let Some((op, key)) = self.in_flight.remove(&id) else {
            return;
        };
        let result = if ok { "alive" } else { "miss" };
        ::metrics::counter!(metrics::PROBES, "result" => result).increment(1);
        let Some(k) = self.config.keepalive_interval else {
            return;
        };
        let target = (&op, key.as_str());
        if let Some(binding) = liveness::record_result(&mut self.table, now, target, id, ok, k) {
            self.note_removed(&op, &binding, RemoveReason::Unresponsive);
            self.note_reachability(&op, true);
            self.update_gauges();
        }
        self.arm_binding(&op, &key);
        self.prune_timers();
    }

    /// A flow closed: for a WebSocket flow (a browser, reachable only over
    /// it), every binding registered over it goes at once
    /// ([`RemoveReason::FlowClosed`]), not at expiry. Other transports keep
    /// their bindings: a TCP phone can be reached by a new connection, and
    /// keep-alives judge the rest.
    pub fn flow_closed(&mut self, peer: &Peer) {
        if !peer.transport.flow_only() || peer.conn.is_none() {
            return;
        }
        let gone = self.table.remove_flow(peer);
        let mut touched = BTreeSet::new();
        for (op, binding) in gone {
            self.note_removed(&op, &binding, RemoveReason::FlowClosed);
            touched.insert(op);
        }
        for op in &touched {
            self.note_reachability(op, true);
        }
        if !touched.is_empty() {
            self.forget_stale_probes();
            self.update_gauges();
            self.prune_timers();
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    /// The operator's bindings, newest first.
    pub fn contacts(&self, op: &OperatorId) -> Vec<Binding> {
        let mut out: Vec<Binding> = self
            .table
            .entries(op)
            .iter()
            .map(|e| e.binding.clone())
            .collect();
        out.sort_by_key(|b| std::cmp::Reverse(b.registered_at));
        out
    }

    /// True when the operator has at least one binding.
    pub fn is_reachable(&self, op: &OperatorId) -> bool {
        !self.table.entries(op).is_empty()
    }

    /// Replaces the operators (dialplan reload). Bindings of operators no
    /// longer configured are dropped (`Reachable { false }`); the others
    /// keep theirs.
    pub fn set_credentials(&mut self, credentials: Credentials) {
        self.credentials = credentials;
        let gone: Vec<OperatorId> = self
            .table
            .iter()
            .map(|(op, _)| op.clone())
            .filter(|op| !self.credentials.contains_key(op))
            .collect();
        for op in gone {
            for binding in self.table.drop_operator(&op) {
                self.note_removed(&op, &binding, RemoveReason::OperatorRemoved);
            }
            self.note_reachability(&op, true);
        }
        self.forget_stale_probes();
        self.update_gauges();
        self.prune_timers();
    }

    /// Every operator's bindings and the blocked sources, at `now`.
    pub fn snapshot(&self, now: Instant) -> RegistrarView {
        let mut ids: Vec<&OperatorId> = self.credentials.keys().collect();
        ids.extend(self.table.iter().map(|(op, _)| op));
        ids.sort();
        ids.dedup();
        let operators = ids
            .into_iter()
            .map(|op| snapshot::operator_view(op, self.table.entries(op), now))
            .collect();
        let blocked = self.blocker.blocked(now);
        let blocked = blocked
            .into_iter()
            .map(|(ip, until)| snapshot::blocked_view(ip, until, now))
            .collect();
        RegistrarView { operators, blocked }
    }

    fn note_removed(&mut self, op: &OperatorId, binding: &Binding, reason: RemoveReason) {
        ::metrics::counter!(metrics::BINDINGS_REMOVED, "reason" => reason.label()).increment(1);
        tracing::info!(operator = %op, contact = %binding.contact, reason = reason.label(), "binding removed");
        self.events.push_back(RegistrarEvent::BindingRemoved {
            operator: op.clone(),
            contact: binding.contact.clone(),
            reason,
        });
    }

    /// Emits `Reachable` when `op`'s reachability differs from `was`.
    fn note_reachability(&mut self, op: &OperatorId, was: bool) {
        let now = self.is_reachable(op);
        if now != was {
            self.events.push_back(RegistrarEvent::Reachable {
                operator: op.clone(),
                reachable: now,
            });
        }
    }

    fn update_gauges(&self) {
        let reachable = self.table.iter().count();
        ::metrics::gauge!(metrics::BINDINGS).set(self.table.len() as f64);
        ::metrics::gauge!(metrics::OPERATORS_REACHABLE).set(reachable as f64);
    }
}
