//! Redial linking: a unit whose node died redials the survivor; its new
//! call is linked to the ticket the survivor adopted for it (same tenant,
//! same caller, within `link_window`), so the operator sees one alarm and
//! the records count one call (as SCAIP links a voice call to its MESSAGE).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::TicketId;

#[derive(Debug, Clone)]
struct Adopted {
    tenant: String,
    caller: String,
    at: Instant,
}

/// The adopted tickets a redial may still be linked to.
#[derive(Debug)]
pub struct Linker {
    window: Duration,
    adopted: BTreeMap<TicketId, Adopted>,
}

impl Linker {
    /// Links within `window` of the adoption.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            adopted: BTreeMap::new(),
        }
    }

    /// A ticket was adopted at `now`.
    pub fn handle_adopted(&mut self, ticket: TicketId, tenant: &str, caller: &str, now: Instant) {
        let adopted = Adopted {
            tenant: tenant.to_owned(),
            caller: caller.to_owned(),
            at: now,
        };
        self.adopted.insert(ticket, adopted);
    }

    /// The adopted ticket was settled by an operator: nothing to link.
    pub fn handle_settled(&mut self, ticket: &TicketId) {
        self.adopted.remove(ticket);
    }

    /// A call from `caller` of `tenant` arrived at `now`: the ticket it is
    /// linked to (the most recent adoption within the window), taken so a
    /// second redial is not linked again.
    pub fn handle_incoming(
        &mut self,
        tenant: &str,
        caller: &str,
        now: Instant,
    ) -> Option<TicketId> {
        let ticket = self
            .adopted
            .iter()
            .filter(|(_, a)| a.tenant == tenant && a.caller == caller)
            .filter(|(_, a)| now.saturating_duration_since(a.at) < self.window)
            .max_by_key(|(_, a)| a.at)
            .map(|(t, _)| t.clone())?;
        self.adopted.remove(&ticket);
        Some(ticket)
    }

    /// Forget adoptions older than the window.
    pub fn handle_tick(&mut self, now: Instant) {
        let window = self.window;
        self.adopted
            .retain(|_, a| now.saturating_duration_since(a.at) < window);
    }

    /// When the oldest adoption leaves the window.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.adopted.values().map(|a| a.at + self.window).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_redial_within_the_window_is_linked_once_to_its_own_ticket() {
        let t0 = epoch();
        let mut l = Linker::new(s(60));
        l.handle_adopted(TicketId::new("t1"), "acme", "+45111", t0);
        l.handle_adopted(TicketId::new("t2"), "acme", "+45222", t0);
        assert_eq!(
            l.handle_incoming("other", "+45111", t0 + s(5)),
            None,
            "another tenant"
        );
        assert_eq!(
            l.handle_incoming("acme", "+45111", t0 + s(5)),
            Some(TicketId::new("t1"))
        );
        assert_eq!(
            l.handle_incoming("acme", "+45111", t0 + s(6)),
            None,
            "linked once"
        );
        assert_eq!(l.poll_timeout(), Some(t0 + s(60)));
        assert_eq!(
            l.handle_incoming("acme", "+45222", t0 + s(60)),
            None,
            "window over"
        );
    }

    #[test]
    fn old_adoptions_are_forgotten_and_settled_ones_not_linked() {
        let t0 = epoch();
        let mut l = Linker::new(s(60));
        l.handle_adopted(TicketId::new("t1"), "acme", "+45111", t0);
        l.handle_adopted(TicketId::new("t2"), "acme", "+45222", t0 + s(30));
        l.handle_tick(t0 + s(61));
        assert_eq!(l.poll_timeout(), Some(t0 + s(90)));
        l.handle_settled(&TicketId::new("t2"));
        assert_eq!(l.handle_incoming("acme", "+45222", t0 + s(62)), None);
        assert_eq!(l.poll_timeout(), None);
    }
}
