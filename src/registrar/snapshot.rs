//! The registrar's state for the API: per operator its bindings, and the
//! sources blocked now. Times are relative to the snapshot's `now`.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use serde::Serialize;

use super::bindings::Entry;
use super::reply::ceil_secs;
use crate::routing::OperatorId;

/// Everything the registrar knows, serde-serialisable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrarView {
    /// Every configured operator (and any still bound), by id.
    pub operators: Vec<OperatorView>,
    /// Sources blocked after repeated authentication failures.
    pub blocked: Vec<BlockedView>,
}

/// One operator's registrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorView {
    /// The operator.
    pub operator: OperatorId,
    /// True when it has at least one binding.
    pub reachable: bool,
    /// Its bindings, newest first.
    pub bindings: Vec<BindingView>,
}

/// One binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingView {
    /// The contact URI.
    pub contact: String,
    /// `UDP`, `TCP` or `TLS`.
    pub transport: String,
    /// The address the REGISTER came from (the flow used to reach it).
    pub source: SocketAddr,
    /// Seconds until it expires (rounded up).
    pub expires_in_s: u64,
    /// Seconds since it was last heard from (REGISTER or keep-alive answer).
    pub last_seen_s_ago: u64,
    /// Seconds since it was first registered.
    pub registered_s_ago: u64,
    /// Keep-alives missed in a row.
    pub missed_keepalives: u32,
}

/// A blocked source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockedView {
    /// An IPv4 address or an IPv6 /64 prefix.
    pub source: IpAddr,
    /// Seconds until the block ends (rounded up).
    pub remaining_s: u64,
}

/// The view of one operator's entries, newest first.
pub(crate) fn operator_view(op: &OperatorId, entries: &[Entry], now: Instant) -> OperatorView {
    let mut bindings: Vec<&Entry> = entries.iter().collect();
    bindings.sort_by_key(|e| std::cmp::Reverse(e.binding.registered_at));
    OperatorView {
        operator: op.clone(),
        reachable: !entries.is_empty(),
        bindings: bindings.into_iter().map(|e| binding_view(e, now)).collect(),
    }
}

fn binding_view(entry: &Entry, now: Instant) -> BindingView {
    let b = &entry.binding;
    BindingView {
        contact: b.contact.clone(),
        transport: b.peer.transport.via_token().to_string(),
        source: b.peer.addr,
        expires_in_s: ceil_secs(b.expires_at.saturating_duration_since(now)),
        last_seen_s_ago: now.saturating_duration_since(b.last_heard).as_secs(),
        registered_s_ago: now.saturating_duration_since(b.registered_at).as_secs(),
        missed_keepalives: entry.live.misses,
    }
}

/// The view of one blocked source.
pub(crate) fn blocked_view(source: IpAddr, until: Instant, now: Instant) -> BlockedView {
    BlockedView {
        source,
        remaining_s: ceil_secs(until.saturating_duration_since(now)),
    }
}
