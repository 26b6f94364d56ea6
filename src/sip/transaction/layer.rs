//! The public methods of [`TransactionLayer`] and the machinery every
//! transaction kind shares: insertion, timers, sending, termination.

use super::*;
use crate::sip::message::{rsip::Method, serialize, stamp_received};

// === impl TransactionLayer ===

impl TransactionLayer {
    /// A layer with the given timer values.
    pub fn new(config: TimerConfig) -> Self {
        Self::with_capacity(config, 0)
    }

    /// A layer whose tables hold `capacity` transactions before they first
    /// grow. Growing rehashes every live transaction at once: at 64k of
    /// them, a stall of tens of milliseconds (more on a busy machine) that
    /// a node just started under load pays within its first seconds. The
    /// tables' memory is reserved, not touched, until transactions use it.
    pub fn with_capacity(config: TimerConfig, capacity: usize) -> Self {
        Self {
            config,
            next_id: 0,
            txs: HashMap::with_capacity(capacity),
            by_key: HashMap::with_capacity(capacity),
            by_dialog: HashMap::with_capacity(capacity / 2),
            by_peer: HashMap::new(),
            timers: TimerQueue::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counts: TxCounts::default(),
        }
    }

    /// A request from `peer` (already validated). New requests become
    /// [`TxEvent::Request`]; retransmissions get the last response again;
    /// ACKs and CANCELs are matched per §17.2.3 and §9.2; a merged request
    /// (§8.2.2.2) is answered 482. The top Via is stamped (§18.2.1, RFC 3581).
    pub fn handle_request(&mut self, now: Instant, peer: Peer, mut request: Request) {
        stamp_received(&mut request, peer.addr);
        let Ok(key) = key::server_key(&request) else {
            return;
        };
        if let Some(&id) = self.by_key.get(&key) {
            if request.method == Method::Ack {
                self.on_ack_for_tx(now, id, peer, request);
            } else {
                self.on_retransmission(id);
            }
        } else {
            match request.method {
                Method::Ack => self.on_unmatched_ack(peer, request),
                Method::Cancel => self.on_cancel(now, peer, request, key),
                _ => self.on_new_request(now, peer, request, key),
            }
        }
        self.prune();
    }

    /// A response from the network, matched to a client transaction by top
    /// Via branch and CSeq method (§17.1.3); unmatched ones are dropped and counted.
    pub fn handle_response(&mut self, now: Instant, _peer: Peer, response: Response) {
        let id = key::client_key(&response)
            .ok()
            .and_then(|k| self.by_key.get(&k).copied());
        let Some(id) = id else {
            self.counts.unmatched_responses += 1;
            return;
        };
        if self.txs.get(&id).is_some_and(|tx| tx.key.is_invite()) {
            self.client_invite_response(now, id, response);
        } else {
            self.client_non_invite_response(now, id, response);
        }
        self.prune();
    }

    /// The TU's response on a server transaction. A missing To tag is filled
    /// with the one this transaction already used, if any.
    pub fn respond(
        &mut self,
        now: Instant,
        key: &TxKey,
        response: Response,
    ) -> Result<(), TxError> {
        let id = self.id_of(key)?;
        if key.role != Role::Server {
            return Err(self.invalid(id, "respond on a client transaction"));
        }
        let result = if key.is_invite() {
            self.server_invite_respond(now, id, response)
        } else {
            self.server_non_invite_respond(now, id, response)
        };
        self.prune();
        result
    }

    /// Starts a client transaction for `request` (its top Via must carry a
    /// magic-cookie branch). An ACK is not a transaction: use [`Self::send_stateless`].
    pub fn send_request(
        &mut self,
        now: Instant,
        peer: Peer,
        request: Request,
    ) -> Result<TxKey, TxError> {
        let branch = message::top_via(&request)?.branch;
        let branch = branch.filter(|b| b.as_str().starts_with(MAGIC_COOKIE));
        let branch = branch.ok_or(TxError::InvalidRequest {
            reason: "no z9hG4bK branch",
        })?;
        if request.method == Method::Ack {
            return Err(TxError::InvalidRequest {
                reason: "ACK is sent statelessly",
            });
        }
        let key = TxKey {
            branch,
            method: request.method,
            role: Role::Client,
        };
        if self.by_key.contains_key(&key) {
            return Err(TxError::Duplicate { key });
        }
        if key.is_invite() {
            self.start_client_invite(now, peer, key.clone(), request);
        } else {
            self.start_client_non_invite(now, peer, key.clone(), request);
        }
        Ok(key)
    }

    /// Sends a message outside any transaction (the TU's ACK for a 2xx, a stateless error response).
    pub fn send_stateless(&mut self, peer: Peer, msg: SipMessage) {
        self.transmits.push_back(Transmit {
            peer,
            data: serialize(&msg),
        });
    }

    /// The driver could not send to or connect to `peer`: every transaction
    /// towards it reports [`TxEvent::TransportError`] and ends.
    pub fn transport_error(&mut self, _now: Instant, peer: Peer) {
        for id in self.by_peer.remove(&peer).unwrap_or_default() {
            if let Some(tx) = self.txs.get(&id) {
                self.events.push_back(TxEvent::TransportError {
                    key: tx.key.clone(),
                });
            }
            self.terminate(id);
        }
        self.prune();
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, (id, timer))) = self.timers.pop_due(now) {
            let Some(tx) = self.txs.get_mut(&id) else {
                continue;
            };
            if tx.timers.get(timer) != Some(at) {
                continue;
            }
            tx.timers.set(timer, None);
            self.on_timer(now, id, timer);
        }
        self.prune();
    }

    /// The next deadline, if any (may be early after a timer was cancelled).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// The next datagram or stream write to perform.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// Live transactions by kind.
    pub fn counts(&self) -> TxCounts {
        self.counts
    }

    /// The state of a live transaction.
    pub fn state(&self, key: &TxKey) -> Option<TxState> {
        self.by_key
            .get(key)
            .and_then(|id| self.txs.get(id))
            .map(|tx| tx.state)
    }

    // --- shared machinery ---

    pub(super) fn id_of(&self, key: &TxKey) -> Result<TxId, TxError> {
        self.by_key
            .get(key)
            .copied()
            .ok_or_else(|| TxError::UnknownTransaction { key: key.clone() })
    }

    pub(super) fn invalid(&self, id: TxId, action: &'static str) -> TxError {
        match self.txs.get(&id) {
            Some(tx) => TxError::InvalidState {
                key: tx.key.clone(),
                state: tx.state,
                action,
            },
            None => TxError::InvalidRequest {
                reason: "transaction vanished",
            },
        }
    }

    fn on_timer(&mut self, now: Instant, id: TxId, timer: Timer) {
        match timer {
            Timer::A => self.client_invite_timer_a(now, id),
            Timer::B => self.client_invite_timer_b(id),
            Timer::E => self.client_non_invite_timer_e(now, id),
            Timer::F => self.timeout(id, Timer::F),
            Timer::G => self.server_invite_timer_g(now, id),
            Timer::H => self.timeout(id, Timer::H),
            Timer::L => self.server_invite_timer_l(id),
            Timer::D | Timer::I | Timer::J | Timer::K | Timer::M => self.terminate(id),
        }
    }

    /// Reports `timer` as a timeout and ends the transaction.
    pub(super) fn timeout(&mut self, id: TxId, timer: Timer) {
        if let Some(tx) = self.txs.get(&id) {
            self.events.push_back(TxEvent::Timeout {
                key: tx.key.clone(),
                timer,
            });
        }
        self.terminate(id);
    }

    pub(super) fn insert(&mut self, tx: Tx) -> TxId {
        let id = self.next_id;
        self.next_id += 1;
        *self.count_mut(&tx.key) += 1;
        self.by_key.insert(tx.key.clone(), id);
        self.by_peer.entry(tx.peer).or_default().insert(id);
        self.txs.insert(id, tx);
        id
    }

    fn count_mut(&mut self, key: &TxKey) -> &mut usize {
        match (key.role, key.is_invite()) {
            (Role::Server, true) => &mut self.counts.server_invite,
            (Role::Server, false) => &mut self.counts.server_non_invite,
            (Role::Client, true) => &mut self.counts.client_invite,
            (Role::Client, false) => &mut self.counts.client_non_invite,
        }
    }

    /// Ends a transaction: frees it, its index entries, and reports Terminated.
    pub(super) fn terminate(&mut self, id: TxId) {
        let Some(tx) = self.txs.remove(&id) else {
            return;
        };
        *self.count_mut(&tx.key) -= 1;
        self.by_key.remove(&tx.key);
        if let Some(d) = &tx.dialog {
            if self.by_dialog.get(d) == Some(&id) {
                self.by_dialog.remove(d);
            }
        }
        if let Some(ids) = self.by_peer.get_mut(&tx.peer) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_peer.remove(&tx.peer);
            }
        }
        self.events.push_back(TxEvent::Terminated { key: tx.key });
    }

    /// Arms `timer` at `now + after`; a zero duration on a reliable
    /// transport's absorb timer ends the transaction at once.
    pub(super) fn arm(&mut self, id: TxId, timer: Timer, now: Instant, after: Duration) {
        if after.is_zero() {
            return self.terminate(id);
        }
        if let Some(tx) = self.txs.get_mut(&id) {
            tx.timers.set(timer, Some(now + after));
            self.timers.arm(now + after, (id, timer));
        }
    }

    pub(super) fn disarm(&mut self, id: TxId, timers: &[Timer]) {
        if let Some(tx) = self.txs.get_mut(&id) {
            for t in timers {
                tx.timers.set(*t, None);
            }
        }
    }

    /// Sends `data` to the transaction's peer.
    pub(super) fn send_to_peer(&mut self, id: TxId, data: Bytes) {
        if let Some(tx) = self.txs.get(&id) {
            self.transmits.push_back(Transmit {
                peer: tx.peer,
                data,
            });
        }
    }

    /// Resends the last bytes kept (response or request).
    pub(super) fn resend_last(&mut self, id: TxId) {
        if let Some(data) = self.txs.get(&id).and_then(|tx| tx.last.clone()) {
            self.send_to_peer(id, data);
        }
    }

    pub(super) fn is_reliable(&self, id: TxId) -> bool {
        self.txs
            .get(&id)
            .is_some_and(|tx| tx.peer.transport.is_reliable())
    }

    /// Drops cancelled deadlines from the head so `poll_timeout` is mostly exact.
    fn prune(&mut self) {
        let txs = &self.txs;
        self.timers.prune(|at, &(id, timer)| {
            txs.get(&id)
                .is_some_and(|tx| tx.timers.get(timer) == Some(at))
        });
    }
}

/// A To tag derived from `seed` (deterministic, so retransmissions agree).
pub(super) fn local_tag(seed: &str) -> Tag {
    let mut hasher = std::hash::DefaultHasher::new();
    seed.hash(&mut hasher);
    Tag::new(format!("{:016x}", hasher.finish()))
}

impl Default for TransactionLayer {
    fn default() -> Self {
        Self::new(TimerConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn every_transaction_ends_and_frees_its_indexes() {
        let mut layer = TransactionLayer::default();
        for i in 0..500 {
            let mut inv = invite(&format!("z9hG4bK-m{i}"));
            let cid = format!("call-{i}");
            inv.headers
                .retain(|h| !matches!(h, crate::sip::message::rsip::Header::CallId(_)));
            crate::sip::message::add_header(&mut inv, "Call-ID", &cid);
            layer.handle_request(t0(), udp(), inv.clone());
            let key = request_key(&events(&mut layer));
            let code = if i % 2 == 0 { 200 } else { 486 };
            layer.respond(t0(), &key, reply(&inv, code)).unwrap();
            layer
                .send_request(
                    t0(),
                    udp(),
                    request("OPTIONS", &format!("z9hG4bK-o{i}"), "OPTIONS", ""),
                )
                .unwrap();
        }
        assert_eq!(layer.counts().server_invite, 500);
        run(&mut layer, Duration::from_secs(60));
        assert_eq!(layer.counts(), TxCounts::default());
        assert!(layer.txs.is_empty() && layer.by_key.is_empty());
        assert!(layer.by_dialog.is_empty() && layer.by_peer.is_empty());
        assert_eq!(layer.poll_timeout(), None);
        assert_eq!(layer.timers.len(), 0);
    }
}
