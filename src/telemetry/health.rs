//! Liveness and readiness, shared between the drivers and the HTTP listener.
//!
//! Liveness: the process answers. Readiness: every listener is bound and the
//! node is not draining; later issues add "the journal can write".

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
    /// True when the node should receive new calls.
    pub fn is_ready(&self) -> bool {
        self.inner.serving.load(Ordering::Acquire) && !self.inner.draining.load(Ordering::Acquire)
    }
    /// Why the node is not ready, for the `/readyz` body.
    pub fn reason(&self) -> &'static str {
        if self.inner.draining.load(Ordering::Acquire) {
            "draining"
        } else if !self.inner.serving.load(Ordering::Acquire) {
            "starting"
        } else {
            "ready"
        }
    }
    fn publish(&self) {
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
}
