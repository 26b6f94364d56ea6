//! TCP: framing on the socket, keep-alives, stream errors, outbound
//! connections, the connection limit and the timers.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use super::*;

#[tokio::test]
async fn tcp_split_and_pipelined_messages() {
    let (t, mut rx) = start(
        &[spec(Transport::Tcp, "127.0.0.1:0")],
        TransportLimits::default(),
    )
    .await;
    let mut client = TcpStream::connect(bound(&t, Transport::Tcp)).await.unwrap();
    let first = sip("INVITE sip:rc SIP/2.0", "v=0\r\n");
    let (a, b) = first.split_at(30);
    client.write_all(a).await.unwrap();
    client.flush().await.unwrap();
    let mut rest = b.to_vec();
    rest.extend(sip("ACK sip:rc SIP/2.0", ""));
    rest.extend(b"\r\n\r\n");
    rest.extend(sip("BYE sip:rc SIP/2.0", "bye"));
    client.write_all(&rest).await.unwrap();

    let (peer, data) = next_message(&mut rx).await;
    assert_eq!(&data[..], &first[..]);
    assert_eq!(peer.transport, Transport::Tcp);
    assert_eq!(peer.addr, client.local_addr().unwrap());
    assert!(peer.conn.is_some());
    let (p2, ack) = next_message(&mut rx).await;
    let (p3, bye) = next_message(&mut rx).await;
    assert!(ack.starts_with(b"ACK") && bye.ends_with(b"bye"));
    assert_eq!((p2, p3), (peer, peer));
    assert_eq!(read_n(&mut client, 2).await, b"\r\n", "pong for the ping");

    let response = sip("SIP/2.0 200 OK", "");
    t.sender().send(Transmit {
        peer,
        data: Bytes::from(response.clone()),
    });
    assert_eq!(read_n(&mut client, response.len()).await, response);
    t.shutdown().await;
}

#[tokio::test]
async fn keep_alive_ping_gets_pong() {
    let (t, _rx) = start(
        &[spec(Transport::Tcp, "127.0.0.1:0")],
        TransportLimits::default(),
    )
    .await;
    let mut client = TcpStream::connect(bound(&t, Transport::Tcp)).await.unwrap();
    for _ in 0..3 {
        client.write_all(b"\r\n\r\n").await.unwrap();
        assert_eq!(read_n(&mut client, 2).await, b"\r\n");
    }
}

#[tokio::test]
async fn oversize_message_is_a_stream_error_then_close() {
    let limits = TransportLimits {
        max_message: 1024,
        error_linger: Duration::from_millis(300),
        ..TransportLimits::default()
    };
    let (t, mut rx) = start(&[spec(Transport::Tcp, "127.0.0.1:0")], limits).await;
    let mut client = TcpStream::connect(bound(&t, Transport::Tcp)).await.unwrap();
    client
        .write_all(b"MESSAGE sip:rc SIP/2.0\r\nCall-ID: big\r\nContent-Length: 5000\r\n\r\n")
        .await
        .unwrap();
    let TransportEvent::StreamError { peer, partial, .. } = next_event(&mut rx).await else {
        panic!("expected StreamError")
    };
    assert!(partial.unwrap().starts_with(b"MESSAGE"));
    // Still writable for the driver's 400 while it lingers.
    let bad = sip("SIP/2.0 400 Message Too Large", "");
    t.sender().send(Transmit {
        peer,
        data: Bytes::from(bad.clone()),
    });
    assert_eq!(read_n(&mut client, bad.len()).await, bad);
    assert!(closed_by_server(&mut client).await);
    assert!(matches!(next_event(&mut rx).await, TransportEvent::Closed { peer: p } if p == peer));
}

#[tokio::test]
async fn send_to_closed_connection_fails() {
    let (t, mut rx) = start(
        &[spec(Transport::Tcp, "127.0.0.1:0")],
        TransportLimits::default(),
    )
    .await;
    let mut client = TcpStream::connect(bound(&t, Transport::Tcp)).await.unwrap();
    client
        .write_all(&sip("REGISTER sip:rc SIP/2.0", ""))
        .await
        .unwrap();
    let (peer, _) = next_message(&mut rx).await;
    drop(client);
    assert!(matches!(next_event(&mut rx).await, TransportEvent::Closed { peer: p } if p == peer));
    t.sender().send(Transmit {
        peer,
        data: Bytes::from(sip("SIP/2.0 200 OK", "")),
    });
    match next_event(&mut rx).await {
        TransportEvent::SendFailed { peer: p, .. } => assert_eq!(p, peer),
        other => panic!("expected SendFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn outbound_tcp_connects_on_send_and_is_reused() {
    let (t, mut rx) = start(&[], TransportLimits::default()).await;
    let far = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = Peer {
        transport: Transport::Tcp,
        addr: far.local_addr().unwrap(),
        conn: None,
    };
    let options = sip("OPTIONS sip:far SIP/2.0", "");
    t.sender().send(Transmit {
        peer: target,
        data: Bytes::from(options.clone()),
    });
    let (mut far_conn, _) = timeout(WAIT, far.accept()).await.unwrap().unwrap();
    assert_eq!(read_n(&mut far_conn, options.len()).await, options);

    let ok = sip("SIP/2.0 200 OK", "");
    far_conn.write_all(&ok).await.unwrap();
    let (peer, data) = next_message(&mut rx).await;
    assert_eq!((peer.addr, &data[..]), (target.addr, &ok[..]));
    assert!(peer.conn.is_some());

    // conn = None again: the open connection carries it, no second connect.
    t.sender().send(Transmit {
        peer: target,
        data: Bytes::from(options.clone()),
    });
    assert_eq!(read_n(&mut far_conn, options.len()).await, options);
    assert_eq!(t.shared.registry().len(), 1);
}

#[tokio::test]
async fn outbound_connect_refused_is_send_failed() {
    let (t, mut rx) = start(&[], TransportLimits::default()).await;
    let gone = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let peer = Peer {
        transport: Transport::Tcp,
        addr: gone,
        conn: None,
    };
    t.sender().send(Transmit {
        peer,
        data: Bytes::from_static(b"x"),
    });
    assert!(
        matches!(next_event(&mut rx).await, TransportEvent::SendFailed { peer: p, .. } if p == peer)
    );
    assert_eq!(t.shared.registry().len(), 0);
}

#[tokio::test]
async fn connection_limit_is_enforced() {
    let limits = TransportLimits {
        max_connections: 2,
        ..TransportLimits::default()
    };
    let (t, mut rx) = start(&[spec(Transport::Tcp, "127.0.0.1:0")], limits).await;
    let addr = bound(&t, Transport::Tcp);
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    for c in [&mut first, &mut second] {
        c.write_all(&sip("OPTIONS sip:rc SIP/2.0", ""))
            .await
            .unwrap();
        next_message(&mut rx).await;
    }
    let mut third = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_by_server(&mut third).await,
        "third connection refused"
    );

    drop(first);
    assert!(matches!(
        next_event(&mut rx).await,
        TransportEvent::Closed { .. }
    ));
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    fourth
        .write_all(&sip("OPTIONS sip:rc SIP/2.0", ""))
        .await
        .unwrap();
    let (peer, _) = next_message(&mut rx).await;
    assert_eq!(peer.addr, fourth.local_addr().unwrap());
}

#[tokio::test]
async fn idle_connection_is_closed() {
    // tokio's paused clock needs the `test-util` feature, which the crate
    // does not enable; a short real timeout stands in, awaited on the socket.
    let idle = Duration::from_millis(200);
    let limits = TransportLimits {
        idle_timeout: idle,
        ..TransportLimits::default()
    };
    let (t, mut rx) = start(&[spec(Transport::Tcp, "127.0.0.1:0")], limits).await;
    let mut client = TcpStream::connect(bound(&t, Transport::Tcp)).await.unwrap();
    client.write_all(b"\r\n\r\n").await.unwrap();
    assert_eq!(read_n(&mut client, 2).await, b"\r\n");
    let last_activity = Instant::now();
    assert!(closed_by_server(&mut client).await);
    assert!(last_activity.elapsed() >= idle);
    assert!(matches!(
        next_event(&mut rx).await,
        TransportEvent::Closed { .. }
    ));
}

#[tokio::test]
async fn slowloris_message_is_cut_off() {
    let limits = TransportLimits {
        message_timeout: Duration::from_millis(200),
        ..TransportLimits::default()
    };
    let (t, mut rx) = start(&[spec(Transport::Tcp, "127.0.0.1:0")], limits).await;
    let mut client = TcpStream::connect(bound(&t, Transport::Tcp)).await.unwrap();
    let started = Instant::now();
    client
        .write_all(b"INVITE sip:rc SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n")
        .await
        .unwrap();
    assert!(matches!(
        next_event(&mut rx).await,
        TransportEvent::StreamError { partial: None, .. }
    ));
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(closed_by_server(&mut client).await);
    assert!(matches!(
        next_event(&mut rx).await,
        TransportEvent::Closed { .. }
    ));
}
