//! The port pool with injected randomness and an injected port check.

use super::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Ports another process holds, and the ports reserved and released.
#[derive(Debug, Default, Clone)]
struct FakeCheck {
    busy: BTreeSet<u16>,
    log: Arc<Mutex<Vec<(char, u16)>>>,
}

impl PortCheck for FakeCheck {
    fn reserve(&mut self, port: u16) -> bool {
        let ok = !self.busy.contains(&port);
        if let Ok(mut log) = self.log.lock() {
            log.push((if ok { 'r' } else { 'b' }, port));
        }
        ok
    }
    fn release(&mut self, port: u16) {
        if let Ok(mut log) = self.log.lock() {
            log.push(('x', port));
        }
    }
}

fn drain(p: &mut PortPool) -> Vec<u16> {
    std::iter::from_fn(|| p.acquire()).collect()
}

#[test]
fn hands_out_every_even_port_once_in_random_order() {
    let mut p = PortPool::new(40001, 40100, 7);
    let got = drain(&mut p);
    let sorted: BTreeSet<u16> = got.iter().copied().collect();
    assert_eq!(sorted.len(), 50, "each even port once");
    assert!(sorted
        .iter()
        .all(|p| p % 2 == 0 && (40002..=40100).contains(p)));
    let ascending: Vec<u16> = sorted.into_iter().collect();
    assert_ne!(got, ascending, "not in sequence");
    assert_eq!(p.in_use(), 50);
}

#[test]
fn the_seed_decides_the_order() {
    let first = |seed| PortPool::new(20000, 29999, seed).acquire();
    assert_eq!(first(1), first(1));
    let distinct: BTreeSet<_> = (1..20).map(first).collect();
    assert!(distinct.len() > 10, "{distinct:?}");
}

#[test]
fn a_released_port_cools_down_before_reuse() {
    let mut p = PortPool::new(40000, 40019, 3);
    let a = p.acquire().expect("free");
    p.release(a);
    let next: Vec<u16> = (0..5).filter_map(|_| p.acquire()).collect();
    assert!(!next.contains(&a), "{a} reused at once: {next:?}");
    // With every other port taken, it comes back.
    let rest = drain(&mut p);
    assert!(rest.contains(&a));
    assert_eq!(p.in_use(), 10);
}

#[test]
fn releasing_an_unknown_port_changes_nothing() {
    let mut p = PortPool::new(40000, 40002, 1);
    p.release(40000);
    assert_eq!(drain(&mut p).len(), 2);
    assert_eq!(p.acquire(), None);
}

#[test]
fn top_of_range_does_not_overflow() {
    let mut p = PortPool::new(65534, 65535, 1);
    assert_eq!(p.acquire(), Some(65534));
    assert_eq!(PortPool::new(65535, 65535, 1).acquire(), None);
}

#[test]
fn a_port_held_by_another_process_is_skipped() {
    let mut p = PortPool::new(40000, 40039, 11);
    let check = FakeCheck {
        busy: (40000..=40038).step_by(2).filter(|p| p % 4 != 0).collect(),
        ..FakeCheck::default()
    };
    let log = check.log.clone();
    p.set_check(Box::new(check));
    let got: Vec<u16> = (0..5).filter_map(|_| p.acquire()).collect();
    assert_eq!(got.len(), 5, "free ports, despite 10 busy ones");
    assert!(got.iter().all(|port| port % 4 == 0), "{got:?}");
    p.release(got[0]);
    let log = log.lock().expect("log").clone();
    assert!(log.iter().any(|&(k, _)| k == 'b'), "busy ports were tried");
    assert_eq!(
        log.last(),
        Some(&('x', got[0])),
        "release reaches the check"
    );
}

#[test]
fn attempts_are_bounded() {
    let mut p = PortPool::new(40000, 40999, 5);
    let check = FakeCheck {
        busy: (40000..=40998).step_by(2).collect(),
        ..FakeCheck::default()
    };
    let log = check.log.clone();
    p.set_check(Box::new(check));
    assert_eq!(p.acquire(), None);
    assert_eq!(log.lock().expect("log").len(), MAX_ATTEMPTS);
    assert_eq!(p.in_use(), 0);
}
