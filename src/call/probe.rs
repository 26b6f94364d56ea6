//! OPTIONS probes out of any dialog (softphone keep-alives), and the
//! hand-off of REGISTER to the registrar.
//!
//! A probe is one non-INVITE client transaction: any final response means the
//! far end is alive ([`CallEvent::ProbeDone`] `ok`), Timer F or a transport
//! error means it is not. REGISTER requests are handed out as
//! [`CallEvent::Register`] when [`super::CoreConfig::registrar`] is on; the
//! registrar's reply goes back with [`CallCore::respond_register`].

use super::state::{CallEvent, ProbeHandle};
use super::CallCore;
use crate::sip::message::{self, Method, Request, Response};
use crate::sip::transaction::{TxError, TxKey};
use crate::sip::types::{Peer, Tag};
use std::time::Instant;

impl CallCore {
    /// Sends OPTIONS to `request_uri` over `peer`. The result arrives as
    /// [`CallEvent::ProbeDone`]; a URI that cannot be sent reports `ok: false` at once.
    pub fn probe(&mut self, now: Instant, peer: Peer, request_uri: &str) -> ProbeHandle {
        self.uac.next_probe += 1;
        let probe = ProbeHandle(self.uac.next_probe);
        let sent = self
            .out_of_dialog(
                Method::Options,
                request_uri,
                request_uri,
                "alarmgate",
                &peer,
            )
            .map_err(|e| e.to_string())
            .and_then(|req| self.send_probe(now, peer, req).map_err(|e| e.to_string()));
        match sent {
            Ok(key) => {
                self.uac.probes.insert(key, probe);
            }
            Err(err) => {
                tracing::debug!(%err, uri = request_uri, "probe not sent");
                self.events
                    .push_back(CallEvent::ProbeDone { probe, ok: false });
            }
        }
        self.process_tl_events(now);
        probe
    }

    fn send_probe(&mut self, now: Instant, peer: Peer, mut req: Request) -> Result<TxKey, TxError> {
        message::add_header(&mut req, "Accept", super::reply::ACCEPT);
        self.tl.send_request(now, peer, req)
    }

    /// Reports a probe's result once and forgets it.
    pub(crate) fn probe_done(&mut self, key: &TxKey, ok: bool) {
        if let Some(probe) = self.uac.probes.remove(key) {
            self.events.push_back(CallEvent::ProbeDone { probe, ok });
        }
    }

    /// A REGISTER outside a dialog: to the registrar when there is one, else 405.
    pub(crate) fn on_register(&mut self, now: Instant, key: TxKey, peer: Peer, req: Request) {
        if !self.config.registrar {
            return self.reply_not_allowed(now, &key, &req);
        }
        self.events.push_back(CallEvent::Register {
            tx: key,
            peer,
            request: Box::new(req),
        });
    }

    /// Sends the registrar's reply to a REGISTER handed out as
    /// [`CallEvent::Register`]; the transaction layer retransmits it as needed.
    /// The response should be built from that request (`message::response_to`).
    pub fn respond_register(
        &mut self,
        now: Instant,
        tx: &TxKey,
        mut response: Response,
    ) -> Result<(), TxError> {
        if response.status_code.code() >= 200 && message::to_tag(&response).is_none() {
            message::set_to_tag(&mut response, &Tag::new(self.token()));
        }
        if message::header_value(&response, "Server").is_none() {
            message::add_header(&mut response, "Server", &self.config.user_agent);
        }
        let result = self.tl.respond(now, tx, response);
        self.process_tl_events(now);
        result
    }
}
