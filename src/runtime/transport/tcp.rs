//! SIP over TCP and TLS listeners (and the accept side of WS and WSS, whose
//! upgrade `ws.rs` runs), and outbound TCP connections
//! (RFC 3261 §18.1.1, §18.2.2; connection reuse as in RFC 5923).
//!
//! The accept loop takes the connection's slot before anything else (its
//! source's count, then a global permit) and refuses (RST) a connection
//! when either is used up, so a flood of connections costs one accept and
//! one close each, and a source over its own limit never takes from the
//! global budget. Refusals are counted by reason and logged once per source
//! and minute. TLS handshakes run in the connection's own task, holding the
//! slot, within the first-message timeout.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::conn::Origin;
use super::shared::{shutdown_signal, ConnParts, Refusal, Shared, Slot};
use super::{conn, tls, udp, ws};
use crate::sip::types::Transport;

/// Pause after an accept error that is not about one connection (EMFILE…).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What a stream listener speaks: its transport and, for TLS and WSS, the
/// TLS acceptor.
#[derive(Clone)]
pub(crate) struct StreamKind {
    pub transport: Transport,
    pub tls: Option<TlsAcceptor>,
}

/// Starts the accept loop of a bound TCP, TLS, WS or WSS listener.
pub(crate) fn start_accept(
    shared: Arc<Shared>,
    listener: TcpListener,
    local: SocketAddr,
    kind: StreamKind,
) -> JoinHandle<()> {
    tokio::spawn(accept_loop(shared, listener, local, kind))
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    local: SocketAddr,
    kind: StreamKind,
) {
    let mut refused: u64 = 0;
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_error(local, &e).await;
                continue;
            }
        };
        let accepted = Instant::now();
        let from = udp::canonical(from);
        let slot = match shared.admit_inbound(from, accepted.into_std()) {
            Ok(slot) => slot,
            Err(refusal) => {
                refused += 1;
                log_refusal(local, from, refusal, refused);
                let _ = stream.set_zero_linger();
                continue; // dropping the stream resets it
            }
        };
        let _ = stream.set_nodelay(true);
        let accept = Accept {
            from,
            local,
            at: accepted,
            slot,
        };
        tokio::spawn(serve(shared.clone(), stream, accept, kind.clone()));
    }
}

/// Counts a refused connection; logs it once per source and minute (per
/// source limit) or at powers of two (global limit).
fn log_refusal(local: SocketAddr, from: SocketAddr, refusal: Refusal, refused: u64) {
    metrics::counter!(super::CONNECTIONS_REFUSED, "reason" => refusal.label()).increment(1);
    match refusal {
        Refusal::PerSource {
            key,
            limit,
            log: Some(count),
        } => tracing::warn!(%local, source = %key, limit, refused = count,
            "source holds its limit of SIP connections: refusing its new ones"),
        Refusal::PerSource { log: None, .. } => {}
        Refusal::Global if refused.is_power_of_two() => {
            tracing::warn!(%local, %from, refused, "connection limit reached: refusing");
        }
        Refusal::Global => {}
    }
}

/// An accepted connection and what it holds.
struct Accept {
    from: SocketAddr,
    local: SocketAddr,
    at: Instant,
    slot: Slot,
}

impl From<Accept> for ws::Accepted {
    fn from(a: Accept) -> Self {
        Self {
            from: a.from,
            local: a.local,
            at: a.at,
            slot: a.slot,
        }
    }
}

/// Logs an accept error; backs off when the process is out of resources.
async fn accept_error(local: SocketAddr, e: &std::io::Error) {
    let per_connection = matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    );
    if per_connection {
        tracing::debug!(%local, error = %e, "accept");
    } else {
        tracing::warn!(%local, error = %e, "accept failed; backing off");
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }
}

/// Runs one accepted connection, after the TLS handshake if any. The
/// handshake must end within the TLS handshake timeout and leave time of
/// the first-message timeout, which started at the accept.
async fn serve(shared: Arc<Shared>, stream: TcpStream, a: Accept, kind: StreamKind) {
    let origin = Origin::Accepted(a.at);
    let Some(acceptor) = kind.tls else {
        if kind.transport == Transport::Ws {
            return ws::serve(shared, stream, Transport::Ws, a.into()).await;
        }
        let parts = shared.register(Transport::Tcp, a.from);
        return conn::run(shared, stream, parts, a.local, a.slot, origin).await;
    };
    let limits = &shared.limits;
    let timeout = limits
        .tls_handshake_timeout
        .min(limits.first_message_timeout);
    let mut shutdown = shared.shutdown.clone();
    let handshake = tokio::select! {
        done = tls::handshake(&acceptor, stream, timeout) => done,
        _ = shutdown_signal(&mut shutdown) => return,
    };
    match handshake {
        Ok(stream) if kind.transport == Transport::Wss => {
            ws::serve(shared, stream, Transport::Wss, a.into()).await;
        }
        Ok(stream) => {
            let parts = shared.register(Transport::Tls, a.from);
            conn::run(shared, stream, parts, a.local, a.slot, origin).await;
        }
        Err(reason) => {
            metrics::counter!(super::CONNECTIONS_CLOSED, "reason" => "tls_handshake_failed")
                .increment(1);
            tracing::debug!(from = %a.from, %reason, "TLS handshake failed");
        }
    }
}

/// Opens an outbound TCP connection registered by the sender; on failure,
/// reports every queued transmit as failed.
pub(crate) async fn connect(shared: Arc<Shared>, parts: ConnParts, slot: Slot) {
    let addr = parts.peer.addr;
    let limit = shared.limits.connect_timeout;
    let mut shutdown = shared.shutdown.clone();
    let result = tokio::select! {
        r = tokio::time::timeout(limit, TcpStream::connect(addr)) => r,
        _ = shutdown_signal(&mut shutdown) => {
            return fail_connect(&shared, parts, "transports shutting down");
        }
    };
    let stream = match result {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return fail_connect(&shared, parts, &e.to_string()),
        Err(_) => return fail_connect(&shared, parts, &format!("timed out after {limit:?}")),
    };
    let _ = stream.set_nodelay(true);
    match stream.local_addr() {
        Ok(local) => conn::run(shared, stream, parts, local, slot, Origin::Connected).await,
        Err(e) => fail_connect(&shared, parts, &e.to_string()),
    }
}

pub(super) fn fail_connect(shared: &Shared, parts: ConnParts, reason: &str) {
    let ConnParts { peer, tx, mut rx } = parts;
    if let Some(id) = peer.conn {
        shared.registry().remove(id);
    }
    drop(tx);
    rx.close();
    let reason = format!("TCP connect to {}: {reason}", peer.addr);
    while let Ok(t) = rx.try_recv() {
        shared.send_failed(t.peer, reason.clone());
    }
}
