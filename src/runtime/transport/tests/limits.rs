//! The per-source connection limit and the first-message timeout on real
//! loopback sockets: clients bound to 127.0.0.2 stand for one source,
//! 127.0.0.1 for everyone else.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use super::*;
use crate::runtime::transport::source_limit::{SourceKey, SourcePolicy};

/// Connects to `server` from `source` (port chosen by the kernel).
pub(super) async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    timeout(WAIT, socket.connect(server))
        .await
        .expect("connect in time")
        .unwrap()
}

/// Sends an OPTIONS and waits until the transports deliver it.
async fn speak(c: &mut TcpStream, rx: &mut mpsc::Receiver<TransportEvent>) {
    c.write_all(&sip("OPTIONS sip:rc SIP/2.0", ""))
        .await
        .unwrap();
    let (peer, _) = next_message(rx).await;
    assert_eq!(peer.addr, c.local_addr().unwrap());
}

fn per_source(n: usize, max_connections: usize) -> TransportLimits {
    TransportLimits {
        max_connections,
        sources: SourcePolicy {
            per_source: n,
            ..SourcePolicy::default()
        },
        ..TransportLimits::default()
    }
}

#[tokio::test]
async fn a_source_at_its_limit_is_refused_without_taking_global_permits() {
    let (t, mut rx) = start(&[spec(Transport::Tcp, "127.0.0.1:0")], per_source(2, 3)).await;
    let addr = bound(&t, Transport::Tcp);
    let mut first = connect_from("127.0.0.2", addr).await;
    let mut second = connect_from("127.0.0.2", addr).await;
    speak(&mut first, &mut rx).await;
    speak(&mut second, &mut rx).await;
    for _ in 0..5 {
        let mut over = connect_from("127.0.0.2", addr).await;
        assert!(closed_by_server(&mut over).await, "over the source limit");
    }
    // The refused five took no global permit: the third one is still free.
    let mut other = connect_from("127.0.0.1", addr).await;
    speak(&mut other, &mut rx).await;
    assert_eq!(t.shared.permits.available_permits(), 0);
    let key = SourceKey::of("127.0.0.2".parse().unwrap());
    assert_eq!(t.shared.sources.lock().unwrap().open(key), 2);

    drop(first);
    assert!(matches!(
        next_event(&mut rx).await,
        TransportEvent::Closed { .. }
    ));
    let mut again = connect_from("127.0.0.2", addr).await;
    speak(&mut again, &mut rx).await;
}

#[tokio::test]
async fn the_global_limit_still_holds_and_gives_the_source_count_back() {
    let (t, mut rx) = start(&[spec(Transport::Tcp, "127.0.0.1:0")], per_source(5, 1)).await;
    let addr = bound(&t, Transport::Tcp);
    let mut first = connect_from("127.0.0.1", addr).await;
    speak(&mut first, &mut rx).await;
    let mut refused = connect_from("127.0.0.2", addr).await;
    assert!(
        closed_by_server(&mut refused).await,
        "over the global limit"
    );
    let key = SourceKey::of("127.0.0.2".parse().unwrap());
    assert_eq!(t.shared.sources.lock().unwrap().open(key), 0);
}

#[tokio::test]
async fn a_connection_that_never_sends_a_message_is_closed_after_the_first_message_timeout() {
    let first_message = Duration::from_millis(300);
    let limits = TransportLimits {
        first_message_timeout: first_message,
        ..TransportLimits::default()
    };
    let (t, mut rx) = start(&[spec(Transport::Tcp, "127.0.0.1:0")], limits).await;
    let addr = bound(&t, Transport::Tcp);
    let started = Instant::now();
    let mut silent = connect_from("127.0.0.2", addr).await;
    let mut talker = connect_from("127.0.0.1", addr).await;
    speak(&mut talker, &mut rx).await;
    silent.write_all(b"\r\n\r\n").await.unwrap(); // a ping is not a message
    assert_eq!(read_n(&mut silent, 2).await, b"\r\n");
    assert!(closed_by_server(&mut silent).await);
    assert!(started.elapsed() >= first_message);
    // The one that spoke outlives the timeout; it still answers pings.
    while started.elapsed() < first_message * 2 {
        talker.write_all(b"\r\n\r\n").await.unwrap();
        assert_eq!(read_n(&mut talker, 2).await, b"\r\n");
    }
    let key = SourceKey::of("127.0.0.2".parse().unwrap());
    assert_eq!(t.shared.sources.lock().unwrap().open(key), 0);
}

#[test]
fn trunk_networks_get_the_trunk_limit_from_the_config() {
    let toml = r#"
        [sip.connections]
        max = 500
        per_source = 8
        trunk_per_source = 300
        first_message_s = 4
        [[trunks]]
        name = "carrier"
        allow = ["192.0.2.0/28", "2001:db8::/48"]
    "#;
    let config = crate::config::load_str(toml, "test.toml").unwrap();
    let limits = TransportLimits::from_config(&config);
    assert_eq!(limits.max_connections, 500);
    assert_eq!(limits.first_message_timeout, Duration::from_secs(4));
    let limit = |ip: &str| limits.sources.limit_for(ip.parse().unwrap());
    assert_eq!(limit("192.0.2.9"), 300);
    assert_eq!(limit("2001:db8:0:7::1"), 300);
    assert_eq!(limit("192.0.2.16"), 8);
}
