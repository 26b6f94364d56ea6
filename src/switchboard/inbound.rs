//! What the SIP endpoint hands up, routed to its core: calls to the call
//! core, REGISTER to the registrar and its reply back through the
//! endpoint's transaction, probe results to the registrar, MESSAGE (SCAIP's
//! carrier) to the SCAIP receiver (`scaip`), 405 when it is off.

use super::Switchboard;
use crate::sip::endpoint::Inbound;
use crate::sip::message::Request;
use crate::sip::transaction::TxKey;
use crate::sip::types::Peer;
use std::time::Instant;

impl Switchboard {
    /// Routes everything the endpoint has for its users; true when anything moved.
    pub(crate) fn pump_endpoint(&mut self, now: Instant) -> bool {
        let mut moved = false;
        self.endpoint.flush(now);
        while let Some(inbound) = self.endpoint.poll_inbound() {
            self.on_inbound(now, inbound);
            self.endpoint.flush(now);
            moved = true;
        }
        moved
    }

    fn on_inbound(&mut self, now: Instant, inbound: Inbound) {
        match inbound {
            Inbound::Call(event) => {
                self.core
                    .handle_tx_event(self.endpoint.transactions(), now, event)
            }
            Inbound::Register { tx, peer, request } => self.on_register(now, &tx, peer, &request),
            Inbound::Message { tx, peer, request } => self.on_message(now, &tx, peer, &request),
            Inbound::ProbeResult { probe, ok } if self.scaip_sent(probe, ok) => {}
            Inbound::ProbeResult { probe, ok } => {
                if let (Some(id), Some(registrar)) =
                    (self.probes.remove(&probe), self.registrar.as_mut())
                {
                    registrar.probe_result(now, id, ok);
                }
            }
        }
    }

    /// A REGISTER: to the registrar when REGISTER is served, else 405.
    fn on_register(&mut self, now: Instant, tx: &TxKey, peer: Peer, request: &Request) {
        let registrar = self
            .registrar
            .as_mut()
            .filter(|_| self.core.serves_register());
        let Some(registrar) = registrar else {
            return self.endpoint.reply_not_allowed(now, tx, request);
        };
        let reply = registrar.handle_register(now, peer, request);
        tracing::debug!(outcome = ?reply.outcome, from = %peer.addr, "REGISTER");
        if let Err(err) = self.endpoint.respond(now, tx, reply.response) {
            tracing::debug!(%err, "REGISTER reply not sent");
        }
    }

    /// Sends the registrar's keep-alives as OPTIONS probes of the endpoint.
    pub(crate) fn send_probes(&mut self, now: Instant) -> bool {
        let mut moved = false;
        while let Some(probe) = self.registrar.as_mut().and_then(|r| r.poll_probe()) {
            moved = true;
            match self.core.probe_request(&probe.peer, &probe.contact) {
                Ok(req) => {
                    let handle = self.endpoint.probe(now, probe.peer, req);
                    self.probes.insert(handle, probe.id);
                }
                Err(err) => {
                    tracing::debug!(%err, uri = %probe.contact, "probe not sent");
                    if let Some(registrar) = self.registrar.as_mut() {
                        registrar.probe_result(now, probe.id, false);
                    }
                }
            }
        }
        moved
    }
}
