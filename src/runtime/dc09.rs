//! The thin tokio layer around the pure DC-09 receiver (`crate::dc09`):
//! TCP listeners (one task per connection, bounded buffer, connection caps
//! in all and per source address, a first-frame and partial-frame deadline
//! and an idle deadline) and UDP sockets (one frame per datagram, bounded
//! concurrency). Each frame is decided by the receiver; a frame to store is
//! handed to the alarm core (`crate::alarm::core`), whose actions
//! [`store_then_ack`] executes: journalled, acknowledged only once
//! durable, listed for the operators when the core says a person must see it.
//!
//! A journal failure sends nothing: not `NAK` (the standard's answer to a
//! time or account problem, which a unit may take as final) and not `DUH`
//! (unable to process: the unit may drop the message). Silence makes the
//! unit retry and then fail over to its backup path, where the alarm can
//! still be received; the message is never acknowledged unstored.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::sip_driver::Control;
use crate::alarm::classify::Classifier;
use crate::alarm::core::{AlarmAction, AlarmCore, StoreRecord};
use crate::clock;
use crate::config::{Dc09Config, Dc09Transport};
use crate::dc09::receiver::{Message, Seen};
use crate::dc09::stream::{self, Item, Reassembler};
use crate::dc09::{record, Dc09Receiver, Decision, Now};
use crate::journal::JournalHandle;
use crate::telemetry::metrics as m;

/// Everything a frame needs, shared by every socket task.
pub struct Dc09Shared {
    /// The pure receiver (decisions are short; never held across an await).
    pub receiver: Mutex<Dc09Receiver>,
    /// The event journal.
    pub journal: JournalHandle,
    /// To the SIP driver: data alarms for the operators.
    pub control: mpsc::Sender<Control>,
    /// Per-tenant classifiers (tenant id → rules with its overrides).
    pub classifiers: HashMap<String, Classifier>,
    /// This node's name (the events' source).
    pub node: Arc<str>,
    /// The alarm core: store, then acknowledge or withhold, list.
    pub core: Mutex<AlarmCore>,
    /// Its store timeout (a journal slower than this: no ACK).
    pub store_timeout: Duration,
}

/// The running listeners.
pub struct Dc09Service {
    tasks: Vec<JoinHandle<()>>,
    /// What was bound (port 0 resolved).
    pub bound: Vec<(Dc09Transport, SocketAddr)>,
}

impl Dc09Service {
    /// Stops accepting and receiving.
    pub fn shutdown(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

/// TCP limits from `[dc09]`.
#[derive(Debug, Clone, Copy)]
struct Limits {
    first_frame: Duration,
    idle: Duration,
    max: usize,
    per_source: usize,
}

/// Opens every `[[dc09.listen]]` socket and serves it.
pub async fn start(config: &Dc09Config, shared: Arc<Dc09Shared>) -> std::io::Result<Dc09Service> {
    let limits = Limits {
        first_frame: config.first_frame(),
        idle: config.idle(),
        max: config.max_connections,
        per_source: config.per_source,
    };
    let (mut tasks, mut bound) = (Vec::new(), Vec::new());
    for listen in &config.listen {
        let (task, addr) = match listen.transport {
            Dc09Transport::Tcp => {
                let l = TcpListener::bind(listen.address).await?;
                let addr = l.local_addr()?;
                (tokio::spawn(accept(l, shared.clone(), limits)), addr)
            }
            Dc09Transport::Udp => {
                let s = Arc::new(UdpSocket::bind(listen.address).await?);
                let addr = s.local_addr()?;
                (tokio::spawn(serve_udp(s, shared.clone())), addr)
            }
        };
        tracing::info!(transport = ?listen.transport, %addr, "DC-09 listening");
        tasks.push(task);
        bound.push((listen.transport, addr));
    }
    Ok(Dc09Service { tasks, bound })
}

/// Open connections, in all and per source address.
#[derive(Default)]
struct Conns {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// Releases a connection's slot when its task ends.
struct Slot(Arc<Mutex<Conns>>, IpAddr);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut c) = self.0.lock() {
            c.total = c.total.saturating_sub(1);
            if let Some(n) = c.by_source.get_mut(&self.1) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    c.by_source.remove(&self.1);
                }
            }
        }
    }
}

fn take_slot(conns: &Arc<Mutex<Conns>>, ip: IpAddr, limits: Limits) -> Option<Slot> {
    let mut c = conns.lock().ok()?;
    let here = c.by_source.get(&ip).copied().unwrap_or(0);
    if c.total >= limits.max || here >= limits.per_source {
        return None;
    }
    c.total += 1;
    c.by_source.insert(ip, here + 1);
    Some(Slot(conns.clone(), ip))
}

async fn accept(listener: TcpListener, shared: Arc<Dc09Shared>, limits: Limits) {
    let conns = Arc::new(Mutex::new(Conns::default()));
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!(%err, "DC-09 accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = take_slot(&conns, peer.ip(), limits) else {
            tracing::warn!(%peer, "DC-09 connection refused: connection limit");
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _slot = slot;
            serve_tcp(socket, peer, &shared, limits).await;
        });
    }
}

/// One connection: frames in order, each answered before the next is read.
async fn serve_tcp(mut socket: TcpStream, peer: SocketAddr, shared: &Dc09Shared, limits: Limits) {
    let opened = Instant::now();
    let mut frames = Reassembler::new(limits.first_frame);
    let mut quiet_until = opened + limits.first_frame;
    let mut buf = vec![0u8; 4096];
    loop {
        let partial = frames.deadline().map(|d| opened + d);
        let deadline = partial.map_or(quiet_until, |p| p.min(quiet_until));
        let n = match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => n,
            Err(_) => {
                tracing::info!(%peer, buffered = frames.buffered(), "DC-09 connection closed: deadline");
                return;
            }
        };
        for item in frames.push(&buf[..n], opened.elapsed()) {
            let Item::Frame(frame) = item else { continue };
            quiet_until = Instant::now() + limits.idle;
            if let Some(reply) = answer(shared, &frame, "tcp").await {
                if socket.write_all(&reply).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// At most this many UDP frames are being stored at once.
const UDP_IN_FLIGHT: usize = 1024;

async fn serve_udp(socket: Arc<UdpSocket>, shared: Arc<Dc09Shared>) {
    let permits = Arc::new(Semaphore::new(UDP_IN_FLIGHT));
    let mut buf = vec![0u8; 8192];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(pair) => pair,
            Err(err) => {
                tracing::debug!(%err, "DC-09 UDP receive error");
                continue;
            }
        };
        for item in stream::datagram(&buf[..n]) {
            let Item::Frame(frame) = item else { continue };
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let (socket, shared) = (socket.clone(), shared.clone());
            tokio::spawn(async move {
                if let Some(reply) = answer(&shared, &frame, "udp").await {
                    let _ = socket.send_to(&reply, peer).await;
                }
                drop(permit);
            });
        }
    }
}

/// The reply to one frame, if any (after storing it when it is a message).
async fn answer(shared: &Dc09Shared, frame: &[u8], transport: &'static str) -> Option<Vec<u8>> {
    let now = Now {
        unix: unix_now(),
        random: rand::random(),
    };
    let decision = match shared.receiver.lock() {
        Ok(rx) => rx.decide(frame, now),
        Err(_) => return None,
    };
    let count = |outcome: &'static str| {
        metrics::counter!(m::DC09_FRAMES, "transport" => transport, "outcome" => outcome)
            .increment(1)
    };
    match decision {
        Decision::Silent(why) => {
            tracing::info!(%why, "DC-09 frame dropped silently");
            count("silent");
            None
        }
        Decision::Refuse { bytes, why } => {
            tracing::info!(%why, "DC-09 frame refused");
            count(if why.is_nak() { "nak" } else { "duh" });
            Some(bytes)
        }
        Decision::Repeat { ack } => {
            count("repeat");
            Some(ack)
        }
        Decision::Store { message, ack, seen } => {
            let acked = store_then_ack(shared, &message, ack, seen, now.unix).await;
            count(if acked.is_some() {
                "stored"
            } else {
                "store_failed"
            });
            acked
        }
    }
}

/// Executes the alarm core's decision for one message: journal it; only
/// once it is durable (the core's `Acknowledge`), remember it (repeats are
/// acknowledged, not stored), list it when the core says, and return the
/// ACK. A withheld message (journal error, timeout, busy) returns `None`:
/// nothing is sent.
async fn store_then_ack(
    shared: &Dc09Shared,
    message: &Message,
    ack: Vec<u8>,
    seen: Seen,
    now_unix: i64,
) -> Option<Vec<u8>> {
    let classifier = shared.classifiers.get(message.tenant.as_str());
    let alarm = record::decoded(message, classifier, rand::random());
    let mut actions = {
        let mut core = lock_core(shared)?;
        // Sweeps the timers of stores that already timed out (their tasks
        // gave up; a late answer acknowledges nothing): keeps them bounded.
        let late = core.handle_timeout(clock::now());
        if !late.is_empty() {
            tracing::warn!(
                count = late.len(),
                "DC-09 stores timed out: not acknowledged"
            );
        }
        core.handle_decoded(clock::now(), alarm)
    };
    let mut acked = None;
    while let Some(action) = actions.pop() {
        match action {
            AlarmAction::Store { id, record } => {
                let ok = append(shared, record).await;
                actions.extend(lock_core(shared)?.handle_stored(clock::now(), id, ok));
            }
            AlarmAction::Acknowledge { .. } => {
                if let Ok(mut rx) = shared.receiver.lock() {
                    rx.stored(seen.clone(), now_unix);
                }
                acked = Some(ack.clone());
            }
            AlarmAction::Withhold { reason, .. } => {
                tracing::error!(?reason, account = %message.account, "DC-09 message not stored: no ACK");
            }
            AlarmAction::List(alarm) => {
                let _ = shared.control.send(Control::DataAlarm(alarm)).await;
            }
        }
    }
    acked
}

fn lock_core(shared: &Dc09Shared) -> Option<std::sync::MutexGuard<'_, AlarmCore>> {
    shared.core.lock().ok()
}

/// Appends the core's record; false on a journal error or when the
/// journal does not answer within the core's store timeout (the core then
/// withholds the message: a late answer acknowledges nothing).
async fn append(shared: &Dc09Shared, record: StoreRecord) -> bool {
    let bytes = record.into_event(&shared.node, clock::wall(), rand::random());
    match tokio::time::timeout(shared.store_timeout, shared.journal.append(bytes)).await {
        Ok(Ok(_)) => true,
        Ok(Err(err)) => {
            tracing::error!(%err, "DC-09 journal append failed");
            false
        }
        Err(_) => false,
    }
}

fn unix_now() -> i64 {
    clock::wall()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
