//! The WebRTC profile of an audio stream (RFC 8829 §5, RFC 8839, RFC 8842):
//! `UDP/TLS/RTP/SAVPF` with ICE credentials, a DTLS certificate
//! fingerprint and `a=setup`, RTP and RTCP on one port (RFC 5761).
//!
//! We are an ICE-lite agent (RFC 8445 §2.5) on one host candidate: the
//! browser is the full, controlling agent and checks our address; DTLS
//! (RFC 5763) runs on the pair it checked. When we offer we say
//! `a=setup:actpass` and the answer picks: `active` (the browser is the
//! DTLS client, what browsers do) or `passive` (we are). When we answer an
//! offer that said `actpass` we are `passive`.
//!
//! The codecs, telephone-event, ptime and direction are negotiated exactly
//! as for plain RTP ([`super::negotiate`]); only the transport differs.

use std::fmt::Write as _;

use super::negotiate::{LocalMedia, MediaPolicy, NegotiatedMedia};
use super::offer::{negotiated_from_answer, offer};
use super::{Direction, Media, SdpError, SessionDescription};
use crate::newtype::string_newtype;

string_newtype!(
    /// An ICE username fragment (`a=ice-ufrag`, RFC 8839 §5.4).
    IceUfrag
);
string_newtype!(
    /// An ICE password (`a=ice-pwd`).
    IcePwd
);

/// One side's ICE credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IceCredentials {
    /// The username fragment.
    pub ufrag: IceUfrag,
    /// The password (the STUN short-term key).
    pub pwd: IcePwd,
}

/// A certificate fingerprint (`a=fingerprint`, RFC 8122 §5): the hash
/// function (lower case) and its value (upper-case hex pairs with colons).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// `sha-256`.
    pub algorithm: String,
    /// `AB:CD:…`.
    pub value: String,
}

impl Fingerprint {
    /// The SHA-256 fingerprint of `digest` (32 bytes).
    pub fn sha256(digest: &[u8]) -> Self {
        let value = digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        Self {
            algorithm: "sha-256".into(),
            value,
        }
    }
}

/// Which end of DTLS we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// We send the ClientHello (we said or were told `active`).
    Client,
    /// We wait for it (`passive`).
    Server,
}

/// What our own WebRTC description advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcLocal {
    /// Our ICE credentials (fresh per leg).
    pub ice: IceCredentials,
    /// Our certificate's fingerprint.
    pub fingerprint: Fingerprint,
}

/// The agreed WebRTC transport of a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcMedia {
    /// Ours: checks must name our ufrag and be signed with our password.
    pub local: IceCredentials,
    /// The browser's: our answers to its checks name its ufrag.
    pub remote: IceCredentials,
    /// The certificate the browser must present in DTLS.
    pub remote_fingerprint: Fingerprint,
    /// Our DTLS role.
    pub role: DtlsRole,
}

/// Why a WebRTC description cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebRtcSdpError {
    /// No `a=fingerprint` (media or session level).
    #[error("WebRTC description without a=fingerprint")]
    NoFingerprint,
    /// A fingerprint with a hash function other than sha-256.
    #[error("unsupported fingerprint hash {0:?} (only sha-256)")]
    FingerprintHash(String),
    /// No `a=ice-ufrag` or `a=ice-pwd`.
    #[error("WebRTC description without ICE credentials (a=ice-ufrag, a=ice-pwd)")]
    NoIceCredentials,
    /// `a=setup` other than `active` or `passive` in an answer, or
    /// `holdconn`.
    #[error("unusable a=setup:{0}")]
    Setup(String),
    /// A WebRTC re-offer on a plain RTP call (a change of transport).
    #[error("WebRTC re-offer in a dialog not supported: the call keeps its media")]
    Renegotiation,
    /// A plain RTP re-offer on a WebRTC call (a change of transport).
    #[error("plain RTP re-offer on a WebRTC call: the call keeps its WebRTC media")]
    NotWebRtc,
    /// A re-offer with other ICE credentials (an ICE restart, RFC 8839 §4.4.1.1.1).
    #[error("ICE restart not supported: re-offer with the call's ICE credentials")]
    IceRestart,
    /// A re-offer with another certificate fingerprint (a new DTLS association).
    #[error("DTLS fingerprint changed: re-offer with the call's certificate")]
    FingerprintChanged,
    /// A WebRTC offer to a node without a DTLS certificate.
    #[error("WebRTC not enabled on this node (no DTLS certificate)")]
    NoCertificate,
    /// A re-offer whose `a=setup` would swap the running DTLS roles.
    #[error("a=setup:{0} would swap the running DTLS roles (RFC 8842 §5.5)")]
    RoleSwap(String),
}

/// True for the profiles a WebRTC endpoint offers (RFC 5764 §8, RFC 8829).
pub fn is_webrtc_profile(proto: &str) -> bool {
    ["UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP"]
        .iter()
        .any(|p| proto.eq_ignore_ascii_case(p))
}

/// The attribute `name` of `media`, else of the session.
fn attribute<'a>(sdp: &'a SessionDescription, media: &'a Media, name: &str) -> Option<&'a str> {
    let value = |line: &'a str| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then_some(value.trim())
    };
    let session = sdp.other_lines.iter().filter_map(|l| l.strip_prefix("a="));
    media
        .other_attributes
        .iter()
        .map(String::as_str)
        .chain(session)
        .find_map(value)
}

/// The browser's ICE credentials, fingerprint and `a=setup` value.
pub fn remote_transport(
    sdp: &SessionDescription,
    media: &Media,
) -> Result<(IceCredentials, Fingerprint, String), WebRtcSdpError> {
    let (Some(ufrag), Some(pwd)) = (
        attribute(sdp, media, "ice-ufrag").filter(|v| is_ice_chars(v)),
        attribute(sdp, media, "ice-pwd").filter(|v| is_ice_chars(v)),
    ) else {
        return Err(WebRtcSdpError::NoIceCredentials);
    };
    let fingerprint = attribute(sdp, media, "fingerprint").ok_or(WebRtcSdpError::NoFingerprint)?;
    let (algorithm, value) = fingerprint
        .split_once(' ')
        .ok_or(WebRtcSdpError::NoFingerprint)?;
    if !algorithm.eq_ignore_ascii_case("sha-256") {
        return Err(WebRtcSdpError::FingerprintHash(algorithm.into()));
    }
    let setup = attribute(sdp, media, "setup").unwrap_or("actpass");
    let ice = IceCredentials {
        ufrag: IceUfrag::new(ufrag.to_owned()),
        pwd: IcePwd::new(pwd.to_owned()),
    };
    let fingerprint = Fingerprint {
        algorithm: "sha-256".into(),
        value: value.trim().to_ascii_uppercase(),
    };
    Ok((ice, fingerprint, setup.to_ascii_lowercase()))
}

/// RFC 8839 §5.4 ice-char: ALPHA / DIGIT / "+" / "/", at most 256.
fn is_ice_chars(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 256
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Our WebRTC offer: the plain offer's codecs on `UDP/TLS/RTP/SAVPF`, ICE-lite
/// with one host candidate on the local port, our fingerprint,
/// `a=setup:actpass`, `a=rtcp-mux`.
pub fn webrtc_offer(
    policy: &MediaPolicy,
    local: &LocalMedia,
    direction: Direction,
    ours: &WebRtcLocal,
) -> String {
    let plain = offer(policy, local, direction);
    let text = plain.replacen(" RTP/AVP ", " UDP/TLS/RTP/SAVPF ", 1);
    let text = text.replacen(
        "t=0 0\r\n",
        "t=0 0\r\na=ice-lite\r\na=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n",
        1,
    );
    let mut out = text;
    let _ = write!(
        out,
        "a=mid:0\r\na=rtcp-mux\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=fingerprint:{} {}\r\n\
         a=setup:actpass\r\na=candidate:1 1 udp 2130706431 {} {} typ host\r\na=end-of-candidates\r\n",
        ours.ice.ufrag,
        ours.ice.pwd,
        ours.fingerprint.algorithm,
        ours.fingerprint.value,
        local.addr,
        local.port,
    );
    out
}

/// Reads the browser's answer to a [`webrtc_offer`]: the codecs as for plain
/// RTP, plus its transport. Its `c=` may be `0.0.0.0` (candidates carry the
/// addresses, and we learn the real one from its checks): that is not a hold.
pub fn negotiated_from_webrtc_answer(
    policy: &MediaPolicy,
    answer: &SessionDescription,
    local: &IceCredentials,
) -> Result<NegotiatedMedia, SdpError> {
    let mut negotiated = negotiated_from_answer(policy, answer)?;
    let media = answer
        .media
        .iter()
        .find(|m| m.kind.eq_ignore_ascii_case("audio") && m.port != 0)
        .ok_or(SdpError::NoAudioAccepted)?;
    let (remote, remote_fingerprint, setup) =
        remote_transport(answer, media).map_err(SdpError::WebRtc)?;
    let role = match setup.as_str() {
        "active" => DtlsRole::Server,
        "passive" => DtlsRole::Client,
        other => return Err(SdpError::WebRtc(WebRtcSdpError::Setup(other.into()))),
    };
    negotiated.direction = media
        .direction
        .or(answer.direction)
        .unwrap_or(Direction::SendRecv)
        .reversed();
    negotiated.webrtc = Some(Box::new(WebRtcMedia {
        local: local.clone(),
        remote,
        remote_fingerprint,
        role,
    }));
    Ok(negotiated)
}

/// Why a WebRTC offer gets no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRtcRefusal {
    /// The transport is unusable (no fingerprint, no ICE credentials, …).
    Transport(WebRtcSdpError),
    /// No audio stream or no common codec.
    Media(super::RejectReason),
}

/// True when the offer's audio is WebRTC only (no plain RTP audio stream).
pub fn offers_webrtc(offer: &SessionDescription) -> bool {
    let audio = |m: &&Media| m.kind.eq_ignore_ascii_case("audio") && m.port != 0;
    !offer.media.iter().filter(audio).any(|m| m.is_plain_rtp())
        && offer
            .media
            .iter()
            .filter(audio)
            .any(|m| is_webrtc_profile(&m.proto))
}

/// Answers a browser's WebRTC offer: the codecs as for plain RTP (see
/// [`super::answer()`]), ICE-lite on our port, `ours` credentials and
/// fingerprint, `a=setup:passive` (or `active` when the offer is passive).
/// Its `c=` is not a hold: the addresses come from ICE.
///
/// A re-offer in the dialog of a WebRTC call (`current`, its transport:
/// JsSIP's hold and unhold) must keep that transport, see
/// [`super::webrtc_reoffer::reoffer_role`]; `ours` then holds the call's
/// own credentials.
pub fn answer_webrtc(
    offer: &SessionDescription,
    policy: &MediaPolicy,
    local: LocalMedia,
    ours: &WebRtcLocal,
    current: Option<&WebRtcMedia>,
) -> Result<(NegotiatedMedia, String), WebRtcRefusal> {
    let no_audio = WebRtcRefusal::Media(super::RejectReason::NoAudioStream);
    let index = offer
        .media
        .iter()
        .position(|m| {
            m.kind.eq_ignore_ascii_case("audio") && m.port != 0 && is_webrtc_profile(&m.proto)
        })
        .ok_or(no_audio)?;
    let media = offer
        .media
        .get(index)
        .ok_or(WebRtcRefusal::Media(super::RejectReason::NoAudioStream))?;
    let (remote, remote_fingerprint, setup) =
        remote_transport(offer, media).map_err(WebRtcRefusal::Transport)?;
    let (role, our_setup) = match current {
        Some(current) => {
            super::webrtc_reoffer::reoffer_role(&remote, &remote_fingerprint, &setup, current)
        }
        None => initial_role(&setup),
    }
    .map_err(WebRtcRefusal::Transport)?;
    let mid = attribute(offer, media, "mid").map(str::to_owned);
    let mut plain = offer.clone();
    plain.connection = Some(super::ConnectionAddr::Ip(local.addr));
    if let Some(m) = plain.media.get_mut(index) {
        m.proto = "RTP/AVP".into();
        m.connection = None;
    }
    let (mut negotiated, text) = match super::answer(&plain, policy, local.clone()) {
        super::AnswerOutcome::Accepted(media, text) => (media, text),
        super::AnswerOutcome::NotAcceptable { reason } => return Err(WebRtcRefusal::Media(reason)),
    };
    negotiated.webrtc = Some(Box::new(WebRtcMedia {
        local: ours.ice.clone(),
        remote,
        remote_fingerprint,
        role,
    }));
    Ok((
        negotiated,
        webrtc_text(&text, &local, ours, our_setup, mid.as_deref()),
    ))
}

/// Our DTLS role and `a=setup` answering a first offer's `a=setup`.
fn initial_role(setup: &str) -> Result<(DtlsRole, &'static str), WebRtcSdpError> {
    match setup {
        "actpass" | "active" => Ok((DtlsRole::Server, "passive")),
        "passive" => Ok((DtlsRole::Client, "active")),
        other => Err(WebRtcSdpError::Setup(other.into())),
    }
}

/// A plain description made WebRTC: the profile, ICE-lite, our transport
/// attributes after the audio stream (which is the only accepted one).
fn webrtc_text(
    plain: &str,
    local: &LocalMedia,
    ours: &WebRtcLocal,
    setup: &str,
    mid: Option<&str>,
) -> String {
    let bundle = mid
        .map(|m| format!("a=group:BUNDLE {m}\r\n"))
        .unwrap_or_default();
    let head = format!("t=0 0\r\na=ice-lite\r\n{bundle}a=msid-semantic: WMS\r\n");
    let text = plain
        .replacen(" RTP/AVP ", " UDP/TLS/RTP/SAVPF ", 1)
        .replacen("t=0 0\r\n", &head, 1);
    let (before, after) = split_after_audio(&text);
    let mut out = before.to_owned();
    if let Some(mid) = mid {
        let _ = write!(out, "a=mid:{mid}\r\n");
    }
    let _ = write!(
        out,
        "a=rtcp-mux\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=fingerprint:{} {}\r\n\
         a=setup:{setup}\r\na=candidate:1 1 udp 2130706431 {} {} typ host\r\na=end-of-candidates\r\n",
        ours.ice.ufrag,
        ours.ice.pwd,
        ours.fingerprint.algorithm,
        ours.fingerprint.value,
        local.addr,
        local.port,
    );
    out.push_str(after);
    out
}

/// The text up to the end of the accepted audio section, and the rest.
fn split_after_audio(text: &str) -> (&str, &str) {
    let Some(start) = text.find(" UDP/TLS/RTP/SAVPF ") else {
        return (text, "");
    };
    let end = text
        .get(start..)
        .and_then(|rest| rest.find("\r\nm="))
        .map_or(text.len(), |i| start + i + 2);
    (
        text.get(..end).unwrap_or(text),
        text.get(end..).unwrap_or_default(),
    )
}

#[cfg(test)]
#[path = "webrtc_tests.rs"]
mod tests;
