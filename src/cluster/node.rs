//! The composition one node runs: presence, claims, tickets and links
//! behind one quinn-proto style interface. The driver feeds it watch
//! changes ([`ClusterNode::handle_watch`]), replies to the key-value
//! operations it asked for ([`ClusterNode::handle_reply`]) and the time
//! ([`ClusterNode::handle_timeout`]), and carries out what
//! [`ClusterNode::poll_output`] hands out.
//!
//! Degraded: any failed operation or a lost watch turns the node degraded
//! ([`ClusterOutput::Degraded`]); it keeps routing its own calls to its own
//! operators (claims are granted locally). The first successful write with
//! every watch up makes it healthy again, and it then writes back what it
//! holds (`republish`) by compare-and-set.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use crate::routing::OperatorId;

use super::claims::{ClaimEvent, Claims};
use super::keys::{node_key, parse_operator_key, parse_ticket_key};
use super::link::Linker;
use super::presence::{next_refresh, Presence, PresenceEvent};
use super::records::{decode, encode, ClaimRecord, NodeRecord, TicketRecord, VERSION};
use super::tickets::{TicketEvent, Tickets};
use super::{Bucket, ClusterTiming, NodeId, TicketId};

/// A key-value operation for the driver to make (each bounded in time by
/// the driver: a store that does not answer gives [`KvReply::Failed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvOp {
    /// Create the key; a conflict when it exists.
    Create {
        bucket: Bucket,
        key: String,
        value: Vec<u8>,
    },
    /// Update the key expecting `revision`; a conflict otherwise.
    Update {
        bucket: Bucket,
        key: String,
        value: Vec<u8>,
        revision: u64,
    },
    /// Delete the key.
    Delete { bucket: Bucket, key: String },
    /// Read the key.
    Get { bucket: Bucket, key: String },
}

/// The outcome of a [`KvOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvReply {
    /// Written (or deleted) at `revision`.
    Written { revision: u64 },
    /// The compare-and-set lost.
    Conflict,
    /// A read: the value and its revision, `None` when absent.
    Found(Option<(Vec<u8>, u64)>),
    /// The store did not answer in time, or refused.
    Failed,
}

/// What a bucket's watch delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchChange {
    /// A value was written.
    Put {
        key: String,
        value: Vec<u8>,
        revision: u64,
    },
    /// The key was deleted or purged.
    Deleted { key: String },
    /// The watch broke (it is being re-established).
    Lost,
    /// The watch is back, resumed from the last revision seen.
    Resumed,
}

/// Names a [`KvOp`] so its reply finds its way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// What the node asks the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterOutput {
    /// Make this operation and hand back its reply.
    Kv { id: RequestId, op: KvOp },
    /// A claim was granted, refused or lost.
    Claim(ClaimEvent),
    /// A ticket was adopted here, or taken over by another node.
    Ticket(TicketEvent),
    /// Another live node has (or no longer has) the operator: show it busy
    /// in the local router.
    OperatorElsewhere { operator: OperatorId, busy: bool },
    /// The node entered (`true`) or left degraded mode.
    Degraded(bool),
}

#[derive(Debug, Clone)]
enum Pending {
    Presence,
    PresenceLookup,
    Claim(OperatorId),
    ClaimWrite(OperatorId),
    Release(OperatorId),
    ClaimRead(OperatorId),
    TicketWrite(TicketId),
    TicketDelete(TicketId),
    Adopt(TicketId),
}

/// One node's cluster state.
#[derive(Debug)]
pub struct ClusterNode {
    me: NodeId,
    timing: ClusterTiming,
    started_ms: u64,
    pub(super) presence: Presence,
    pub(super) claims: Claims,
    pub(super) tickets: Tickets,
    linker: Linker,
    next_id: u64,
    pending: BTreeMap<RequestId, Pending>,
    out: VecDeque<ClusterOutput>,
    own_rev: Option<u64>,
    own_lookup: bool,
    beat: u64,
    refresh_at: Instant,
    refresh_in_flight: bool,
    degraded: bool,
    watches_lost: BTreeSet<Bucket>,
    busy_reported: BTreeSet<OperatorId>,
    lapsed: bool,
}

mod ops;
pub use ops::ClaimTry;

impl ClusterNode {
    /// Node `me`, started at `now` (`started_ms`: wall clock, for its record).
    pub fn new(me: NodeId, timing: ClusterTiming, started_ms: u64, now: Instant) -> Self {
        Self {
            presence: Presence::new(me.clone(), timing, now),
            claims: Claims::new(me.clone()),
            tickets: Tickets::new(me.clone()),
            linker: Linker::new(timing.link_window),
            me,
            timing,
            started_ms,
            next_id: 0,
            pending: BTreeMap::new(),
            out: VecDeque::new(),
            own_rev: None,
            own_lookup: false,
            beat: 0,
            refresh_at: now,
            refresh_in_flight: false,
            degraded: false,
            watches_lost: BTreeSet::new(),
            busy_reported: BTreeSet::new(),
            lapsed: true,
        }
    }

    /// This node.
    pub fn me(&self) -> &NodeId {
        &self.me
    }

    /// Whether the node routes alone for want of the cluster.
    pub fn is_degraded(&self) -> bool {
        self.degraded
    }

    /// The next thing the driver must do.
    pub fn poll_output(&mut self) -> Option<ClusterOutput> {
        self.out.pop_front()
    }

    /// When [`ClusterNode::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Instant {
        [
            Some(self.refresh_at),
            self.presence.poll_timeout(),
            self.linker.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.refresh_at)
    }

    /// Time passes: peers' TTLs, this node's refresh, adoption of orphans.
    pub fn handle_timeout(&mut self, now: Instant) {
        let events = self.presence.handle_tick(now);
        let mut gone = false;
        for event in events {
            gone |= matches!(event, PresenceEvent::Gone(_));
        }
        if self.presence.own_lapsed(now) && !self.lapsed {
            self.lapsed = true;
            for (op, read) in self.claims.reverify() {
                self.request(Pending::ClaimRead(op), read);
            }
        }
        if now >= self.refresh_at {
            self.refresh_at = next_refresh(&self.timing, now);
            if !self.refresh_in_flight {
                self.refresh(now);
            }
        }
        self.linker.handle_tick(now);
        self.adopt(now);
        if !self.degraded {
            self.republish_tickets();
        }
        if gone {
            self.report_busy(now);
        }
    }

    /// A change from the watch on `bucket`, arrived at `now`.
    pub fn handle_watch(&mut self, bucket: Bucket, change: WatchChange, now: Instant) {
        match change {
            WatchChange::Lost => {
                self.watches_lost.insert(bucket);
                if bucket == Bucket::Nodes {
                    self.presence.handle_watch_lost();
                }
                self.set_degraded(true);
            }
            WatchChange::Resumed => {
                self.watches_lost.remove(&bucket);
                if bucket == Bucket::Nodes {
                    self.presence.handle_watch_resumed(now);
                }
            }
            WatchChange::Put {
                key,
                value,
                revision,
            } => self.handle_put(bucket, &key, &value, revision, now),
            WatchChange::Deleted { key } => self.handle_deleted(bucket, &key),
        }
    }

    fn handle_put(&mut self, bucket: Bucket, key: &str, value: &[u8], revision: u64, now: Instant) {
        match bucket {
            Bucket::Nodes => {
                let Ok(record) = decode::<NodeRecord>(value) else {
                    return;
                };
                if record.node == self.me {
                    self.own_rev = Some(self.own_rev.map_or(revision, |r| r.max(revision)));
                } else if let Some(PresenceEvent::Back(_)) =
                    self.presence.handle_refresh(&record.node, now)
                {
                    self.report_busy(now);
                }
            }
            Bucket::Operators => {
                let (Some(op), Ok(record)) =
                    (parse_operator_key(key), decode::<ClaimRecord>(value))
                else {
                    return;
                };
                let (event, write) = self.claims.handle_update(&op, record.state, revision);
                self.emit_claim(event);
                if let Some(write) = write {
                    self.request(Pending::Release(op), write);
                }
                self.report_busy(now);
            }
            Bucket::Tickets => {
                let Ok(record) = decode::<TicketRecord>(value) else {
                    return;
                };
                if let Some(event) = self.tickets.handle_update(record, revision) {
                    self.out.push_back(ClusterOutput::Ticket(event));
                }
            }
        }
    }

    fn handle_deleted(&mut self, bucket: Bucket, key: &str) {
        match bucket {
            Bucket::Nodes => {}
            Bucket::Operators => {
                if let Some(op) = parse_operator_key(key) {
                    self.claims.handle_deleted(&op);
                }
            }
            Bucket::Tickets => {
                if let Some(ticket) = parse_ticket_key(key) {
                    self.tickets.handle_deleted(&ticket);
                }
            }
        }
    }

    fn refresh(&mut self, _now: Instant) {
        self.refresh_in_flight = true;
        if self.own_lookup {
            let key = node_key(&self.me);
            self.request(
                Pending::PresenceLookup,
                KvOp::Get {
                    bucket: Bucket::Nodes,
                    key,
                },
            );
            return;
        }
        self.beat += 1;
        let record = NodeRecord {
            v: VERSION,
            node: self.me.clone(),
            started_ms: self.started_ms,
            beat: self.beat,
        };
        let (bucket, key, value) = (Bucket::Nodes, node_key(&self.me), encode(&record));
        let op = match self.own_rev {
            Some(revision) => KvOp::Update {
                bucket,
                key,
                value,
                revision,
            },
            None => KvOp::Create { bucket, key, value },
        };
        self.request(Pending::Presence, op);
    }

    fn adopt(&mut self, now: Instant) {
        if self.degraded {
            return;
        }
        let presence = &self.presence;
        for (ticket, op) in self.tickets.adopt_orphans(|n| presence.is_alive(n, now)) {
            self.request(Pending::Adopt(ticket), op);
        }
    }

    fn report_busy(&mut self, now: Instant) {
        let presence = &self.presence;
        let busy: BTreeSet<OperatorId> = self
            .claims
            .view()
            .map(|(op, _)| op)
            .filter(|op| {
                self.claims
                    .busy_elsewhere(op, |n| presence.is_alive(n, now))
            })
            .cloned()
            .collect();
        for op in busy.difference(&self.busy_reported) {
            self.out.push_back(ClusterOutput::OperatorElsewhere {
                operator: op.clone(),
                busy: true,
            });
        }
        for op in self.busy_reported.difference(&busy) {
            self.out.push_back(ClusterOutput::OperatorElsewhere {
                operator: op.clone(),
                busy: false,
            });
        }
        self.busy_reported = busy;
    }

    fn request(&mut self, pending: Pending, op: KvOp) {
        self.next_id += 1;
        let id = RequestId(self.next_id);
        self.pending.insert(id, pending);
        self.out.push_back(ClusterOutput::Kv { id, op });
    }

    fn emit_claim(&mut self, event: Option<ClaimEvent>) {
        if let Some(event) = event {
            self.out.push_back(ClusterOutput::Claim(event));
        }
    }

    fn set_degraded(&mut self, degraded: bool) {
        if self.degraded != degraded {
            self.degraded = degraded;
            self.out.push_back(ClusterOutput::Degraded(degraded));
        }
    }
}
