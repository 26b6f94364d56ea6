//! Requests inside a dialog, the ACK for our 2xx, and CANCEL.
//!
//! - ACK confirms the call; a late offer's answer arrives in it.
//! - BYE ends the call (200 OK first).
//! - re-INVITE and UPDATE carry holds, unholds and session-timer refreshes:
//!   answered with a new SDP version and the Session-Expires in force.
//! - INFO and OPTIONS get 200 OK; an INFO carrying DTMF
//!   (`application/dtmf-relay`, JsSIP's default, or `application/dtmf`)
//!   becomes [`CallEvent::InfoDigit`], and one whose DTMF body holds no
//!   valid key gets 400.
//! - A request for an unknown dialog gets 481; a CSeq lower than one already
//!   seen gets 500 (RFC 3261 §12.2.2).

use super::offer_answer::SdpAnswer;
use super::reply::{header_has_token, ALLOW, SUPPORTED};
use super::state::{CallEvent, CallHandle, CallState, EndReason};
use super::Lent;
use crate::sip::dialog::CseqCheck;
use crate::sip::dtmf_info;
use crate::sip::message::{self, Method, Request};
use crate::sip::sdp::{self, MediaPolicy};
use crate::sip::transaction::TxKey;
use crate::sip::types::{Peer, Tag};
use std::time::Instant;

impl Lent<'_> {
    pub(crate) fn on_in_dialog(&mut self, now: Instant, key: TxKey, _peer: Peer, req: Request) {
        let Some(handle) = self.dialog_of(&req) else {
            return self.reply(now, &key, &req, 481, None);
        };
        let seq = message::cseq(&req).map(|(n, _)| n).unwrap_or(0);
        let in_order = self
            .calls
            .get_mut(&handle)
            .map(|c| c.dialog.check_remote_cseq(seq));
        if in_order == Some(CseqCheck::OutOfOrder) {
            return self.reply(now, &key, &req, 500, Some("CSeq Out Of Order"));
        }
        match req.method {
            Method::Bye => {
                self.reply(now, &key, &req, 200, None);
                self.end_call(now, handle, EndReason::RemoteBye);
            }
            Method::Invite | Method::Update => self.on_refresh(now, handle, &key, &req),
            Method::Info => self.on_info(now, handle, &key, &req),
            Method::Options => self.reply_options(now, &key, &req),
            Method::PRack => self.reply(now, &key, &req, 481, None),
            _ => self.reply_not_allowed(now, &key, &req),
        }
    }

    /// INFO: a DTMF key goes to the media engine; other packages get 200.
    fn on_info(&mut self, now: Instant, handle: CallHandle, key: &TxKey, req: &Request) {
        let content_type = message::header_value(req, "Content-Type").unwrap_or_default();
        match dtmf_info::parse(content_type, &req.body) {
            Ok(None) => self.reply_options(now, key, req),
            Ok(Some(digit)) => {
                self.reply_options(now, key, req);
                let Some(group) = self.calls.get(&handle).map(|c| c.group()) else {
                    return;
                };
                self.events.push_back(CallEvent::InfoDigit {
                    call: handle,
                    group,
                    key: digit.key,
                    duration_ms: digit.duration_ms,
                });
            }
            Err(err) => {
                tracing::debug!(%err, "INFO with a bad DTMF body");
                self.reply(now, key, req, 400, Some("Bad DTMF Body"));
            }
        }
    }

    /// The ACK for our 2xx: the call is confirmed; a late offer's answer is in it.
    pub(crate) fn on_ack(&mut self, _now: Instant, req: &Request) {
        let Some(handle) = self.dialog_of(req) else {
            return;
        };
        let policy = self.policy_of(handle);
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if matches!(call.state, CallState::Answered) {
            call.state = CallState::Confirmed;
        }
        if call.media.is_some() || req.body.is_empty() {
            return;
        }
        let answer = std::str::from_utf8(&req.body)
            .ok()
            .and_then(|t| sdp::parse(t).ok());
        match answer.map(|a| sdp::negotiated_from_answer(&policy, &a)) {
            Some(Ok(media)) => self.start_media(handle, media),
            _ => call
                .span
                .in_scope(|| tracing::warn!("ACK carried no usable SDP answer")),
        }
    }

    /// CANCEL matched our INVITE: 487 if we had not answered yet.
    pub(crate) fn on_cancel(&mut self, now: Instant, invite: &TxKey) {
        let Some(&handle) = self.by_invite.get(invite) else {
            return;
        };
        let Some((invite_tx, req)) = self.take_ringing(handle, CallState::Answered) else {
            return;
        };
        let Some(tag) = self
            .calls
            .get(&handle)
            .map(|c| c.dialog.id.local_tag.clone())
        else {
            return;
        };
        let resp = self.response(&req, 487, None, Some(&tag));
        self.send_response(now, &invite_tx, resp);
        self.end_call(now, handle, EndReason::Cancelled);
    }

    /// re-INVITE or UPDATE: new SDP answer if offered, Session-Expires reflected.
    fn on_refresh(&mut self, now: Instant, handle: CallHandle, key: &TxKey, req: &Request) {
        let policy = self.policy_of(handle);
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let (local, version) = (
            (call.dialog.peer.addr, call.local_port),
            call.sdp_session.1 + 1,
        );
        let current = call.media.clone();
        call.sdp_session.1 = version;
        if let Some(value) = message::header_value(req, "Session-Expires") {
            call.session_expires = value.split(';').next().and_then(|v| v.trim().parse().ok());
        }
        let answer = if req.body.is_empty() && req.method == Method::Update {
            None
        } else {
            match self.answer_sdp(req, &policy, local, version, current.as_ref()) {
                Ok(a) => Some(a),
                Err(refusal) => return self.refuse_offer(now, key, req, &refusal),
            }
        };
        self.send_refresh_answer(now, handle, key, req, answer);
    }

    fn send_refresh_answer(
        &mut self,
        now: Instant,
        handle: CallHandle,
        key: &TxKey,
        req: &Request,
        answer: Option<SdpAnswer>,
    ) {
        let Some(call) = self.calls.get(&handle) else {
            return;
        };
        let mut resp = self.response(req, 200, None, None);
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
            if header_has_token(req, "Supported", "timer") {
                message::add_header(&mut resp, "Require", "timer");
            }
        }
        if let Some(answer) = &answer {
            message::set_body(
                &mut resp,
                "application/sdp",
                answer.text.clone().into_bytes(),
            );
        }
        self.send_response(now, key, resp);
        let Some(media) = answer.and_then(|a| a.media) else {
            return;
        };
        let core = &mut *self.core;
        if let Some(call) = core.calls.get_mut(&handle) {
            call.media = Some(media.clone());
            core.events.push_back(CallEvent::MediaUpdate {
                call: handle,
                group: call.group(),
                media,
            });
        }
    }

    /// The call a request or ACK belongs to, by Call-ID and our tag (its To tag).
    pub(crate) fn dialog_of(&self, req: &Request) -> Option<CallHandle> {
        let call_id = message::call_id(req).ok()?;
        let tag: Tag = message::to_tag(req)?;
        self.by_dialog.get(&(call_id, tag)).copied()
    }

    /// The media policy of the call's tenant, or of the leg's offer.
    pub(crate) fn policy_of(&self, handle: CallHandle) -> MediaPolicy {
        let leg = self.calls.get(&handle).and_then(|c| c.leg.as_ref());
        if let Some(leg) = leg {
            return MediaPolicy {
                codecs: leg.codecs.clone(),
                ptime_ms: self.config.ptime_ms,
            };
        }
        let tenant = self
            .calls
            .get(&handle)
            .map(|c| c.tenant.as_str())
            .unwrap_or_default();
        let codecs = self
            .config
            .tenants
            .iter()
            .find(|t| t.id.as_str() == tenant)
            .map(|t| t.codecs.clone());
        MediaPolicy {
            codecs: codecs.unwrap_or_default(),
            ptime_ms: self.config.ptime_ms,
        }
    }
}
