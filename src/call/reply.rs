//! Responses with alarmgate's headers: To tag, Contact, Allow, Supported,
//! Server (built by [`crate::sip::endpoint::reply`]), sent on the lent
//! transaction layer.

use super::{CallCore, Lent};
use crate::labels::Caller;
use crate::sip::endpoint::reply as build;
use crate::sip::message::{self, Request, Response};
use crate::sip::transaction::TxKey;
use crate::sip::types::{Peer, Tag, Transport};
use std::time::Instant;

pub use build::{ACCEPT, ALLOW, SUPPORTED};

impl Lent<'_> {
    /// Sends a response without a To tag beyond what the request had.
    pub(crate) fn reply(
        &mut self,
        now: Instant,
        key: &TxKey,
        req: &Request,
        code: u16,
        reason: Option<&str>,
    ) {
        let resp = self.response(req, code, reason, None);
        self.send_response(now, key, resp);
    }

    /// Hands a response to the server transaction.
    pub(crate) fn send_response(&mut self, now: Instant, key: &TxKey, resp: Response) {
        if let Err(err) = self.tl.respond(now, key, resp) {
            tracing::debug!(%err, "response not sent: transaction gone");
        }
    }

    /// 405 Method Not Allowed, with Allow.
    pub(crate) fn reply_not_allowed(&mut self, now: Instant, key: &TxKey, req: &Request) {
        let resp = build::not_allowed(req, &self.config.user_agent);
        self.send_response(now, key, resp);
    }

    /// 200 OK to OPTIONS in a dialog: what we can do.
    pub(crate) fn reply_options(&mut self, now: Instant, key: &TxKey, req: &Request) {
        let tag = Tag::new(self.token());
        let resp = build::options(req, &self.config.user_agent, Some(&tag));
        self.send_response(now, key, resp);
    }
}

impl CallCore {
    /// Builds a response with our Server header and a To tag: `tag` when
    /// given, else for a final response a tag derived from the request.
    pub(crate) fn response(
        &self,
        req: &Request,
        code: u16,
        reason: Option<&str>,
        tag: Option<&Tag>,
    ) -> Response {
        build::response(req, code, reason, tag, &self.config.user_agent)
    }

    /// Our Contact header value for a dialog on `peer`'s transport.
    pub(crate) fn contact(&self, user: &str, peer: &Peer) -> String {
        let sent_by = self.config.sent_by(peer);
        let user = if user.is_empty() {
            String::new()
        } else {
            format!("{user}@")
        };
        match peer.transport {
            Transport::Udp => format!("<sip:{user}{sent_by}>"),
            Transport::Tcp => format!("<sip:{user}{sent_by};transport=tcp>"),
            Transport::Tls => format!("<sips:{user}{sent_by}>"),
            Transport::Ws | Transport::Wss => {
                let param = peer.transport.uri_param();
                format!("<sip:{user}{sent_by};transport={param}>")
            }
        }
    }
}

/// The user part of the From URI (`sip:4512345678@...` or `tel:+45...`).
pub(crate) fn calling_number(req: &Request) -> Caller {
    let from = message::header_value(req, "From").unwrap_or_default();
    let uri = match (from.find('<'), from.find('>')) {
        (Some(a), Some(b)) if b > a => &from[a + 1..b],
        _ => from.split(';').next().unwrap_or_default(),
    };
    let rest = uri.split_once(':').map_or(uri, |(_, r)| r);
    let user = rest.split(['@', ';']).next().unwrap_or_default();
    Caller::new(
        user.chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect::<String>(),
    )
}

/// True when a comma-separated header (any of its instances) lists `token`.
pub(crate) fn header_has_token(req: &Request, name: &str, token: &str) -> bool {
    req.headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .flat_map(|h| h.value().split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}
