//! The call core: alarmgate's user-agent server, sans-IO.
//!
//! It sits behind the SIP endpoint ([`crate::sip::endpoint`], which owns the
//! transaction layer, parsing, validation and method dispatch) and decides
//! what every call request means: admission (trunk ACL, digest auth,
//! limits), the tenant from the called number, SDP offer/answer, answering
//! (at once or after a ring delay), holding, hanging up, draining on shutdown.
//!
//! Calling order, as in quinn: feed the endpoint's call events with
//! [`CallCore::handle_tx_event`], timers with [`CallCore::handle_timeout`]
//! and friends, each lent the endpoint's transaction layer to answer and send
//! on; then drain [`CallCore::poll_event`] (media start/stop, call ended) and
//! sleep until [`CallCore::poll_timeout`]. It is also the endpoint's overload
//! [`crate::sip::endpoint::Screen`]. Nothing here reads a clock or touches a
//! socket.
//!
//! It is also the user-agent client of outgoing legs (an operator's phone, a
//! partner centre through a trunk): [`CallCore::originate`],
//! [`CallCore::cancel_leg`]. REGISTER and OPTIONS keep-alives never come
//! here: the switchboard routes them between the endpoint and the registrar.
//!
//! Files: [`policy`] (configuration values), [`state`] (per-call state and
//! events), [`invite`] (new INVITEs), [`offer_answer`] (our SDP answers
//! and 488s), [`in_dialog`] (ACK, BYE, re-INVITE,
//! UPDATE, INFO, CANCEL), [`hangup`] (our BYE, timers, drain),
//! [`reply`] (responses with our headers), [`ports`], [`timers`];
//! outgoing: [`leg`] (types, request building), [`originate`] (INVITE,
//! CANCEL, the probes' OPTIONS), [`uac`] (responses to our INVITE);
//! [`shed`] and [`shed_raw`] (the overload screen).

pub mod browser;
pub mod hangup;
pub mod in_dialog;
pub mod invite;
pub mod leg;
pub mod lookup;
pub mod offer_answer;
pub mod originate;
pub mod policy;
pub mod ports;
pub mod reply;
pub mod scaip_message;
pub mod shed;
pub mod shed_raw;
pub mod state;
pub mod tenants;
pub mod timers;
pub mod uac;

pub use leg::{Originate, OriginateError};
pub use policy::{CoreConfig, HoldAudio, TenantPolicy};
pub use state::{Call, CallEvent, CallHandle, CallState, EndReason, LegFailure, LegInfo};

use crate::admission::Admission;
use crate::sip::digest::DigestServer;
use crate::sip::endpoint::Endpoint;
use crate::sip::message::{self, Method};
use crate::sip::transaction::{TransactionLayer, TxEvent, TxKey};
use crate::sip::types::{CallId, Peer, Tag};
use crate::telemetry::metrics as m;
use ports::PortPool;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};
use timers::TimerQueue;

/// Mixed into the core's seed for the endpoint's tags.
const ENDPOINT_SEED: u64 = 0x1f83_d9ab_fb41_bd6b;

/// Mixed into the core's seed for the RTP port draws.
const PORT_SEED: u64 = 0x5be0_cd19_137e_2179;

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

/// The user-agent server core. See the module documentation for the calling order.
pub struct CallCore {
    config: CoreConfig,
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
    storage_ok: bool,
    /// Call-IDs let through the overload screen lately ([`shed::Admitted`]).
    admitted: shed::Admitted,
}

/// The call core at work: its state with the transaction layer the endpoint
/// lends it for one input. Every handler that answers or sends is a method
/// of this pair, so it reaches the layer as `self.tl` and the state through
/// `Deref`, with no layer threaded through every signature and no command
/// queue to replay (sending a request must return its key at once).
pub(crate) struct Lent<'a> {
    core: &'a mut CallCore,
    tl: &'a mut TransactionLayer,
}

impl std::ops::Deref for Lent<'_> {
    type Target = CallCore;
    fn deref(&self) -> &CallCore {
        self.core
    }
}

impl std::ops::DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut CallCore {
        self.core
    }
}

impl CallCore {
    /// A core with this configuration; `seed` makes tags and branches reproducible in tests.
    pub fn new(
        config: CoreConfig,
        admission: Admission,
        auth: Option<DeviceAuth>,
        seed: u64,
    ) -> Self {
        let ports = PortPool::new(config.rtp_ports.0, config.rtp_ports.1, seed ^ PORT_SEED);
        let mut admission = admission;
        admission.cap_concurrency(shed::port_capacity(config.rtp_ports));
        Self {
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
            storage_ok: true,
            admitted: shed::Admitted::default(),
        }
    }

    /// An endpoint for this core's configuration (transaction timers, Server
    /// header), its tags seeded from the core's seed.
    pub fn new_endpoint(&mut self) -> Endpoint {
        let seed = self.rng ^ ENDPOINT_SEED;
        Endpoint::new(self.config.timers, &self.config.user_agent, seed)
    }

    /// This core with the transaction layer lent for one input.
    pub(crate) fn lend<'a>(&'a mut self, tl: &'a mut TransactionLayer) -> Lent<'a> {
        Lent { core: self, tl }
    }

    /// One transaction event of a call or of one of our legs (from
    /// [`crate::sip::endpoint::Inbound::Call`]).
    pub fn handle_tx_event(&mut self, tl: &mut TransactionLayer, now: Instant, event: TxEvent) {
        self.lend(tl).on_tx_event(now, event);
        self.publish_gauges();
    }

    /// The alarm pipeline settled `call` (technical/test alarms, all stored
    /// and acknowledged): hang up with BYE.
    pub fn settle(&mut self, tl: &mut TransactionLayer, now: Instant, call: CallHandle) {
        self.lend(tl).hang_up(now, call, EndReason::Settled);
    }

    /// Ports are bound by `check` before an answer names them (the runtime
    /// passes one that binds the RTP socket; ports another process holds
    /// are skipped).
    pub fn set_port_check(&mut self, check: Box<dyn ports::PortCheck>) {
        self.ports.set_check(check);
    }

    /// The driver could not open the media socket of `call`: hang up.
    pub fn media_failed(&mut self, tl: &mut TransactionLayer, now: Instant, call: CallHandle) {
        self.lend(tl).hang_up(now, call, EndReason::MediaFailed);
    }

    /// Time has come for the core's earliest deadline (or later).
    pub fn handle_timeout(&mut self, tl: &mut TransactionLayer, now: Instant) {
        let mut lent = self.lend(tl);
        while let Some((_, (call, timer))) = lent.timers.pop_due(now) {
            lent.on_call_timer(now, call, timer);
        }
    }

    /// SIGTERM: refuse new calls with 503; hang up what is left after `grace`.
    pub fn begin_drain(&mut self, now: Instant, grace: Duration) {
        let deadline = now + grace;
        self.draining = Some(deadline);
        let calls = self.calls.keys().chain(self.uac.legs.keys());
        let handles: Vec<CallHandle> = calls.copied().collect();
        for call in handles {
            self.timers.arm(deadline, (call, timers::CallTimer::Drain));
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

    /// Whether REGISTER is served (a registrar is configured).
    pub fn serves_register(&self) -> bool {
        self.config.registrar
    }

    /// Our Server header value.
    pub fn user_agent(&self) -> &str {
        &self.config.user_agent
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline of the core's own timers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    fn new_handle(&mut self) -> CallHandle {
        let h = CallHandle(self.next_handle);
        self.next_handle += 1;
        h
    }

    /// A fresh token (tags, branches): xorshift64*, seeded; unguessable enough
    /// for tags, whose only job is uniqueness (RFC 3261 §19.3).
    fn token(&mut self) -> String {
        crate::sip::endpoint::reply::token(&mut self.rng)
    }

    fn publish_gauges(&self) {
        metrics::gauge!(m::CALLS_ACTIVE).set(self.calls.len() as f64);
        metrics::gauge!(m::SIP_DIALOGS).set(self.by_dialog.len() as f64);
    }
}

impl Lent<'_> {
    fn on_tx_event(&mut self, now: Instant, event: TxEvent) {
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

    fn on_request(&mut self, now: Instant, key: TxKey, peer: Peer, req: message::Request) {
        if message::to_tag(&req).is_some() {
            self.on_in_dialog(now, key, peer, req);
            return;
        }
        match req.method {
            Method::Invite => self.on_invite(now, key, peer, req),
            Method::Bye | Method::Update | Method::Info | Method::PRack => {
                self.reply(now, &key, &req, 481, None)
            }
            _ => self.reply(now, &key, &req, 501, None),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_core;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_leg_end;
#[cfg(test)]
mod tests_lookup;
#[cfg(test)]
mod tests_media_address;
#[cfg(test)]
mod tests_probe;
#[cfg(test)]
mod tests_shed;
#[cfg(test)]
pub(crate) mod tests_uac;
#[cfg(test)]
mod tests_webrtc;
#[cfg(test)]
mod tests_webrtc_leg;
