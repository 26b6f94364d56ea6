//! SIP over TCP and TLS listeners, and outbound TCP connections
//! (RFC 3261 §18.1.1, §18.2.2; connection reuse as in RFC 5923).
//!
//! The accept loop takes a connection-limit permit before anything else and
//! refuses (RST) a connection when none is left, so a flood of connections
//! costs one accept and one close each. TLS handshakes run in the
//! connection's own task under a timeout, holding the permit.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::shared::{shutdown_signal, ConnParts, Shared};
use super::{conn, tls, udp};
use crate::sip::types::Transport;

/// Pause after an accept error that is not about one connection (EMFILE…).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Starts the accept loop of a bound TCP (or, with `tls`, TLS) listener.
pub(crate) fn start_accept(
    shared: Arc<Shared>,
    listener: TcpListener,
    local: SocketAddr,
    tls: Option<TlsAcceptor>,
) -> JoinHandle<()> {
    tokio::spawn(accept_loop(shared, listener, local, tls))
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    local: SocketAddr,
    tls: Option<TlsAcceptor>,
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
        let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(%local, %from, refused, "connection limit reached: refusing");
            }
            let _ = stream.set_zero_linger();
            continue;
        };
        let _ = stream.set_nodelay(true);
        let from = udp::canonical(from);
        tokio::spawn(serve(
            shared.clone(),
            stream,
            from,
            local,
            tls.clone(),
            permit,
        ));
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

/// Runs one accepted connection, after the TLS handshake if any.
async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    from: SocketAddr,
    local: SocketAddr,
    tls: Option<TlsAcceptor>,
    permit: OwnedSemaphorePermit,
) {
    let Some(acceptor) = tls else {
        let parts = shared.register(Transport::Tcp, from);
        return conn::run(shared, stream, parts, local, permit).await;
    };
    let timeout = shared.limits.tls_handshake_timeout;
    let mut shutdown = shared.shutdown.clone();
    let handshake = tokio::select! {
        done = tls::handshake(&acceptor, stream, timeout) => done,
        _ = shutdown_signal(&mut shutdown) => return,
    };
    match handshake {
        Ok(stream) => {
            let parts = shared.register(Transport::Tls, from);
            conn::run(shared, stream, parts, local, permit).await;
        }
        Err(reason) => tracing::debug!(%from, %reason, "TLS handshake failed"),
    }
}

/// Opens an outbound TCP connection registered by the sender; on failure,
/// reports every queued transmit as failed.
pub(crate) async fn connect(shared: Arc<Shared>, parts: ConnParts, permit: OwnedSemaphorePermit) {
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
        Ok(local) => conn::run(shared, stream, parts, local, permit).await,
        Err(e) => fail_connect(&shared, parts, &e.to_string()),
    }
}

fn fail_connect(shared: &Shared, parts: ConnParts, reason: &str) {
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
