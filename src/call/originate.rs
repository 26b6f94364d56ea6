//! Starting and stopping outgoing legs: our INVITE with an SDP offer,
//! CANCEL while early, BYE once answered.
//!
//! The INVITE names us the way the UAS side does: Via and Contact use
//! [`super::CoreConfig::sent_by`] towards the leg's peer, the SDP the address
//! advertised to that peer's family, the port one from the pool.

use super::browser;
use super::leg::{Originate, OriginateError, OutOfDialog, PendingLeg};
use super::reply::ALLOW;
use super::state::{CallEvent, CallHandle, EndReason};
use super::timers::CallTimer;
use super::{CallCore, Lent};
use crate::sip::message::{self, Method, Request};
use crate::sip::sdp::{self, Direction, IceCredentials, LocalMedia, MediaPolicy, WebRtcLocal};
use crate::sip::transaction::TransactionLayer;
use crate::sip::types::Peer;
use crate::telemetry::metrics as m;
use std::time::Instant;

impl CallCore {
    /// Starts an outgoing leg: an INVITE with our offer (the codecs given,
    /// telephone-event/8000 on PT 101, ptime 20) on a fresh Call-ID and
    /// From tag, sent on `tl`. Its progress arrives as
    /// [`CallEvent::LegRinging`], [`CallEvent::LegAnswered`] (then
    /// `MediaStart`) or [`CallEvent::LegFailed`], and it ends with `Ended`.
    pub fn originate(
        &mut self,
        tl: &mut TransactionLayer,
        now: Instant,
        o: Originate,
    ) -> Result<CallHandle, OriginateError> {
        if self.draining.is_some() {
            return Err(OriginateError::Draining);
        }
        if o.codecs.is_empty() {
            return Err(OriginateError::NoCodec);
        }
        let port = self.ports.acquire().ok_or(OriginateError::NoPort)?;
        let result = self.lend(tl).send_invite(now, o, port);
        if result.is_err() {
            self.ports.release(port);
        }
        result
    }

    /// Ends an outgoing leg: CANCEL while it is early (held back by the
    /// transaction layer until a provisional arrives, RFC 3261 §9.1), BYE
    /// once answered. A 2xx that crosses the CANCEL is ACKed and BYEd. The
    /// leg reports `Ended { reason: Cancelled }` when that is done (at the
    /// latest 64*T1 after the CANCEL).
    pub fn cancel_leg(&mut self, tl: &mut TransactionLayer, now: Instant, leg: CallHandle) {
        self.hang_up_call(tl, now, leg, EndReason::Cancelled);
    }

    /// The established calls whose dialog runs over `peer`'s flow.
    pub fn calls_on_flow(&self, peer: &Peer) -> Vec<CallHandle> {
        let established = |c: &&super::state::Call| {
            matches!(
                c.state,
                super::state::CallState::Answered | super::state::CallState::Confirmed
            )
        };
        // A scan of all calls: a flow closes rarely (a tab, a network).
        let mut calls: Vec<CallHandle> = (self.calls.keys())
            .filter_map(|h| self.calls.get(h))
            .filter(|c| c.dialog.peer == *peer)
            .filter(established)
            .map(|c| c.handle)
            .collect();
        calls.sort();
        calls
    }

    /// Ends any call from our side, incoming or a leg: BYE when answered,
    /// 480 to an incoming call still ringing, CANCEL to an early leg. Its
    /// `Ended` carries `reason`. Unknown handles are ignored.
    pub fn hang_up_call(
        &mut self,
        tl: &mut TransactionLayer,
        now: Instant,
        call: CallHandle,
        reason: EndReason,
    ) {
        self.lend(tl).hang_up(now, call, reason);
    }

    /// Incoming calls alive now (what the concurrency limit counts).
    pub fn incoming_calls(&self) -> usize {
        self.calls.incoming()
    }

    /// Outgoing legs alive now, early or answered.
    pub fn outgoing_legs(&self) -> usize {
        self.uac.legs.len() + self.calls.answered_legs()
    }

    /// An OPTIONS keep-alive to `request_uri` over `peer`, from us, for the
    /// endpoint to send as a probe.
    pub fn probe_request(
        &mut self,
        peer: &Peer,
        request_uri: &str,
    ) -> Result<Request, OriginateError> {
        self.out_of_dialog(Method::Options, request_uri, request_uri, "alarmgate", peer)
    }
    /// A request outside any dialog with a fresh branch, Call-ID and From tag.
    pub(crate) fn out_of_dialog(
        &mut self,
        method: Method,
        uri: &str,
        to: &str,
        user: &str,
        peer: &Peer,
    ) -> Result<Request, OriginateError> {
        let sent_by = self.config.sent_by(peer);
        let scheme = if peer.transport == crate::sip::types::Transport::Tls {
            "sips"
        } else {
            "sip"
        };
        let via = format!(
            "SIP/2.0/{} {sent_by};branch=z9hG4bK{};rport",
            peer.transport.via_token(),
            self.token()
        );
        let from = format!("<{scheme}:{user}@{sent_by}>;tag={}", self.token());
        let call_id = format!("{}{}", self.token(), self.token());
        OutOfDialog {
            method,
            uri,
            via,
            from,
            to,
            call_id: &call_id,
            user_agent: &self.config.user_agent,
        }
        .build()
    }
}

impl Lent<'_> {
    fn send_invite(
        &mut self,
        now: Instant,
        o: Originate,
        port: u16,
    ) -> Result<CallHandle, OriginateError> {
        let (invite, webrtc) = self.build_invite(&o, port)?;
        let key = self.tl.send_request(now, o.peer, invite.clone())?;
        let handle = self.new_handle();
        let call_id = message::header_value(&invite, "Call-ID").unwrap_or_default();
        let span = tracing::info_span!("leg", call_id = %call_id, tenant = %o.tenant);
        span.in_scope(|| tracing::info!(to = %o.peer.addr, uri = %o.request_uri, "calling"));
        self.uac.by_invite.insert(key.clone(), handle);
        let kept = Box::new(invite.clone());
        self.uac.invites.insert(key.clone(), (o.peer, kept));
        let leg = PendingLeg {
            parent: o.parent,
            tenant: o.tenant,
            from_user: o.from_user,
            peer: o.peer,
            invite: Box::new(invite),
            invite_tx: key,
            local_port: port,
            codecs: o.codecs,
            webrtc,
            started: now,
            cancelling: None,
            span,
        };
        self.uac.legs.insert(handle, leg);
        Ok(handle)
    }

    /// Our INVITE, and our ICE credentials when it carries a WebRTC offer.
    fn build_invite(
        &mut self,
        o: &Originate,
        port: u16,
    ) -> Result<(Request, Option<IceCredentials>), OriginateError> {
        let user = sip_user(&o.from_user);
        let mut invite =
            self.out_of_dialog(Method::Invite, &o.request_uri, &o.to, &user, &o.peer)?;
        message::add_header(&mut invite, "Contact", &self.contact(&user, &o.peer));
        message::add_header(&mut invite, "Allow", ALLOW);
        let policy = MediaPolicy {
            codecs: o.codecs.clone(),
            ptime_ms: self.config.ptime_ms,
        };
        let local = LocalMedia {
            addr: self.config.advertise_for(o.peer.addr),
            port,
            session_id: u64::from(port) << 16 | 1,
            session_version: 1,
            username: "alarmgate".into(),
        };
        let webrtc = self.browser_transport(o);
        let offer = match &webrtc {
            Some(ours) => sdp::webrtc_offer(&policy, &local, Direction::SendRecv, ours),
            None => sdp::offer(&policy, &local, Direction::SendRecv),
        };
        message::set_body(&mut invite, "application/sdp", offer.into_bytes());
        Ok((invite, webrtc.map(|w| w.ice)))
    }

    /// Fresh ICE credentials and our fingerprint when the leg is to a
    /// browser contact and the node has a DTLS certificate.
    fn browser_transport(&mut self, o: &Originate) -> Option<WebRtcLocal> {
        if !browser::is_browser_contact(&o.request_uri) {
            return None;
        }
        let Some(fingerprint) = self.config.dtls_fingerprint.clone() else {
            tracing::warn!(uri = %o.request_uri, "browser contact but no DTLS certificate: plain RTP offer");
            return None;
        };
        let ice = browser::ice_credentials(|| self.token());
        Some(WebRtcLocal { ice, fingerprint })
    }

    /// Early leg: CANCEL it (once). The final response, Timer B or the
    /// cancel guard ends it with `reason`.
    pub(crate) fn cancel_pending(&mut self, now: Instant, handle: CallHandle, reason: EndReason) {
        let Some(leg) = self.uac.legs.get_mut(&handle) else {
            return;
        };
        if leg.cancelling.is_some() {
            return;
        }
        leg.cancelling = Some(reason);
        let invite_tx = leg.invite_tx.clone();
        leg.span
            .in_scope(|| tracing::info!(reason = reason.as_str(), "cancelling"));
        match self.tl.cancel(now, &invite_tx) {
            Ok(_) => {
                let guard = now + self.config.timers.timeout();
                self.timers.arm(guard, (handle, CallTimer::CancelGuard));
            }
            Err(err) => {
                tracing::debug!(%err, "CANCEL not sent: the INVITE is over");
                self.end_pending(now, handle, reason);
            }
        }
    }

    /// Forgets an early leg: its port, and one `Ended`.
    pub(crate) fn end_pending(&mut self, now: Instant, handle: CallHandle, reason: EndReason) {
        let Some(leg) = self.uac.legs.remove(&handle) else {
            return;
        };
        self.ports.release(leg.local_port);
        let duration = now.saturating_duration_since(leg.started);
        leg.span
            .in_scope(|| tracing::info!(reason = reason.as_str(), "leg ended"));
        metrics::counter!(m::CALLS_ENDED, "reason" => reason.as_str()).increment(1);
        let call_id = message::call_id(leg.invite.as_ref())
            .unwrap_or_else(|_| crate::sip::types::CallId::new(String::new()));
        self.events.push_back(CallEvent::Ended {
            call: handle,
            call_id,
            reason,
            duration,
        });
    }
}

/// The user part we present: unreserved characters only, `alarmgate` when empty.
fn sip_user(user: &str) -> String {
    let clean: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+-_.!~*'()".contains(*c))
        .take(64)
        .collect();
    if clean.is_empty() {
        "alarmgate".into()
    } else {
        clean
    }
}
