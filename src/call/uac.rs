//! What the far end answers to our INVITE, and what happens when it does not.
//!
//! - 100: nothing. 180/183: [`CallEvent::LegRinging`].
//! - 2xx: the UAC dialog (RFC 3261 §12.1.2), the ACK (§13.2.2.4, resent for
//!   every retransmission of the 2xx until the transaction ends), the answer's
//!   SDP, then `LegAnswered` and `MediaStart`. A 2xx to a leg we were
//!   cancelling is ACKed and BYEd.
//! - 300-699: `LegFailed` (busy, declined, unreachable, rejected) and `Ended`;
//!   the transaction layer has ACKed it. Timer B and transport errors: unreachable.

use super::leg::PendingLeg;
use super::state::{Call, CallEvent, CallHandle, CallState, EndReason, LegFailure, LegInfo};
use super::timers::CallTimer;
use super::Lent;
use crate::sip::dialog::{Dialog, ViaSpec};
use crate::sip::message::{self, Method, Response, SipMessage};
use crate::sip::sdp::{self, IceCredentials, MediaPolicy, NegotiatedMedia};
use crate::sip::transaction::TxKey;
use crate::sip::types::{Branch, Peer, Tag};
use crate::telemetry::metrics as m;
use std::time::Instant;

impl Lent<'_> {
    /// A response on one of our INVITE transactions; false when
    /// the transaction is not ours to handle here (a BYE's).
    pub(crate) fn on_uac_response(&mut self, now: Instant, key: &TxKey, resp: &Response) -> bool {
        let code = resp.status_code.code();
        let Some(&handle) = self.uac.by_invite.get(key) else {
            return false;
        };
        match code {
            100..=199 => self.leg_provisional(handle, code),
            200..=299 => self.leg_accepted(now, key, handle, resp),
            _ => self.leg_refused(now, handle, code),
        }
        true
    }

    /// Timer B or a transport error on our INVITE; false when not ours.
    pub(crate) fn on_uac_failed(&mut self, now: Instant, key: &TxKey) -> bool {
        let Some(&handle) = self.uac.by_invite.get(key) else {
            return false;
        };
        self.fail_pending(now, handle, LegFailure::Unreachable, None);
        true
    }

    /// The transaction layer freed a transaction: forget what we kept for it.
    pub(crate) fn on_uac_terminated(&mut self, key: &TxKey) {
        self.uac.by_invite.remove(key);
        self.uac.invites.remove(key);
        self.uac.acks.remove(key);
    }

    fn leg_provisional(&mut self, handle: CallHandle, code: u16) {
        let ringing = self
            .uac
            .legs
            .get(&handle)
            .is_some_and(|l| l.cancelling.is_none());
        if ringing && matches!(code, 180 | 183) {
            self.events.push_back(CallEvent::LegRinging { leg: handle });
        }
    }

    fn leg_refused(&mut self, now: Instant, handle: CallHandle, code: u16) {
        self.fail_pending(now, handle, LegFailure::from_status(code), Some(code));
    }

    /// Ends an early leg: as cancelled when we were cancelling it, else failed.
    fn fail_pending(
        &mut self,
        now: Instant,
        handle: CallHandle,
        outcome: LegFailure,
        status: Option<u16>,
    ) {
        let Some(leg) = self.uac.legs.get(&handle) else {
            return;
        };
        if let Some(reason) = leg.cancelling {
            return self.end_pending(now, handle, reason);
        }
        leg.span
            .in_scope(|| tracing::info!(?outcome, ?status, "leg not answered"));
        self.events.push_back(CallEvent::LegFailed {
            leg: handle,
            outcome,
            status,
        });
        self.end_pending(now, handle, EndReason::LegFailed);
    }

    /// A 2xx: ACK it (again, for a retransmission); the first one makes the call.
    fn leg_accepted(&mut self, now: Instant, key: &TxKey, handle: CallHandle, resp: &Response) {
        let tag = message::to_tag(resp);
        if let Some((peer, ack)) = self.uac.acks.get(key).and_then(|a| a.get(&tag)) {
            let msg = SipMessage::Request(ack.clone());
            return self.tl.send_stateless(*peer, msg);
        }
        let Some(leg) = self.uac.legs.remove(&handle) else {
            return self.ack_and_bye(now, key, resp);
        };
        let dialog = match Dialog::uac(&leg.invite, resp, leg.peer) {
            Ok(d) => d,
            Err(err) => {
                leg.span
                    .in_scope(|| tracing::warn!(%err, "2xx unusable: no dialog"));
                let code = resp.status_code.code();
                self.uac.legs.insert(handle, leg);
                return self.fail_pending(now, handle, LegFailure::Rejected(code), Some(code));
            }
        };
        self.send_ack(key, &dialog, tag);
        let reason = leg.cancelling;
        let webrtc = leg.webrtc.clone();
        let policy = MediaPolicy {
            codecs: leg.codecs.clone(),
            ptime_ms: self.config.ptime_ms,
        };
        self.confirm_leg(handle, leg, dialog);
        match reason {
            Some(reason) => self.hang_up(now, handle, reason),
            None => self.leg_media(now, handle, (&policy, webrtc.as_ref()), resp),
        }
    }

    fn send_ack(&mut self, key: &TxKey, dialog: &Dialog, tag: Option<Tag>) {
        let peer = dialog.peer;
        let via = self.via_to(&peer);
        let branch = Branch::new(format!("z9hG4bK{}", self.token()));
        let ack = dialog.ack(1, &via, &branch);
        self.tl
            .send_stateless(peer, SipMessage::Request(ack.clone()));
        let acks = self.uac.acks.entry(key.clone()).or_default();
        acks.insert(tag, (peer, ack));
    }

    /// A 2xx that finds no leg waiting (another fork's, or a leg already
    /// given up): ACK it and BYE it at once (RFC 3261 §13.2.2.4).
    fn ack_and_bye(&mut self, now: Instant, key: &TxKey, resp: &Response) {
        let Some((peer, invite)) = self.uac.invites.get(key) else {
            return;
        };
        let peer = *peer;
        let Ok(mut dialog) = Dialog::uac(invite, resp, peer) else {
            return;
        };
        tracing::info!(call_id = %dialog.id.call_id, "a 2xx without a leg: ACK and BYE");
        self.send_ack(key, &dialog, message::to_tag(resp));
        let via = self.via_to(&peer);
        let branch = Branch::new(format!("z9hG4bK{}", self.token()));
        let bye = dialog.request(Method::Bye, &via, &branch);
        if let Err(err) = self.tl.send_request(now, peer, bye) {
            tracing::debug!(%err, "BYE for a stray 2xx not sent");
        }
    }

    fn via_to(&self, peer: &Peer) -> ViaSpec {
        ViaSpec {
            transport: peer.transport.via_token(),
            sent_by: self.config.sent_by(peer),
        }
    }

    /// The leg becomes a confirmed call in the call table.
    fn confirm_leg(&mut self, handle: CallHandle, leg: PendingLeg, dialog: Dialog) {
        self.by_dialog.insert(
            (dialog.id.call_id.clone(), dialog.id.local_tag.clone()),
            handle,
        );
        let call = Call {
            handle,
            tenant: leg.tenant,
            caller: leg.from_user.into(),
            dialog,
            state: CallState::Confirmed,
            local_port: leg.local_port,
            media: None,
            sdp_session: (u64::from(leg.local_port), 1),
            started: leg.started,
            session_expires: None,
            span: leg.span,
            leg: Some(LegInfo {
                parent: leg.parent,
                codecs: leg.codecs,
            }),
        };
        self.calls.insert(handle, call);
    }

    /// The answer's SDP: media starts, or the leg is refused and hung up.
    fn leg_media(
        &mut self,
        now: Instant,
        handle: CallHandle,
        (policy, webrtc): (&MediaPolicy, Option<&IceCredentials>),
        resp: &Response,
    ) {
        match negotiate_answer(policy, webrtc, resp) {
            Ok(media) => {
                self.events
                    .push_back(CallEvent::LegAnswered { leg: handle });
                if let Some(call) = self.calls.get(&handle) {
                    let tenant = call.tenant.to_string();
                    metrics::counter!(m::CALLS_ANSWERED, "tenant" => tenant).increment(1);
                }
                self.start_media(handle, media);
                self.arm_call_timers(now, handle);
            }
            Err(why) => {
                self.events.push_back(CallEvent::LegFailed {
                    leg: handle,
                    outcome: LegFailure::Rejected(488),
                    status: Some(resp.status_code.code()),
                });
                self.hang_up_refused_answer(now, handle, &why);
            }
        }
    }

    /// Max duration and the drain deadline, for a call just answered.
    pub(crate) fn arm_call_timers(&mut self, now: Instant, handle: CallHandle) {
        if let Some(max) = self.config.max_duration {
            self.timers.arm(now + max, (handle, CallTimer::MaxDuration));
        }
        if let Some(deadline) = self.draining {
            self.timers.arm(deadline, (handle, CallTimer::Drain));
        }
    }
}

/// The media the 2xx's SDP answer fixes, or why it is unusable; a leg we
/// made a WebRTC offer on (`webrtc`: our ICE credentials) needs a WebRTC
/// answer.
fn negotiate_answer(
    policy: &MediaPolicy,
    webrtc: Option<&IceCredentials>,
    resp: &Response,
) -> Result<NegotiatedMedia, String> {
    let text = std::str::from_utf8(&resp.body).map_err(|_| "SDP answer not UTF-8".to_owned())?;
    let answer = sdp::parse(text).map_err(|e| format!("unreadable SDP answer: {e}"))?;
    let negotiated = match webrtc {
        Some(ours) => sdp::negotiated_from_webrtc_answer(policy, &answer, ours),
        None => sdp::negotiated_from_answer(policy, &answer),
    };
    negotiated
        .inspect_err(|err| tracing::warn!(%err, "answer refused"))
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_routing_outcomes() {
        assert_eq!(LegFailure::from_status(486), LegFailure::Busy);
        assert_eq!(LegFailure::from_status(600), LegFailure::Busy);
        assert_eq!(LegFailure::from_status(603), LegFailure::Declined);
        for code in [408, 480, 500, 503, 599] {
            assert_eq!(LegFailure::from_status(code), LegFailure::Unreachable);
        }
        for code in [301, 401, 404, 407, 487, 488, 604] {
            assert_eq!(LegFailure::from_status(code), LegFailure::Rejected(code));
        }
    }
}
