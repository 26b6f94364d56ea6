//! What the registrar tells its driver: events, keep-alive probes to send,
//! and the outcome of each REGISTER.

use std::net::IpAddr;
use std::time::Instant;

use super::bindings::UpdateError;
use super::request::RegisterError;
use crate::routing::OperatorId;
use crate::sip::digest::RejectReason;
use crate::sip::message::Response;
use crate::sip::types::Peer;

/// Something the rest of the gateway may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    /// An operator gained its first binding (`true`) or lost its last (`false`).
    Reachable {
        /// The operator.
        operator: OperatorId,
        /// Whether it has a live binding now.
        reachable: bool,
    },
    /// A new binding.
    BindingAdded {
        /// The operator.
        operator: OperatorId,
        /// The contact URI.
        contact: String,
        /// The flow it registered over.
        peer: Peer,
    },
    /// A binding went.
    BindingRemoved {
        /// The operator.
        operator: OperatorId,
        /// The contact URI.
        contact: String,
        /// Why.
        reason: RemoveReason,
    },
    /// A source failed authentication too often and is blocked.
    Blocked {
        /// The source (an IPv4 address or an IPv6 /64 prefix).
        source: IpAddr,
        /// When the block ends.
        until: Instant,
    },
}

/// Why a binding went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoveReason {
    /// The softphone removed it (expires=0 or `*`).
    Unregistered,
    /// It was not refreshed in time.
    Expired,
    /// It did not answer keep-alives (two misses, or silence for two intervals).
    Unresponsive,
    /// Its operator is no longer configured (reload).
    OperatorRemoved,
    /// The WebSocket flow it registered over closed (a closed tab, a dead
    /// socket): a browser cannot be reached any other way.
    FlowClosed,
}

impl RemoveReason {
    /// A metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Unregistered => "unregistered",
            Self::Expired => "expired",
            Self::Unresponsive => "unresponsive",
            Self::OperatorRemoved => "operator_removed",
            Self::FlowClosed => "flow_closed",
        }
    }
}

/// Identifies one keep-alive probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeId(pub u64);

/// A keep-alive to send now: OPTIONS to `contact` through `peer`. Report
/// the result with [`super::Registrar::probe_result`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The probe.
    pub id: ProbeId,
    /// Whose binding.
    pub operator: OperatorId,
    /// The Request-URI of the OPTIONS (the registered contact).
    pub contact: String,
    /// The flow to send it over.
    pub peer: Peer,
}

/// A REGISTER's answer: the response to send and what it means.
#[derive(Debug, Clone)]
pub struct RegisterReply {
    /// The response, To tag set; the driver adds Server and sends it in
    /// the REGISTER's server transaction.
    pub response: Response,
    /// What happened, for logs and tests.
    pub outcome: RegisterOutcome,
}

/// What a REGISTER came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// 200: the bindings were updated (or queried); this many remain.
    Bound {
        /// The operator.
        operator: OperatorId,
        /// Bindings after the update.
        bindings: usize,
    },
    /// 401: no credentials, a nonce not ours, or `stale=true`.
    Challenged {
        /// True when the answer was right but the nonce expired.
        stale: bool,
    },
    /// 403: wrong credentials; counted towards blocking the source.
    Forbidden(AuthFailure),
    /// 403 without digest work: the source is blocked.
    Blocked {
        /// When the block ends.
        until: Instant,
    },
    /// 423 Interval Too Brief, with Min-Expires.
    TooBrief {
        /// Min-Expires, in seconds.
        min_expires: u64,
    },
    /// 500 (out of order, §10.3 step 7) or 403 (too many contacts).
    Refused(UpdateError),
    /// 400: the request could not be read.
    Malformed(RegisterError),
}

/// Why credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// The digest check failed.
    #[error(transparent)]
    Digest(RejectReason),
    /// Right credentials of one operator registering another's AOR.
    #[error("user {authenticated:?} may not register {aor}")]
    WrongUser {
        /// The digest username.
        authenticated: String,
        /// The To user.
        aor: OperatorId,
    },
}

impl AuthFailure {
    /// A metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::WrongUser { .. } => "wrong_user",
            Self::Digest(reason) => match reason {
                RejectReason::UnknownUser { .. } => "unknown_user",
                RejectReason::BadResponse { .. } => "bad_response",
                RejectReason::Replay { .. } => "replay",
                _ => "malformed",
            },
        }
    }
}
