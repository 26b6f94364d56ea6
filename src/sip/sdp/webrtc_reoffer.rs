//! Offers and answers inside the dialog of a WebRTC call: JsSIP's hold
//! (`a=sendonly`), its unhold (`a=sendrecv`) and `a=inactive` come as
//! re-INVITEs that repeat the browser's ICE credentials and fingerprint.
//!
//! Such a re-offer keeps the running transport: the answer repeats our ICE
//! credentials and fingerprint, and our `a=setup` keeps the DTLS roles
//! (RFC 8842 §5.5, JSEP RFC 8829 §5.3.1): `passive` while we are the DTLS
//! server, `active` while we are the client, whatever the re-offer's
//! `actpass`. Only the direction (and so whether media flows) changes.
//!
//! Refused (488 with a Warning), the call going on with its media:
//! - other ICE credentials: an ICE restart ([`WebRtcSdpError::IceRestart`]);
//!   an ICE-lite agent on one host candidate has nothing to restart to;
//! - another fingerprint: a new DTLS association
//!   ([`WebRtcSdpError::FingerprintChanged`]);
//! - an `a=setup` that swaps the roles ([`WebRtcSdpError::RoleSwap`]).

use super::negotiate::{LocalMedia, MediaPolicy};
use super::webrtc::{
    webrtc_offer, DtlsRole, Fingerprint, IceCredentials, WebRtcLocal, WebRtcMedia,
};
use super::{Codec, Direction};

/// Our DTLS role and `a=setup` answering a re-offer that says `setup`, with
/// the browser's `remote` credentials and `fingerprint`, on a call whose
/// transport is `current`.
pub fn reoffer_role(
    remote: &IceCredentials,
    fingerprint: &Fingerprint,
    setup: &str,
    current: &WebRtcMedia,
) -> Result<(DtlsRole, &'static str), super::WebRtcSdpError> {
    use super::WebRtcSdpError as E;
    if *remote != current.remote {
        return Err(E::IceRestart);
    }
    if *fingerprint != current.remote_fingerprint {
        return Err(E::FingerprintChanged);
    }
    match (setup, current.role) {
        ("actpass" | "active", DtlsRole::Server) => Ok((DtlsRole::Server, "passive")),
        ("actpass" | "passive", DtlsRole::Client) => Ok((DtlsRole::Client, "active")),
        ("active" | "passive", _) => Err(E::RoleSwap(setup.into())),
        (other, _) => Err(E::Setup(other.into())),
    }
}

/// Our offer in a re-INVITE that came without one, on a WebRTC call: the
/// call's ICE credentials, our `fingerprint`, and the `a=setup` of our
/// current role instead of `actpass`.
pub fn webrtc_reoffer(
    policy: &MediaPolicy,
    local: &LocalMedia,
    current: &WebRtcMedia,
    fingerprint: &Fingerprint,
) -> String {
    let ours = WebRtcLocal {
        ice: current.local.clone(),
        fingerprint: fingerprint.clone(),
    };
    let setup = match current.role {
        DtlsRole::Server => "a=setup:passive\r\n",
        DtlsRole::Client => "a=setup:active\r\n",
    };
    webrtc_offer(policy, local, Direction::SendRecv, &ours).replacen(
        "a=setup:actpass\r\n",
        setup,
        1,
    )
}

/// `policy` with `codec` (the one the call's media runs) first, so that a
/// re-answer keeps it: the media worker does not switch codecs mid-call.
pub fn prefer_codec(policy: &MediaPolicy, codec: Codec) -> MediaPolicy {
    let mut codecs = policy.codecs.clone();
    if let Some(at) = codecs.iter().position(|c| *c == codec) {
        codecs.remove(at);
        codecs.insert(0, codec);
    }
    MediaPolicy {
        codecs,
        ptime_ms: policy.ptime_ms,
    }
}

#[cfg(test)]
#[path = "webrtc_reoffer_tests.rs"]
mod tests;
