//! Method dispatch: the transaction layer's events become [`Inbound`]
//! values, routed by what they are for.
//!
//! Calls (INVITE, ACK, CANCEL, BYE and every request inside a dialog, and
//! responses to our requests) go to the call core as [`Inbound::Call`];
//! REGISTER to the registrar; results of our OPTIONS probes back to it;
//! MESSAGE gets its own arm (SCAIP lands there; 405 until then). What no
//! user serves is answered here: OPTIONS out of a dialog (what we can do),
//! 405 for SUBSCRIBE, NOTIFY, REFER and PUBLISH.

use super::{reply, Endpoint, ProbeHandle};
use crate::sip::message::{self, Method, Request};
use crate::sip::transaction::{TxEvent, TxKey};
use crate::sip::types::Peer;
use std::time::Instant;

/// A message (or a probe's result) for a user of the endpoint.
// `Call` is by far the commonest and is moved straight on: boxing it would
// cost an allocation per message to save a few bytes in a short queue.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Inbound {
    /// For the call core: a transaction event of a call or of one of our legs.
    Call(TxEvent),
    /// A REGISTER out of any dialog, for the registrar: answer it with
    /// [`Endpoint::respond`].
    Register {
        /// The server transaction to answer.
        tx: TxKey,
        /// Where it came from (the flow to reach the contact on).
        peer: Peer,
        /// The request, its top Via stamped.
        request: Box<Request>,
    },
    /// A MESSAGE out of any dialog (SCAIP's carrier).
    Message {
        /// The server transaction to answer.
        tx: TxKey,
        /// Where it came from.
        peer: Peer,
        /// The request.
        request: Box<Request>,
    },
    /// An OPTIONS probe finished: any final response is `ok`; Timer F or a
    /// transport error is not.
    ProbeResult {
        /// The probe.
        probe: ProbeHandle,
        /// The far end answered.
        ok: bool,
    },
}

impl Endpoint {
    pub(super) fn process_tl_events(&mut self, now: Instant) {
        while let Some(event) = self.tl.poll_event() {
            match event {
                TxEvent::Request { key, peer, request } => {
                    self.route_request(now, key, peer, request)
                }
                TxEvent::Response { key, response } if self.probes.contains_key(&key) => {
                    if response.status_code.code() >= 200 {
                        self.probe_done(&key, true);
                    }
                }
                TxEvent::Timeout { key, .. } | TxEvent::TransportError { key }
                    if self.probes.contains_key(&key) =>
                {
                    self.probe_done(&key, false)
                }
                TxEvent::Terminated { key } if self.probes.remove(&key).is_some() => {}
                other => self.inbound.push_back(Inbound::Call(other)),
            }
        }
    }

    /// Reports a probe's result once and forgets it.
    fn probe_done(&mut self, key: &TxKey, ok: bool) {
        if let Some(probe) = self.probes.remove(key) {
            self.inbound.push_back(Inbound::ProbeResult { probe, ok });
        }
    }

    fn route_request(&mut self, now: Instant, tx: TxKey, peer: Peer, request: Request) {
        if message::to_tag(&request).is_some() {
            return self.inbound.push_back(Inbound::Call(TxEvent::Request {
                key: tx,
                peer,
                request,
            }));
        }
        let request = Box::new(request);
        match request.method {
            Method::Register => self
                .inbound
                .push_back(Inbound::Register { tx, peer, request }),
            Method::Message => self
                .inbound
                .push_back(Inbound::Message { tx, peer, request }),
            Method::Options => self.reply_options(now, &tx, &request),
            Method::Subscribe | Method::Notify | Method::Refer | Method::Publish => {
                self.reply_not_allowed(now, &tx, &request)
            }
            _ => self.inbound.push_back(Inbound::Call(TxEvent::Request {
                key: tx,
                peer,
                request: *request,
            })),
        }
    }

    /// 405 Method Not Allowed, with Allow.
    pub fn reply_not_allowed(&mut self, now: Instant, tx: &TxKey, req: &Request) {
        let resp = reply::not_allowed(req, &self.user_agent);
        self.send_response(now, tx, resp);
    }

    /// 200 OK to OPTIONS out of a dialog: what we can do.
    fn reply_options(&mut self, now: Instant, tx: &TxKey, req: &Request) {
        let tag = crate::sip::types::Tag::new(self.token());
        let resp = reply::options(req, &self.user_agent, Some(&tag));
        self.send_response(now, tx, resp);
    }

    fn send_response(&mut self, now: Instant, tx: &TxKey, resp: message::Response) {
        if let Err(err) = self.tl.respond(now, tx, resp) {
            tracing::debug!(%err, "response not sent: transaction gone");
        }
    }
}
