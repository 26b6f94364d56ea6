//! The pool of local RTP ports: even numbers from a configured range.
//!
//! RTP takes the even port and RTCP the odd one above it (RFC 3550 §11).
//! Ports are handed out round-robin so a port just released is not reused at
//! once: late packets of the old call must not land in the new one.

use std::collections::{BTreeSet, VecDeque};

/// Even RTP ports, handed out and taken back.
#[derive(Debug, Clone)]
pub struct PortPool {
    free: VecDeque<u16>,
    in_use: BTreeSet<u16>,
}

impl PortPool {
    /// All even ports in `min..=max`.
    pub fn new(min: u16, max: u16) -> Self {
        let first = min + (min % 2);
        let free = (first..=max)
            .step_by(2)
            .filter(|p| p.checked_add(1).is_some())
            .collect();
        Self {
            free,
            in_use: BTreeSet::new(),
        }
    }

    /// Takes the least recently used free port, or `None` when all are in use.
    pub fn acquire(&mut self) -> Option<u16> {
        let port = self.free.pop_front()?;
        self.in_use.insert(port);
        Some(port)
    }

    /// Gives a port back; ports not handed out are ignored.
    pub fn release(&mut self, port: u16) {
        if self.in_use.remove(&port) {
            self.free.push_back(port);
        }
    }

    /// Ports handed out now.
    pub fn in_use(&self) -> usize {
        self.in_use.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_even_ports_round_robin() {
        let mut p = PortPool::new(40001, 40006);
        assert_eq!(p.acquire(), Some(40002));
        assert_eq!(p.acquire(), Some(40004));
        p.release(40002);
        assert_eq!(p.acquire(), Some(40006));
        assert_eq!(p.acquire(), Some(40002));
        assert_eq!(p.acquire(), None);
        assert_eq!(p.in_use(), 3);
    }

    #[test]
    fn releasing_an_unknown_port_changes_nothing() {
        let mut p = PortPool::new(40000, 40002);
        p.release(40000);
        assert_eq!(p.acquire(), Some(40000));
        assert_eq!(p.acquire(), Some(40002));
        assert_eq!(p.acquire(), None);
    }

    #[test]
    fn top_of_range_does_not_overflow() {
        let mut p = PortPool::new(65534, 65535);
        assert_eq!(p.acquire(), Some(65534));
    }
}
