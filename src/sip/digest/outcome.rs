//! What verifying an `Authorization` value can come to: values, not errors
//! (RFC 7616 §3.4: a stale nonce is re-challenged, a wrong answer refused).

use super::DigestError;

/// The result of checking an `Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The credentials are right.
    Ok {
        /// The authenticated user.
        username: String,
    },
    /// The credentials were right but the nonce is expired or from an
    /// earlier run: challenge again with `stale=true`.
    Stale,
    /// Refused: answer 403, or challenge again without `stale`.
    Rejected {
        /// Why, for the log (never contains a secret).
        reason: RejectReason,
    },
}

/// Why credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The header could not be read.
    #[error("malformed Authorization: {0}")]
    Malformed(#[from] DigestError),
    /// `realm` is not ours.
    #[error("realm {realm:?} is not ours")]
    RealmMismatch {
        /// The realm given.
        realm: String,
    },
    /// `uri` is not a SIP, SIPS or tel URI.
    #[error("digest uri {uri:?} is not a sip:, sips: or tel: URI")]
    UriForm {
        /// The uri given (truncated).
        uri: String,
    },
    /// `qop` other than `auth`, or none when qop is required.
    #[error("qop {qop:?} not accepted")]
    Qop {
        /// The qop given (empty when absent).
        qop: String,
    },
    /// The nonce was not made by a server with our secret and realm
    /// (tampered, forged or from another realm).
    #[error("nonce was not issued by this server")]
    ForeignNonce,
    /// `opaque` differs from the one we issue.
    #[error("opaque does not match")]
    OpaqueMismatch,
    /// The lookup knows no credential for this user and algorithm.
    #[error("unknown user {username:?}")]
    UnknownUser {
        /// The username given.
        username: String,
    },
    /// The response digest is wrong (wrong password or altered request).
    #[error("wrong response for user {username:?}")]
    BadResponse {
        /// The username given.
        username: String,
    },
    /// `nc` is not above the last one seen for this nonce.
    #[error("replayed nonce count {nc} (last seen {last}) for user {username:?}")]
    Replay {
        /// The username given.
        username: String,
        /// The nc given.
        nc: u32,
        /// The highest nc seen before.
        last: u32,
    },
}
