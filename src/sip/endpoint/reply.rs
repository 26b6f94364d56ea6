//! Responses with alarmgate's headers (Server, a To tag, Allow, Accept,
//! Supported), built for the endpoint and the call core alike, and the SIP
//! traffic counters.

use crate::sip::message::{self, Method, Request, Response};
use crate::sip::types::Tag;
use crate::telemetry::metrics as m;

/// Methods we accept; the value of Allow.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO";
/// Option tags we support; the value of Supported.
pub const SUPPORTED: &str = "timer";
/// Bodies we accept; the value of Accept.
pub const ACCEPT: &str = "application/sdp";

/// A response with our Server header and a To tag: `tag` when given, else
/// for a final response out of a dialog a tag derived from the request.
pub fn response(
    req: &Request,
    code: u16,
    reason: Option<&str>,
    tag: Option<&Tag>,
    user_agent: &str,
) -> Response {
    let mut resp = message::response_to(req, code, reason);
    match tag {
        Some(tag) => message::set_to_tag(&mut resp, tag),
        // A final response carries a To tag (RFC 3261 §8.2.6.2); one that
        // makes no dialog gets a tag derived from Call-ID and CSeq.
        None if code >= 200 && message::to_tag(req).is_none() => {
            message::set_to_tag(&mut resp, &stateless_tag(req));
        }
        None => {}
    }
    message::add_header(&mut resp, "Server", user_agent);
    resp
}

/// 405 Method Not Allowed, with Allow.
pub fn not_allowed(req: &Request, user_agent: &str) -> Response {
    let mut resp = response(req, 405, None, None, user_agent);
    message::add_header(&mut resp, "Allow", ALLOW);
    resp
}

/// 200 OK to OPTIONS: what we can do. `tag` for one out of a dialog.
pub fn options(req: &Request, user_agent: &str, tag: Option<&Tag>) -> Response {
    let tag = tag.filter(|_| message::to_tag(req).is_none());
    let mut resp = response(req, 200, None, tag, user_agent);
    message::add_header(&mut resp, "Allow", ALLOW);
    message::add_header(&mut resp, "Accept", ACCEPT);
    message::add_header(&mut resp, "Supported", SUPPORTED);
    message::add_header(&mut resp, "Accept-Encoding", "identity");
    message::add_header(&mut resp, "Accept-Language", "en");
    resp
}

/// A To tag for a stateless answer, the same for every retransmission of the
/// request (derived from its Call-ID and CSeq), so the far end sees one answer.
pub fn stateless_tag(req: &Request) -> Tag {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    message::header_value(req, "Call-ID").hash(&mut h);
    message::header_value(req, "CSeq").hash(&mut h);
    Tag::new(format!("sl{:012x}", h.finish() & 0xffff_ffff_ffff))
}

/// The next token (tags, branches) from a seeded xorshift64* state: unique
/// enough for tags, whose only job is uniqueness (RFC 3261 §19.3).
pub(crate) fn token(state: &mut u64) -> String {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    format!("{:016x}", state.wrapping_mul(0x2545_f491_4f6c_dd1d))
}

/// The method as a metric label (the parser knows only these methods).
pub(crate) fn method_label(method: &Method) -> &'static str {
    match method {
        Method::Invite => "INVITE",
        Method::Ack => "ACK",
        Method::Bye => "BYE",
        Method::Cancel => "CANCEL",
        Method::Options => "OPTIONS",
        Method::Update => "UPDATE",
        Method::Info => "INFO",
        Method::Register => "REGISTER",
        Method::Message => "MESSAGE",
        Method::PRack => "PRACK",
        Method::Subscribe => "SUBSCRIBE",
        Method::Notify => "NOTIFY",
        Method::Refer => "REFER",
        Method::Publish => "PUBLISH",
    }
}

/// Counts an outgoing message by its first line and CSeq method, cheaply.
pub(crate) fn count_outgoing(data: &[u8]) {
    let Some(line_end) = data.iter().position(|&b| b == b'\r') else {
        return;
    };
    let first = String::from_utf8_lossy(data.get(..line_end).unwrap_or_default());
    let cseq_method = cseq_method_of(data).unwrap_or("other");
    if let Some(rest) = first.strip_prefix("SIP/2.0 ") {
        let code: String = rest.chars().take(3).collect();
        metrics::counter!(m::SIP_RESPONSES_OUT, "method" => cseq_method, "code" => code)
            .increment(1);
    } else {
        metrics::counter!(m::SIP_REQUESTS_OUT, "method" => cseq_method).increment(1);
    }
}

fn cseq_method_of(data: &[u8]) -> Option<&'static str> {
    const METHODS: [&str; 10] = [
        "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "INFO", "REGISTER", "MESSAGE",
        "PRACK",
    ];
    let pos = data
        .windows(7)
        .position(|w| w.eq_ignore_ascii_case(b"\nCSeq: "))?;
    let rest = data.get(pos + 7..)?;
    let line_end = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len());
    let line = std::str::from_utf8(rest.get(..line_end)?).ok()?;
    let method = line.split_whitespace().nth(1)?;
    METHODS.iter().copied().find(|m| *m == method)
}
