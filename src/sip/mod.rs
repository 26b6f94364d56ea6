//! SIP, sans-IO: messages, framing, transactions, dialogs, SDP, digest.
//!
//! Read RFC 3261 first (§17 for [`transaction`], §12 for [`dialog`]),
//! then RFC 6026 (2xx handling), RFC 3264 ([`sdp`]) and RFC 8760 ([`digest`]).

pub mod dialog;
pub mod digest;
pub mod dtmf_info;
pub mod endpoint;
pub mod framing;
pub mod message;
pub mod sdp;
pub mod transaction;
pub mod types;
pub mod validate;
