//! The node's replies and the calls the driver makes into it for its own
//! alarms and operators.

use std::time::Instant;

use crate::routing::OperatorId;

use super::{ClusterNode, ClusterOutput, KvReply, Pending, RequestId};
use crate::cluster::records::{decode, ClaimRecord, TicketPhase, TicketRecord};
use crate::cluster::tickets::TicketEvent;
use crate::cluster::TicketId;

/// The answer to [`ClusterNode::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimTry {
    /// The compare-and-set is on its way: wait for [`ClaimEvent::Granted`]
    /// or [`ClaimEvent::Refused`] before ringing.
    Pending,
    /// Ring now: degraded, the node routes alone.
    GrantedLocally,
    /// Another live node has the operator (or this node already does):
    /// offer the call to someone else; no penalty for the operator.
    Busy,
}

impl ClusterNode {
    /// The reply to the operation `id`.
    pub fn handle_reply(&mut self, id: RequestId, reply: KvReply, now: Instant) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        self.note_health(&reply);
        match pending {
            Pending::Presence => self.presence_reply(&reply, now),
            Pending::PresenceLookup => self.lookup_reply(&reply, now),
            Pending::Claim(op) => {
                let (event, release) = self.claims.handle_claim_reply(&op, &reply);
                self.emit_claim(event);
                if let Some(write) = release {
                    self.request(Pending::Release(op), write);
                }
            }
            Pending::ClaimWrite(op) => {
                let event = self.claims.handle_write_reply(&op, &reply);
                self.emit_claim(event);
            }
            Pending::Release(op) => self.claims.handle_release_reply(&op),
            Pending::ClaimRead(op) => self.claim_read(&op, &reply),
            Pending::TicketWrite(ticket) => {
                if let Some(next) = self.tickets.handle_write_reply(&ticket, &reply) {
                    self.request(Pending::TicketWrite(ticket), next);
                }
            }
            Pending::TicketDelete(ticket) => self.tickets.handle_delete_reply(&ticket, &reply),
            Pending::Adopt(ticket) => self.adopt_reply(&ticket, &reply, now),
        }
    }

    /// Whether this node holds `ticket` (its own or adopted).
    pub fn owns(&self, ticket: &TicketId) -> bool {
        self.tickets.owns(ticket)
    }

    /// An alarm or call was queued here: its ticket is written.
    pub fn open_ticket(&mut self, record: TicketRecord) {
        let id = record.ticket.clone();
        let op = self.tickets.open(record);
        self.request(Pending::TicketWrite(id), op);
    }

    /// The alarm rang, was answered, or went back to waiting.
    pub fn set_ticket_phase(&mut self, ticket: &TicketId, phase: TicketPhase) {
        if let Some(op) = self.tickets.set_phase(ticket, phase) {
            self.request(Pending::TicketWrite(ticket.clone()), op);
        }
    }

    /// The alarm was settled here: its ticket is deleted.
    pub fn close_ticket(&mut self, ticket: &TicketId) {
        self.linker.handle_settled(ticket);
        if let Some(op) = self.tickets.close(ticket) {
            self.request(Pending::TicketDelete(ticket.clone()), op);
        }
    }

    /// Before ringing `op` for `ticket`: claim the operator.
    pub fn claim(&mut self, op: &OperatorId, ticket: &TicketId, now: Instant) -> ClaimTry {
        if self.degraded {
            return match self.claims.grant_locally(op, ticket) {
                true => ClaimTry::GrantedLocally,
                false => ClaimTry::Busy,
            };
        }
        let presence = &self.presence;
        match self
            .claims
            .try_claim(op, ticket, |n| presence.is_alive(n, now))
        {
            Some(write) => {
                self.request(Pending::Claim(op.clone()), write);
                ClaimTry::Pending
            }
            None => ClaimTry::Busy,
        }
    }

    /// The operator answered the call this node claimed it for.
    pub fn answered(&mut self, op: &OperatorId) {
        if let Some(write) = self.claims.answered(op) {
            self.request(Pending::ClaimWrite(op.clone()), write);
        }
    }

    /// The ring timed out or was declined, the call ended or the wrap-up
    /// expired: the operator is available again.
    pub fn release(&mut self, op: &OperatorId) {
        if let Some(write) = self.claims.release(op) {
            self.request(Pending::Release(op.clone()), write);
        }
    }

    /// A call from `caller` of `tenant` arrived: the adopted ticket it is
    /// the redial of, if any (see `link`).
    pub fn link_redial(&mut self, tenant: &str, caller: &str, now: Instant) -> Option<TicketId> {
        self.linker.handle_incoming(tenant, caller, now)
    }

    fn presence_reply(&mut self, reply: &KvReply, now: Instant) {
        self.refresh_in_flight = false;
        match reply {
            KvReply::Written { revision } => {
                self.own_rev = Some(*revision);
                self.presence.handle_own_written(now);
                self.lapsed = false;
            }
            KvReply::Conflict => {
                self.own_lookup = true;
                self.refresh_at = now;
            }
            KvReply::Found(_) | KvReply::Failed => {}
        }
    }

    fn lookup_reply(&mut self, reply: &KvReply, now: Instant) {
        self.refresh_in_flight = false;
        if let KvReply::Found(found) = reply {
            self.own_lookup = false;
            self.own_rev = found.as_ref().map(|(_, revision)| *revision);
            self.refresh_at = now;
        }
    }

    fn claim_read(&mut self, op: &OperatorId, reply: &KvReply) {
        let KvReply::Found(Some((value, revision))) = reply else {
            return;
        };
        let Ok(record) = decode::<ClaimRecord>(value) else {
            return;
        };
        let (event, write) = self.claims.handle_update(op, record.state, *revision);
        self.emit_claim(event);
        if let Some(write) = write {
            self.request(Pending::Release(op.clone()), write);
        }
    }

    fn adopt_reply(&mut self, ticket: &TicketId, reply: &KvReply, now: Instant) {
        if let Some(TicketEvent::Adopted(record)) = self.tickets.handle_adopt_reply(ticket, reply) {
            self.linker
                .handle_adopted(record.ticket.clone(), &record.tenant, &record.caller, now);
            self.out
                .push_back(ClusterOutput::Ticket(TicketEvent::Adopted(record)));
        }
    }

    /// Failures make the node degraded; an answer from the store with every
    /// watch up makes it healthy, and then it writes back what it holds.
    fn note_health(&mut self, reply: &KvReply) {
        if matches!(reply, KvReply::Failed) {
            self.set_degraded(true);
            return;
        }
        if !self.degraded || !self.watches_lost.is_empty() {
            return;
        }
        self.set_degraded(false);
        for (op, write) in self.claims.republish() {
            self.request(Pending::ClaimWrite(op), write);
        }
        self.republish_tickets();
    }

    pub(super) fn republish_tickets(&mut self) {
        for (ticket, op) in self.tickets.republish() {
            let pending = match &op {
                crate::cluster::KvOp::Delete { .. } => Pending::TicketDelete(ticket),
                _ => Pending::TicketWrite(ticket),
            };
            self.request(pending, op);
        }
    }
}
