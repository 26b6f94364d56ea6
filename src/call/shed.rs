//! The overload screen, before the transaction layer.
//!
//! The call core is the endpoint's [`Screen`]: a new INVITE (no To tag, no
//! transaction yet) meets
//! [`crate::admission::Admission::screen`] first. When it is to be refused,
//! the 503 + Retry-After goes out statelessly (RFC 3261 §8.2.7 allows a UAS
//! to act statelessly under overload): no transaction, no timers, no
//! retransmissions of ours; a lost 503 is answered again when the caller
//! retransmits, and its ACK matches nothing and is dropped. A refusal then
//! costs a parse and a reply, far less than a call, so that shedding the
//! excess does not itself overload the node. Retransmissions of an INVITE
//! whose transaction exists (a call already accepted) pass on to it.

use super::shed_raw::overload_tag;
use super::{CallCore, Lent};
use crate::admission::{Admission, Shed};
use crate::sip::endpoint::Screen;
use crate::sip::message::{self, Request, Response};
use crate::sip::transaction::TxKey;
use crate::sip::types::{Peer, Tag, Transmit};
use crate::telemetry::metrics as m;
use std::collections::HashSet;
use std::time::Duration;
use std::time::Instant;

/// How many calls the RTP port range can carry (one even port each).
pub(crate) fn port_capacity((min, max): (u16, u16)) -> usize {
    let first = min + (min % 2);
    usize::from(max.saturating_sub(first) / 2) + usize::from(max >= first)
}

impl Screen for CallCore {
    fn screen_raw(&mut self, now: Instant, peer: Peer, bytes: &[u8]) -> Option<Option<Transmit>> {
        self.shed_raw(now, peer, bytes)
    }

    fn screen_invite(&mut self, now: Instant, peer: Peer, req: &Request) -> Option<Response> {
        self.shed_early(now, peer, req)
    }
}

impl CallCore {
    /// The 503 for `req`, a new INVITE with no transaction yet (the endpoint
    /// checked), when it is refused; it goes out statelessly.
    pub(crate) fn shed_early(
        &mut self,
        now: Instant,
        peer: Peer,
        req: &Request,
    ) -> Option<Response> {
        let did = message::request_user(req);
        let active = self.incoming_calls().max(self.ports.in_use());
        let draining = self.draining.is_some();
        let source = peer.addr.ip();
        let Some(shed) = self
            .admission
            .screen(now, source, did.as_deref(), active, draining)
        else {
            if let Some(call_id) = message::header_value(req, "Call-ID") {
                self.admitted.insert(now, call_id.trim().as_bytes());
            }
            return None;
        };
        Some(self.overloaded(req, shed))
    }
}

impl Lent<'_> {
    /// After digest authentication: false (503 sent) when the device is of
    /// normal priority and normal calls are being shed.
    pub(crate) fn screen_device(
        &mut self,
        now: Instant,
        key: &TxKey,
        req: &Request,
        username: &str,
    ) -> bool {
        let active = self.incoming_calls().max(self.ports.in_use());
        let Some(shed) = self.admission.screen_device(now, username, active) else {
            return true;
        };
        let resp = self.overloaded(req, shed);
        self.send_response(now, key, resp);
        false
    }
}

impl CallCore {
    /// The 503 for a shed call, counted by reason and priority.
    pub(crate) fn overloaded(&self, req: &Request, shed: Shed) -> message::Response {
        let reason = shed.reason.as_str();
        metrics::counter!(m::ADMISSION_REFUSALS, "reason" => reason).increment(1);
        let priority = shed.priority.as_str();
        metrics::counter!(m::OVERLOAD_REFUSALS, "reason" => reason, "priority" => priority)
            .increment(1);
        let call_id = message::header_value(req, "Call-ID").unwrap_or_default();
        let cseq = message::header_value(req, "CSeq").unwrap_or_default();
        let tag = Tag::new(overload_tag(
            call_id.trim().as_bytes(),
            cseq.trim().as_bytes(),
        ));
        let tag = message::to_tag(req).is_none().then_some(tag);
        let mut resp = self.response(req, 503, Some("Service Unavailable"), tag.as_ref());
        let retry_after = shed.retry_after.as_secs().max(1).to_string();
        message::add_header(&mut resp, "Retry-After", &retry_after);
        resp
    }

    /// The admission core, for the driver's load samples and gauges.
    pub fn admission_mut(&mut self) -> &mut Admission {
        &mut self.admission
    }
}

/// Call-IDs of INVITEs let through the screen in the last minute or so, so
/// that their retransmissions reach their transaction instead of the raw
/// 503 path. Two generations, rotated every [`Admitted::PERIOD`] (longer than
/// an INVITE is retransmitted, 64·T1) or when one is full: bounded memory,
/// no scans.
#[derive(Debug, Default)]
pub(crate) struct Admitted {
    current: HashSet<Box<[u8]>>,
    previous: HashSet<Box<[u8]>>,
    rotated: Option<Instant>,
}

impl Admitted {
    /// Longer than INVITE retransmissions last (Timer B, 32 s).
    const PERIOD: Duration = Duration::from_secs(40);
    /// Most Call-IDs in one generation.
    const MAX: usize = 1 << 18;

    pub(crate) fn insert(&mut self, now: Instant, call_id: &[u8]) {
        let since = *self.rotated.get_or_insert(now);
        if now.saturating_duration_since(since) >= Self::PERIOD || self.current.len() >= Self::MAX {
            self.previous = std::mem::take(&mut self.current);
            self.rotated = Some(now);
        }
        self.current.insert(call_id.into());
    }

    pub(crate) fn contains(&self, call_id: &[u8]) -> bool {
        self.current.contains(call_id) || self.previous.contains(call_id)
    }
}
