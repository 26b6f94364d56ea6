//! Free loopback ports: UDP/TCP ports and RTP blocks handed out once per
//! test run, and whether something has bound a port (read from /proc/net).

use std::collections::HashSet;
use std::fs;
use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

fn claim(port: u16) -> bool {
    let mut g = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    g.get_or_insert_with(HashSet::new).insert(port)
}

/// Gives back ports a finished test no longer uses. Without this, the
/// daemons' 200-port RTP blocks of a long suite (80+ daemons) would use up
/// the whole 10000-31999 range and later tests could find no free block.
pub(super) fn unclaim(ports: std::ops::Range<u16>) {
    let mut g = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(set) = g.as_mut() {
        for port in ports {
            set.remove(&port);
        }
    }
}

/// A loopback port free for both UDP and TCP right now, never handed out twice
/// by this process.
pub fn free_port() -> u16 {
    for _ in 0..500 {
        let Ok(tcp) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = tcp.local_addr() else { continue };
        let port = addr.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() && claim(port) {
            return port;
        }
    }
    panic!("no free loopback port for UDP and TCP");
}

/// The first port of `len` consecutive loopback UDP ports free right now, in
/// 10000..=31999 (below Linux's ephemeral range), spread by pid so parallel
/// test processes and tests rarely meet.
pub fn free_udp_block(len: u16) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span: u32 = 22_000;
    let start = (std::process::id() * 7919) % span;
    for _ in 0..400 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let offset = (start + n * (u32::from(len) + 10)) % (span - u32::from(len));
        let base = 10_000 + offset as u16;
        let all_free = (base..base + len).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok());
        if all_free && (base..base + len).all(claim) {
            return base;
        }
    }
    panic!("no block of {len} free UDP ports");
}

/// True once something on this host has bound loopback `port` (UDP) or
/// listens on it (TCP), read from /proc/net so that probing disturbs nothing.
pub fn port_bound(port: u16, tcp: bool) -> bool {
    let table = if tcp {
        "/proc/net/tcp"
    } else {
        "/proc/net/udp"
    };
    let hex = format!(":{port:04X}");
    fs::read_to_string(table).is_ok_and(|t| {
        t.lines().skip(1).any(|l| {
            let mut f = l.split_whitespace();
            let local = f.nth(1).unwrap_or("");
            let state = f.nth(1).unwrap_or("");
            local.ends_with(&hex) && (!tcp || state == "0A")
        })
    })
}
