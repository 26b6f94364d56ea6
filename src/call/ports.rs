//! The pool of local RTP ports: even numbers from a configured range.
//!
//! RTP takes the even port and RTCP the odd one above it (RFC 3550 §11).
//! Ports are drawn at random from the free ones (sequential ports are easy
//! to guess, and a guessed port is where forged media is aimed); the
//! randomness is a seed the runtime passes in. A port just released cools
//! down behind the others before it is drawn again, so late packets of the
//! old call do not land in a new one.
//!
//! A port may be held by another process on the host: the runtime's
//! [`PortCheck`] binds each drawn port before the SDP answer names it, and
//! a port it cannot bind is set aside (it cools down like a released one)
//! and the next is drawn, at most [`MAX_ATTEMPTS`] times per call (each try is one bind).

use std::collections::{HashSet, VecDeque};
use std::fmt;

/// Ports drawn for one call before giving up (a 503).
pub const MAX_ATTEMPTS: usize = 32;

/// The runtime's side of a port: bind it before the answer names it.
pub trait PortCheck: Send + fmt::Debug {
    /// Takes `port` for a call; false when it cannot be used (another
    /// process holds it).
    fn reserve(&mut self, port: u16) -> bool;
    /// `port` went back to the pool: let go of whatever `reserve` kept that
    /// the call did not take.
    fn release(&mut self, port: u16);
}

/// Every port is usable (unit tests, and cores without a runtime).
#[derive(Debug, Default)]
pub struct NoCheck;

impl PortCheck for NoCheck {
    fn reserve(&mut self, _port: u16) -> bool {
        true
    }
    fn release(&mut self, _port: u16) {}
}

/// Even RTP ports, handed out at random and taken back.
#[derive(Debug)]
pub struct PortPool {
    free: Vec<u16>,
    /// Released or busy ports, oldest first, drawn only when `free` is empty
    /// or once they are older than half the pool.
    cooling: VecDeque<u16>,
    in_use: HashSet<u16>,
    rng: u64,
    check: Box<dyn PortCheck>,
}

impl PortPool {
    /// All even ports in `min..=max`, drawn with randomness from `seed`.
    pub fn new(min: u16, max: u16, seed: u64) -> Self {
        let first = min.saturating_add(min % 2);
        let free: Vec<u16> = (first..=max)
            .step_by(2)
            .filter(|p| p.checked_add(1).is_some())
            .collect();
        Self {
            free,
            cooling: VecDeque::new(),
            in_use: HashSet::new(),
            rng: seed,
            check: Box::new(NoCheck),
        }
    }

    /// Binds ports through `check` from now on.
    pub fn set_check(&mut self, check: Box<dyn PortCheck>) {
        self.check = check;
    }

    /// A random usable port, or `None` when all are in use or the
    /// [`MAX_ATTEMPTS`] drawn were busy.
    pub fn acquire(&mut self) -> Option<u16> {
        for _ in 0..MAX_ATTEMPTS {
            let port = self.draw()?;
            if self.check.reserve(port) {
                self.in_use.insert(port);
                return Some(port);
            }
            tracing::warn!(port, "RTP port in use by another process: trying another");
            self.cooling.push_back(port);
        }
        None
    }

    /// Gives a port back; ports not handed out are ignored.
    pub fn release(&mut self, port: u16) {
        if self.in_use.remove(&port) {
            self.check.release(port);
            self.cooling.push_back(port);
        }
    }

    /// Ports handed out now.
    pub fn in_use(&self) -> usize {
        self.in_use.len()
    }

    /// Takes a random free port, after moving ports that cooled long enough
    /// back to the free ones.
    fn draw(&mut self) -> Option<u16> {
        let total = self.free.len() + self.cooling.len() + self.in_use.len();
        while self.free.is_empty() || self.cooling.len() > total / 2 {
            let Some(port) = self.cooling.pop_front() else {
                break;
            };
            self.free.push(port);
        }
        if self.free.is_empty() {
            return None;
        }
        let index = (self.next_random() % self.free.len() as u64) as usize;
        Some(self.free.swap_remove(index))
    }

    /// splitmix64: cheap, well mixed even from small seeds.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
#[path = "ports_tests.rs"]
mod tests;
