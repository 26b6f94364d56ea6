//! The switchboard: the SIP endpoint, the call core, the registrar and the
//! routing engine as one sans-IO unit, wired together.
//!
//! The cores do not know each other. The switchboard carries what one says
//! to the next, in order, until nothing moves ([`inbound`]):
//!
//! - the [`Endpoint`] routes by method: call transactions to the call core
//!   (lent the endpoint's transaction layer to answer and send), a REGISTER
//!   to the [`Registrar`] and its reply back through the endpoint's
//!   transaction, MESSAGE to 405 (SCAIP's place);
//! - the registrar's keep-alives become OPTIONS probes of the endpoint, and
//!   their results go back; an operator gaining or losing its last live
//!   contact tells the [`Router`];
//! - a call that needs a person ([`Switchboard::queue`]) enters the router;
//!   its `Offer` becomes an outgoing leg to the operator's newest live
//!   contact, its `Forward` a leg to an external target over a trunk; the
//!   legs' ringing, answer and failure go back to the router as outcomes;
//! - an answered leg is bridged to its device call (media command
//!   [`Output::Bridge`]); when either side of a bridge ends, the other is
//!   hung up and the operator enters wrap-up;
//! - every routing event, and every disposition from the API, becomes a
//!   journal record ([`Output::Event`]).
//!
//! Like the cores, it takes `now` and never reads a clock: the SIP driver
//! feeds it and drains [`Switchboard::poll_transmit`] and
//! [`Switchboard::poll_output`]; the tests drive all of it in simulated time.
//!
//! Files: [`legs`] (what each outgoing leg is for, and the core's events),
//! [`actions`] (the router's actions), [`api`] (the HTTP API's commands),
//! [`callbacks`] (unconfirmed alarms, and the callbacks of those that hung
//! up), [`config`] (targets, trunks, names).

pub mod actions;
pub mod api;
pub mod callbacks;
pub mod config;
pub mod inbound;
pub mod legs;
pub mod recall_events;
pub mod restore;
pub mod scaip;
pub mod sign_in;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_basic;
#[cfg(test)]
mod tests_data_alarms;
#[cfg(test)]
mod tests_flows;
#[cfg(test)]
mod tests_recall;
#[cfg(test)]
mod tests_recall_events;
#[cfg(test)]
mod tests_scaip;
#[cfg(test)]
mod tests_scaip_core;
#[cfg(test)]
mod tests_sessions;
#[cfg(test)]
mod tests_unconfirmed;
#[cfg(test)]
mod tests_ws;

pub use callbacks::UnconfirmedAlarm;
pub use config::{Route, SwitchboardConfig};
pub use legs::LegRole;

use crate::alarm::EventCode;
use crate::call::{CallCore, CallEvent, CallHandle};
use crate::labels::CallLabels;
use crate::registrar::{ProbeId, Registrar, RegistrarEvent};
use crate::routing::{CallClass, CallRef, Plan, RecallId, Router, WaitingCall};
use crate::sip::endpoint::{Endpoint, ProbeHandle};
use crate::sip::transaction::{TransactionLayer, TxCounts};
use crate::sip::types::{Peer, Transmit};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// What the runtime must do besides sending SIP.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A call core event: media start/update/stop for the media engine, and
    /// the call's start and end for the journal.
    Call(CallEvent),
    /// Connect the audio of `a` and `b` (both in media group `group`).
    Bridge {
        /// The media group (the device call, or a recall's operator leg).
        group: CallHandle,
        /// The device's (or callee's) leg.
        a: CallHandle,
        /// The operator's (or target's) leg.
        b: CallHandle,
    },
    /// A record for the journal and the bus.
    Event(EventRecord),
    /// An alarm to journal before it is acknowledged: the runtime appends
    /// `record` and reports the outcome to [`Switchboard::scaip_stored`].
    Store {
        /// What to report back.
        token: scaip::StoreToken,
        /// The record.
        record: EventRecord,
    },
    /// Stop the Contact ID receiver on device call `group`: it carries a
    /// linked SCAIP alarm (the unit talks; it sends no DTMF alarms).
    StopAlarm {
        /// The device call.
        group: CallHandle,
    },
    /// Send `digits` (RFC 4733, `duration_ms` each) on leg `leg` of media `group`.
    Digits {
        /// The media group.
        group: CallHandle,
        /// The leg (a device's unit).
        leg: CallHandle,
        /// The digits.
        digits: String,
        /// Each digit's length.
        duration_ms: u32,
    },
}

/// A CloudEvent to write: the runtime adds id, time and source.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// The CloudEvents type (`alarmgate.call.queued`, ...).
    pub kind: &'static str,
    /// The subject: a call's SIP Call-ID, or an operator id.
    pub subject: String,
    /// The data; carries `tenant` when there is one (the bus subject).
    pub data: Value,
}

/// A device call as the switchboard knows it (from its `MediaStart`).
#[derive(Debug, Clone)]
pub(crate) struct Device {
    /// Its Call-ID, tenant and calling number.
    pub labels: CallLabels,
    /// The outgoing leg ringing or bridged to it.
    pub leg: Option<CallHandle>,
    /// It entered the router.
    pub routed: bool,
    /// When it entered the router; cleared when a phone first rings for it.
    pub queued_at: Option<Instant>,
    /// What it was queued with, to queue it again if the operator's leg fails.
    pub request: Option<(CallClass, Option<EventCode>)>,
    /// Its alarm never decoded: what was heard (a callback if it ends unserved).
    pub unconfirmed: Option<UnconfirmedAlarm>,
    /// An operator (or target) answered for it, or gave it a disposition.
    pub served: bool,
    /// The alarm it carries by data (a SCAIP MESSAGE linked to this call).
    pub alarm: Option<Box<crate::alarm::report::DataAlarm>>,
    /// The G.711 law it negotiated: offered first to its operators, so a
    /// leg that accepts it carries the unit's audio in the same law.
    pub codec: Option<crate::sip::sdp::Codec>,
}

/// See the module documentation.
pub struct Switchboard {
    pub(crate) endpoint: Endpoint,
    pub(crate) core: CallCore,
    pub(crate) registrar: Option<Registrar>,
    pub(crate) router: Option<Router>,
    pub(crate) config: SwitchboardConfig,
    pub(crate) devices: HashMap<CallHandle, Device>,
    /// Device calls by SIP Call-ID (the API's and SCAIP's public id).
    pub(crate) device_ids: HashMap<String, CallHandle>,
    pub(crate) legs: HashMap<CallHandle, legs::Leg>,
    pub(crate) probes: HashMap<ProbeHandle, ProbeId>,
    pub(crate) recalls: HashMap<RecallId, legs::Recall>,
    pub(crate) callbacks: Vec<callbacks::Callback>,
    pub(crate) recent: legs::Recent,
    /// The number of the next recall (its own sequence: a recall is
    /// `CallRef::Recall`, never mistaken for a device call's handle).
    pub(crate) next_recall: u64,
    pub(crate) out: VecDeque<Output>,
    pub(crate) scaip: scaip::ScaipState,
}

impl Switchboard {
    /// A switchboard over `core`; without a registrar or a router it only
    /// passes the core's events through (calls are answered and held).
    pub fn new(
        mut core: CallCore,
        registrar: Option<Registrar>,
        router: Option<Router>,
        config: SwitchboardConfig,
    ) -> Self {
        Self {
            endpoint: core.new_endpoint(),
            core,
            registrar,
            router,
            config,
            devices: HashMap::new(),
            device_ids: HashMap::new(),
            legs: HashMap::new(),
            probes: HashMap::new(),
            recalls: HashMap::new(),
            callbacks: Vec::new(),
            recent: legs::Recent::default(),
            next_recall: 1,
            out: VecDeque::new(),
            scaip: scaip::ScaipState::default(),
        }
    }

    /// The call core, for the driver's calls that need no wiring (drain,
    /// storage health, media failures, counts).
    pub fn core(&mut self) -> &mut CallCore {
        &mut self.core
    }

    /// The registrar, when REGISTERs are served.
    pub fn registrar_mut(&mut self) -> Option<&mut Registrar> {
        self.registrar.as_mut()
    }

    /// Starts serving REGISTERs (a reload added the operator side).
    pub fn set_registrar(&mut self, registrar: Registrar) {
        self.registrar = Some(registrar);
    }

    /// One SIP message from the transports.
    pub fn handle_message(&mut self, now: Instant, peer: Peer, bytes: &[u8]) {
        self.endpoint
            .handle_message(now, peer, bytes, &mut self.core);
        self.pump(now);
    }

    /// A stream framing error (see [`Endpoint::handle_stream_error`]).
    pub fn handle_stream_error(&mut self, now: Instant, peer: Peer, partial: Option<&[u8]>) {
        self.endpoint.handle_stream_error(peer, partial);
        self.pump(now);
    }

    /// The transports could not deliver to `peer`.
    pub fn handle_send_failed(&mut self, now: Instant, peer: Peer) {
        self.endpoint.handle_send_failed(now, peer);
        self.pump(now);
    }

    /// A stream connection closed. For a WebSocket flow (a browser, which
    /// nothing else reaches) its bindings go at once, so its operator leaves
    /// the rotation if that was the last; every transaction over it fails
    /// at once as a transport error, so a call ringing there is offered
    /// again now, not at the ring timeout; and a call answered there ends
    /// (`flow_closed`), which queues its citizen again.
    pub fn handle_flow_closed(&mut self, now: Instant, peer: Peer) {
        if !peer.transport.flow_only() {
            return;
        }
        if let Some(registrar) = self.registrar.as_mut() {
            registrar.flow_closed(&peer);
        }
        self.pump(now);
        for call in self.core.calls_on_flow(&peer) {
            let tl = self.endpoint.transactions();
            self.core
                .hang_up_call(tl, now, call, crate::call::EndReason::FlowClosed);
        }
        // Every transaction over the flow fails now: ringing INVITEs and
        // the BYEs just sent, which nothing can deliver.
        self.endpoint.handle_send_failed(now, peer);
        self.pump(now);
    }

    /// The earliest deadline of the endpoint and the three cores.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let registrar = self.registrar.as_ref().and_then(Registrar::poll_timeout);
        let router = self.router.as_ref().and_then(Router::poll_timeout);
        let sip = [
            self.endpoint.poll_timeout(),
            self.core.poll_timeout(),
            self.scaip.poll_timeout(),
        ];
        sip.into_iter().chain([registrar, router]).flatten().min()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
        self.core.handle_timeout(self.endpoint.transactions(), now);
        if let Some(registrar) = self.registrar.as_mut() {
            registrar.handle_timeout(now);
        }
        if let Some(router) = self.router.as_mut() {
            router.handle_timeout(now);
        }
        self.scaip_timeout(now);
        self.pump(now);
    }

    /// Runs `f` on the core with the endpoint's transaction layer (drain,
    /// settle, media failure), then carries on.
    pub fn with_core(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut CallCore, &mut TransactionLayer, Instant),
    ) {
        f(&mut self.core, self.endpoint.transactions(), now);
        self.pump(now);
    }

    /// A device call needs a person: it enters its tenant's queue. Without a
    /// router, or for a tenant the plan does not route, it stays on hold.
    pub fn queue(
        &mut self,
        now: Instant,
        call: CallHandle,
        class: CallClass,
        event_code: Option<EventCode>,
    ) {
        let (Some(router), Some(device)) = (self.router.as_mut(), self.devices.get_mut(&call))
        else {
            tracing::debug!(call = call.0, "no routing: the call stays on hold");
            return;
        };
        let class = match (class, &event_code) {
            (CallClass::Voice, None) => self
                .config
                .default_class
                .get(&device.labels.tenant)
                .copied()
                .unwrap_or(class),
            _ => class,
        };
        let event_code_copy = event_code.clone();
        let waiting = WaitingCall {
            call: CallRef::Device(call),
            tenant: device.labels.tenant.clone(),
            queue: None,
            class,
            event_code,
            caller: device.labels.caller.clone(),
        };
        match router.enqueue(now, waiting) {
            Ok(()) => {
                device.routed = true;
                device.queued_at = Some(now);
                device.request = Some((class, event_code_copy));
            }
            Err(err) => {
                tracing::warn!(%err, call_id = %device.labels.call_id, "call not queued: held")
            }
        }
        self.pump(now);
    }

    /// A new dialplan: the router keeps its calls and operators' states, the
    /// registrar its bindings (of operators still configured).
    pub fn reconfigure(
        &mut self,
        now: Instant,
        plan: Option<Plan>,
        credentials: Option<crate::registrar::Credentials>,
        config: SwitchboardConfig,
    ) -> Result<(), crate::routing::PlanError> {
        match (self.router.as_mut(), plan) {
            (Some(router), Some(plan)) => router.reconfigure(now, plan)?,
            (None, Some(plan)) => self.router = Some(Router::new(plan, now)?),
            (_, None) => {}
        }
        if let (Some(registrar), Some(credentials)) = (self.registrar.as_mut(), credentials) {
            registrar.set_credentials(credentials);
        }
        self.config = config;
        self.pump(now);
        Ok(())
    }

    /// True when calls are routed to operators (the dialplan has queues).
    pub fn routes_calls(&self) -> bool {
        self.router.is_some()
    }

    /// Calls waiting in a queue (not offered, not forwarded).
    pub fn waiting_count(&self) -> usize {
        self.router.as_ref().map_or(0, Router::waiting_count)
    }

    /// Operators in each state (empty without routing), for the gauge.
    pub fn operator_state_counts(&self) -> Vec<(&'static str, usize)> {
        self.router
            .as_ref()
            .map_or_else(Vec::new, |r| r.operator_state_counts().to_vec())
    }

    /// The next datagram or stream message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.endpoint.poll_transmit()
    }

    /// Transaction counts, for the gauges.
    pub fn transaction_counts(&self) -> TxCounts {
        self.endpoint.transaction_counts()
    }

    /// The next media command or journal record.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Carries messages between the cores until none has anything to say.
    pub(crate) fn pump(&mut self, now: Instant) {
        loop {
            let mut moved = self.pump_endpoint(now);
            while let Some(event) = self.core.poll_event() {
                self.on_call_event(now, event);
                moved = true;
            }
            moved |= self.pump_registrar(now);
            moved |= self.pump_router(now);
            if !moved {
                break;
            }
        }
    }

    fn pump_registrar(&mut self, now: Instant) -> bool {
        let mut moved = self.send_probes(now);
        while let Some(event) = self.registrar.as_mut().and_then(Registrar::poll_event) {
            if let RegistrarEvent::Reachable {
                operator,
                reachable,
            } = event
            {
                if let Some(router) = self.router.as_mut() {
                    if let Err(err) = router.set_reachable(now, &operator, reachable) {
                        tracing::debug!(%err, "registration of an operator the plan does not route");
                    }
                }
            }
            moved = true;
        }
        moved
    }

    fn pump_router(&mut self, now: Instant) -> bool {
        let mut moved = false;
        while let Some(action) = self.router.as_mut().and_then(Router::poll_action) {
            self.on_action(now, action);
            moved = true;
        }
        while let Some(event) = self.router.as_mut().and_then(Router::poll_event) {
            self.on_routing_event(event);
            moved = true;
        }
        moved
    }
}
