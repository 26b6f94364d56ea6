//! One stream connection, TCP or TLS (RFC 3261 §18.3 framing, RFC 5626
//! §4.4.1 CRLF keep-alives).
//!
//! Two halves: the reader (this task) frames incoming bytes and emits
//! events; the writer (a spawned task) drains the bounded queue that
//! [`super::TransportSender`] fills, with a write timeout so that a peer who
//! never reads cannot hold a connection forever. The writer holds the
//! connection's [`Slot`] (global permit and per-source count), so both are
//! released only when the socket is really gone.
//!
//! A connection ends on EOF, a read or write error, a timer of
//! [`ConnTimer`] (no complete message soon after the accept, idle, a message
//! that stays incomplete too long), a framing error, or shutdown; each end
//! is counted by reason. After a framing error it lingers briefly with
//! reading stopped, so the driver's 400 can still be written, then closes.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::conn_timer::{ConnTimer, Expiry};
use super::shared::{shutdown_signal, ConnParts, Shared, Slot};
use super::TransportEvent;
use crate::sip::framing::{Frame, StreamFramer};
use crate::sip::types::{Peer, Transmit};

/// Bytes read per call; also the framer's worst-case overshoot.
const READ_CHUNK: usize = 8 * 1024;
/// Queued transmits written before one flush.
const WRITE_BATCH: usize = 64;
/// The keep-alive pong (RFC 5626 §4.4.1).
const PONG: &[u8] = b"\r\n";

/// Why the reader stopped.
enum End {
    Eof,
    Idle,
    FirstMessage,
    SlowMessage,
    Shutdown,
    WriteFailed,
    Framing,
    Io(std::io::Error),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Eof => f.write_str("closed by peer"),
            End::Idle => f.write_str("idle timeout"),
            End::FirstMessage => f.write_str("no SIP message in time after the accept"),
            End::SlowMessage => f.write_str("message incomplete too long"),
            End::Shutdown => f.write_str("shutdown"),
            End::WriteFailed => f.write_str("write failed"),
            End::Framing => f.write_str("framing error"),
            End::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

impl End {
    /// The `reason` label of [`super::CONNECTIONS_CLOSED`].
    fn label(&self) -> &'static str {
        match self {
            End::Eof => "peer_closed",
            End::Idle => "idle_timeout",
            End::FirstMessage => "first_message_timeout",
            End::SlowMessage => "message_timeout",
            End::Shutdown => "shutdown",
            End::WriteFailed => "write_failed",
            End::Framing => "framing_error",
            End::Io(_) => "read_error",
        }
    }
}

/// How a connection came to be, for its timers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin {
    /// Accepted at this time: it owes us a first message.
    Accepted(Instant),
    /// Opened by us.
    Connected,
}

/// Runs a registered connection to its end, then unregisters it and emits
/// [`TransportEvent::Closed`]. `slot` is released once the socket is gone.
pub(crate) async fn run<S>(
    shared: Arc<Shared>,
    stream: S,
    parts: ConnParts,
    local: SocketAddr,
    slot: Slot,
    origin: Origin,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let ConnParts { peer, tx, rx } = parts;
    let (reader, writer) = tokio::io::split(stream);
    let (alive_tx, mut alive) = oneshot::channel::<()>();
    tokio::spawn(write_loop(shared.clone(), writer, rx, peer, slot, alive_tx));
    let conn = Reader {
        shared: &shared,
        peer,
        local,
        tx: &tx,
    };
    let end = conn.read_loop(reader, &mut alive, origin).await;
    tracing::debug!(?peer, %end, "SIP connection closing");
    metrics::counter!(super::CONNECTIONS_CLOSED, "reason" => end.label()).increment(1);
    if matches!(end, End::Framing) {
        linger(&shared, &mut alive).await;
    }
    if let Some(id) = peer.conn {
        shared.registry().remove(id);
    }
    drop(tx); // with the registry entry gone, the writer flushes and closes
    shared.emit(TransportEvent::Closed { peer }).await;
}

struct Reader<'a> {
    shared: &'a Shared,
    peer: Peer,
    local: SocketAddr,
    tx: &'a mpsc::Sender<Transmit>,
}

impl Reader<'_> {
    async fn read_loop<R>(&self, mut r: R, alive: &mut oneshot::Receiver<()>, origin: Origin) -> End
    where
        R: AsyncRead + Unpin,
    {
        let limits = &self.shared.limits;
        let mut framer = StreamFramer::new(limits.framing());
        let mut buf = vec![0u8; READ_CHUNK];
        let now = Instant::now().into_std();
        let mut timer = match origin {
            Origin::Accepted(at) => ConnTimer::inbound(limits, at.into_std(), now),
            Origin::Connected => ConnTimer::outbound(limits, now),
        };
        let deadline = tokio::time::sleep_until(Instant::from_std(timer.deadline()));
        tokio::pin!(deadline);
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            let n = tokio::select! {
                _ = shutdown_signal(&mut shutdown) => return End::Shutdown,
                _ = &mut *alive => return End::WriteFailed,
                _ = &mut deadline => match timer.expired(Instant::now().into_std()) {
                    Some(expiry) => return self.timed_out(expiry).await,
                    None => {
                        deadline.as_mut().reset(Instant::from_std(timer.deadline()));
                        continue;
                    }
                },
                read = r.read(&mut buf) => match read {
                    Ok(0) => return End::Eof,
                    Ok(n) => n,
                    Err(e) => return End::Io(e),
                },
            };
            framer.push(&buf[..n]);
            let Some(messages) = self.deliver(&mut framer).await else {
                return End::Framing;
            };
            let now = Instant::now().into_std();
            timer.received(now, messages, framer.buffered() > 0);
            deadline.as_mut().reset(Instant::from_std(timer.deadline()));
        }
    }

    /// Reports the timer that fired.
    async fn timed_out(&self, expiry: Expiry) -> End {
        match expiry {
            Expiry::Idle => return End::Idle,
            Expiry::FirstMessage => return End::FirstMessage,
            Expiry::SlowMessage => {}
        }
        let limit = self.shared.limits.message_timeout;
        let event = TransportEvent::StreamError {
            peer: self.peer,
            reason: format!("message still incomplete after {limit:?}"),
            partial: None,
        };
        self.shared.emit(event).await;
        End::SlowMessage
    }

    /// Emits every complete frame and counts the SIP messages among them;
    /// `None` on a framing error.
    async fn deliver(&self, framer: &mut StreamFramer) -> Option<usize> {
        let mut messages = 0;
        loop {
            let event = match framer.next_frame() {
                Ok(None) => return Some(messages),
                Ok(Some(Frame::Message(data))) => TransportEvent::Message {
                    peer: self.peer,
                    local: self.local,
                    data,
                },
                Ok(Some(Frame::KeepAlivePing)) => {
                    self.pong();
                    continue;
                }
                Ok(Some(Frame::KeepAlivePong)) => continue,
                Err(e) => {
                    let event = TransportEvent::StreamError {
                        peer: self.peer,
                        reason: e.to_string(),
                        partial: e.partial(),
                    };
                    self.shared.emit(event).await;
                    return None;
                }
            };
            messages += 1;
            self.shared.emit(event).await;
        }
    }

    /// Answers a ping; a full queue already carries traffic, so skip it then.
    fn pong(&self) {
        let pong = Transmit {
            peer: self.peer,
            data: Bytes::from_static(PONG),
        };
        let _ = self.tx.try_send(pong);
    }
}

/// Keeps a failed connection writable for the driver's 400, briefly.
async fn linger(shared: &Shared, alive: &mut oneshot::Receiver<()>) {
    let mut shutdown = shared.shutdown.clone();
    tokio::select! {
        _ = tokio::time::sleep(shared.limits.error_linger) => {}
        _ = alive => {}
        _ = shutdown_signal(&mut shutdown) => {}
    }
}

async fn write_loop<W>(
    shared: Arc<Shared>,
    mut w: W,
    mut rx: mpsc::Receiver<Transmit>,
    peer: Peer,
    _slot: Slot,
    _alive: oneshot::Sender<()>,
) where
    W: AsyncWrite + Unpin,
{
    let limit = shared.limits.write_timeout;
    while let Some(first) = rx.recv().await {
        let reason = match tokio::time::timeout(limit, write_batch(&mut w, first, &mut rx)).await {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => format!("write failed: {e}"),
            Err(_) => format!("write stalled for {limit:?}"),
        };
        // The message in flight and everything queued behind it are lost.
        shared.send_failed(peer, reason.clone());
        rx.close();
        while let Ok(t) = rx.try_recv() {
            shared.send_failed(t.peer, reason.clone());
        }
        return; // dropping `_alive` stops the reader
    }
    let _ = tokio::time::timeout(limit, w.shutdown()).await;
}

async fn write_batch<W>(
    w: &mut W,
    first: Transmit,
    rx: &mut mpsc::Receiver<Transmit>,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    w.write_all(&first.data).await?;
    for _ in 1..WRITE_BATCH {
        let Ok(next) = rx.try_recv() else { break };
        w.write_all(&next.data).await?;
    }
    w.flush().await
}
