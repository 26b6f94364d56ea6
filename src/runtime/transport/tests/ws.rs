//! SIP over WebSocket on real loopback sockets: a message each way over
//! the flow, the flow's close reported as `Closed` (what takes a browser's
//! bindings), no way back once it is closed, and the per-source connection
//! limit applying to WebSocket connections as to TCP.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::limits::connect_from;
use super::*;
use crate::runtime::transport::source_limit::SourcePolicy;

/// A browser's WebSocket offering the `sip` subprotocol.
async fn browser(source: &str, server: SocketAddr) -> WebSocketStream<TcpStream> {
    let stream = connect_from(source, server).await;
    let mut req = format!("ws://{server}/").into_client_request().unwrap();
    let sip = "sip".parse().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", sip);
    let (ws, resp) = timeout(WAIT, tokio_tungstenite::client_async(req, stream))
        .await
        .expect("upgrade in time")
        .expect("upgraded");
    assert_eq!(resp.headers()["sec-websocket-protocol"], "sip");
    ws
}

#[tokio::test]
async fn a_message_each_way_then_the_close_is_reported_and_ends_the_flow() {
    let (t, mut rx) = start(
        &[spec(Transport::Ws, "127.0.0.1:0")],
        TransportLimits::default(),
    )
    .await;
    let addr = bound(&t, Transport::Ws);
    let mut ws = browser("127.0.0.1", addr).await;
    let register = String::from_utf8(sip("REGISTER sip:x SIP/2.0", "")).unwrap();
    ws.send(Message::text(register.clone())).await.unwrap();
    let (peer, data) = next_message(&mut rx).await;
    assert_eq!(data.as_ref(), register.as_bytes(), "one frame, one message");
    assert_eq!(peer.transport, Transport::Ws);
    assert!(peer.conn.is_some());

    let ok = Bytes::from_static(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    t.sender().send(Transmit {
        peer,
        data: ok.clone(),
    });
    let frame = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(
        frame,
        Message::text("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    );

    ws.close(None).await.unwrap();
    match next_event(&mut rx).await {
        TransportEvent::Closed { peer: closed } => assert_eq!(closed, peer),
        other => panic!("expected Closed, got {other:?}"),
    }
    t.sender().send(Transmit { peer, data: ok });
    match next_event(&mut rx).await {
        TransportEvent::SendFailed { peer: failed, .. } => assert_eq!(failed, peer),
        other => panic!("no way back to a closed browser, got {other:?}"),
    }
}

#[tokio::test]
async fn websocket_connections_count_against_the_per_source_limit() {
    let limits = TransportLimits {
        max_connections: 3,
        sources: SourcePolicy {
            per_source: 1,
            ..SourcePolicy::default()
        },
        ..TransportLimits::default()
    };
    let (t, _rx) = start(&[spec(Transport::Ws, "127.0.0.1:0")], limits).await;
    let addr = bound(&t, Transport::Ws);
    let _first = browser("127.0.0.2", addr).await;
    let mut over = connect_from("127.0.0.2", addr).await;
    assert!(closed_by_server(&mut over).await, "over the source limit");
    let _other = browser("127.0.0.1", addr).await;
}

#[tokio::test]
async fn wss_upgrades_over_the_listener_s_certificate() {
    use rustls::pki_types::ServerName;
    use std::sync::Arc;
    let dir = temp_dir("wss");
    let (cert, key) = write_dev_cert(&dir, &[]).unwrap();
    let listen = ListenerSpec {
        tls: Some(load_tls_config(&cert, &key).unwrap()),
        ..spec(Transport::Wss, "127.0.0.1:0")
    };
    let (t, mut rx) = start(&[listen], TransportLimits::default()).await;
    let addr = bound(&t, Transport::Wss);
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).unwrap();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = connect_from("127.0.0.1", addr).await;
    let name = ServerName::try_from("localhost").unwrap();
    let tls = timeout(WAIT, connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    let mut req = format!("wss://localhost:{}/", addr.port())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "sip".parse().unwrap());
    let (mut ws, _) = timeout(WAIT, tokio_tungstenite::client_async(req, tls))
        .await
        .unwrap()
        .expect("wss upgrade");
    let options = String::from_utf8(sip("OPTIONS sip:rc SIP/2.0", "")).unwrap();
    ws.send(Message::text(options)).await.unwrap();
    let (peer, _) = next_message(&mut rx).await;
    assert_eq!(peer.transport, Transport::Wss);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_wss_listener_without_a_certificate_does_not_start() {
    let (tx, _rx) = mpsc::channel(4);
    let specs = [spec(Transport::Wss, "127.0.0.1:0")];
    let err = Transports::start(&specs, tx, TransportLimits::default()).await;
    assert!(matches!(err, Err(TransportError::MissingTlsConfig { .. })));
}
