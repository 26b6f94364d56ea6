//! State shared by the listener tasks, the connection tasks and every
//! [`super::TransportSender`]: the event channel, the connection registry
//! (RFC 3261 §18 connection reuse: by ConnId and by remote address, as in
//! RFC 5923), the connection limits (a global semaphore and the per-source
//! [`SourceLimiter`]) and the shutdown signal.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::source_limit::{SourceKey, SourceLimiter, Verdict};

use super::udp::UdpOut;

/// Connection permits are handed out and, at shutdown, all taken back at once.
pub(crate) const MAX_PERMITS: usize = if Semaphore::MAX_PERMITS < u32::MAX as usize {
    Semaphore::MAX_PERMITS
} else {
    u32::MAX as usize
};
use super::{TransportEvent, TransportLimits};
use crate::sip::types::{ConnId, Peer, Transmit, Transport};

/// Everything the tasks of one [`super::Transports`] share.
pub(crate) struct Shared {
    pub events: mpsc::Sender<TransportEvent>,
    pub limits: TransportLimits,
    /// One entry per UDP listener; emptied at shutdown so the ports close.
    pub udp: RwLock<Vec<UdpOut>>,
    pub registry: Mutex<Registry>,
    /// One permit per open (or opening) stream connection.
    pub permits: Arc<Semaphore>,
    /// Open inbound stream connections per source.
    pub sources: Arc<Mutex<SourceLimiter>>,
    pub shutdown: watch::Receiver<bool>,
    /// Spawns from [`super::TransportSender::send`], which may run off the runtime.
    pub runtime: tokio::runtime::Handle,
    /// How to open TLS to each TLS next hop of the dialplan.
    pub tls_peers: RwLock<Arc<super::tls_client::TlsPeers>>,
    next_conn: AtomicU64,
}

/// Resolves once shutdown has begun (at once if it already has).
pub(crate) async fn shutdown_signal(shutdown: &mut watch::Receiver<bool>) {
    // An error means the Transports are gone, which is shutdown too.
    let _ = shutdown.wait_for(|down| *down).await;
}

/// The writer side of one stream connection, as the registry keeps it.
pub(crate) struct ConnEntry {
    pub peer: Peer,
    pub tx: mpsc::Sender<Transmit>,
}

/// Open stream connections, by id and by (transport, remote address).
#[derive(Default)]
pub(crate) struct Registry {
    conns: HashMap<ConnId, ConnEntry>,
    by_addr: HashMap<(Transport, SocketAddr), ConnId>,
}

impl Registry {
    /// The connection a transmit should travel on: its own ConnId if still
    /// open on the same transport, else any open connection to its address.
    pub fn find(&self, peer: &Peer) -> Option<&ConnEntry> {
        let by_id = peer
            .conn
            .and_then(|id| self.conns.get(&id))
            .filter(|e| e.peer.transport == peer.transport);
        by_id.or_else(|| {
            let id = self.by_addr.get(&(peer.transport, peer.addr))?;
            self.conns.get(id)
        })
    }

    /// Forgets a connection; later transmits to it will connect anew.
    pub fn remove(&mut self, id: ConnId) {
        if let Some(entry) = self.conns.remove(&id) {
            let key = (entry.peer.transport, entry.peer.addr);
            if self.by_addr.get(&key) == Some(&id) {
                self.by_addr.remove(&key);
            }
        }
    }

    /// Number of registered connections.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.conns.len()
    }
}

/// A freshly registered connection: its identity and both ends of its writer queue.
pub(crate) struct ConnParts {
    pub peer: Peer,
    pub tx: mpsc::Sender<Transmit>,
    pub rx: mpsc::Receiver<Transmit>,
}

impl Shared {
    pub fn new(
        events: mpsc::Sender<TransportEvent>,
        limits: TransportLimits,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            events,
            permits: Arc::new(Semaphore::new(limits.max_connections.min(MAX_PERMITS))),
            sources: Arc::new(Mutex::new(SourceLimiter::new(limits.sources.clone()))),
            limits,
            udp: RwLock::new(Vec::new()),
            registry: Mutex::new(Registry::default()),
            shutdown,
            runtime: tokio::runtime::Handle::current(),
            tls_peers: RwLock::new(Arc::default()),
            next_conn: AtomicU64::new(1),
        }
    }

    /// How to open TLS to `addr`, if a TLS trunk leads there.
    pub fn tls_peer(&self, addr: SocketAddr) -> Option<super::tls_client::TlsPeer> {
        let peers = self.tls_peers.read().unwrap_or_else(|p| p.into_inner());
        peers.get(&addr).cloned()
    }

    /// The registry, even if a panicking thread poisoned the lock.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Allocates a ConnId and registers the connection's writer queue.
    pub fn register(&self, transport: Transport, addr: SocketAddr) -> ConnParts {
        self.register_locked(&mut self.registry(), transport, addr)
    }

    /// [`Self::register`] with the registry lock already held.
    pub fn register_locked(
        &self,
        reg: &mut Registry,
        transport: Transport,
        addr: SocketAddr,
    ) -> ConnParts {
        let id = ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed));
        let peer = Peer {
            transport,
            addr,
            conn: Some(id),
        };
        let (tx, rx) = mpsc::channel(self.limits.writer_queue.max(1));
        let entry = ConnEntry {
            peer,
            tx: tx.clone(),
        };
        reg.conns.insert(id, entry);
        reg.by_addr.insert((transport, addr), id);
        ConnParts { peer, tx, rx }
    }

    /// Takes the slot for a connection accepted from `from`: its source's
    /// count first, so a source over its limit never touches the global
    /// budget, then a global permit.
    pub fn admit_inbound(&self, from: SocketAddr, now: Instant) -> Result<Slot, Refusal> {
        let verdict = lock(&self.sources).admit(from.ip(), now);
        let key = match verdict {
            Verdict::Admitted(key) => key,
            Verdict::Refused { key, limit, log } => {
                return Err(Refusal::PerSource { key, limit, log })
            }
        };
        let source = SourceSlot {
            limiter: self.sources.clone(),
            key,
        };
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok(Slot::new(permit, Some(source))),
            Err(_) => Err(Refusal::Global), // `source` dropped: count released
        }
    }

    /// Takes a global permit for a connection we open.
    pub fn admit_outbound(&self) -> Option<Slot> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        Some(Slot::new(permit, None))
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Delivers an event, waiting for room, unless shutdown starts first.
    pub async fn emit(&self, event: TransportEvent) {
        let mut shutdown = self.shutdown.clone();
        if *shutdown.borrow_and_update() {
            let _ = self.events.try_send(event);
            return;
        }
        tokio::select! {
            _ = self.events.send(event) => {}
            _ = shutdown.changed() => {}
        }
    }

    /// Reports an undeliverable transmit without blocking; if the event
    /// channel is full the report is logged and dropped.
    pub fn send_failed(&self, peer: Peer, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::debug!(?peer, %reason, "SIP transmit failed");
        let event = TransportEvent::SendFailed { peer, reason };
        if let Err(err) = self.events.try_send(event) {
            tracing::warn!(%err, "transport event channel full: SendFailed dropped");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why an inbound connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its source holds `limit` connections already; `log` as in
    /// [`Verdict::Refused`].
    PerSource {
        key: SourceKey,
        limit: usize,
        log: Option<u64>,
    },
    /// Every global permit is taken.
    Global,
}

impl Refusal {
    /// The `reason` label of [`super::CONNECTIONS_REFUSED`].
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::PerSource { .. } => "per_source_limit",
            Refusal::Global => "global_limit",
        }
    }
}

/// A connection's share of the limits: a global permit and, when it was
/// accepted, its source's count. Both are given back when it is dropped.
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    _source: Option<SourceSlot>,
}

impl Slot {
    fn new(permit: OwnedSemaphorePermit, source: Option<SourceSlot>) -> Self {
        Self {
            _permit: permit,
            _source: source,
        }
    }
}

/// One count of a source in the [`SourceLimiter`], released on drop.
struct SourceSlot {
    limiter: Arc<Mutex<SourceLimiter>>,
    key: SourceKey,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        lock(&self.limiter).release(self.key);
    }
}
