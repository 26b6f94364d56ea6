//! A call core paired with its endpoint, for the call core's tests: the
//! switchboard's SIP plumbing without the registrar and router, so tests
//! still speak bytes in and bytes out.

use super::{CallCore, CallHandle, EndReason, Originate, OriginateError};
use crate::sip::endpoint::{Endpoint, Inbound, ProbeHandle};
use crate::sip::types::{Peer, Transmit};
use std::time::Instant;

/// See the module documentation; derefs to the core for everything else.
pub(crate) struct TestCore {
    pub(crate) core: CallCore,
    pub(crate) ep: Endpoint,
    /// What the endpoint routed elsewhere than the call core.
    pub(crate) others: Vec<Inbound>,
}

impl std::ops::Deref for TestCore {
    type Target = CallCore;
    fn deref(&self) -> &CallCore {
        &self.core
    }
}

impl std::ops::DerefMut for TestCore {
    fn deref_mut(&mut self) -> &mut CallCore {
        &mut self.core
    }
}

impl TestCore {
    pub(crate) fn new(mut core: CallCore) -> Self {
        let ep = core.new_endpoint();
        Self {
            core,
            ep,
            others: Vec::new(),
        }
    }

    fn route(&mut self, now: Instant) {
        self.ep.flush(now);
        while let Some(inbound) = self.ep.poll_inbound() {
            match inbound {
                Inbound::Call(ev) => self.core.handle_tx_event(self.ep.transactions(), now, ev),
                // As the switchboard does with no registrar, and for MESSAGE.
                Inbound::Register { tx, request, .. } if !self.core.serves_register() => {
                    self.ep.reply_not_allowed(now, &tx, &request)
                }
                Inbound::Message { tx, request, .. } => {
                    self.ep.reply_not_allowed(now, &tx, &request)
                }
                other => self.others.push(other),
            }
            self.ep.flush(now);
        }
    }

    pub(crate) fn handle_message(&mut self, now: Instant, peer: Peer, bytes: &[u8]) {
        self.ep.handle_message(now, peer, bytes, &mut self.core);
        self.route(now);
    }

    pub(crate) fn handle_send_failed(&mut self, now: Instant, peer: Peer) {
        self.ep.handle_send_failed(now, peer);
        self.route(now);
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.core.handle_timeout(self.ep.transactions(), now);
        self.route(now);
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ep.poll_transmit()
    }

    pub(crate) fn originate(
        &mut self,
        now: Instant,
        o: Originate,
    ) -> Result<CallHandle, OriginateError> {
        let result = self.core.originate(self.ep.transactions(), now, o);
        self.route(now);
        result
    }

    pub(crate) fn cancel_leg(&mut self, now: Instant, leg: CallHandle) {
        self.core.cancel_leg(self.ep.transactions(), now, leg);
        self.route(now);
    }

    pub(crate) fn hang_up_call(&mut self, now: Instant, call: CallHandle, reason: EndReason) {
        self.core
            .hang_up_call(self.ep.transactions(), now, call, reason);
        self.route(now);
    }

    /// An OPTIONS probe built by the core and sent by the endpoint, as the
    /// switchboard does for the registrar.
    pub(crate) fn probe(&mut self, now: Instant, peer: Peer, uri: &str) -> Option<ProbeHandle> {
        let req = self.core.probe_request(&peer, uri).ok()?;
        let probe = self.ep.probe(now, peer, req);
        self.route(now);
        Some(probe)
    }

    /// The probe results routed since the last call.
    pub(crate) fn probe_results(&mut self) -> Vec<(ProbeHandle, bool)> {
        let results = self.others.iter().filter_map(|i| match i {
            Inbound::ProbeResult { probe, ok } => Some((*probe, *ok)),
            _ => None,
        });
        let results = results.collect();
        self.others
            .retain(|i| !matches!(i, Inbound::ProbeResult { .. }));
        results
    }
}
