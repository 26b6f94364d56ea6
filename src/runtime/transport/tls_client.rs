//! Outgoing SIP over TLS (issue 13): the client side of the connections
//! this node opens to partner centres, recall trunks and (later) other
//! nodes. rustls with the ring provider, TLS 1.3 and 1.2 as for listening.
//!
//! Each TLS trunk's next hop gets a [`TlsPeer`]: the authorities it trusts
//! (its `ca` file, else the system bundle), the name the peer's certificate
//! must carry (checked by rustls against the subjectAltNames; an IP
//! address works when the certificate has it as an IP SAN) and our client
//! certificate when the peer asks for one. The table is keyed by the next
//! hop's address and replaced whole at start and at SIGHUP
//! ([`super::TransportSender::set_tls_peers`]). A transmit to a TLS address
//! with no open connection opens one here; it is registered like an
//! accepted connection, so later messages to the peer reuse it (RFC 5923
//! style) and a failure reports every queued transmit as failed, which the
//! call core treats like any unreachable target.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::conn::{self, Origin};
use super::shared::{shutdown_signal, ConnParts, Shared, Slot};
use super::tls::{read_certs, read_key};
use super::TransportError;
use crate::config::TrunkTls;

/// How to open TLS to one next hop.
#[derive(Clone)]
pub struct TlsPeer {
    /// The name the peer's certificate must carry.
    pub server_name: ServerName<'static>,
    /// Trusted authorities and our identity.
    pub config: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPeer")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Every TLS next hop of the dialplan, by address.
pub type TlsPeers = HashMap<SocketAddr, TlsPeer>;

impl TlsPeer {
    /// Reads `tls`'s files and checks `server_name`.
    pub fn new(tls: &TrunkTls, server_name: &str) -> Result<Self, TransportError> {
        let server_name = ServerName::try_from(server_name.to_string()).map_err(|_| {
            TransportError::BadServerName {
                name: server_name.to_string(),
            }
        })?;
        Ok(Self {
            server_name,
            config: client_config(tls)?,
        })
    }
}

/// The client configuration of one trunk: its CA bundle as roots, its
/// identity when it has one.
pub fn client_config(tls: &TrunkTls) -> Result<Arc<ClientConfig>, TransportError> {
    let roots = root_store(&tls.ca_path())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|source| TransportError::Tls { source })?
        .with_root_certificates(roots);
    let config = match tls.client_identity() {
        Some((cert, key)) => builder
            .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
            .map_err(|source| TransportError::Tls { source })?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn root_store(ca: &Path) -> Result<RootCertStore, TransportError> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(read_certs(ca)?);
    if added == 0 {
        return Err(TransportError::NoCertificate {
            path: ca.to_path_buf(),
        });
    }
    Ok(roots)
}

/// Opens TCP to `peer`'s address, then the TLS client handshake; on
/// success the connection runs like any other, on failure every queued
/// transmit is reported failed.
pub(crate) async fn connect(shared: Arc<Shared>, parts: ConnParts, slot: Slot, peer: TlsPeer) {
    let addr = parts.peer.addr;
    let limits = &shared.limits;
    let (connect_limit, handshake_limit) = (limits.connect_timeout, limits.tls_handshake_timeout);
    let mut shutdown = shared.shutdown.clone();
    let opened = async {
        let stream = tokio::time::timeout(connect_limit, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("TCP connect timed out after {connect_limit:?}"))?
            .map_err(|e| format!("TCP connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().map_err(|e| e.to_string())?;
        let connector = TlsConnector::from(peer.config.clone());
        let handshake = connector.connect(peer.server_name.clone(), stream);
        let tls = tokio::time::timeout(handshake_limit, handshake)
            .await
            .map_err(|_| format!("TLS handshake timed out after {handshake_limit:?}"))?
            .map_err(|e| format!("TLS handshake: {e}"))?;
        Ok::<_, String>((tls, local))
    };
    let result = tokio::select! {
        r = opened => r,
        _ = shutdown_signal(&mut shutdown) => Err("transports shutting down".to_string()),
    };
    match result {
        Ok((stream, local)) => {
            conn::run(shared, stream, parts, local, slot, Origin::Connected).await
        }
        Err(reason) => {
            metrics::counter!(super::CONNECTIONS_CLOSED, "reason" => "tls_connect_failed")
                .increment(1);
            tracing::warn!(peer = %addr, name = ?peer.server_name, %reason, "outgoing TLS connection failed");
            super::tcp::fail_connect(&shared, parts, &reason);
        }
    }
}
