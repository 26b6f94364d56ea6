//! The ICE-lite responder (RFC 8445 §2.5, §7.3): we never send checks; we
//! answer the browser's Binding requests on our one host candidate.
//!
//! A request counts only when its USERNAME is `<our ufrag>:<its ufrag>` and
//! its MESSAGE-INTEGRITY verifies with our password (RFC 8489 §9.1.3,
//! short-term credentials); then it is answered with its source address in
//! XOR-MAPPED-ADDRESS, signed with our password, with a FINGERPRINT. The
//! source of a request carrying USE-CANDIDATE (the controlling agent's
//! nomination) becomes the address media goes to; before any nomination the
//! first valid check's source serves, so media can start at once.
//! Anything else STUN is ignored.

use std::net::SocketAddr;

use rtc_crypto::RTCCrypto;
use rtc_stun::attributes::{ATTR_USERNAME, ATTR_USE_CANDIDATE};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::{Message, BINDING_REQUEST, BINDING_SUCCESS};
use rtc_stun::textattrs::TextAttribute;
use rtc_stun::xoraddr::XorMappedAddress;

use crate::sip::sdp::IceCredentials;

/// A valid check and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Check {
    /// Where it came from: where the answer goes.
    pub from: SocketAddr,
    /// The controlling agent nominated this pair.
    pub nominated: bool,
    /// The signed Binding success response.
    pub response: Vec<u8>,
}

/// Why a STUN datagram was not a check we answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum CheckError {
    /// Not a STUN message we can decode.
    #[error("undecodable STUN")]
    Malformed,
    /// Not a Binding request (a response, an indication, another method).
    #[error("not a Binding request")]
    NotRequest,
    /// USERNAME is not `<our ufrag>:<their ufrag>`.
    #[error("USERNAME does not name this leg")]
    Username,
    /// MESSAGE-INTEGRITY missing or wrong.
    #[error("MESSAGE-INTEGRITY does not verify")]
    Integrity,
    /// The response could not be built.
    #[error("cannot build the response")]
    Build,
}

/// Checks one STUN datagram from `from` against the leg's credentials.
pub(super) fn answer_check(
    bytes: &[u8],
    from: SocketAddr,
    local: &IceCredentials,
    remote: &IceCredentials,
    crypto: &dyn RTCCrypto,
) -> Result<Check, CheckError> {
    let mut request = Message::new();
    request
        .unmarshal_binary(bytes)
        .map_err(|_| CheckError::Malformed)?;
    if request.typ != BINDING_REQUEST {
        return Err(CheckError::NotRequest);
    }
    let username =
        TextAttribute::get_from_as(&request, ATTR_USERNAME).map_err(|_| CheckError::Username)?;
    if username.text != format!("{}:{}", local.ufrag, remote.ufrag) {
        return Err(CheckError::Username);
    }
    MessageIntegrity::check(&mut request, local.pwd.as_str().as_bytes(), crypto)
        .map_err(|_| CheckError::Integrity)?;
    let mut response = Message::new();
    response
        .build(&[
            Box::new(request.clone()),
            Box::new(BINDING_SUCCESS),
            Box::new(XorMappedAddress {
                ip: from.ip(),
                port: from.port(),
            }),
            Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
                local.pwd.to_string(),
                crypto,
            )),
            Box::new(FINGERPRINT),
        ])
        .map_err(|_| CheckError::Build)?;
    Ok(Check {
        from,
        nominated: request.contains(ATTR_USE_CANDIDATE),
        response: response.raw,
    })
}
