//! Operator claims: one operator, one state on every node.
//!
//! Before a node rings an operator it takes `op.<id>` by compare-and-set
//! (absent or `available` → `ringing(node, ticket)`, or over the claim of a
//! node judged gone). The revision of the write that took the claim is its
//! fencing *epoch*: every later change the node makes (answered → `busy`,
//! released → `available`) is an update expecting that revision, so a node
//! whose claim was taken over while it was frozen or cut off gets a
//! conflict and learns it ([`ClaimEvent::Lost`]: cancel the ring or drop
//! the operator leg) instead of acting on it. A lost compare-and-set when
//! claiming means busy elsewhere: not a decline, no penalty.
//!
//! When the KV store fails (quorum lost, NATS unreachable) the node rings
//! its own operators without the cluster (`granted_locally`); when it comes
//! back, [`Claims::republish`] writes those claims by compare-and-set and a
//! ring that lost settles by cancelling (a connected call is real and
//! stays). A claim of this node that it no longer holds (a release that
//! failed, a restart) is put back to `available` as soon as it is seen.

use std::collections::{BTreeMap, BTreeSet};

use crate::routing::OperatorId;

use super::keys::operator_key;
use super::node::{KvOp, KvReply};
use super::records::{encode, ClaimRecord, ClaimState, VERSION};
use super::{Bucket, NodeId, TicketId};

/// What the claim core tells the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimEvent {
    /// The claim is ours (in the cluster, or locally while degraded): ring.
    Granted {
        operator: OperatorId,
        ticket: TicketId,
    },
    /// Another node has the operator: offer the call to someone else.
    Refused {
        operator: OperatorId,
        ticket: TicketId,
    },
    /// Our claim was taken over: stop ringing, or drop the operator leg.
    Lost {
        operator: OperatorId,
        ticket: TicketId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Claiming,
    Ringing,
    Busy,
}

#[derive(Debug, Clone)]
struct Held {
    ticket: TicketId,
    phase: Phase,
    /// The revision of our last write; `None` while claimed locally only.
    epoch: Option<u64>,
}

/// The claim core of one node.
#[derive(Debug)]
pub struct Claims {
    me: NodeId,
    view: BTreeMap<OperatorId, (ClaimState, u64)>,
    held: BTreeMap<OperatorId, Held>,
    releasing: BTreeSet<OperatorId>,
}

impl Claims {
    /// The claim core of node `me`.
    pub fn new(me: NodeId) -> Self {
        Self {
            me,
            view: BTreeMap::new(),
            held: BTreeMap::new(),
            releasing: BTreeSet::new(),
        }
    }

    /// Whether another node alive (per `alive`) has the operator.
    pub fn busy_elsewhere(&self, op: &OperatorId, alive: impl Fn(&NodeId) -> bool) -> bool {
        self.view
            .get(op)
            .and_then(|(s, _)| s.holder())
            .is_some_and(|n| *n != self.me && alive(n))
    }

    /// Whether this node holds a claim on the operator.
    pub fn holds(&self, op: &OperatorId) -> bool {
        self.held.contains_key(op)
    }

    /// The operators seen in the bucket, with who holds each.
    pub fn view(&self) -> impl Iterator<Item = (&OperatorId, &ClaimState)> {
        self.view.iter().map(|(op, (state, _))| (op, state))
    }

    /// Claim `op` for `ticket`: the write to make, or `None` when another
    /// live node has it (refused at once, no round trip).
    pub fn try_claim(
        &mut self,
        op: &OperatorId,
        ticket: &TicketId,
        alive: impl Fn(&NodeId) -> bool,
    ) -> Option<KvOp> {
        if self.held.contains_key(op) || self.busy_elsewhere(op, alive) {
            return None;
        }
        let state = ClaimState::Ringing {
            node: self.me.clone(),
            ticket: ticket.clone(),
        };
        let write = self.write(op, state, self.view.get(op).map(|(_, rev)| *rev));
        self.held.insert(
            op.clone(),
            Held {
                ticket: ticket.clone(),
                phase: Phase::Claiming,
                epoch: None,
            },
        );
        Some(write)
    }

    /// The reply to a claim's write; a claim released while its write was
    /// on the way is put back to `available` at once (the returned write).
    pub fn handle_claim_reply(
        &mut self,
        op: &OperatorId,
        reply: &KvReply,
    ) -> (Option<ClaimEvent>, Option<KvOp>) {
        let Some(held) = self.held.get_mut(op).filter(|h| h.phase == Phase::Claiming) else {
            let KvReply::Written { revision } = reply else {
                return (None, None);
            };
            self.releasing.insert(op.clone());
            return (
                None,
                Some(self.write(op, ClaimState::Available, Some(*revision))),
            );
        };
        let ticket = held.ticket.clone();
        match reply {
            KvReply::Written { revision } => {
                held.phase = Phase::Ringing;
                held.epoch = Some(*revision);
            }
            KvReply::Failed => held.phase = Phase::Ringing,
            KvReply::Conflict | KvReply::Found(_) => {
                self.held.remove(op);
                return (
                    Some(ClaimEvent::Refused {
                        operator: op.clone(),
                        ticket,
                    }),
                    None,
                );
            }
        }
        (
            Some(ClaimEvent::Granted {
                operator: op.clone(),
                ticket,
            }),
            None,
        )
    }

    /// The operator answered: `busy`, expecting our epoch (a conflict there
    /// means the claim was taken over: [`ClaimEvent::Lost`]).
    pub fn answered(&mut self, op: &OperatorId) -> Option<KvOp> {
        let held = self.held.get_mut(op)?;
        held.phase = Phase::Busy;
        let state = ClaimState::Busy {
            node: self.me.clone(),
            ticket: held.ticket.clone(),
        };
        let epoch = held.epoch?;
        Some(self.write(op, state, Some(epoch)))
    }

    /// The reply to a write after the claim (answered, republished).
    pub fn handle_write_reply(&mut self, op: &OperatorId, reply: &KvReply) -> Option<ClaimEvent> {
        let held = self.held.get_mut(op)?;
        match reply {
            KvReply::Written { revision } => held.epoch = Some(*revision),
            KvReply::Conflict if held.phase == Phase::Busy && held.epoch.is_none() => {}
            KvReply::Conflict => return self.lose(op),
            KvReply::Failed | KvReply::Found(_) => {}
        }
        None
    }

    /// The call ended, the wrap-up expired or the ring timed out: back to
    /// `available`, expecting our epoch.
    pub fn release(&mut self, op: &OperatorId) -> Option<KvOp> {
        let revision = self.held.remove(op)?.epoch?;
        self.releasing.insert(op.clone());
        Some(self.write(op, ClaimState::Available, Some(revision)))
    }

    /// The reply to a release: a failure is repaired when the claim is next
    /// seen (see [`Claims::handle_update`]).
    pub fn handle_release_reply(&mut self, op: &OperatorId) {
        self.releasing.remove(op);
    }

    /// A value of `op.<id>` arrived from the watch (or a read). Older
    /// revisions than the one seen are ignored (a replay after reconnect).
    pub fn handle_update(
        &mut self,
        op: &OperatorId,
        state: ClaimState,
        revision: u64,
    ) -> (Option<ClaimEvent>, Option<KvOp>) {
        if self.view.get(op).is_some_and(|(_, seen)| *seen >= revision) {
            return (None, None);
        }
        self.view.insert(op.clone(), (state.clone(), revision));
        let ours = state.holder() == Some(&self.me);
        match self.held.get(op) {
            Some(h) if h.phase == Phase::Claiming || h.epoch.is_none() => (None, None),
            Some(h) if ours && Self::ticket_of(&state) == Some(&h.ticket) => (None, None),
            Some(_) => (self.lose(op), None),
            None if ours && !self.releasing.contains(op) => {
                self.releasing.insert(op.clone());
                (
                    None,
                    Some(self.write(op, ClaimState::Available, Some(revision))),
                )
            }
            None => (None, None),
        }
    }

    /// The key was deleted (purged by an operator of the centre).
    pub fn handle_deleted(&mut self, op: &OperatorId) {
        self.view.remove(op);
    }

    /// The store is back after a failure: write every claim held only
    /// locally (degraded), expecting the revision seen.
    pub fn republish(&mut self) -> Vec<(OperatorId, KvOp)> {
        let local: Vec<(OperatorId, ClaimState)> = self
            .held
            .iter()
            .filter(|(_, h)| h.epoch.is_none() && h.phase != Phase::Claiming)
            .map(|(op, h)| (op.clone(), self.state_of(h)))
            .collect();
        local
            .into_iter()
            .map(|(op, state)| {
                let write = self.write(&op, state, self.view.get(&op).map(|(_, r)| *r));
                (op, write)
            })
            .collect()
    }

    /// Reads of every claim with an epoch, to re-check after our presence
    /// lapsed (we may have been judged gone and taken over).
    pub fn reverify(&self) -> Vec<(OperatorId, KvOp)> {
        self.held
            .iter()
            .filter(|(_, h)| h.epoch.is_some())
            .map(|(op, _)| {
                (
                    op.clone(),
                    KvOp::Get {
                        bucket: Bucket::Operators,
                        key: operator_key(op),
                    },
                )
            })
            .collect()
    }

    /// Degraded: the claim is taken here alone, written when the store is
    /// back ([`Claims::republish`]). `false` when this node already holds it.
    pub fn grant_locally(&mut self, op: &OperatorId, ticket: &TicketId) -> bool {
        if self.held.contains_key(op) {
            return false;
        }
        self.held.insert(
            op.clone(),
            Held {
                ticket: ticket.clone(),
                phase: Phase::Ringing,
                epoch: None,
            },
        );
        true
    }

    fn lose(&mut self, op: &OperatorId) -> Option<ClaimEvent> {
        let held = self.held.remove(op)?;
        Some(ClaimEvent::Lost {
            operator: op.clone(),
            ticket: held.ticket,
        })
    }

    fn state_of(&self, held: &Held) -> ClaimState {
        let (node, ticket) = (self.me.clone(), held.ticket.clone());
        match held.phase {
            Phase::Busy => ClaimState::Busy { node, ticket },
            _ => ClaimState::Ringing { node, ticket },
        }
    }

    fn ticket_of(state: &ClaimState) -> Option<&TicketId> {
        match state {
            ClaimState::Available => None,
            ClaimState::Ringing { ticket, .. } | ClaimState::Busy { ticket, .. } => Some(ticket),
        }
    }

    fn write(&self, op: &OperatorId, state: ClaimState, revision: Option<u64>) -> KvOp {
        let (bucket, key) = (Bucket::Operators, operator_key(op));
        let value = encode(&ClaimRecord { v: VERSION, state });
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
}
