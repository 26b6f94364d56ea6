//! Which nodes are alive, and whether this node's own presence holds.
//!
//! A node is alive while refreshes of its `node.<id>` key keep ARRIVING
//! here: the judgement uses the local arrival time of watch updates, so it
//! needs no clock agreement between machines and no server-side TTL marker
//! (those can come late, or never when a watch is re-established). A node
//! is gone when no refresh arrived for `presence_ttl`.
//!
//! Two cases must not make everyone look dead: while this node's watch is
//! lost nobody is judged (the silence is ours), and after a gap in this
//! node's own ticks (it was frozen: SIGSTOP, a stuck VM) every peer is given
//! a fresh `presence_ttl` from the moment it woke, because the updates that
//! queued up while it slept have not been read yet.
//!
//! This node's own presence has *lapsed* when no refresh of its own key was
//! written for `presence_ttl`: the others may then have judged it gone and
//! adopted its tickets or taken over its claims, so it must re-check them
//! before acting on any (see `claims`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::{ClusterTiming, NodeId};

/// A change in who is alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceEvent {
    /// No refresh of the node arrived for `presence_ttl`.
    Gone(NodeId),
    /// A node judged gone refreshes again (it was frozen, or cut off).
    Back(NodeId),
}

/// The presence core of one node.
#[derive(Debug)]
pub struct Presence {
    me: NodeId,
    timing: ClusterTiming,
    last_seen: BTreeMap<NodeId, Instant>,
    gone: BTreeSet<NodeId>,
    watch_lost: bool,
    last_tick: Instant,
    own_written: Option<Instant>,
    started: Instant,
}

impl Presence {
    /// A node starting at `now`.
    pub fn new(me: NodeId, timing: ClusterTiming, now: Instant) -> Self {
        Self {
            me,
            timing,
            last_seen: BTreeMap::new(),
            gone: BTreeSet::new(),
            watch_lost: false,
            last_tick: now,
            own_written: None,
            started: now,
        }
    }

    /// A refresh of `node`'s key arrived at `now`.
    pub fn handle_refresh(&mut self, node: &NodeId, now: Instant) -> Option<PresenceEvent> {
        if *node == self.me {
            return None;
        }
        self.last_seen.insert(node.clone(), now);
        self.gone
            .remove(node)
            .then(|| PresenceEvent::Back(node.clone()))
    }

    /// The watch on `ag-nodes` broke: stop judging until it resumes.
    pub fn handle_watch_lost(&mut self) {
        self.watch_lost = true;
    }

    /// The watch resumed: every known peer gets a fresh TTL from `now`.
    pub fn handle_watch_resumed(&mut self, now: Instant) {
        self.watch_lost = false;
        self.grace(now);
    }

    /// This node's own refresh was written at `now`.
    pub fn handle_own_written(&mut self, now: Instant) {
        self.own_written = Some(now);
    }

    /// Time passes: the nodes whose TTL ran out at `now`. A gap longer than
    /// two refresh periods since the last tick means this node was frozen:
    /// peers get a fresh TTL instead (see the module doc).
    pub fn handle_tick(&mut self, now: Instant) -> Vec<PresenceEvent> {
        let gap = now.saturating_duration_since(self.last_tick);
        self.last_tick = now;
        if gap > self.timing.refresh_every() * 2 {
            self.grace(now);
        }
        if self.watch_lost {
            return Vec::new();
        }
        let ttl = self.timing.presence_ttl;
        let expired: Vec<NodeId> = self
            .last_seen
            .iter()
            .filter(|(node, seen)| {
                !self.gone.contains(*node) && now.saturating_duration_since(**seen) >= ttl
            })
            .map(|(node, _)| node.clone())
            .collect();
        for node in &expired {
            self.gone.insert(node.clone());
        }
        expired.into_iter().map(PresenceEvent::Gone).collect()
    }

    /// Whether `node` counts as alive: this node, or a peer whose refresh
    /// arrived within the TTL. A node never seen is not alive, except
    /// during this node's first TTL (it may simply not have been read yet).
    pub fn is_alive(&self, node: &NodeId, now: Instant) -> bool {
        if *node == self.me {
            return true;
        }
        match self.last_seen.get(node) {
            Some(_) => !self.gone.contains(node),
            None => now.saturating_duration_since(self.started) < self.timing.presence_ttl,
        }
    }

    /// The peers alive now, this node excluded.
    pub fn alive_peers(&self) -> impl Iterator<Item = &NodeId> {
        self.last_seen.keys().filter(|n| !self.gone.contains(*n))
    }

    /// Whether this node's own presence has lapsed at `now`.
    pub fn own_lapsed(&self, now: Instant) -> bool {
        match self.own_written {
            Some(at) => now.saturating_duration_since(at) >= self.timing.presence_ttl,
            None => true,
        }
    }

    /// The next moment a peer's TTL runs out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.watch_lost {
            return None;
        }
        self.last_seen
            .iter()
            .filter(|(node, _)| !self.gone.contains(*node))
            .map(|(_, seen)| *seen + self.timing.presence_ttl)
            .min()
    }

    fn grace(&mut self, now: Instant) {
        for seen in self.last_seen.values_mut() {
            *seen = now.max(*seen);
        }
    }
}

/// How long after `from` the next refresh of this node's own key is due.
pub fn next_refresh(timing: &ClusterTiming, from: Instant) -> Instant {
    from + timing.refresh_every().max(Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn timing() -> ClusterTiming {
        ClusterTiming {
            presence_ttl: Duration::from_secs(6),
            link_window: Duration::from_secs(60),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn core() -> (Presence, NodeId, Instant) {
        let t0 = epoch();
        let mut p = Presence::new(NodeId::new("a"), timing(), t0);
        let b = NodeId::new("b");
        p.handle_refresh(&b, t0);
        (p, b, t0)
    }

    #[test]
    fn a_peer_is_gone_when_no_refresh_arrived_for_the_ttl_and_back_when_one_does() {
        let (mut p, b, t0) = core();
        for s in 1..=5 {
            assert!(p.handle_tick(t0 + ms(s * 1_000)).is_empty());
        }
        assert_eq!(p.poll_timeout(), Some(t0 + ms(6_000)));
        assert_eq!(
            p.handle_tick(t0 + ms(6_000)),
            vec![PresenceEvent::Gone(b.clone())]
        );
        assert!(!p.is_alive(&b, t0 + ms(6_000)));
        assert!(p.handle_tick(t0 + ms(7_000)).is_empty(), "reported once");
        assert_eq!(
            p.handle_refresh(&b, t0 + ms(8_000)),
            Some(PresenceEvent::Back(b.clone()))
        );
        assert!(p.is_alive(&b, t0 + ms(8_000)));
    }

    #[test]
    fn refreshes_keep_a_peer_alive() {
        let (mut p, b, t0) = core();
        for s in 1..=30 {
            let t = t0 + ms(s * 1_000);
            if s % 2 == 0 {
                p.handle_refresh(&b, t);
            }
            assert!(p.handle_tick(t).is_empty());
        }
    }

    #[test]
    fn nobody_is_judged_while_our_own_watch_is_lost() {
        let (mut p, b, t0) = core();
        p.handle_tick(t0 + ms(1_000));
        p.handle_watch_lost();
        for s in 2..=20 {
            assert!(p.handle_tick(t0 + ms(s * 1_000)).is_empty());
        }
        assert_eq!(p.poll_timeout(), None);
        p.handle_watch_resumed(t0 + ms(20_000));
        for s in 21..=25 {
            assert!(p.handle_tick(t0 + ms(s * 1_000)).is_empty());
        }
        assert_eq!(p.handle_tick(t0 + ms(26_000)), vec![PresenceEvent::Gone(b)]);
    }

    #[test]
    fn waking_from_a_freeze_gives_peers_a_fresh_ttl_and_marks_our_presence_lapsed() {
        let (mut p, b, t0) = core();
        p.handle_own_written(t0);
        assert!(!p.own_lapsed(t0 + ms(5_000)));
        let woke = t0 + ms(30_000);
        assert!(
            p.handle_tick(woke).is_empty(),
            "the freeze is ours, not theirs"
        );
        assert!(p.own_lapsed(woke));
        p.handle_refresh(&b, woke + ms(10));
        p.handle_own_written(woke + ms(20));
        assert!(!p.own_lapsed(woke + ms(20)));
    }

    #[test]
    fn a_node_never_seen_counts_alive_only_during_our_first_ttl() {
        let t0 = epoch();
        let p = Presence::new(NodeId::new("a"), timing(), t0);
        let c = NodeId::new("c");
        assert!(p.is_alive(&c, t0 + ms(5_000)));
        assert!(!p.is_alive(&c, t0 + ms(6_000)));
        assert!(p.is_alive(&NodeId::new("a"), t0 + ms(60_000)));
        assert!(p.own_lapsed(t0));
    }
}
