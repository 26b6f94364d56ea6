//! SIP transports: UDP, TCP, TLS, WS and WSS listeners and connections
//! (RFC 3261 §18, RFC 3581 symmetric response routing, RFC 5626 §4.4.1 CRLF
//! keep-alives, RFC 5923 connection reuse, RFC 5630 `sips:`, RFC 7118 SIP
//! over WebSocket).
//!
//! The SIP driver sees only this module's surface:
//! [`Transports::start`] binds the listeners from the config and pushes
//! [`TransportEvent`]s into the driver's channel; [`TransportSender::send`]
//! takes a [`Transmit`] and never waits. Everything a hostile peer can do
//! (slowloris, endless headers, connection floods, garbage TLS, idle
//! connections that never speak SIP) is bounded by [`TransportLimits`]:
//! a global connection limit, a limit per source ([`SourcePolicy`]), and
//! the timers of [`conn_timer`].
//!
//! | file | role |
//! |---|---|
//! | `udp.rs` | one socket per listener, receive loop, direct sends |
//! | `tcp.rs` | accept loops, connection limits, outbound TCP connect |
//! | `source_limit.rs` | pure per-source connection counts (IPv4 address, IPv6 /64) |
//! | `conn_timer.rs` | pure per-connection deadlines (first message, idle, slow message) |
//! | `tls.rs` | [`load_tls_config`], handshake with timeout |
//! | `conn.rs` | one stream connection: framing, keep-alives, idle timeout, writer queue |
//! | `shared.rs` | the connection registry and state shared by all tasks |
//! | `sender.rs` | [`TransportSender`] |
//! | `limits.rs` | [`TransportLimits`], from `[sip.connections]` |
//! | `devcert.rs` | [`write_dev_cert`] for `alarmgate certs dev` |
//! | `ws.rs` | one WebSocket connection: upgrade, a SIP message per frame, pings |
//! | `ws_rules.rs` | pure WebSocket rules: subprotocol, frame kinds, ping timer |

mod conn;
pub mod conn_timer;
pub mod devcert;
mod limits;
mod sender;
mod shared;
pub mod source_limit;
mod tcp;
mod tls;
pub mod tls_client;
mod udp;
mod ws;
pub mod ws_rules;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub use devcert::{write_dev_cert, DEV_CERT_FILE, DEV_KEY_FILE};
pub use limits::TransportLimits;
pub use sender::TransportSender;
pub use source_limit::SourcePolicy;
pub use tls::load_tls_config;
pub use tls_client::{TlsPeer, TlsPeers};

use crate::sip::types::{Peer, Transport};
use shared::{Shared, MAX_PERMITS};

#[cfg(doc)]
use crate::sip::types::Transmit;

/// Stream connections refused at accept, by `reason` (`per_source_limit`,
/// `global_limit`).
pub const CONNECTIONS_REFUSED: &str = "alarmgate_sip_connections_refused_total";
/// Stream connections closed, by `reason` (`first_message_timeout`,
/// `idle_timeout`, `peer_closed`, `tls_handshake_failed`...).
pub const CONNECTIONS_CLOSED: &str = "alarmgate_sip_connections_closed_total";

/// How long [`Transports::shutdown`] waits for connections to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// One `[[sip.listen]]` entry: what to listen on.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    /// UDP, TCP, TLS, WS or WSS.
    pub transport: Transport,
    /// Address to bind; port 0 picks a free port (see [`Transports::local_addrs`]).
    pub addr: SocketAddr,
    /// Server configuration, required for TLS and WSS (see [`load_tls_config`]).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// What the transports tell the SIP driver.
#[derive(Debug, Clone)]
pub enum TransportEvent {
    /// One complete SIP message: a UDP datagram, or framed from a stream.
    Message {
        /// The sender; `conn` is set for streams.
        peer: Peer,
        /// The local address it arrived on (the listener's, or the
        /// outbound connection's).
        local: SocketAddr,
        /// The message bytes, unparsed.
        data: Bytes,
    },
    /// The stream could not be framed; the connection is closing. For a
    /// short while ([`TransportLimits::error_linger`]) it still takes a 400.
    StreamError {
        /// The connection.
        peer: Peer,
        /// What was wrong, for the log.
        reason: String,
        /// The complete header block, if one was read, to build the 400 from.
        partial: Option<Bytes>,
    },
    /// A [`Transmit`] could not be delivered.
    SendFailed {
        /// The destination as given in the transmit.
        peer: Peer,
        /// Why, for the log.
        reason: String,
    },
    /// A stream connection closed; its ConnId is no longer valid.
    Closed {
        /// The connection.
        peer: Peer,
    },
}

/// Why the transports could not start or a TLS/certificate file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A listener address could not be bound.
    #[error("cannot bind {transport} listener on {addr}: {source}")]
    Bind {
        /// The listener's transport.
        transport: Transport,
        /// The address from the config.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A TLS or WSS listener without a server configuration.
    #[error("TLS/WSS listener on {addr} has no certificate configured")]
    MissingTlsConfig {
        /// The listener address.
        addr: SocketAddr,
    },
    /// A certificate or key file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not valid PEM.
    #[error("invalid PEM in {}: {source}", path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: std::io::Error,
    },
    /// A certificate file holds no certificate.
    #[error("no certificate in {}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A key file holds no private key.
    #[error("no private key in {}", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls rejected the certificate, key or protocol settings.
    #[error("TLS configuration rejected: {source}")]
    Tls {
        /// The rustls error.
        source: rustls::Error,
    },
    /// A TLS trunk's server name is neither a DNS name nor an IP address.
    #[error("{name:?} is not a DNS name or IP address a certificate can be checked against")]
    BadServerName {
        /// The name as configured or taken from the proxy or URI.
        name: String,
    },
    /// A development certificate could not be generated.
    #[error("cannot generate certificate: {source}")]
    CertGen {
        /// The rcgen error.
        source: rcgen::Error,
    },
    /// A certificate or key could not be written.
    #[error("cannot write {}: {source}", path.display())]
    WriteFile {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The running listeners and connections.
pub struct Transports {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    /// Receive and accept loops, aborted at shutdown.
    tasks: Vec<JoinHandle<()>>,
    /// UDP backlog drainers, which finish their queue at shutdown.
    drainers: Vec<JoinHandle<()>>,
    local: Vec<(Transport, SocketAddr)>,
}

impl Transports {
    /// Binds every listener and starts its tasks; events go to `events`.
    ///
    /// A `0.0.0.0:P` listener is skipped (with a log line) when `[::]:P` on
    /// the same transport is already bound dual-stack, the Linux default;
    /// `[::]` listeners are bound first for that reason.
    pub async fn start(
        specs: &[ListenerSpec],
        events: mpsc::Sender<TransportEvent>,
        limits: TransportLimits,
    ) -> Result<Self, TransportError> {
        let (shutdown, signal) = watch::channel(false);
        let mut this = Self {
            shared: Arc::new(Shared::new(events, limits, signal)),
            shutdown,
            tasks: Vec::new(),
            drainers: Vec::new(),
            local: Vec::new(),
        };
        let mut ordered: Vec<&ListenerSpec> = specs.iter().collect();
        ordered.sort_by_key(|s| !is_v6_wildcard(s.addr));
        for spec in ordered {
            match this.listen(spec).await {
                Err(e) if this.dual_stack_covers(spec, &e) => {
                    tracing::info!(addr = %spec.addr, transport = %spec.transport,
                        "IPv4 listener already served by the dual-stack [::] listener");
                }
                result => result?,
            }
        }
        Ok(this)
    }

    /// A sender for the driver; clone it freely.
    pub fn sender(&self) -> TransportSender {
        TransportSender::new(self.shared.clone())
    }

    /// The listeners as actually bound (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<(Transport, SocketAddr)> {
        self.local.clone()
    }

    /// Stops accepting and receiving, closes every connection after its
    /// queued writes (waiting at most 5 s), and releases the ports. Later
    /// sends fail with `SendFailed`.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
        self.shared
            .udp
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let all = u32::try_from(self.shared.limits.max_connections.min(MAX_PERMITS));
        let drained = async {
            for drainer in self.drainers.drain(..) {
                let _ = drainer.await;
            }
            let _ = self
                .shared
                .permits
                .acquire_many(all.unwrap_or(u32::MAX))
                .await;
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
            tracing::warn!("SIP transports still busy after the shutdown grace period");
        }
    }

    async fn listen(&mut self, spec: &ListenerSpec) -> Result<(), TransportError> {
        let bind_error = |source| TransportError::Bind {
            transport: spec.transport,
            addr: spec.addr,
            source,
        };
        let local = match spec.transport {
            Transport::Udp => {
                let socket = udp::bind(spec.addr).await.map_err(bind_error)?;
                let local = socket.local_addr().map_err(bind_error)?;
                let (out, tasks) = udp::start(&self.shared, socket, local);
                self.shared
                    .udp
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(out);
                self.tasks.push(tasks.recv);
                self.drainers.push(tasks.drain);
                local
            }
            Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss => {
                let kind = tcp::StreamKind {
                    transport: spec.transport,
                    tls: self.acceptor(spec)?,
                };
                let listener = TcpListener::bind(spec.addr).await.map_err(bind_error)?;
                let local = listener.local_addr().map_err(bind_error)?;
                let shared = self.shared.clone();
                self.tasks
                    .push(tcp::start_accept(shared, listener, local, kind));
                local
            }
        };
        tracing::info!(transport = %spec.transport, %local, "SIP listener bound");
        self.local.push((spec.transport, local));
        Ok(())
    }

    fn acceptor(&self, spec: &ListenerSpec) -> Result<Option<TlsAcceptor>, TransportError> {
        match (spec.transport, &spec.tls) {
            (Transport::Tls | Transport::Wss, Some(config)) => {
                Ok(Some(TlsAcceptor::from(config.clone())))
            }
            (Transport::Tls | Transport::Wss, None) => {
                Err(TransportError::MissingTlsConfig { addr: spec.addr })
            }
            _ => Ok(None),
        }
    }

    /// True when `spec` (IPv4) failed only because a bound `[::]` listener on
    /// the same transport and port already receives its traffic.
    fn dual_stack_covers(&self, spec: &ListenerSpec, err: &TransportError) -> bool {
        let in_use = matches!(err, TransportError::Bind { source, .. }
            if source.kind() == std::io::ErrorKind::AddrInUse);
        in_use
            && spec.addr.is_ipv4()
            && spec.addr.port() != 0
            && self.local.iter().any(|(t, a)| {
                *t == spec.transport && is_v6_wildcard(*a) && a.port() == spec.addr.port()
            })
    }
}

impl Drop for Transports {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        for task in self.tasks.iter().chain(&self.drainers) {
            task.abort();
        }
    }
}

fn is_v6_wildcard(addr: SocketAddr) -> bool {
    addr.is_ipv6() && addr.ip().is_unspecified()
}

#[cfg(test)]
mod tests;
