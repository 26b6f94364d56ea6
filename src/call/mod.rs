//! The call core: alarmgate's user-agent server, sans-IO.
//!
//! It sits on the transaction layer ([`crate::sip::transaction`]) and decides
//! what every request means for a call: admission (trunk ACL, digest auth,
//! limits), the tenant from the called number, SDP offer/answer, answering
//! (at once or after a ring delay), holding, hanging up, draining on shutdown.
//!
//! Calling order, as in quinn: feed input with [`CallCore::handle_message`],
//! [`CallCore::handle_timeout`] and friends, then drain
//! [`CallCore::poll_transmit`] (bytes for the transports) and
//! [`CallCore::poll_event`] (media start/stop, call ended) and sleep until
//! [`CallCore::poll_timeout`]. Nothing here reads a clock or touches a socket.
//!
//! It is also the user-agent client of outgoing legs (an operator's phone, a
//! partner centre through a trunk): [`CallCore::originate`],
//! [`CallCore::cancel_leg`], and of OPTIONS probes ([`CallCore::probe`]);
//! REGISTER is handed out to the registrar when it is configured.
//!
//! Files: [`policy`] (configuration values), [`state`] (per-call state and
//! events), [`invite`] (new INVITEs), [`in_dialog`] (ACK, BYE, re-INVITE,
//! UPDATE, INFO, CANCEL), [`hangup`] (our BYE, timers, drain),
//! [`reply`] (responses with our headers), [`ports`], [`timers`];
//! outgoing: [`leg`] (types, request building), [`originate`] (INVITE,
//! CANCEL), [`uac`] (responses to our INVITE), [`probe`] (OPTIONS, REGISTER).

pub mod hangup;
pub mod in_dialog;
pub mod invite;
pub mod leg;
pub mod lookup;
pub mod originate;
pub mod policy;
pub mod ports;
pub mod probe;
pub mod reply;
pub mod state;
pub mod timers;
pub mod uac;

pub use leg::{Originate, OriginateError};
pub use policy::{CoreConfig, HoldAudio, TenantPolicy};
pub use state::{
    Call, CallEvent, CallHandle, CallState, EndReason, LegFailure, LegInfo, ProbeHandle,
};

use crate::admission::Admission;
use crate::sip::digest::DigestServer;
use crate::sip::message::{self, Method, SipMessage};
use crate::sip::transaction::{TransactionLayer, TxEvent, TxKey};
use crate::sip::types::{CallId, Peer, Tag, Transmit};
use crate::sip::validate;
use crate::telemetry::metrics as m;
use ports::PortPool;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};
use timers::TimerQueue;

/// Digest credentials of IP devices that are not on a trusted trunk.
#[derive(Debug)]
pub struct DeviceAuth {
    /// Challenges and verifies.
    pub server: DigestServer,
    /// Username → (HA1 for MD5, HA1 for SHA-256), hex.
    pub devices: HashMap<String, (Option<String>, Option<String>)>,
    /// The challenges of a 401, in order of preference.
    pub algorithms: Vec<crate::sip::digest::Algorithm>,
}

/// Transactions the layer holds before its tables first grow: 32 s of
/// 1,000 calls/s (two transactions a call), so a node that starts under
/// load does not rehash in its first seconds (issue 9, item 9).
const TX_CAPACITY: usize = 1 << 16;

/// The user-agent server core. See the module documentation for the calling order.
pub struct CallCore {
    config: CoreConfig,
    tl: TransactionLayer,
    admission: Admission,
    auth: Option<DeviceAuth>,
    calls: lookup::CallTable,
    by_dialog: HashMap<(CallId, Tag), CallHandle>,
    by_invite: HashMap<TxKey, CallHandle>,
    by_bye: HashMap<TxKey, CallHandle>,
    ports: PortPool,
    uac: leg::UacState,
    timers: TimerQueue,
    events: VecDeque<CallEvent>,
    next_handle: u64,
    rng: u64,
    draining: Option<Instant>,
    raw_out: VecDeque<Transmit>,
    storage_ok: bool,
}

impl CallCore {
    /// A core with this configuration; `seed` makes tags and branches reproducible in tests.
    pub fn new(
        config: CoreConfig,
        admission: Admission,
        auth: Option<DeviceAuth>,
        seed: u64,
    ) -> Self {
        let ports = PortPool::new(config.rtp_ports.0, config.rtp_ports.1);
        Self {
            tl: TransactionLayer::with_capacity(config.timers, TX_CAPACITY),
            config,
            admission,
            auth,
            calls: lookup::CallTable::default(),
            by_dialog: HashMap::new(),
            by_invite: HashMap::new(),
            by_bye: HashMap::new(),
            ports,
            uac: leg::UacState::default(),
            timers: TimerQueue::default(),
            events: VecDeque::new(),
            next_handle: 1,
            rng: seed | 1,
            draining: None,
            raw_out: VecDeque::new(),
            storage_ok: true,
        }
    }

    /// One SIP message from the transports (a datagram or a framed stream message).
    pub fn handle_message(&mut self, now: Instant, peer: Peer, bytes: &[u8]) {
        match message::parse(bytes) {
            Ok(SipMessage::Request(req)) => {
                metrics::counter!(m::SIP_REQUESTS_IN, "method" => method_label(&req.method))
                    .increment(1);
                match validate::validate_request(&req) {
                    Ok(()) => self.tl.handle_request(now, peer, req),
                    Err(rejection) => self.reject_invalid(peer, &req, rejection),
                }
            }
            Ok(SipMessage::Response(resp)) => self.tl.handle_response(now, peer, resp),
            Err(err) => self.reject_unparseable(peer, bytes, &err),
        }
        self.process_tl_events(now);
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

    /// The alarm pipeline settled `call` (technical/test alarms, all stored
    /// and acknowledged): hang up with BYE.
    pub fn settle(&mut self, now: Instant, call: CallHandle) {
        self.hang_up(now, call, EndReason::Settled);
        self.process_tl_events(now);
    }

    /// The driver could not open the media socket of `call`: hang up.
    pub fn media_failed(&mut self, now: Instant, call: CallHandle) {
        self.hang_up(now, call, EndReason::MediaFailed);
        self.process_tl_events(now);
    }

    /// Time has come for the earliest deadline (or later).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tl.handle_timeout(now);
        while let Some((call, timer)) = self.timers.pop_due(now) {
            self.on_call_timer(now, call, timer);
        }
        self.process_tl_events(now);
    }

    /// SIGTERM: refuse new calls with 503; hang up what is left after `grace`.
    pub fn begin_drain(&mut self, now: Instant, grace: Duration) {
        let deadline = now + grace;
        self.draining = Some(deadline);
        let calls = self.calls.keys().chain(self.uac.legs.keys());
        let handles: Vec<CallHandle> = calls.copied().collect();
        for call in handles {
            self.timers.arm(deadline, call, timers::CallTimer::Drain);
        }
    }

    /// Whether alarms can be stored now. While they cannot, new calls get 503
    /// with Retry-After, so a unit fails over to its backup receiver at once
    /// instead of sending alarms that could never be acknowledged.
    pub fn set_storage_ok(&mut self, ok: bool) {
        if ok != self.storage_ok {
            tracing::warn!(storage_ok = ok, "alarm storage state changed");
        }
        self.storage_ok = ok;
    }

    /// True when draining and no call is left.
    pub fn is_drained(&self) -> bool {
        self.draining.is_some() && self.calls.is_empty() && self.uac.legs.is_empty()
    }

    /// Calls alive now: incoming calls and answered legs.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Transaction counts, for the gauges.
    pub fn transaction_counts(&self) -> crate::sip::transaction::TxCounts {
        self.tl.counts()
    }

    /// The next message for the transports.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self
            .raw_out
            .pop_front()
            .or_else(|| self.tl.poll_transmit())?;
        count_outgoing(&t.data);
        Some(t)
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline of the core and its transaction layer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.tl.poll_timeout(), self.timers.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn process_tl_events(&mut self, now: Instant) {
        while let Some(event) = self.tl.poll_event() {
            match event {
                TxEvent::Request { key, peer, request } => self.on_request(now, key, peer, request),
                TxEvent::Ack { request, .. } => self.on_ack(now, &request),
                TxEvent::Cancelled { invite, .. } => self.on_cancel(now, &invite),
                TxEvent::Response { key, response } => self.on_response(now, &key, &response),
                TxEvent::Timeout { key, .. } | TxEvent::TransportError { key } => {
                    self.on_tx_failed(now, &key)
                }
                TxEvent::Terminated { key } => {
                    self.by_invite.remove(&key);
                    self.on_uac_terminated(&key);
                }
            }
        }
        self.publish_gauges();
    }

    fn on_request(&mut self, now: Instant, key: TxKey, peer: Peer, req: message::Request) {
        if message::to_tag(&req).is_some() {
            self.on_in_dialog(now, key, peer, req);
            return;
        }
        match req.method {
            Method::Invite => self.on_invite(now, key, peer, req),
            Method::Options => self.reply_options(now, &key, &req),
            Method::Bye | Method::Update | Method::Info | Method::PRack => {
                self.reply(now, &key, &req, 481, None)
            }
            Method::Register => self.on_register(now, key, peer, req),
            Method::Message
            | Method::Subscribe
            | Method::Notify
            | Method::Refer
            | Method::Publish => self.reply_not_allowed(now, &key, &req),
            _ => self.reply(now, &key, &req, 501, None),
        }
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
    fn reject_invalid(
        &mut self,
        peer: Peer,
        req: &message::Request,
        rejection: validate::Rejection,
    ) {
        tracing::debug!(code = rejection.code, reason = %rejection.reason, from = %peer.addr, "request rejected");
        if req.method == Method::Ack {
            return;
        }
        let mut resp = rejection.to_response(req);
        if message::to_tag(req).is_none() {
            message::set_to_tag(&mut resp, &stateless_tag(req));
        }
        let target = message::response_target(req, peer);
        let data = message::serialize(&SipMessage::Response(resp));
        self.raw_out.push_back(Transmit { peer: target, data });
    }

    fn new_handle(&mut self) -> CallHandle {
        let h = CallHandle(self.next_handle);
        self.next_handle += 1;
        h
    }

    /// A fresh token (tags, branches): xorshift64*, seeded; unguessable enough
    /// for tags, whose only job is uniqueness (RFC 3261 §19.3).
    fn token(&mut self) -> String {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        format!("{:016x}", self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d))
    }

    fn publish_gauges(&self) {
        metrics::gauge!(m::CALLS_ACTIVE).set(self.calls.len() as f64);
        metrics::gauge!(m::SIP_DIALOGS).set(self.by_dialog.len() as f64);
    }
}

/// A To tag for a stateless answer, the same for every retransmission of the
/// request (derived from its Call-ID and CSeq), so the far end sees one answer.
pub(crate) fn stateless_tag(req: &message::Request) -> Tag {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    message::header_value(req, "Call-ID").hash(&mut h);
    message::header_value(req, "CSeq").hash(&mut h);
    Tag::new(format!("sl{:012x}", h.finish() & 0xffff_ffff_ffff))
}

/// The method as a metric label (the parser knows only these methods).
fn method_label(method: &Method) -> &'static str {
    match method {
        Method::Invite => "INVITE",
        Method::Ack => "ACK",
        Method::Bye => "BYE",
        Method::Cancel => "CANCEL",
        Method::Options => "OPTIONS",
        Method::Update => "UPDATE",
        Method::Info => "INFO",
        Method::Register => "REGISTER",
        Method::Message => "MESSAGE",
        Method::PRack => "PRACK",
        Method::Subscribe => "SUBSCRIBE",
        Method::Notify => "NOTIFY",
        Method::Refer => "REFER",
        Method::Publish => "PUBLISH",
    }
}

/// Counts an outgoing message by its first line and CSeq method, cheaply.
fn count_outgoing(data: &[u8]) {
    let Some(line_end) = data.iter().position(|&b| b == b'\r') else {
        return;
    };
    let first = String::from_utf8_lossy(&data[..line_end]);
    let cseq_method = cseq_method_of(data).unwrap_or("other");
    if let Some(rest) = first.strip_prefix("SIP/2.0 ") {
        let code: String = rest.chars().take(3).collect();
        metrics::counter!(m::SIP_RESPONSES_OUT, "method" => cseq_method, "code" => code)
            .increment(1);
    } else {
        metrics::counter!(m::SIP_REQUESTS_OUT, "method" => cseq_method).increment(1);
    }
}

fn cseq_method_of(data: &[u8]) -> Option<&'static str> {
    const METHODS: [&str; 10] = [
        "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "INFO", "REGISTER", "MESSAGE",
        "PRACK",
    ];
    let pos = data
        .windows(7)
        .position(|w| w.eq_ignore_ascii_case(b"\nCSeq: "))?;
    let rest = data.get(pos + 7..)?;
    let line_end = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len());
    let line = std::str::from_utf8(rest.get(..line_end)?).ok()?;
    let method = line.split_whitespace().nth(1)?;
    METHODS.iter().copied().find(|m| *m == method)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_leg_end;
#[cfg(test)]
mod tests_lookup;
#[cfg(test)]
mod tests_probe;
#[cfg(test)]
pub(crate) mod tests_uac;
