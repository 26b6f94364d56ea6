//! The thin tokio layer around the pure DC-09 receiver (`crate::dc09`):
//! TCP listeners (one task per connection, bounded buffer, connection caps
//! in all and per source address, a first-frame and partial-frame deadline
//! and an idle deadline) and UDP sockets (one frame per datagram, bounded
//! concurrency). Each frame is decided by the receiver; a frame to store is
//! journalled and acknowledged only once durable ([`store_then_ack`]); an
//! alarm the tenant's classifier sends to a person is listed for the
//! operators as a data alarm.
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

use super::alarm_leg::call_class;
use super::sip_driver::Control;
use crate::alarm::classify::{AlarmClass, Classifier};
use crate::alarm::report::{DataAlarm, Protocol};
use crate::clock;
use crate::config::{Dc09Config, Dc09Transport};
use crate::dc09::receiver::{Message, Payload, Seen};
use crate::dc09::stream::{self, Item, Reassembler};
use crate::dc09::{record, Dc09Receiver, Decision, Now};
use crate::events;
use crate::journal::JournalHandle;
use crate::labels::{CallLabels, Caller, TenantId};
use crate::sip::types::CallId;
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

/// The store-then-ACK rule, in one place: journal the message; only once
/// it is durable, remember it (repeats are acknowledged, not stored), list
/// it for the operators when a person must see it, and return the ACK.
/// A journal error returns `None`: nothing is sent.
async fn store_then_ack(
    shared: &Dc09Shared,
    message: &Message,
    ack: Vec<u8>,
    seen: Seen,
    now_unix: i64,
) -> Option<Vec<u8>> {
    let (record, alarm) = journal_record(shared, message);
    if let Err(err) = shared.journal.append(record).await {
        tracing::error!(%err, account = %message.account, "DC-09 journal append failed: no ACK");
        return None;
    }
    if let Ok(mut rx) = shared.receiver.lock() {
        rx.stored(seen, now_unix);
    }
    if let Some(alarm) = alarm {
        let _ = shared
            .control
            .send(Control::DataAlarm(Box::new(alarm)))
            .await;
    }
    Some(ack)
}

/// The journal bytes, and the data alarm when the classifier sends it to a person.
fn journal_record(shared: &Dc09Shared, message: &Message) -> (Vec<u8>, Option<DataAlarm>) {
    let (time, random) = (clock::wall(), rand::random::<u128>());
    let Payload::Event(event) = &message.payload else {
        let subject = format!("dc09-{}", message.account);
        let data = record::data(message, AlarmClass::Test);
        let bytes = events::record(
            &shared.node,
            &subject,
            events::UNIT_HEARTBEAT,
            time,
            random,
            data,
        );
        return (bytes, None);
    };
    let classifier = shared.classifiers.get(message.tenant.as_str());
    let class = classifier.map_or(AlarmClass::Voice, |c| record::classify(event, c));
    let id = record::public_id(message, rand::random());
    let data = record::data(message, class);
    let bytes = events::data_alarm_received(&shared.node, &id, time, random, data);
    let alarm = (class == AlarmClass::Voice).then(|| {
        let code = event.contact_id.as_ref().map(|(_, c)| c.clone());
        let routing = code
            .as_ref()
            .map_or(crate::routing::CallClass::Voice, |c| call_class(class, c));
        DataAlarm {
            labels: CallLabels::new(
                CallId::new(id.clone()),
                TenantId::from(message.tenant.as_str()),
                Caller::new(message.account.clone()),
            ),
            protocol: Protocol::Dc09,
            account: message.account.clone(),
            class: routing,
            event_code: code,
            fields: record::fields(event, class),
            recall: None,
        }
    });
    (bytes, alarm)
}

fn unix_now() -> i64 {
    clock::wall()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
