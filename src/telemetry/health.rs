//! Liveness and readiness, shared between the drivers and the HTTP listener.
//!
//! Liveness: the process answers. Readiness: every listener is bound, the
//! node is not draining, and the journal can write. The journal's flag turns
//! false on a failed write and true again by itself when the journal's probe
//! has reopened it (see [`crate::journal`], "Healing"), so `/readyz` and call
//! admission follow a short disk-full without a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Flags the drivers set and `/readyz` reads. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Health {
    inner: Arc<Flags>,
}

#[derive(Debug, Default)]
struct Flags {
    serving: AtomicBool,
    draining: AtomicBool,
    /// The journal's own health flag, once one is attached.
    journal: std::sync::OnceLock<Arc<AtomicBool>>,
    /// `[cluster]`: 0 none (a single node), 1 sharing, 2 degraded.
    cluster: std::sync::atomic::AtomicU8,
}

impl Health {
    /// A new set of flags: not serving, not draining.
    pub fn new() -> Self {
        Self::default()
    }
    /// Marks the listeners as bound and the core as running.
    pub fn set_serving(&self, on: bool) {
        self.inner.serving.store(on, Ordering::Release);
        self.publish();
    }
    /// Marks the node as draining (SIGTERM received).
    pub fn set_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
        self.publish();
    }
    /// Makes readiness follow the journal: a journal that cannot write means
    /// no alarm can be acknowledged, so the node must not take calls.
    pub fn attach_journal(&self, healthy: Arc<AtomicBool>) {
        let _ = self.inner.journal.set(healthy);
    }

    /// False once an attached journal has failed to write.
    pub fn journal_ok(&self) -> bool {
        self.inner
            .journal
            .get()
            .is_none_or(|f| f.load(Ordering::Acquire))
    }

    /// The cluster's state: `None` for a single node, `Some(degraded)`.
    /// Degraded never makes the node unready: alarms must keep coming.
    pub fn set_cluster(&self, degraded: Option<bool>) {
        let v = match degraded {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        self.inner.cluster.store(v, Ordering::Release);
    }

    /// The `/readyz` body of a ready node: `ready`, plus the cluster's
    /// state when there is one.
    pub fn ready_detail(&self) -> &'static str {
        match self.inner.cluster.load(Ordering::Acquire) {
            1 => "ready\ncluster: ok\n",
            2 => "ready\ncluster: degraded\n",
            _ => "ready\n",
        }
    }

    /// True when the node should receive new calls.
    pub fn is_ready(&self) -> bool {
        self.inner.serving.load(Ordering::Acquire)
            && !self.inner.draining.load(Ordering::Acquire)
            && self.journal_ok()
    }
    /// Why the node is not ready, for the `/readyz` body.
    pub fn reason(&self) -> &'static str {
        if self.inner.draining.load(Ordering::Acquire) {
            "draining"
        } else if !self.journal_ok() {
            "journal cannot write"
        } else if !self.inner.serving.load(Ordering::Acquire) {
            "starting"
        } else {
            "ready"
        }
    }
    /// Sets the `alarmgate_ready` gauge from the flags (also called before
    /// each scrape, since the journal flag changes on its own).
    pub fn publish(&self) {
        let v = if self.is_ready() { 1.0 } else { 0.0 };
        metrics::gauge!(super::metrics::READY).set(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_serving_and_not_draining() {
        let h = Health::new();
        assert!(!h.is_ready());
        assert_eq!(h.reason(), "starting");
        h.set_serving(true);
        assert!(h.is_ready());
        h.set_draining();
        assert!(!h.is_ready());
        assert_eq!(h.reason(), "draining");
    }

    #[test]
    fn a_failed_journal_makes_the_node_not_ready() {
        let h = Health::new();
        h.set_serving(true);
        let flag = Arc::new(AtomicBool::new(true));
        h.attach_journal(flag.clone());
        assert!(h.is_ready());
        flag.store(false, Ordering::Release);
        assert!(!h.is_ready());
        assert_eq!(h.reason(), "journal cannot write");
    }
}
