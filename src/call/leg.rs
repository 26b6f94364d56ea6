//! Outgoing legs before they are answered, and the requests that start them.
//!
//! A leg is an INVITE we send (to an operator's softphone, or through a
//! trunk). Until its 2xx it lives here as a [`PendingLeg`]: the INVITE, its
//! client transaction, the port of our offer. On the 2xx it becomes an
//! ordinary [`super::state::Call`] (with [`super::state::LegInfo`]) in the
//! core's call table, so BYE, re-INVITE and UPDATE from the far end take the
//! same paths as on incoming calls.

use super::state::CallHandle;
use crate::labels::TenantId;
use crate::sip::message::rsip::{self, headers::make_header, Headers, Method, Request};
use crate::sip::sdp::Codec;
use crate::sip::transaction::{TxError, TxKey};
use crate::sip::types::{Peer, Tag};
use std::collections::HashMap;
use std::time::Instant;

/// What to call.
#[derive(Debug, Clone, PartialEq)]
pub struct Originate {
    /// The call this leg will be bridged to; `None` for a recall's first leg.
    pub parent: Option<CallHandle>,
    /// The Request-URI (`sip:op1@192.0.2.9:5062`, or a number at a trunk).
    pub request_uri: String,
    /// The To URI (usually the same as `request_uri`).
    pub to: String,
    /// The user part of our From URI (the number we present).
    pub from_user: String,
    /// Where to send the INVITE (a registered contact's flow, or a trunk proxy).
    pub peer: Peer,
    /// The tenant the leg is for (metrics, logs, journal).
    pub tenant: TenantId,
    /// Codecs to offer, in preference order (PCMA/PCMU).
    pub codecs: Vec<Codec>,
}

/// Why an outgoing leg could not be started.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OriginateError {
    /// Every RTP port is in use.
    #[error("no free RTP port")]
    NoPort,
    /// The node is draining.
    #[error("draining: no new calls")]
    Draining,
    /// No codec to offer.
    #[error("no codec to offer")]
    NoCodec,
    /// The Request-URI or To URI is not a SIP URI we can put in a request.
    #[error("invalid URI {uri:?}")]
    InvalidUri {
        /// The URI given.
        uri: String,
    },
    /// The transaction layer refused the INVITE.
    #[error(transparent)]
    Transaction(#[from] TxError),
}

/// An outgoing leg waiting for its final response.
#[derive(Debug)]
pub(crate) struct PendingLeg {
    pub(crate) parent: Option<CallHandle>,
    pub(crate) tenant: TenantId,
    pub(crate) from_user: String,
    pub(crate) peer: Peer,
    pub(crate) invite: Box<Request>,
    pub(crate) invite_tx: TxKey,
    pub(crate) local_port: u16,
    pub(crate) codecs: Vec<Codec>,
    /// Our ICE credentials when the leg is to a browser (WebRTC offer).
    pub(crate) webrtc: Option<crate::sip::sdp::IceCredentials>,
    pub(crate) started: Instant,
    /// We asked to cancel (the reason to end with): the final response,
    /// Timer B or the cancel guard ends the leg.
    pub(crate) cancelling: Option<super::state::EndReason>,
    pub(crate) span: tracing::Span,
}

/// The UAC side of the core: pending legs, their transactions, ACKs.
#[derive(Debug, Default)]
pub(crate) struct UacState {
    pub(crate) legs: HashMap<CallHandle, PendingLeg>,
    /// Our INVITE client transactions, kept until the layer terminates them
    /// (2xx retransmissions arrive until Timer M).
    pub(crate) by_invite: HashMap<TxKey, CallHandle>,
    /// Our INVITEs by transaction, to ACK and BYE a 2xx that finds no leg
    /// waiting (another fork's, or a leg already given up).
    pub(crate) invites: HashMap<TxKey, (Peer, Box<Request>)>,
    /// The ACKs sent for 2xx responses, by INVITE transaction, then by the
    /// 2xx's To tag (one per fork that answered): resent for each
    /// retransmission, all forgotten at once when the transaction ends.
    pub(crate) acks: HashMap<TxKey, HashMap<Option<Tag>, (Peer, Request)>>,
}

/// The headers of a request outside a dialog.
pub(crate) struct OutOfDialog<'a> {
    pub(crate) method: Method,
    pub(crate) uri: &'a str,
    pub(crate) via: String,
    pub(crate) from: String,
    pub(crate) to: &'a str,
    pub(crate) call_id: &'a str,
    pub(crate) user_agent: &'a str,
}

impl OutOfDialog<'_> {
    /// The request, or `None` when the Request-URI or To does not parse.
    pub(crate) fn build(&self) -> Result<Request, OriginateError> {
        let uri = parse_uri(self.uri)?;
        let to = name_addr(self.to)?;
        let mut headers = Headers::default();
        headers.push(make_header("Via", self.via.clone()));
        headers.push(make_header("Max-Forwards", "70".into()));
        headers.push(make_header("From", self.from.clone()));
        headers.push(make_header("To", to));
        headers.push(make_header("Call-ID", self.call_id.to_string()));
        headers.push(make_header("CSeq", format!("1 {}", self.method)));
        headers.push(make_header("User-Agent", self.user_agent.to_string()));
        Ok(Request {
            method: self.method,
            uri,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        })
    }
}

/// A SIP or SIPS URI without characters that could break a header line.
fn parse_uri(uri: &str) -> Result<rsip::Uri, OriginateError> {
    let invalid = || OriginateError::InvalidUri { uri: uri.into() };
    let trimmed = uri.trim();
    let clean = !trimmed.is_empty()
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    let scheme = trimmed.get(..4).map(str::to_ascii_lowercase);
    if !clean || !matches!(scheme.as_deref(), Some("sip:") | Some("sips")) {
        return Err(invalid());
    }
    rsip::Uri::try_from(trimmed).map_err(|_| invalid())
}

/// `<uri>` for a bare URI; the URI is checked like a Request-URI.
fn name_addr(to: &str) -> Result<String, OriginateError> {
    parse_uri(to)?;
    Ok(format!("<{}>", to.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_that_could_break_a_header_are_refused() {
        for bad in ["", "tel:+4512", "sip:a@b\r\nX: y", "sip:<a@b>", "http://x"] {
            assert!(parse_uri(bad).is_err(), "{bad:?}");
        }
        for good in [
            "sip:op1@192.0.2.9:5062",
            "sips:op@example.com",
            "sip:+4512@trunk;user=phone",
        ] {
            assert!(parse_uri(good).is_ok(), "{good:?}");
        }
        assert_eq!(name_addr("sip:a@b").unwrap(), "<sip:a@b>");
    }
}
