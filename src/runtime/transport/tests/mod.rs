//! Loopback tests of the transports: real sockets on 127.0.0.1 and [::1],
//! port 0, every wait bounded by a timeout on a channel or a read.
//! This file holds the shared helpers; the tests are in the submodules.

mod lifecycle;
mod limits;
mod stream;
mod tls;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::*;
use crate::sip::types::{Peer, Transmit, Transport};

pub(super) const WAIT: Duration = Duration::from_secs(5);

/// A fresh directory under the system temp dir, unique per call.
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("alarmgate-{tag}-{}-{n}", std::process::id()))
}

pub(super) fn spec(transport: Transport, addr: &str) -> ListenerSpec {
    ListenerSpec {
        transport,
        addr: addr.parse().unwrap(),
        tls: None,
    }
}

pub(super) async fn start(
    specs: &[ListenerSpec],
    limits: TransportLimits,
) -> (Transports, mpsc::Receiver<TransportEvent>) {
    let (tx, rx) = mpsc::channel(64);
    (Transports::start(specs, tx, limits).await.unwrap(), rx)
}

pub(super) fn bound(t: &Transports, transport: Transport) -> SocketAddr {
    t.local_addrs()
        .into_iter()
        .find(|(tr, _)| *tr == transport)
        .unwrap()
        .1
}

pub(super) async fn next_event(rx: &mut mpsc::Receiver<TransportEvent>) -> TransportEvent {
    timeout(WAIT, rx.recv())
        .await
        .expect("event in time")
        .expect("channel open")
}

/// Waits for a `Message` event; returns its peer and bytes.
pub(super) async fn next_message(rx: &mut mpsc::Receiver<TransportEvent>) -> (Peer, Bytes) {
    match next_event(rx).await {
        TransportEvent::Message { peer, data, .. } => (peer, data),
        other => panic!("expected a message, got {other:?}"),
    }
}

pub(super) fn sip(first_line: &str, body: &str) -> Vec<u8> {
    let len = body.len();
    format!(
        "{first_line}\r\nCall-ID: t@h\r\nCSeq: 1 OPTIONS\r\nContent-Length: {len}\r\n\r\n{body}"
    )
    .into_bytes()
}

pub(super) async fn read_n<R: AsyncRead + Unpin>(r: &mut R, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    timeout(WAIT, r.read_exact(&mut buf))
        .await
        .expect("read in time")
        .unwrap();
    buf
}

/// True once the server has closed (EOF or reset), within the wait.
pub(super) async fn closed_by_server<R: AsyncRead + Unpin>(r: &mut R) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match timeout(WAIT, r.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}
