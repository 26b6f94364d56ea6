//! One SIP-over-WebSocket connection (RFC 7118), `ws` or `wss`: the HTTP
//! upgrade, then one SIP message per frame both ways.
//!
//! The accept loop of `tcp.rs` has already taken the connection's slot
//! (per-source count and global permit) and, for `wss`, run the TLS
//! handshake; the upgrade must then finish, and the first SIP message
//! arrive, within the first-message timeout of the accept (a socket that
//! never finishes its upgrade is closed then). The codec is
//! tokio-tungstenite's; the rules (subprotocol, frames, pings) are the pure
//! [`super::ws_rules`].
//!
//! One task reads frames, writes queued transmits and pings; a write that
//! stalls beyond the write timeout ends the connection. A frame above the
//! largest SIP message is refused with close code 1009. When the
//! connection ends it leaves the registry and [`TransportEvent::Closed`]
//! tells the driver, which removes the bindings over it and fails what was
//! in flight (the browser cannot be reached any other way).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::conn_timer::{ConnTimer, Expiry};
use super::shared::{shutdown_signal, Shared, Slot};
use super::ws_rules::{self, FramePayload, PingAction, PingTimer};
use super::TransportEvent;
use crate::sip::types::{Peer, Transmit, Transport};

/// Queued transmits written before one flush.
const WRITE_BATCH: usize = 64;

/// An accepted connection, as `tcp.rs` hands it over.
pub(crate) struct Accepted {
    pub from: SocketAddr,
    pub local: SocketAddr,
    pub at: Instant,
    pub slot: Slot,
}

/// Why a WebSocket connection ended.
#[derive(Debug)]
enum End {
    Eof,
    Idle,
    FirstMessage,
    NoPong,
    Shutdown,
    WriteFailed(String),
    TooLarge,
    NotSip,
    Protocol(WsError),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::WriteFailed(reason) => f.write_str(reason),
            End::Protocol(e) => write!(f, "WebSocket protocol error: {e}"),
            other => f.write_str(other.label()),
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
            End::NoPong => "ping_timeout",
            End::Shutdown => "shutdown",
            End::WriteFailed(_) => "write_failed",
            End::TooLarge => "message_too_large",
            End::NotSip => "not_sip",
            End::Protocol(_) => "websocket_error",
        }
    }
}

/// Upgrades an accepted (for wss, decrypted) stream and runs it to its end.
pub(crate) async fn serve<S>(shared: Arc<Shared>, stream: S, transport: Transport, a: Accepted)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let by = a.at + shared.limits.first_message_timeout;
    let config = WebSocketConfig::default()
        .max_message_size(Some(shared.limits.max_message))
        .max_frame_size(Some(shared.limits.max_message));
    let upgrade = tokio_tungstenite::accept_hdr_async_with_config(stream, answer, Some(config));
    let mut shutdown = shared.shutdown.clone();
    let result = tokio::select! {
        r = tokio::time::timeout_at(by, upgrade) => r,
        _ = shutdown_signal(&mut shutdown) => return,
    };
    let ws = match result {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return closed_early("upgrade_failed", a.from, &e.to_string()),
        Err(_) => {
            let reason = "WebSocket upgrade not finished within first_message_s";
            return closed_early("first_message_timeout", a.from, reason);
        }
    };
    run(shared, ws, transport, a).await;
}

/// The upgrade's answer: `sip` chosen, or 400 with the reason.
#[allow(clippy::result_large_err)] // the shape tungstenite's callback requires
fn answer(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offered = req
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok());
    match ws_rules::check_subprotocols(offered) {
        Ok(()) => {
            let sip = HeaderValue::from_static(ws_rules::SUBPROTOCOL);
            resp.headers_mut().insert("sec-websocket-protocol", sip);
            Ok(resp)
        }
        Err(refusal) => {
            let mut err = ErrorResponse::new(Some(format!("{refusal}\n")));
            *err.status_mut() = StatusCode::BAD_REQUEST;
            Err(err)
        }
    }
}

fn closed_early(label: &'static str, from: SocketAddr, reason: &str) {
    metrics::counter!(super::CONNECTIONS_CLOSED, "reason" => label).increment(1);
    tracing::debug!(%from, %reason, "WebSocket connection closed before its upgrade");
}

async fn run<S>(shared: Arc<Shared>, ws: WebSocketStream<S>, transport: Transport, a: Accepted)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let parts = shared.register(transport, a.from);
    let peer = parts.peer;
    let now = Instant::now().into_std();
    let mut conn = Flow {
        shared: &shared,
        peer,
        local: a.local,
        ws,
        timer: ConnTimer::inbound(&shared.limits, a.at.into_std(), now),
        ping: PingTimer::new(shared.limits.ws_ping_interval, now),
    };
    let mut rx = parts.rx;
    let end = conn.serve(&mut rx).await;
    conn.finish(&end).await;
    tracing::debug!(?peer, %end, "WebSocket connection closing");
    metrics::counter!(super::CONNECTIONS_CLOSED, "reason" => end.label()).increment(1);
    if let Some(id) = peer.conn {
        shared.registry().remove(id);
    }
    fail_queued(&shared, &mut rx);
    drop(a.slot);
    shared.emit(TransportEvent::Closed { peer }).await;
}

/// Reports transmits still queued for a connection that is gone.
fn fail_queued(shared: &Shared, rx: &mut mpsc::Receiver<Transmit>) {
    rx.close();
    while let Ok(t) = rx.try_recv() {
        shared.send_failed(t.peer, "WebSocket connection closed");
    }
}

struct Flow<'a, S> {
    shared: &'a Shared,
    peer: Peer,
    local: SocketAddr,
    ws: WebSocketStream<S>,
    timer: ConnTimer,
    ping: PingTimer,
}

impl<S> Flow<'_, S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    async fn serve(&mut self, rx: &mut mpsc::Receiver<Transmit>) -> End {
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            let at = self.timer.deadline().min(self.ping.deadline());
            let step = tokio::select! {
                _ = shutdown_signal(&mut shutdown) => Some(End::Shutdown),
                _ = tokio::time::sleep_until(Instant::from_std(at)) => self.on_timer().await,
                frame = self.ws.next() => self.on_frame(frame).await,
                Some(first) = rx.recv() => self.write(first, rx).await,
            };
            if let Some(end) = step {
                return end;
            }
        }
    }

    async fn on_timer(&mut self) -> Option<End> {
        let now = Instant::now().into_std();
        match self.timer.expired(now) {
            Some(Expiry::FirstMessage) => return Some(End::FirstMessage),
            Some(Expiry::Idle) => return Some(End::Idle),
            Some(Expiry::SlowMessage) | None => {}
        }
        match self.ping.on_deadline(now) {
            PingAction::Wait => None,
            PingAction::Dead => Some(End::NoPong),
            PingAction::Ping => self.send(Message::Ping(Bytes::new())).await.err(),
        }
    }

    async fn on_frame(&mut self, frame: Option<Result<Message, WsError>>) -> Option<End> {
        let now = Instant::now().into_std();
        let (payload, binary) = match frame? {
            Err(WsError::Capacity(_)) => return Some(End::TooLarge),
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return Some(End::Eof),
            Err(e) => return Some(End::Protocol(e)),
            Ok(Message::Close(_)) => return Some(End::Eof),
            Ok(Message::Text(text)) => (Bytes::from(text), false),
            Ok(Message::Binary(data)) => (data, true),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {
                self.heard(now, 0);
                return None;
            }
        };
        match ws_rules::classify(&payload, binary) {
            FramePayload::NotSip => return Some(End::NotSip),
            FramePayload::KeepAlive => self.heard(now, 0),
            FramePayload::Message(_) => {
                self.heard(now, 1);
                let event = TransportEvent::Message {
                    peer: self.peer,
                    local: self.local,
                    data: payload,
                };
                self.shared.emit(event).await;
            }
        }
        None
    }

    fn heard(&mut self, now: std::time::Instant, messages: usize) {
        self.timer.received(now, messages, false);
        self.ping.heard(now);
    }

    /// Writes `first` and what else is queued, then flushes.
    async fn write(&mut self, first: Transmit, rx: &mut mpsc::Receiver<Transmit>) -> Option<End> {
        let limit = self.shared.limits.write_timeout;
        let batch = async {
            self.ws.feed(frame_of(first.data)).await?;
            for _ in 1..WRITE_BATCH {
                let Ok(next) = rx.try_recv() else { break };
                self.ws.feed(frame_of(next.data)).await?;
            }
            self.ws.flush().await
        };
        let reason = match tokio::time::timeout(limit, batch).await {
            Ok(Ok(())) => return None,
            Ok(Err(e)) => format!("write failed: {e}"),
            Err(_) => format!("write stalled for {limit:?}"),
        };
        self.shared.send_failed(first.peer, reason.clone());
        Some(End::WriteFailed(reason))
    }

    async fn send(&mut self, message: Message) -> Result<(), End> {
        let limit = self.shared.limits.write_timeout;
        match tokio::time::timeout(limit, self.ws.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(End::WriteFailed(e.to_string())),
            Err(_) => Err(End::WriteFailed(format!("write stalled for {limit:?}"))),
        }
    }

    /// Closes with the code that says why, when the socket still takes it.
    async fn finish(&mut self, end: &End) {
        let (code, reason) = match end {
            End::TooLarge => (CloseCode::Size, "SIP message too large"),
            End::NotSip => (
                CloseCode::Unsupported,
                "binary frame is not a UTF-8 SIP message",
            ),
            End::Shutdown => (CloseCode::Away, "node shutting down"),
            End::Idle | End::FirstMessage | End::NoPong => (CloseCode::Policy, "timeout"),
            End::Eof | End::WriteFailed(_) | End::Protocol(_) => return,
        };
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let limit = self.shared.limits.error_linger;
        let _ = tokio::time::timeout(limit, self.ws.close(Some(frame))).await;
    }
}

/// A SIP message as a frame: text (all SIP we send is UTF-8), else binary.
fn frame_of(data: Bytes) -> Message {
    match Utf8Bytes::try_from(data.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(data),
    }
}
