//! UDP round trips (IPv4, IPv6, dual-stack) and shutdown.

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::timeout;

use super::*;

async fn udp_round_trip(listen: &str) {
    let (t, mut rx) = start(&[spec(Transport::Udp, listen)], TransportLimits::default()).await;
    let server = bound(&t, Transport::Udp);
    let client = UdpSocket::bind(SocketAddr::new(server.ip(), 0))
        .await
        .unwrap();
    client.send_to(b"\r\n\r\n", server).await.unwrap(); // keep-alive: dropped
    let request = sip("OPTIONS sip:rc SIP/2.0", "");
    client.send_to(&request, server).await.unwrap();
    let (peer, data) = next_message(&mut rx).await;
    assert_eq!(peer, Peer::udp(client.local_addr().unwrap()));
    assert_eq!(&data[..], &request[..]);

    let response = Bytes::from(sip("SIP/2.0 200 OK", ""));
    t.sender().send(Transmit {
        peer,
        data: response.clone(),
    });
    let mut buf = [0u8; 2048];
    let (n, from) = timeout(WAIT, client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&buf[..n], from), (&response[..], server));
    t.shutdown().await;
}

#[tokio::test]
async fn udp_round_trip_v4() {
    udp_round_trip("127.0.0.1:0").await;
}

#[tokio::test]
async fn udp_round_trip_v6() {
    udp_round_trip("[::1]:0").await;
}

#[tokio::test]
async fn udp_send_without_listener_of_that_family_fails() {
    let (t, mut rx) = start(
        &[spec(Transport::Udp, "127.0.0.1:0")],
        TransportLimits::default(),
    )
    .await;
    let peer = Peer::udp("[::1]:5060".parse().unwrap());
    t.sender().send(Transmit {
        peer,
        data: Bytes::from_static(b"x"),
    });
    assert!(matches!(
        next_event(&mut rx).await,
        TransportEvent::SendFailed { .. }
    ));
}

#[tokio::test]
async fn shutdown_closes_connections_and_ports() {
    let specs = [
        spec(Transport::Tcp, "127.0.0.1:0"),
        spec(Transport::Udp, "127.0.0.1:0"),
    ];
    let (t, mut rx) = start(&specs, TransportLimits::default()).await;
    let (tcp, udp) = (bound(&t, Transport::Tcp), bound(&t, Transport::Udp));
    let mut client = TcpStream::connect(tcp).await.unwrap();
    client
        .write_all(&sip("OPTIONS sip:rc SIP/2.0", ""))
        .await
        .unwrap();
    let (peer, _) = next_message(&mut rx).await;
    let sender = t.sender();
    timeout(WAIT, t.shutdown()).await.unwrap();
    assert!(closed_by_server(&mut client).await);
    assert!(matches!(
        next_event(&mut rx).await,
        TransportEvent::Closed { .. }
    ));
    assert!(TcpListener::bind(tcp).await.is_ok(), "TCP port released");
    assert!(UdpSocket::bind(udp).await.is_ok(), "UDP port released");
    sender.send(Transmit {
        peer,
        data: Bytes::from_static(b"x"),
    });
    assert!(matches!(
        next_event(&mut rx).await,
        TransportEvent::SendFailed { .. }
    ));
}

#[tokio::test]
async fn ipv4_and_dual_stack_ipv6_listeners_coexist() {
    // Both wildcards on one port, as a config may list them. Whether [::] is
    // dual-stack depends on the OS; either way start() must succeed.
    let probe = UdpSocket::bind("[::]:0").await.unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let specs = [
        spec(Transport::Udp, &format!("0.0.0.0:{port}")),
        spec(Transport::Udp, &format!("[::]:{port}")),
    ];
    let (t, mut rx) = start(&specs, TransportLimits::default()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(&sip("OPTIONS sip:rc SIP/2.0", ""), ("127.0.0.1", port))
        .await
        .unwrap();
    let (peer, _) = next_message(&mut rx).await;
    assert_eq!(
        peer.addr,
        client.local_addr().unwrap(),
        "IPv4-mapped address unmapped"
    );
    t.sender().send(Transmit {
        peer,
        data: Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"),
    });
    let mut buf = [0u8; 64];
    let (n, _) = timeout(WAIT, client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"SIP/2.0 200 OK\r\n\r\n");
}
