//! Our side of SDP offer/answer for the calls we answer: the answer to an
//! INVITE's, re-INVITE's or UPDATE's offer (or our offer when it had none),
//! and the refusal when there is nothing we can answer.
//!
//! Refusals are 400 (not SDP) or 488 with a `Warning` (RFC 3261 §20.43)
//! naming the reason: 304/305 for no audio stream / no common codec, 399
//! for a media address we do not send to or a WebRTC description we cannot
//! secure (no fingerprint, no ICE credentials, an unusable `a=setup`).
//!
//! Inside the dialog of a WebRTC call a re-offer keeps the call's transport
//! ([`sdp::reoffer_role`]: hold and unhold are answered, an ICE restart, a
//! new fingerprint or a change of transport is refused, the call going on);
//! its codec stays the one the media runs.

use super::Lent;
use crate::sip::message::{self, Request};
use crate::sip::sdp::{self, AnswerOutcome, LocalMedia, MediaPolicy, NegotiatedMedia};
use crate::sip::transaction::TxKey;
use std::net::SocketAddr;
use std::time::Instant;

/// Why an offer gets no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SdpRefusal {
    /// Not UTF-8 or not SDP: 400.
    Unreadable,
    /// No common codec or no audio stream: 488 with a Warning.
    Codec(sdp::RejectReason),
    /// A `c=` address we do not send media to: 488 with a Warning.
    Address(sdp::AddressRejection),
    /// A WebRTC offer we cannot secure (no fingerprint, no ICE
    /// credentials, …), or a re-offer changing the call's transport: 488
    /// with a Warning.
    WebRtc(sdp::WebRtcSdpError),
}

impl SdpRefusal {
    /// The status code.
    pub(crate) fn code(&self) -> u16 {
        match self {
            SdpRefusal::Unreadable => 400,
            SdpRefusal::Codec(_) | SdpRefusal::Address(_) | SdpRefusal::WebRtc(_) => 488,
        }
    }

    /// The refusal metric's reason.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            SdpRefusal::Unreadable => "bad_sdp",
            SdpRefusal::Codec(_) => "codec",
            SdpRefusal::Address(_) => "media_address",
            SdpRefusal::WebRtc(_) => "webrtc_sdp",
        }
    }

    /// The Warning header's value, `agent` being our host.
    pub(crate) fn warning(&self, agent: &str) -> Option<String> {
        let quoted = |text: String| text.replace(['"', '\\'], "'");
        match self {
            SdpRefusal::Unreadable => None,
            SdpRefusal::Codec(reason) => Some(format!(
                "{} {agent} \"{}\"",
                reason.warning_code(),
                quoted(reason.to_string())
            )),
            SdpRefusal::Address(rejection) => Some(rejection.warning(agent)),
            SdpRefusal::WebRtc(err) => Some(format!("399 {agent} \"{}\"", quoted(err.to_string()))),
        }
    }
}

/// Our SDP for an answer, and the media it fixes (none yet for a late offer).
#[derive(Debug, Clone)]
pub(crate) struct SdpAnswer {
    pub(crate) media: Option<sdp::NegotiatedMedia>,
    pub(crate) text: String,
}

impl Lent<'_> {
    /// Answers an offer we refused: 400, or 488 with a Warning saying why.
    pub(crate) fn refuse_offer(
        &mut self,
        now: Instant,
        key: &TxKey,
        req: &Request,
        refusal: &SdpRefusal,
    ) {
        let mut resp = self.response(req, refusal.code(), None, None);
        let agent = self.config.advertise.to_string();
        if let Some(warning) = refusal.warning(&agent) {
            tracing::info!(code = refusal.code(), %warning, "offer refused");
            message::add_header(&mut resp, "Warning", &warning);
        }
        self.send_response(now, key, resp);
    }

    /// Our SDP: the answer to the request's offer, or our offer when it had
    /// none. A re-INVITE or UPDATE (a request with a To tag) may hold with
    /// `c=0.0.0.0`; see [`sdp::check_addresses`] for the `c=` rules.
    /// `current` is the call's media, for a request in its dialog.
    pub(crate) fn answer_sdp(
        &mut self,
        req: &Request,
        policy: &MediaPolicy,
        (peer, port): (SocketAddr, u16),
        version: u64,
        current: Option<&NegotiatedMedia>,
    ) -> Result<SdpAnswer, SdpRefusal> {
        let local = LocalMedia {
            addr: self.config.advertise_for(peer),
            port,
            // Fixed for the dialog (RFC 3264 §8): only the version grows.
            session_id: u64::from(port) << 16 | 1,
            session_version: version,
            username: "alarmgate".into(),
        };
        let webrtc = current.and_then(|m| m.webrtc.as_deref());
        let policy = match current {
            Some(media) => sdp::prefer_codec(policy, media.codec),
            None => policy.clone(),
        };
        if req.body.is_empty() {
            let text = match (webrtc, &self.config.dtls_fingerprint) {
                (Some(w), Some(fp)) => sdp::webrtc_reoffer(&policy, &local, w, fp),
                _ => sdp::offer(&policy, &local, sdp::Direction::SendRecv),
            };
            return Ok(SdpAnswer { media: None, text });
        }
        let text = std::str::from_utf8(&req.body).map_err(|_| SdpRefusal::Unreadable)?;
        let offer = sdp::parse(text).map_err(|_| SdpRefusal::Unreadable)?;
        let in_dialog = message::to_tag(req).is_some();
        if sdp::offers_webrtc(&offer) {
            return self.answer_webrtc(&offer, &policy, local, in_dialog, webrtc);
        }
        if webrtc.is_some() {
            return Err(SdpRefusal::WebRtc(sdp::WebRtcSdpError::NotWebRtc));
        }
        sdp::check_addresses(&offer, &self.config.sdp_allow, in_dialog)
            .map_err(SdpRefusal::Address)?;
        match sdp::answer(&offer, &policy, local) {
            AnswerOutcome::Accepted(media, text) => Ok(SdpAnswer {
                media: Some(media),
                text,
            }),
            AnswerOutcome::NotAcceptable { reason } => Err(SdpRefusal::Codec(reason)),
        }
    }

    /// A browser's WebRTC offer: answered as ICE-lite with fresh
    /// credentials and our fingerprint. Its `c=` is not checked (ICE checks,
    /// signed with the credentials of this answer, find the address). In
    /// the dialog of a WebRTC call (`current`) the call's credentials are
    /// kept; a WebRTC re-offer on a plain RTP call is refused (new
    /// credentials would need a transport the call does not have).
    fn answer_webrtc(
        &mut self,
        offer: &sdp::SessionDescription,
        policy: &MediaPolicy,
        local: LocalMedia,
        in_dialog: bool,
        current: Option<&sdp::WebRtcMedia>,
    ) -> Result<SdpAnswer, SdpRefusal> {
        use sdp::WebRtcSdpError as E;
        let Some(fingerprint) = self.config.dtls_fingerprint.clone() else {
            return Err(SdpRefusal::WebRtc(E::NoCertificate));
        };
        let ice = match (current, in_dialog) {
            (Some(current), _) => current.local.clone(),
            (None, true) => return Err(SdpRefusal::WebRtc(E::Renegotiation)),
            (None, false) => super::browser::ice_credentials(|| self.token()),
        };
        let ours = sdp::WebRtcLocal { ice, fingerprint };
        match sdp::answer_webrtc(offer, policy, local, &ours, current) {
            Ok((media, text)) => Ok(SdpAnswer {
                media: Some(media),
                text,
            }),
            Err(sdp::WebRtcRefusal::Transport(err)) => Err(SdpRefusal::WebRtc(err)),
            Err(sdp::WebRtcRefusal::Media(reason)) => Err(SdpRefusal::Codec(reason)),
        }
    }
}
