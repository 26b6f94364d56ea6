//! A new INVITE: from admission to the answer.
//!
//! The order of checks is the order of cost and of what the caller learns:
//! validation (400/420/...), limits and the access list (503/403), digest
//! authentication (401), the called number (404), session timers (422), the
//! offer (488), a media port (503). Only then is a call created and
//! answered, at once or after 180 Ringing and `answer_delay`.

use super::offer_answer::SdpAnswer;
use super::reply::{calling_number, header_has_token, ALLOW, SUPPORTED};
use super::state::{Call, CallEvent, CallHandle, CallState};
use super::timers::CallTimer;
use super::Lent;
use crate::admission::AdmissionDecision;
use crate::labels::TenantId;
use crate::sip::dialog::Dialog;
use crate::sip::digest::{Algorithm, AuthOutcome};
use crate::sip::message::{self, Request};
use crate::sip::sdp::{self, MediaPolicy};
use crate::sip::transaction::TxKey;
use crate::sip::types::{Peer, Tag};
use crate::telemetry::metrics as m;
use std::time::Instant;

/// What the answer to an INVITE carries, worked out before the call exists.
struct Accepted {
    tenant: TenantId,
    policy: MediaPolicy,
    session_expires: Option<u32>,
    remote_supports_timer: bool,
}

impl Lent<'_> {
    pub(crate) fn on_invite(&mut self, now: Instant, key: TxKey, peer: Peer, req: Request) {
        let Some(accepted) = self.admit(now, &key, &peer, &req) else {
            return;
        };
        let Some(port) = self.ports.acquire() else {
            self.refuse(now, &key, &req, 503, "no_port");
            return;
        };
        match self.answer_sdp(&req, &accepted.policy, (peer.addr, port), 1, None) {
            Ok(answer) => self.create_call(now, key, peer, req, accepted, port, answer),
            Err(refusal) => {
                self.ports.release(port);
                let reason = refusal.label();
                metrics::counter!(m::ADMISSION_REFUSALS, "reason" => reason).increment(1);
                self.refuse_offer(now, &key, &req, &refusal);
            }
        }
    }

    /// Limits, access list, authentication, tenant, session timer. `None` when refused.
    fn admit(&mut self, now: Instant, key: &TxKey, peer: &Peer, req: &Request) -> Option<Accepted> {
        if !self.storage_ok {
            let mut resp = self.response(req, 503, Some("Alarm Storage Unavailable"), None);
            message::add_header(&mut resp, "Retry-After", "30");
            metrics::counter!(m::ADMISSION_REFUSALS, "reason" => "storage").increment(1);
            self.send_response(now, key, resp);
            return None;
        }
        if !self.admit_source(now, key, peer, req) {
            return None;
        }
        let did = message::request_user(req).unwrap_or_default();
        let Some(tenant) = self.config.tenant_for(&did) else {
            self.refuse(now, key, req, 404, "unknown_did");
            return None;
        };
        let policy = MediaPolicy {
            codecs: tenant.codecs.clone(),
            ptime_ms: self.config.ptime_ms,
        };
        let tenant = tenant.id.clone();
        let (session_expires, remote_supports_timer) = self.session_timer(now, key, req)?;
        Some(Accepted {
            tenant,
            policy,
            session_expires,
            remote_supports_timer,
        })
    }

    /// Limits, access list and authentication of a request out of a dialog
    /// (INVITE, and SCAIP's MESSAGE); false when refused (answer sent).
    pub(super) fn admit_source(
        &mut self,
        now: Instant,
        key: &TxKey,
        peer: &Peer,
        req: &Request,
    ) -> bool {
        let draining = self.draining.is_some();
        let active = self.incoming_calls();
        match self.admission.admit(now, peer.addr.ip(), active, draining) {
            AdmissionDecision::Trusted { .. } => true,
            AdmissionDecision::NeedsAuth => self.authenticate(now, key, req),
            AdmissionDecision::Forbidden => {
                self.refuse(now, key, req, 403, "forbidden");
                false
            }
            AdmissionDecision::Overloaded {
                reason,
                retry_after,
            } => {
                let mut resp = self.response(req, 503, Some("Service Unavailable"), None);
                message::add_header(
                    &mut resp,
                    "Retry-After",
                    &retry_after.as_secs().max(1).to_string(),
                );
                metrics::counter!(m::ADMISSION_REFUSALS, "reason" => reason.as_str()).increment(1);
                self.send_response(now, key, resp);
                false
            }
        }
    }

    /// RFC 4028: accept the caller's Session-Expires if it is not below Min-SE.
    fn session_timer(
        &mut self,
        now: Instant,
        key: &TxKey,
        req: &Request,
    ) -> Option<(Option<u32>, bool)> {
        let supports = header_has_token(req, "Supported", "timer")
            || header_has_token(req, "Require", "timer");
        let Some(value) = message::header_value(req, "Session-Expires") else {
            return Some((None, supports));
        };
        let asked: u32 = value
            .split(';')
            .next()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let min_se = self.config.min_se.as_secs() as u32;
        if asked < min_se {
            let mut resp = self.response(req, 422, Some("Session Interval Too Small"), None);
            message::add_header(&mut resp, "Min-SE", &min_se.to_string());
            self.send_response(now, key, resp);
            return None;
        }
        let ours = (self.config.session_expires.as_secs() as u32).max(min_se);
        Some((Some(asked.min(ours)), supports))
    }

    /// Checks device credentials; sends 401/403 and returns false when they do not pass.
    fn authenticate(&mut self, now: Instant, key: &TxKey, req: &Request) -> bool {
        let Some(auth) = self.auth.as_mut() else {
            self.refuse(now, key, req, 403, "forbidden");
            return false;
        };
        let outcome = match message::header_value(req, "Authorization") {
            None => None,
            Some(value) => {
                let devices = &auth.devices;
                let method = req.method.to_string();
                Some(auth.server.verify(now, &method, value, |user, alg| {
                    let (md5, sha) = devices.get(user)?;
                    match alg {
                        Algorithm::Md5 => md5.clone(),
                        Algorithm::Sha256 => sha.clone(),
                    }
                }))
            }
        };
        match outcome {
            Some(AuthOutcome::Ok { username }) => self.screen_device(now, key, req, &username),
            Some(AuthOutcome::Rejected { reason }) => {
                tracing::info!(%reason, "device authentication rejected");
                self.refuse(now, key, req, 403, "auth");
                false
            }
            Some(AuthOutcome::Stale) => self.challenge(now, key, req, true),
            None => self.challenge(now, key, req, false),
        }
    }

    fn challenge(&mut self, now: Instant, key: &TxKey, req: &Request, stale: bool) -> bool {
        let mut resp = self.response(req, 401, None, None);
        if let Some(auth) = self.auth.as_mut() {
            for alg in auth.algorithms.clone() {
                let value = auth.server.challenge(now, alg, stale);
                message::add_header(&mut resp, "WWW-Authenticate", &value);
            }
        }
        metrics::counter!(m::ADMISSION_REFUSALS, "reason" => "auth_challenge").increment(1);
        self.send_response(now, key, resp);
        false
    }

    /// A refusal with a metric label.
    fn refuse(&mut self, now: Instant, key: &TxKey, req: &Request, code: u16, label: &'static str) {
        metrics::counter!(m::ADMISSION_REFUSALS, "reason" => label).increment(1);
        self.reply(now, key, req, code, None);
    }

    #[allow(clippy::too_many_arguments)]
    fn create_call(
        &mut self,
        now: Instant,
        key: TxKey,
        peer: Peer,
        req: Request,
        acc: Accepted,
        port: u16,
        answer: SdpAnswer,
    ) {
        let tag = Tag::new(self.token());
        let dialog = match Dialog::uas(&req, tag.clone(), peer) {
            Ok(d) => d,
            Err(err) => {
                self.ports.release(port);
                return self.reply(now, &key, &req, 400, Some(&err.to_string()));
            }
        };
        let handle = self.new_handle();
        let span = tracing::info_span!("call", call_id = %dialog.id.call_id, tenant = %acc.tenant);
        span.in_scope(
            || tracing::info!(from = %peer.addr, transport = %peer.transport, "call admitted"),
        );
        self.by_dialog
            .insert((dialog.id.call_id.clone(), tag), handle);
        self.by_invite.insert(key.clone(), handle);
        let call = Call {
            handle,
            tenant: acc.tenant,
            caller: calling_number(&req),
            dialog,
            state: CallState::Answered,
            local_port: port,
            media: answer.media.clone(),
            sdp_session: (u64::from(port), 1),
            started: now,
            session_expires: acc.session_expires,
            span,
            leg: None,
        };
        self.calls.insert(handle, call);
        if self.config.answer_delay.is_zero() {
            self.send_answer(now, handle, &key, &req, &answer, acc.remote_supports_timer);
        } else {
            self.ring(now, handle, key, req);
        }
    }

    /// 180 Ringing now, 200 OK when the answer timer fires.
    fn ring(&mut self, now: Instant, handle: CallHandle, key: TxKey, req: Request) {
        let Some(call) = self.calls.get(&handle) else {
            return;
        };
        let resp = self.response(&req, 180, None, Some(&call.dialog.id.local_tag));
        if let Some(call) = self.calls.get_mut(&handle) {
            call.state = CallState::Ringing {
                invite_tx: key.clone(),
                invite: Box::new(req),
            };
        }
        self.send_response(now, &key, resp);
        let at = now + self.config.answer_delay;
        self.timers.arm(at, (handle, CallTimer::Answer));
    }

    /// The ring delay is over: answer.
    pub(crate) fn answer_now(&mut self, now: Instant, handle: CallHandle) {
        let Some((invite_tx, invite)) = self.take_ringing(handle, CallState::Answered) else {
            return;
        };
        let policy = self.policy_of(handle);
        let Some(local) = self
            .calls
            .get(&handle)
            .map(|c| (c.dialog.peer.addr, c.local_port))
        else {
            return;
        };
        let supports = header_has_token(&invite, "Supported", "timer");
        match self.answer_sdp(&invite, &policy, local, 1, None) {
            Ok(answer) => self.send_answer(now, handle, &invite_tx, &invite, &answer, supports),
            Err(refusal) => self.refuse_offer(now, &invite_tx, &invite, &refusal),
        }
    }

    /// Moves a ringing call to `next`, returning its INVITE transaction and
    /// request; a call in any other state is left as it is.
    pub(crate) fn take_ringing(
        &mut self,
        handle: CallHandle,
        next: CallState,
    ) -> Option<(TxKey, Box<Request>)> {
        let call = self.calls.get_mut(&handle)?;
        if !matches!(call.state, CallState::Ringing { .. }) {
            return None;
        }
        match std::mem::replace(&mut call.state, next) {
            CallState::Ringing { invite_tx, invite } => Some((invite_tx, invite)),
            _ => None,
        }
    }

    /// Sends the 200 OK with SDP and starts media (unless the offer comes in the ACK).
    fn send_answer(
        &mut self,
        now: Instant,
        handle: CallHandle,
        key: &TxKey,
        req: &Request,
        answer: &SdpAnswer,
        timer: bool,
    ) {
        let Some(call) = self.calls.get(&handle) else {
            return;
        };
        let mut resp = self.response(req, 200, None, Some(&call.dialog.id.local_tag));
        let user = message::request_user(req).unwrap_or_default();
        message::add_header(
            &mut resp,
            "Contact",
            &self.contact(&user, &call.dialog.peer),
        );
        message::add_header(&mut resp, "Allow", ALLOW);
        message::add_header(&mut resp, "Supported", SUPPORTED);
        if let Some(se) = call.session_expires {
            message::add_header(&mut resp, "Session-Expires", &format!("{se};refresher=uac"));
            if timer {
                message::add_header(&mut resp, "Require", "timer");
            }
        }
        message::set_body(
            &mut resp,
            "application/sdp",
            answer.text.clone().into_bytes(),
        );
        let tenant = call.tenant.to_string();
        self.send_response(now, key, resp);
        metrics::counter!(m::CALLS_ANSWERED, "tenant" => tenant).increment(1);
        if let Some(media) = answer.media.clone() {
            self.start_media(handle, media);
        }
        self.arm_call_timers(now, handle);
    }

    pub(crate) fn start_media(&mut self, handle: CallHandle, media: sdp::NegotiatedMedia) {
        let core = &mut *self.core;
        let hold = core.config.hold;
        let Some(call) = core.calls.get_mut(&handle) else {
            return;
        };
        call.media = Some(media.clone());
        core.events.push_back(CallEvent::MediaStart {
            call: handle,
            group: call.group(),
            outgoing: call.leg.is_some(),
            call_id: call.call_id().clone(),
            tenant: call.tenant.clone(),
            caller: call.caller.clone(),
            local_port: call.local_port,
            media,
            hold,
        });
    }
}
