//! The send side (RFC 3261 §18.1.1 requests, §18.2.2 responses): UDP
//! datagrams straight onto the listener's socket, stream messages onto the
//! connection's writer queue, and a new outbound TCP connection when no
//! connection to the peer is open (RFC 5923 reuse of any open one first).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc::error::TrySendError;

use super::shared::Shared;
use super::{tcp, tls_client, udp};
use crate::sip::types::{Transmit, Transport};

/// Hands SIP messages to the transports. Cheap to clone, usable from any
/// thread; [`TransportSender::send`] never waits. Failures arrive later as
/// [`super::TransportEvent::SendFailed`].
#[derive(Clone)]
pub struct TransportSender {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TransportSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportSender").finish_non_exhaustive()
    }
}

impl TransportSender {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Sends `t` to `t.peer` without waiting.
    ///
    /// - UDP: `try_send_to` on the listener socket of the peer's address
    ///   family (the first one, if several); a full kernel buffer defers to a
    ///   bounded backlog.
    /// - TCP/TLS: the connection `t.peer.conn` if open, else any open
    ///   connection to `t.peer.addr`, else a new outbound connection; for
    ///   TLS only to a next hop of the dialplan ([`Self::set_tls_peers`]),
    ///   whose certificate is checked.
    /// - WS/WSS: only over the flow the browser opened (RFC 7118 §5); with
    ///   that flow closed it fails with `SendFailed`.
    pub fn send(&self, t: Transmit) {
        match t.peer.transport {
            Transport::Udp => self.send_udp(t, None),
            Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss => self.send_stream(t),
        }
    }

    /// Like [`Self::send`], but a UDP datagram leaves from the listener bound
    /// at `local` (as RFC 3581 §4 wants for responses when there are several
    /// UDP listeners): pass the `local` of the request's `Message` event.
    /// Streams ignore `local`: the connection decides.
    pub fn send_from(&self, local: SocketAddr, t: Transmit) {
        match t.peer.transport {
            Transport::Udp => self.send_udp(t, Some(local)),
            Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss => self.send_stream(t),
        }
    }

    fn send_udp(&self, t: Transmit, from: Option<SocketAddr>) {
        let sockets = self.shared.udp.read().unwrap_or_else(|p| p.into_inner());
        match udp::pick(&sockets, t.peer.addr, from) {
            Some((out, dest)) => out.send(&self.shared, t, dest),
            None => {
                let reason = format!("no UDP listener can reach {}", t.peer.addr);
                self.shared.send_failed(t.peer, reason);
            }
        }
    }

    fn send_stream(&self, t: Transmit) {
        let shared = &self.shared;
        let mut reg = shared.registry();
        let t = match reg.find(&t.peer) {
            None => t,
            Some(entry) => match entry.tx.try_send(t) {
                Ok(()) => return,
                Err(TrySendError::Full(t)) => {
                    drop(reg);
                    return shared.send_failed(t.peer, "connection writer queue full");
                }
                // The connection is closing: open a new one.
                Err(TrySendError::Closed(t)) => t,
            },
        };
        if t.peer.transport.flow_only() {
            drop(reg);
            let reason = "the peer's WebSocket flow is closed (a browser is reached only over it)";
            return shared.send_failed(t.peer, reason);
        }
        let tls = match t.peer.transport {
            Transport::Tls => match shared.tls_peer(t.peer.addr) {
                Some(peer) => Some(peer),
                None => {
                    drop(reg);
                    let reason = "no open TLS connection, and no TLS trunk leads to this address";
                    return shared.send_failed(t.peer, reason);
                }
            },
            _ => None,
        };
        if shared.is_shutting_down() {
            drop(reg);
            return shared.send_failed(t.peer, "transports shut down");
        }
        let Some(slot) = shared.admit_outbound() else {
            drop(reg);
            return shared.send_failed(t.peer, "connection limit reached");
        };
        // Registered under the same lock as the lookup: concurrent sends to
        // this address queue onto this connection instead of opening more.
        let parts = shared.register_locked(&mut reg, t.peer.transport, t.peer.addr);
        drop(reg);
        let _ = parts.tx.try_send(t); // a fresh queue has room
        let shared2 = shared.clone();
        match tls {
            Some(peer) => shared
                .runtime
                .spawn(tls_client::connect(shared2, parts, slot, peer)),
            None => shared.runtime.spawn(tcp::connect(shared2, parts, slot)),
        };
    }

    /// Replaces the TLS next hops (at start and at SIGHUP); connections
    /// already open stay.
    pub fn set_tls_peers(&self, peers: tls_client::TlsPeers) {
        let mut slot = self
            .shared
            .tls_peers
            .write()
            .unwrap_or_else(|p| p.into_inner());
        *slot = Arc::new(peers);
    }
}
