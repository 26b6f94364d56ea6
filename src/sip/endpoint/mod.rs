//! The SIP endpoint, sans-IO: the one place SIP bytes enter and leave.
//!
//! It owns the [`TransactionLayer`], parses ([`crate::sip::message`]) and
//! validates ([`crate::sip::validate`]) every message, answers what needs no
//! user (best-effort 400, invalid requests, the overload screen's stateless
//! 503, methods nobody serves), counts SIP traffic, and sends the
//! registrar's OPTIONS keep-alives. Everything else leaves as an
//! [`Inbound`] value, routed by method: the switchboard hands calls to the
//! call core, REGISTER to the registrar, probe results back to it, and
//! MESSAGE (405 for now) is where SCAIP will plug in.
//!
//! Calling order as in the other cores: feed [`Endpoint::handle_message`],
//! [`Endpoint::handle_timeout`] and friends, drain [`Endpoint::poll_inbound`]
//! and [`Endpoint::poll_transmit`], sleep until [`Endpoint::poll_timeout`].
//! The users answer and send through [`Endpoint::transactions`], which
//! lends them the transaction layer. No clock, socket or randomness here.
//!
//! Files: [`dispatch`] (transaction events to [`Inbound`]), [`reply`]
//! (responses with our headers, counters).

pub mod dispatch;
pub mod reply;
#[cfg(test)]
mod tests;

pub use dispatch::Inbound;

use crate::sip::message::{self, Method, Request, Response, SipMessage};
use crate::sip::transaction::{
    server_key, TimerConfig, TransactionLayer, TxCounts, TxError, TxKey,
};
use crate::sip::types::{Peer, Tag, Transmit};
use crate::sip::validate;
use crate::telemetry::metrics as m;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// An OPTIONS keep-alive sent for the registrar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProbeHandle(pub u64);

/// The overload screen, consulted before a new INVITE makes a transaction.
/// The call core implements it: admission state (calls, drain) is its own.
pub trait Screen {
    /// The raw bytes (before parsing), while shedding: `Some` when they were
    /// handled here, with a 503 to send (or `None` inside for a dropped ACK).
    fn screen_raw(&mut self, now: Instant, peer: Peer, bytes: &[u8]) -> Option<Option<Transmit>>;
    /// A new INVITE with no transaction yet: the 503 to send statelessly, if refused.
    fn screen_invite(&mut self, now: Instant, peer: Peer, req: &Request) -> Option<Response>;
}

/// See the module documentation.
pub struct Endpoint {
    tl: TransactionLayer,
    user_agent: String,
    raw_out: VecDeque<Transmit>,
    inbound: VecDeque<Inbound>,
    probes: HashMap<TxKey, ProbeHandle>,
    next_probe: u64,
    rng: u64,
}

/// Transactions the layer holds before its tables first grow: 32 s of
/// 1,000 calls/s (two transactions a call), so a node that starts under
/// load does not rehash in its first seconds (issue 9, item 9).
const TX_CAPACITY: usize = 1 << 16;

impl Endpoint {
    /// An endpoint with these timers; `user_agent` goes into its Server
    /// headers; `seed` makes its tags reproducible in tests.
    pub fn new(timers: TimerConfig, user_agent: &str, seed: u64) -> Self {
        Self {
            tl: TransactionLayer::with_capacity(timers, TX_CAPACITY),
            user_agent: user_agent.to_owned(),
            raw_out: VecDeque::new(),
            inbound: VecDeque::new(),
            probes: HashMap::new(),
            next_probe: 0,
            rng: seed | 1,
        }
    }

    /// One SIP message from the transports (a datagram or a framed stream message).
    pub fn handle_message(
        &mut self,
        now: Instant,
        peer: Peer,
        bytes: &[u8],
        screen: &mut dyn Screen,
    ) {
        if let Some(refused) = screen.screen_raw(now, peer, bytes) {
            self.raw_out.extend(refused);
            return;
        }
        match message::parse(bytes) {
            Ok(SipMessage::Request(req)) => self.on_request(now, peer, req, screen),
            Ok(SipMessage::Response(resp)) => self.tl.handle_response(now, peer, resp),
            Err(err) => self.reject_unparseable(peer, bytes, &err),
        }
        self.process_tl_events(now);
    }

    fn on_request(&mut self, now: Instant, peer: Peer, req: Request, screen: &mut dyn Screen) {
        metrics::counter!(m::SIP_REQUESTS_IN, "method" => reply::method_label(&req.method))
            .increment(1);
        if let Err(rejection) = validate::validate_request(&req) {
            return self.reject_invalid(peer, &req, rejection);
        }
        if self.is_new_invite(&req) {
            if let Some(resp) = screen.screen_invite(now, peer, &req) {
                return self.send_stateless_response(peer, &req, resp);
            }
        }
        self.tl.handle_request(now, peer, req);
    }

    /// An INVITE out of any dialog whose transaction does not exist yet
    /// (a retransmission of one let through passes on to it).
    fn is_new_invite(&self, req: &Request) -> bool {
        req.method == Method::Invite
            && message::to_tag(req).is_none()
            && !server_key(req).is_ok_and(|key| self.tl.state(&key).is_some())
    }

    /// A stream framing error: answer 400 if the partial bytes allow it.
    pub fn handle_stream_error(&mut self, peer: Peer, partial: Option<&[u8]>) {
        metrics::counter!(m::SIP_PARSE_ERRORS, "transport" => peer.transport.via_token())
            .increment(1);
        if let Some(bytes) = partial.and_then(message::best_effort_400) {
            self.raw_out.push_back(Transmit { peer, data: bytes });
        }
    }

    /// The transports could not deliver to `peer`.
    pub fn handle_send_failed(&mut self, now: Instant, peer: Peer) {
        self.tl.transport_error(now, peer);
        self.process_tl_events(now);
    }

    /// Time has come for the transaction layer's earliest deadline (or later).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tl.handle_timeout(now);
        self.process_tl_events(now);
    }

    /// The transaction layer, lent to the users that answer and send; call
    /// [`Endpoint::flush`] after using it, so its events are routed.
    pub fn transactions(&mut self) -> &mut TransactionLayer {
        &mut self.tl
    }

    /// Routes the events the transaction layer has produced since the last call.
    pub fn flush(&mut self, now: Instant) {
        self.process_tl_events(now);
    }

    /// Sends OPTIONS (built by the caller, out of any dialog) as a keep-alive
    /// probe. Its result arrives as [`Inbound::ProbeResult`]; one that cannot
    /// be sent reports `ok: false` at once.
    pub fn probe(&mut self, now: Instant, peer: Peer, mut req: Request) -> ProbeHandle {
        message::add_header(&mut req, "Accept", reply::ACCEPT);
        self.send_request(now, peer, req)
    }

    /// Sends any request out of a dialog (OPTIONS probes, SCAIP's `<mrs>`
    /// MESSAGE) in a client transaction; its outcome arrives as
    /// [`Inbound::ProbeResult`] (a final response is `ok`).
    pub fn send_request(&mut self, now: Instant, peer: Peer, req: Request) -> ProbeHandle {
        self.next_probe += 1;
        let probe = ProbeHandle(self.next_probe);
        match self.tl.send_request(now, peer, req) {
            Ok(key) => {
                self.probes.insert(key, probe);
            }
            Err(err) => {
                tracing::debug!(%err, "probe not sent");
                self.inbound
                    .push_back(Inbound::ProbeResult { probe, ok: false });
            }
        }
        self.process_tl_events(now);
        probe
    }

    /// Sends a reply to a request handed out as [`Inbound::Register`] (or
    /// another non-call request); a final one without a To tag gets one.
    pub fn respond(
        &mut self,
        now: Instant,
        tx: &TxKey,
        mut response: Response,
    ) -> Result<(), TxError> {
        if response.status_code.code() >= 200 && message::to_tag(&response).is_none() {
            let tag = Tag::new(self.token());
            message::set_to_tag(&mut response, &tag);
        }
        if message::header_value(&response, "Server").is_none() {
            message::add_header(&mut response, "Server", &self.user_agent);
        }
        let result = self.tl.respond(now, tx, response);
        self.process_tl_events(now);
        result
    }

    /// Transaction counts, for the gauges.
    pub fn transaction_counts(&self) -> TxCounts {
        self.tl.counts()
    }

    /// The next message for the transports.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self
            .raw_out
            .pop_front()
            .or_else(|| self.tl.poll_transmit())?;
        reply::count_outgoing(&t.data);
        Some(t)
    }

    /// The next routed message or probe result.
    pub fn poll_inbound(&mut self) -> Option<Inbound> {
        self.inbound.pop_front()
    }

    /// The transaction layer's earliest deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.tl.poll_timeout()
    }

    fn reject_unparseable(&mut self, peer: Peer, bytes: &[u8], err: &message::MessageError) {
        metrics::counter!(m::SIP_PARSE_ERRORS, "transport" => peer.transport.via_token())
            .increment(1);
        tracing::debug!(%err, from = %peer.addr, "unparseable SIP message");
        if let Some(resp) = message::best_effort_400(bytes) {
            self.raw_out.push_back(Transmit { peer, data: resp });
        }
    }

    /// A request that fails validation is answered statelessly, before the
    /// transaction layer: a broken Via or version may leave it no key to file
    /// the request under. A retransmission simply gets the same answer. ACKs
    /// are never answered (RFC 3261 §17.1.1.3).
    fn reject_invalid(&mut self, peer: Peer, req: &Request, rejection: validate::Rejection) {
        tracing::debug!(code = rejection.code, reason = %rejection.reason, from = %peer.addr, "request rejected");
        if req.method == Method::Ack {
            return;
        }
        let mut resp = rejection.to_response(req);
        if message::to_tag(req).is_none() {
            message::set_to_tag(&mut resp, &reply::stateless_tag(req));
        }
        self.send_stateless_response(peer, req, resp);
    }

    fn send_stateless_response(&mut self, peer: Peer, req: &Request, resp: Response) {
        let target = message::response_target(req, peer);
        let data = message::serialize(&SipMessage::Response(resp));
        self.raw_out.push_back(Transmit { peer: target, data });
    }

    /// A fresh token (tags): xorshift64*, seeded; tags only need uniqueness
    /// (RFC 3261 §19.3).
    /// A fresh token (tags, ids) from the endpoint's seeded generator.
    pub(crate) fn token(&mut self) -> String {
        reply::token(&mut self.rng)
    }
}
