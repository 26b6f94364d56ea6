//! A simulated cluster for the randomised invariant test: nodes running
//! [`ClusterNode`] with a toy switchboard each (alarms waiting, ringing,
//! connected), a [`SimKv`] between them, messages delivered in random
//! interleavings, nodes killed, frozen and restarted, all in simulated time.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;

use super::claims::ClaimEvent;
use super::node::{ClaimTry, ClusterNode, ClusterOutput, KvOp, KvReply, RequestId, WatchChange};
use super::records::{TicketPhase, TicketRecord, VERSION};
use super::sim_kv::SimKv;
use super::tickets::TicketEvent;
use super::{Bucket, ClusterTiming, NodeId, TicketId};
use crate::routing::{CallClass, OperatorId};

/// An alarm as the toy switchboard of one node has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alarm {
    Waiting,
    Claiming(OperatorId),
    Ringing(OperatorId),
    Connected(OperatorId),
}

pub enum Msg {
    Reply(RequestId, KvReply),
    Watch(Bucket, WatchChange),
}

pub struct SimNode {
    pub core: ClusterNode,
    pub alarms: BTreeMap<TicketId, Alarm>,
    pub inbox: VecDeque<Msg>,
    pub outbox: VecDeque<(RequestId, KvOp)>,
    pub dead: bool,
    pub frozen_until: Option<Instant>,
    /// When it last woke from a freeze.
    pub woke_at: Option<Instant>,
}

impl SimNode {
    pub fn running(&self, now: Instant) -> bool {
        !self.dead && self.frozen_until.is_none_or(|t| now >= t)
    }
}

pub struct World {
    pub now: Instant,
    pub timing: ClusterTiming,
    pub kv: SimKv,
    pub nodes: Vec<SimNode>,
    pub operators: Vec<OperatorId>,
    pub next_alarm: u64,
    /// Tickets of a killed node still in the store, with the kill time.
    pub orphans: BTreeMap<TicketId, Instant>,
    /// The longest time from a kill to an adoption seen.
    pub worst_failover: Duration,
    /// What happened, for the test's coverage checks.
    pub stats: Stats,
}

/// Counts of what a run exercised.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub kills: usize,
    pub freezes: usize,
    pub restarts: usize,
    pub adopted: usize,
    pub taken_over: usize,
    pub refused: usize,
    pub lost_after_wake: usize,
    /// Claims lost by a node that was not frozen in the last 2 TTLs: a
    /// live node's operator taken from under it.
    pub lost_unfenced: usize,
    pub answered: usize,
}

impl World {
    pub fn new(nodes: usize, operators: usize, timing: ClusterTiming, now: Instant) -> Self {
        let nodes = (0..nodes)
            .map(|i| Self::fresh(&format!("n{i}"), timing, now))
            .collect();
        let operators = (0..operators)
            .map(|i| OperatorId::new(format!("op{i}")))
            .collect();
        Self {
            now,
            timing,
            kv: SimKv::default(),
            nodes,
            operators,
            next_alarm: 0,
            orphans: BTreeMap::new(),
            worst_failover: Duration::ZERO,
            stats: Stats::default(),
        }
    }

    fn fresh(id: &str, timing: ClusterTiming, now: Instant) -> SimNode {
        SimNode {
            core: ClusterNode::new(NodeId::new(id), timing, 0, now),
            alarms: BTreeMap::new(),
            inbox: VecDeque::new(),
            outbox: VecDeque::new(),
            dead: false,
            frozen_until: None,
            woke_at: None,
        }
    }

    /// A new alarm queued at node `n`.
    pub fn alarm_at(&mut self, n: usize) {
        self.next_alarm += 1;
        let ticket = TicketId::new(format!("a{}", self.next_alarm));
        let node = &mut self.nodes[n];
        node.core.open_ticket(record(&ticket, node.core.me()));
        node.alarms.insert(ticket, Alarm::Waiting);
    }

    /// Node `n` offers a waiting alarm to a random operator.
    pub fn dispatch(&mut self, n: usize, rng: &mut StdRng) {
        let op = self.operators[rng.random_range(0..self.operators.len())].clone();
        let now = self.now;
        let node = &mut self.nodes[n];
        if node.alarms.values().any(|a| a.operator() == Some(&op)) {
            return;
        }
        let Some(ticket) = node
            .alarms
            .iter()
            .find(|(_, a)| **a == Alarm::Waiting)
            .map(|(t, _)| t.clone())
        else {
            return;
        };
        match node.core.claim(&op, &ticket, now) {
            ClaimTry::Pending => {
                node.alarms.insert(ticket, Alarm::Claiming(op));
            }
            ClaimTry::GrantedLocally => ring(node, &ticket, op),
            ClaimTry::Busy => {}
        }
    }

    /// Node `n`: a ringing alarm answered, declined, or a connected one ended.
    pub fn progress(&mut self, n: usize, rng: &mut StdRng) {
        let node = &mut self.nodes[n];
        let Some((ticket, alarm)) = node
            .alarms
            .iter()
            .find(|(_, a)| matches!(a, Alarm::Ringing(_) | Alarm::Connected(_)))
            .map(|(t, a)| (t.clone(), a.clone()))
        else {
            return;
        };
        match alarm {
            Alarm::Ringing(op) if rng.random_bool(0.7) => {
                self.stats.answered += 1;
                node.core.answered(&op);
                node.core.set_ticket_phase(
                    &ticket,
                    TicketPhase::Connected {
                        operator: op.clone(),
                    },
                );
                node.alarms.insert(ticket, Alarm::Connected(op));
            }
            Alarm::Ringing(op) => {
                node.core.release(&op);
                node.core.set_ticket_phase(&ticket, TicketPhase::Waiting);
                node.alarms.insert(ticket, Alarm::Waiting);
            }
            Alarm::Connected(op) => {
                node.core.release(&op);
                node.core.close_ticket(&ticket);
                node.alarms.remove(&ticket);
            }
            Alarm::Waiting | Alarm::Claiming(_) => {}
        }
    }

    /// SIGKILL of node `n`: its calls and unsent operations are gone.
    pub fn kill(&mut self, n: usize) {
        let me = self.nodes[n].core.me().clone();
        for (key, value) in self.kv.bucket(Bucket::Tickets) {
            let Ok(record) = super::records::decode::<TicketRecord>(value) else {
                continue;
            };
            if record.holder == me {
                self.orphans.entry(record.ticket).or_insert(self.now);
                let _ = key;
            }
        }
        self.stats.kills += 1;
        let node = &mut self.nodes[n];
        node.dead = true;
        node.alarms.clear();
        node.inbox.clear();
        node.outbox.clear();
    }

    /// A killed node starts again with the same id: a fresh core that reads
    /// the store from the start.
    pub fn restart(&mut self, n: usize) {
        self.stats.restarts += 1;
        let id = self.nodes[n].core.me().to_string();
        self.nodes[n] = Self::fresh(&id, self.timing, self.now);
        for (bucket, change) in self.kv.replay() {
            self.nodes[n].inbox.push_back(Msg::Watch(bucket, change));
        }
    }

    /// Time passes by `by`; every running node ticks.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        for i in 0..self.nodes.len() {
            if self.nodes[i].running(self.now) {
                if self.nodes[i].frozen_until.take().is_some() {
                    self.nodes[i].woke_at = Some(self.now);
                }
                self.nodes[i].core.handle_timeout(self.now);
                self.collect(i);
            }
        }
    }

    /// Deliver every queued operation and message, in a random interleaving
    /// across nodes (FIFO per node), until nothing is left for running nodes.
    pub fn drain(&mut self, rng: &mut StdRng) {
        for _ in 0..100_000 {
            let ready: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| {
                    self.nodes[i].running(self.now)
                        && (!self.nodes[i].outbox.is_empty() || !self.nodes[i].inbox.is_empty())
                })
                .collect();
            let Some(&i) = ready.get(rng.random_range(0..ready.len().max(1))) else {
                return;
            };
            if !self.nodes[i].outbox.is_empty()
                && (self.nodes[i].inbox.is_empty() || rng.random_bool(0.5))
            {
                self.send(i);
            } else {
                self.receive(i);
            }
        }
        panic!("the simulated cluster did not settle");
    }

    fn send(&mut self, i: usize) {
        let Some((id, op)) = self.nodes[i].outbox.pop_front() else {
            return;
        };
        let (reply, change) = self.kv.apply(op);
        self.nodes[i].inbox.push_back(Msg::Reply(id, reply));
        if let Some((bucket, change)) = change {
            for node in self.nodes.iter_mut().filter(|n| !n.dead) {
                node.inbox.push_back(Msg::Watch(bucket, change.clone()));
            }
        }
    }

    fn receive(&mut self, i: usize) {
        let now = self.now;
        let Some(msg) = self.nodes[i].inbox.pop_front() else {
            return;
        };
        match msg {
            Msg::Reply(id, reply) => self.nodes[i].core.handle_reply(id, reply, now),
            Msg::Watch(bucket, change) => self.nodes[i].core.handle_watch(bucket, change, now),
        }
        self.collect(i);
    }

    fn collect(&mut self, i: usize) {
        while let Some(output) = self.nodes[i].core.poll_output() {
            match output {
                ClusterOutput::Kv { id, op } => self.nodes[i].outbox.push_back((id, op)),
                ClusterOutput::Claim(event) => {
                    self.count_claim(i, &event);
                    on_claim(&mut self.nodes[i], event);
                }
                ClusterOutput::Ticket(TicketEvent::Adopted(record)) => {
                    if let Some(killed) = self.orphans.remove(&record.ticket) {
                        self.worst_failover = self.worst_failover.max(self.now - killed);
                    }
                    self.stats.adopted += 1;
                    self.nodes[i].alarms.insert(record.ticket, Alarm::Waiting);
                }
                ClusterOutput::Ticket(TicketEvent::TakenOver(ticket)) => {
                    self.stats.taken_over += 1;
                    let node = &mut self.nodes[i];
                    if let Some(op) = node
                        .alarms
                        .remove(&ticket)
                        .and_then(|a| a.operator().cloned())
                    {
                        node.core.release(&op);
                    }
                }
                ClusterOutput::OperatorElsewhere { .. } | ClusterOutput::Degraded(_) => {}
            }
        }
    }
}

impl World {
    /// Node `n` freezes (SIGSTOP) for `for_`.
    pub fn freeze(&mut self, n: usize, for_: Duration) {
        self.stats.freezes += 1;
        self.nodes[n].frozen_until = Some(self.now + for_);
    }

    fn count_claim(&mut self, i: usize, event: &ClaimEvent) {
        match event {
            ClaimEvent::Granted { .. } => {}
            ClaimEvent::Refused { .. } => self.stats.refused += 1,
            ClaimEvent::Lost { .. } => {
                let fenced = self.nodes[i]
                    .woke_at
                    .is_some_and(|w| self.now - w <= self.timing.presence_ttl * 2);
                match fenced {
                    true => self.stats.lost_after_wake += 1,
                    false => self.stats.lost_unfenced += 1,
                }
            }
        }
    }
}

impl Alarm {
    pub fn operator(&self) -> Option<&OperatorId> {
        match self {
            Alarm::Waiting => None,
            Alarm::Claiming(op) | Alarm::Ringing(op) | Alarm::Connected(op) => Some(op),
        }
    }
}

fn on_claim(node: &mut SimNode, event: ClaimEvent) {
    match event {
        ClaimEvent::Granted { operator, ticket } => {
            if node.alarms.get(&ticket) == Some(&Alarm::Claiming(operator.clone())) {
                ring(node, &ticket, operator);
            } else {
                node.core.release(&operator);
            }
        }
        ClaimEvent::Refused { ticket, .. } => {
            if matches!(node.alarms.get(&ticket), Some(Alarm::Claiming(_))) {
                node.alarms.insert(ticket, Alarm::Waiting);
            }
        }
        ClaimEvent::Lost { operator, ticket } => {
            if node.alarms.get(&ticket).and_then(Alarm::operator) == Some(&operator) {
                node.core.set_ticket_phase(&ticket, TicketPhase::Waiting);
                node.alarms.insert(ticket, Alarm::Waiting);
            }
        }
    }
}

fn ring(node: &mut SimNode, ticket: &TicketId, op: OperatorId) {
    node.core.set_ticket_phase(
        ticket,
        TicketPhase::Ringing {
            operator: op.clone(),
        },
    );
    node.alarms.insert(ticket.clone(), Alarm::Ringing(op));
}

pub fn record(ticket: &TicketId, holder: &NodeId) -> TicketRecord {
    TicketRecord {
        v: VERSION,
        ticket: ticket.clone(),
        holder: holder.clone(),
        tenant: "acme".into(),
        caller: format!("+45{}", ticket.as_str().len()),
        class: CallClass::Emergency,
        protocol: None,
        account: String::new(),
        event_code: None,
        fields: serde_json::Value::Null,
        recall: None,
        enqueued_ms: 0,
        phase: TicketPhase::Waiting,
    }
}
