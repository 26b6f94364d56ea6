//! Tickets: this node's waiting and ringing alarms in `ag-tickets`, and the
//! takeover of the tickets of a node that died.
//!
//! Every alarm waiting for or ringing at an operator on this node has a
//! ticket, created when it is queued, updated on ring and answer, deleted
//! when it is settled. Writes to one ticket are serialised (one in flight;
//! the latest phase is written after it), each expecting the revision of
//! the previous one. When the store fails, the ticket is kept here and
//! written again when it comes back ([`Tickets::republish`]).
//!
//! Takeover: a ticket whose holder is gone (per `presence`) is adopted by
//! an update expecting the revision seen, holder = this node, phase
//! `adopted`. Every survivor tries; the store lets one write win, the
//! others get a conflict and drop it. Attempts repeat on every tick while
//! the holder stays gone, so a failed write does not forget the ticket.
//! A ticket of this node adopted by another (this node was frozen or cut
//! off past the TTL) is reported [`TicketEvent::TakenOver`]: the adopter
//! offers it now, this node must stop.

use std::collections::{BTreeMap, BTreeSet};

use super::keys::ticket_key;
use super::node::{KvOp, KvReply};
use super::records::{encode, TicketPhase, TicketRecord};
use super::{Bucket, NodeId, TicketId};

/// What the ticket core tells the node.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketEvent {
    /// This node won the race for a dead node's ticket: list it as a data
    /// alarm (decoded fields, recall to the unit).
    Adopted(Box<TicketRecord>),
    /// Another node adopted one of this node's tickets: stop offering it.
    TakenOver(TicketId),
}

#[derive(Debug)]
struct Own {
    record: TicketRecord,
    revision: Option<u64>,
    in_flight: bool,
    dirty: bool,
    stale: bool,
}

/// The ticket core of one node.
#[derive(Debug)]
pub struct Tickets {
    me: NodeId,
    own: BTreeMap<TicketId, Own>,
    others: BTreeMap<TicketId, (TicketRecord, u64)>,
    adopting: BTreeSet<TicketId>,
    /// Settled here, delete not yet confirmed: never adopted back.
    closing: BTreeMap<TicketId, bool>,
}

impl Tickets {
    /// The ticket core of node `me`.
    pub fn new(me: NodeId) -> Self {
        Self {
            me,
            own: BTreeMap::new(),
            others: BTreeMap::new(),
            adopting: BTreeSet::new(),
            closing: BTreeMap::new(),
        }
    }

    /// Whether this node holds `ticket`.
    pub fn owns(&self, ticket: &TicketId) -> bool {
        self.own.contains_key(ticket)
    }

    /// This node's tickets.
    pub fn own(&self) -> impl Iterator<Item = &TicketRecord> {
        self.own.values().map(|o| &o.record)
    }

    /// Other nodes' tickets as last seen.
    pub fn others(&self) -> impl Iterator<Item = &TicketRecord> {
        self.others.values().map(|(r, _)| r)
    }

    /// A call was queued here: its ticket is created.
    pub fn open(&mut self, mut record: TicketRecord) -> KvOp {
        record.holder = self.me.clone();
        let id = record.ticket.clone();
        let op = write(&record, None);
        self.own.insert(
            id,
            Own {
                record,
                revision: None,
                in_flight: true,
                dirty: false,
                stale: false,
            },
        );
        op
    }

    /// The call rang, was answered, or went back to waiting.
    pub fn set_phase(&mut self, ticket: &TicketId, phase: TicketPhase) -> Option<KvOp> {
        let own = self.own.get_mut(ticket)?;
        if own.record.phase == phase {
            return None;
        }
        own.record.phase = phase;
        if own.in_flight {
            own.dirty = true;
            return None;
        }
        own.in_flight = true;
        Some(write(&own.record, own.revision))
    }

    /// The call was settled (answered and ended, forwarded, withdrawn): its
    /// ticket is deleted.
    pub fn close(&mut self, ticket: &TicketId) -> Option<KvOp> {
        self.own.remove(ticket)?;
        self.closing.insert(ticket.clone(), true);
        Some(delete(ticket))
    }

    /// The reply to a delete: a failure is tried again by `republish`.
    pub fn handle_delete_reply(&mut self, ticket: &TicketId, reply: &KvReply) {
        if matches!(reply, KvReply::Written { .. }) {
            self.closing.remove(ticket);
        } else if let Some(in_flight) = self.closing.get_mut(ticket) {
            *in_flight = false;
        }
    }

    /// The reply to a create or update of an own ticket; maybe the next write.
    pub fn handle_write_reply(&mut self, ticket: &TicketId, reply: &KvReply) -> Option<KvOp> {
        let own = self.own.get_mut(ticket)?;
        own.in_flight = false;
        match reply {
            KvReply::Written { revision } => {
                own.revision = Some(*revision);
                own.stale = false;
            }
            // A failure, or a conflict (a create whose first reply was lost,
            // or an adoption while we were gone: the watch then reports it
            // TakenOver) is written again by `republish`.
            KvReply::Conflict | KvReply::Failed | KvReply::Found(_) => {
                own.stale = true;
                return None;
            }
        }
        if !std::mem::take(&mut own.dirty) {
            return None;
        }
        own.in_flight = true;
        Some(write(&own.record, own.revision))
    }

    /// A value of `t.<ticket>` arrived.
    pub fn handle_update(&mut self, record: TicketRecord, revision: u64) -> Option<TicketEvent> {
        let id = record.ticket.clone();
        if let Some(own) = self.own.get_mut(&id) {
            if record.holder == self.me {
                own.revision = Some(own.revision.map_or(revision, |r| r.max(revision)));
                return None;
            }
            self.own.remove(&id);
            self.others.insert(id.clone(), (record, revision));
            return Some(TicketEvent::TakenOver(id));
        }
        if self
            .others
            .get(&id)
            .is_some_and(|(_, seen)| *seen >= revision)
        {
            return None;
        }
        self.others.insert(id, (record, revision));
        None
    }

    /// `t.<ticket>` was deleted: settled by its holder.
    pub fn handle_deleted(&mut self, ticket: &TicketId) {
        self.others.remove(ticket);
    }

    /// Adoption attempts for every ticket whose holder `alive` says is gone
    /// (this node's own earlier life included) and not already being tried.
    pub fn adopt_orphans(&mut self, alive: impl Fn(&NodeId) -> bool) -> Vec<(TicketId, KvOp)> {
        let orphans: Vec<(TicketRecord, u64)> = self
            .others
            .values()
            .filter(|(r, _)| r.holder == self.me || !alive(&r.holder))
            .filter(|(r, _)| {
                !self.adopting.contains(&r.ticket) && !self.closing.contains_key(&r.ticket)
            })
            .cloned()
            .collect();
        orphans
            .into_iter()
            .map(|(record, revision)| {
                self.adopting.insert(record.ticket.clone());
                let id = record.ticket.clone();
                (id, write(&self.adoption_of(record), Some(revision)))
            })
            .collect()
    }

    /// The reply to an adoption: won (adopted), lost (dropped) or failed
    /// (tried again on a later tick).
    pub fn handle_adopt_reply(
        &mut self,
        ticket: &TicketId,
        reply: &KvReply,
    ) -> Option<TicketEvent> {
        self.adopting.remove(ticket);
        let KvReply::Written { revision } = reply else {
            return None;
        };
        let (record, _) = self.others.remove(ticket)?;
        let record = self.adoption_of(record);
        self.own.insert(
            ticket.clone(),
            Own {
                record: record.clone(),
                revision: Some(*revision),
                in_flight: false,
                dirty: false,
                stale: false,
            },
        );
        Some(TicketEvent::Adopted(Box::new(record)))
    }

    /// Write again every own ticket whose last write failed (create when it
    /// was never written, update at the last revision seen otherwise).
    pub fn republish(&mut self) -> Vec<(TicketId, KvOp)> {
        let mut ops: Vec<(TicketId, KvOp)> = Vec::new();
        for (id, in_flight) in self.closing.iter_mut().filter(|(_, f)| !**f) {
            *in_flight = true;
            ops.push((id.clone(), delete(id)));
        }
        let writes = self
            .own
            .iter_mut()
            .filter(|(_, own)| own.stale && !own.in_flight)
            .map(|(id, own)| {
                own.in_flight = true;
                (id.clone(), write(&own.record, own.revision))
            });
        ops.extend(writes);
        ops
    }

    fn adoption_of(&self, mut record: TicketRecord) -> TicketRecord {
        if !matches!(record.phase, TicketPhase::Adopted { .. }) {
            let was_connected = matches!(record.phase, TicketPhase::Connected { .. });
            record.phase = TicketPhase::Adopted {
                from: record.holder.clone(),
                was_connected,
            };
        }
        record.holder = self.me.clone();
        record
    }
}

fn delete(ticket: &TicketId) -> KvOp {
    KvOp::Delete {
        bucket: Bucket::Tickets,
        key: ticket_key(ticket),
    }
}

fn write(record: &TicketRecord, revision: Option<u64>) -> KvOp {
    let (bucket, key, value) = (Bucket::Tickets, ticket_key(&record.ticket), encode(record));
    match revision {
        Some(revision) => KvOp::Update {
            bucket,
            key,
            value,
            revision,
        },
        None => KvOp::Create { bucket, key, value },
    }
}
