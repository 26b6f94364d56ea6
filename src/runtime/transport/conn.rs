//! One stream connection, TCP or TLS (RFC 3261 §18.3 framing, RFC 5626
//! §4.4.1 CRLF keep-alives).
//!
//! Two halves: the reader (this task) frames incoming bytes and emits
//! events; the writer (a spawned task) drains the bounded queue that
//! [`super::TransportSender`] fills, with a write timeout so that a peer who
//! never reads cannot hold a connection forever. The writer holds the
//! connection-limit permit, so the permit is released only when the socket
//! is really gone.
//!
//! A connection ends on EOF, a read or write error, the idle timeout (any
//! received byte, keep-alives included, counts as activity), a message that
//! stays incomplete too long (slowloris), a framing error, or shutdown. After a framing error it lingers briefly with reading
//! stopped, so the driver's 400 can still be written, then closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio::time::Instant;

use super::shared::{shutdown_signal, ConnParts, Shared};
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
            End::SlowMessage => f.write_str("message incomplete too long"),
            End::Shutdown => f.write_str("shutdown"),
            End::WriteFailed => f.write_str("write failed"),
            End::Framing => f.write_str("framing error"),
            End::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

/// Runs a registered connection to its end, then unregisters it and emits
/// [`TransportEvent::Closed`].
pub(crate) async fn run<S>(
    shared: Arc<Shared>,
    stream: S,
    parts: ConnParts,
    local: SocketAddr,
    permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let ConnParts { peer, tx, rx } = parts;
    let (reader, writer) = tokio::io::split(stream);
    let (alive_tx, mut alive) = oneshot::channel::<()>();
    tokio::spawn(write_loop(
        shared.clone(),
        writer,
        rx,
        peer,
        permit,
        alive_tx,
    ));
    let conn = Reader {
        shared: &shared,
        peer,
        local,
        tx: &tx,
    };
    let end = conn.read_loop(reader, &mut alive).await;
    tracing::debug!(?peer, %end, "SIP connection closing");
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
    async fn read_loop<R>(&self, mut r: R, alive: &mut oneshot::Receiver<()>) -> End
    where
        R: AsyncRead + Unpin,
    {
        let limits = &self.shared.limits;
        let mut framer = StreamFramer::new(limits.framing());
        let mut buf = vec![0u8; READ_CHUNK];
        let mut timer = Timer::new(limits);
        let deadline = tokio::time::sleep_until(timer.deadline());
        tokio::pin!(deadline);
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            let n = tokio::select! {
                _ = shutdown_signal(&mut shutdown) => return End::Shutdown,
                _ = &mut *alive => return End::WriteFailed,
                _ = &mut deadline => return self.timed_out(&timer).await,
                read = r.read(&mut buf) => match read {
                    Ok(0) => return End::Eof,
                    Ok(n) => n,
                    Err(e) => return End::Io(e),
                },
            };
            framer.push(&buf[..n]);
            if !self.deliver(&mut framer).await {
                return End::Framing;
            }
            timer.activity(framer.buffered() > 0);
            deadline.as_mut().reset(timer.deadline());
        }
    }

    /// Reports which of the two timers fired.
    async fn timed_out(&self, timer: &Timer) -> End {
        if !timer.message_late() {
            return End::Idle;
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

    /// Emits every complete frame; false on a framing error.
    async fn deliver(&self, framer: &mut StreamFramer) -> bool {
        loop {
            let event = match framer.next_frame() {
                Ok(None) => return true,
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
                    return false;
                }
            };
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

/// The idle timer and the incomplete-message timer, as one deadline.
struct Timer {
    idle: Duration,
    message: Duration,
    last_activity: Instant,
    /// When the bytes now buffered began to arrive, if any are.
    partial_since: Option<Instant>,
}

impl Timer {
    fn new(limits: &super::TransportLimits) -> Self {
        Self {
            idle: limits.idle_timeout,
            message: limits.message_timeout,
            last_activity: Instant::now(),
            partial_since: None,
        }
    }

    /// Bytes arrived; `partial` if part of a message is still buffered.
    fn activity(&mut self, partial: bool) {
        let now = Instant::now();
        self.last_activity = now;
        self.partial_since = match (partial, self.partial_since) {
            (false, _) => None,
            (true, since) => since.or(Some(now)),
        };
    }

    fn message_deadline(&self) -> Option<Instant> {
        self.partial_since.map(|since| since + self.message)
    }

    fn deadline(&self) -> Instant {
        let idle = self.last_activity + self.idle;
        self.message_deadline().map_or(idle, |m| m.min(idle))
    }

    fn message_late(&self) -> bool {
        self.message_deadline().is_some_and(|m| m <= Instant::now())
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
    _permit: OwnedSemaphorePermit,
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
