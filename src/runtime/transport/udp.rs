//! SIP over UDP (RFC 3261 §18.1.1, §18.2.1), with RFC 3581 in mind:
//! responses leave from the socket the request arrived on, so there is one
//! shared socket per listener and no per-peer sockets.
//!
//! Receive: one task per socket, one reusable 64 KiB buffer, one copy into
//! an exact-size `Bytes` per datagram. Empty and CRLF-only datagrams
//! (RFC 5626 §4.4.1 keep-alives over UDP, NAT refreshes) are dropped.
//!
//! Send: `try_send_to` straight from the caller, no channel hop; only when
//! the kernel buffer is full does the datagram go to a small bounded backlog
//! drained by one task per socket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::shared::Shared;
use super::TransportEvent;
use crate::sip::types::{Peer, Transmit};

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;
/// Datagrams waiting for kernel buffer space, per socket.
const BACKLOG: usize = 1024;

/// The sending side of one UDP listener.
pub(crate) struct UdpOut {
    pub socket: Arc<UdpSocket>,
    pub local: SocketAddr,
    backlog: mpsc::Sender<(Transmit, SocketAddr)>,
}

impl UdpOut {
    /// Sends without waiting; on a full kernel buffer, queues to the backlog task.
    pub fn send(&self, shared: &Shared, t: Transmit, dest: SocketAddr) {
        match self.socket.try_send_to(&t.data, dest) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Err(err) = self.backlog.try_send((t, dest)) {
                    let (t, _) = err.into_inner();
                    shared.send_failed(t.peer, "UDP send buffer and backlog full");
                }
            }
            Err(e) => shared.send_failed(t.peer, format!("UDP send to {dest}: {e}")),
        }
    }
}

/// Kernel buffer asked for in each direction of a UDP listener. Linux's
/// default (`net.core.rmem_default`, about 208 KiB) holds only ~100
/// datagrams of SIP once per-packet overhead is counted: at a few thousand
/// messages per second a 20 ms scheduling hiccup overflows it, the kernel
/// drops INVITEs and ACKs, and peers retransmit. The kernel caps the request
/// at `net.core.rmem_max`/`wmem_max`; raise those to get the full size.
const SOCKET_BUFFER: usize = 4 << 20;

/// Binds one UDP listener with [`SOCKET_BUFFER`]-sized kernel buffers.
/// IPV6_V6ONLY keeps the OS default, so on Linux `[::]` is dual-stack unless
/// `net.ipv6.bindv6only=1`.
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<Arc<UdpSocket>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer is no reason to refuse to start.
    if let Err(e) = socket.set_recv_buffer_size(SOCKET_BUFFER) {
        tracing::warn!(%addr, error = %e, "cannot enlarge the UDP receive buffer");
    }
    if let Err(e) = socket.set_send_buffer_size(SOCKET_BUFFER) {
        tracing::warn!(%addr, error = %e, "cannot enlarge the UDP send buffer");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(Arc::new(UdpSocket::from_std(socket.into())?))
}

/// The tasks of one UDP listener.
pub(crate) struct UdpTasks {
    /// The receive loop; aborted at shutdown.
    pub recv: JoinHandle<()>,
    /// The backlog drainer; ends by itself once the [`UdpOut`] is dropped.
    pub drain: JoinHandle<()>,
}

/// Starts the receive loop and the backlog drainer; returns the sending side
/// and the tasks.
pub(crate) fn start(
    shared: &Arc<Shared>,
    socket: Arc<UdpSocket>,
    local: SocketAddr,
) -> (UdpOut, UdpTasks) {
    let (backlog, rx) = mpsc::channel(BACKLOG);
    let drain = tokio::spawn(drain_backlog(Arc::downgrade(shared), socket.clone(), rx));
    let recv = tokio::spawn(recv_loop(shared.clone(), socket.clone(), local));
    let out = UdpOut {
        socket,
        local,
        backlog,
    };
    (out, UdpTasks { recv, drain })
}

async fn recv_loop(shared: Arc<Shared>, socket: Arc<UdpSocket>, local: SocketAddr) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                // ICMP errors surface here on some platforms; the socket stays usable.
                tracing::debug!(%local, error = %e, "UDP receive error");
                tokio::task::yield_now().await;
                continue;
            }
        };
        let datagram = &buf[..n];
        if is_keep_alive(datagram) || is_stun(datagram) {
            continue;
        }
        if n > shared.limits.max_message {
            tracing::debug!(%from, n, "UDP datagram over max_message dropped");
            continue;
        }
        let event = TransportEvent::Message {
            peer: Peer::udp(canonical(from)),
            local,
            data: Bytes::copy_from_slice(datagram),
        };
        if shared.events.send(event).await.is_err() {
            return; // the driver is gone
        }
    }
}

async fn drain_backlog(
    shared: std::sync::Weak<Shared>,
    socket: Arc<UdpSocket>,
    mut rx: mpsc::Receiver<(Transmit, SocketAddr)>,
) {
    while let Some((t, dest)) = rx.recv().await {
        if let Err(e) = socket.send_to(&t.data, dest).await {
            if let Some(shared) = shared.upgrade() {
                shared.send_failed(t.peer, format!("UDP send to {dest}: {e}"));
            }
        }
    }
}

/// Empty datagrams and bare CRLFs carry no SIP message.
fn is_keep_alive(datagram: &[u8]) -> bool {
    datagram
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
}

/// A STUN message (RFC 5389 §6: two zero bits, then the magic cookie), as
/// RFC 5626 §4.4.2 clients send for UDP keep-alive. Not answered yet: dropped.
fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= 20 && datagram[0] & 0xC0 == 0 && datagram[4..8] == [0x21, 0x12, 0xA4, 0x42]
}

/// Unmaps `::ffff:a.b.c.d` as received on a dual-stack socket.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Picks the socket for `dest`: the one bound at `from` if given, else the
/// first of the same family, else a dual-stack `[::]` socket with the
/// address mapped to IPv6.
pub(crate) fn pick(
    sockets: &[UdpOut],
    dest: SocketAddr,
    from: Option<SocketAddr>,
) -> Option<(&UdpOut, SocketAddr)> {
    if let Some(out) = from.and_then(|f| sockets.iter().find(|s| s.local == f)) {
        return Some((out, family_dest(out, dest)?));
    }
    let same = sockets.iter().find(|s| s.local.is_ipv4() == dest.is_ipv4());
    if let Some(out) = same {
        return Some((out, dest));
    }
    let dual = sockets
        .iter()
        .find(|s| s.local.is_ipv6() && s.local.ip().is_unspecified())?;
    Some((dual, family_dest(dual, dest)?))
}

/// `dest` in the address family of `out`'s socket, if expressible.
fn family_dest(out: &UdpOut, dest: SocketAddr) -> Option<SocketAddr> {
    match (out.local.ip(), dest.ip()) {
        (IpAddr::V6(_), IpAddr::V4(v4)) => Some(SocketAddr::new(
            IpAddr::V6(v4.to_ipv6_mapped()),
            dest.port(),
        )),
        (IpAddr::V4(_), IpAddr::V6(v6)) => {
            let v4 = v6.to_ipv4_mapped()?;
            Some(SocketAddr::new(IpAddr::V4(v4), dest.port()))
        }
        _ => Some(dest),
    }
}
