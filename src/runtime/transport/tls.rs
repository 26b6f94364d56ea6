//! SIP over TLS (RFC 3261 §26.2.1, RFC 5630 for `sips:` semantics): server
//! configuration and the accept-side handshake.
//!
//! TLS 1.3 and 1.2 (embedded alarm units and older phones are often
//! 1.2-only), the ring provider set explicitly so no process-wide default is
//! needed, no client authentication.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::TransportError;

/// Loads a PEM certificate chain (leaf first) and its PEM private key
/// (PKCS#8, PKCS#1 or SEC1) into a server configuration for TLS 1.2 and 1.3
/// with the ring provider and no client authentication.
pub fn load_tls_config(
    cert_pem: &Path,
    key_pem: &Path,
) -> Result<Arc<ServerConfig>, TransportError> {
    let certs = read_certs(cert_pem)?;
    let key = read_key(key_pem)?;
    warn_if_exposed(key_pem);
    server_config(certs, key)
}

/// Builds the server configuration from parsed DER.
pub(crate) fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TransportError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|source| TransportError::Tls { source })?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|source| TransportError::Tls { source })?;
    Ok(Arc::new(config))
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|source| TransportError::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}

pub(super) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let pem = read_pem(path)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| bad_pem(path, source))?;
    if certs.is_empty() {
        return Err(TransportError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

pub(super) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TransportError> {
    let pem = read_pem(path)?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|source| bad_pem(path, source))?
        .ok_or_else(|| TransportError::NoPrivateKey {
            path: path.to_path_buf(),
        })
}

fn bad_pem(path: &Path, source: std::io::Error) -> TransportError {
    TransportError::BadPem {
        path: PathBuf::from(path),
        source,
    }
}

/// A key readable by group or others is a deployment mistake worth a warning.
fn warn_if_exposed(key_pem: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(key_pem) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %key_pem.display(), mode = format!("{mode:o}"),
                    "TLS private key is readable by group or others; chmod 600 it");
            }
        }
    }
}

/// Runs the server handshake under `timeout`; the error says why it failed.
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, String> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no handshake within {timeout:?}")),
    }
}
