//! TLS 1.2 and 1.3 with a generated development certificate; hostile handshakes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::*;

#[tokio::test]
async fn outbound_tls_is_not_supported_yet() {
    let (t, mut rx) = start(&[], TransportLimits::default()).await;
    let peer = Peer {
        transport: Transport::Tls,
        addr: "127.0.0.1:5061".parse().unwrap(),
        conn: None,
    };
    t.sender().send(Transmit {
        peer,
        data: Bytes::from_static(b"x"),
    });
    assert!(matches!(
        next_event(&mut rx).await,
        TransportEvent::SendFailed { .. }
    ));
}

fn client_config(
    cert: &Path,
    version: &'static rustls::SupportedProtocolVersion,
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(cert).unwrap();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

async fn tls_listener(
    limits: TransportLimits,
) -> (Transports, mpsc::Receiver<TransportEvent>, PathBuf) {
    let dir = temp_dir("tls");
    let (cert, key) = write_dev_cert(&dir, &[]).unwrap();
    let listen = ListenerSpec {
        tls: Some(load_tls_config(&cert, &key).unwrap()),
        ..spec(Transport::Tls, "127.0.0.1:0")
    };
    let (t, rx) = start(&[listen], limits).await;
    (t, rx, dir)
}

async fn tls_round_trip(version: &'static rustls::SupportedProtocolVersion) {
    let (t, mut rx, dir) = tls_listener(TransportLimits::default()).await;
    let config = client_config(&dir.join(DEV_CERT_FILE), version);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(bound(&t, Transport::Tls)).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = timeout(WAIT, connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.get_ref().1.protocol_version(), Some(version.version));

    let request = sip("REGISTER sips:rc SIP/2.0", "");
    client.write_all(&request).await.unwrap();
    let (peer, data) = next_message(&mut rx).await;
    assert_eq!((peer.transport, &data[..]), (Transport::Tls, &request[..]));
    let ok = sip("SIP/2.0 200 OK", "");
    t.sender().send(Transmit {
        peer,
        data: Bytes::from(ok.clone()),
    });
    assert_eq!(read_n(&mut client, ok.len()).await, ok);
    t.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn tls12_handshake_and_round_trip() {
    tls_round_trip(&rustls::version::TLS12).await;
}

#[tokio::test]
async fn tls13_handshake_and_round_trip() {
    tls_round_trip(&rustls::version::TLS13).await;
}

#[tokio::test]
async fn garbage_and_silent_tls_clients_are_dropped() {
    let limits = TransportLimits {
        tls_handshake_timeout: Duration::from_millis(200),
        max_connections: 1,
        ..TransportLimits::default()
    };
    let (t, mut rx, dir) = tls_listener(limits).await;
    let addr = bound(&t, Transport::Tls);
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage
        .write_all(&sip("INVITE sip:rc SIP/2.0", ""))
        .await
        .unwrap();
    assert!(closed_by_server(&mut garbage).await);
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(closed_by_server(&mut silent).await, "handshake timeout");
    // Both released their permit: a real client still gets in.
    let config = client_config(&dir.join(DEV_CERT_FILE), &rustls::version::TLS13);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = timeout(WAIT, connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    client
        .write_all(&sip("OPTIONS sips:rc SIP/2.0", ""))
        .await
        .unwrap();
    next_message(&mut rx).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn tls_listener_without_certificate_is_an_error() {
    let (tx, _rx) = mpsc::channel(1);
    let specs = [spec(Transport::Tls, "127.0.0.1:0")];
    let err = Transports::start(&specs, tx, TransportLimits::default())
        .await
        .err();
    assert!(matches!(err, Some(TransportError::MissingTlsConfig { .. })));
}

#[tokio::test]
async fn an_unfinished_handshake_ends_at_the_first_message_timeout() {
    let limits = TransportLimits {
        tls_handshake_timeout: Duration::from_secs(60),
        first_message_timeout: Duration::from_millis(300),
        ..TransportLimits::default()
    };
    let (t, _rx, dir) = tls_listener(limits).await;
    let mut silent = TcpStream::connect(bound(&t, Transport::Tls)).await.unwrap();
    let started = std::time::Instant::now();
    assert!(
        closed_by_server(&mut silent).await,
        "closed within {WAIT:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    let _ = std::fs::remove_dir_all(dir);
}
