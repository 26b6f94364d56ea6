//! Request validation for a UAS (RFC 3261 §8.2.1-8.2.3, §8.1.1, §20;
//! RFC 4475 §3.1.2 and §3.3 for the cases it covers).
//!
//! [`validate_request`] runs after [`crate::sip::message::parse`] and before
//! the transaction layer. A failed check is a [`Rejection`] value: the status
//! code, the reason phrase and the headers the RFC asks for (420 needs
//! `Unsupported`, 415 needs `Accept`). An ACK is never answered: drop it.
//!
//! Checks in order: version (505), mandatory and single-value headers (400),
//! Via syntax, CSeq number and method (400), From/To/Contact syntax (400),
//! Content-Length (400), Request-URI scheme (416), Max-Forwards (400, 483
//! at zero except for OPTIONS), Require (420, only `timer` supported),
//! INVITE body type (415) and INVITE Accept (406).

mod name_addr;
#[cfg(test)]
mod rfc4475;

use crate::sip::message::{
    self, cseq_parts, header_count, header_value, parse_via, response_to, rsip, split_commas,
    via_values,
};
use rsip::{Method, Request, Response};

/// The option tags of `Require` we support (RFC 4028 session timers).
pub const SUPPORTED_OPTIONS: &[&str] = &["timer"];

/// Why a request is refused, as a value: the response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status code (400, 415, 416, 420, 483, 505...).
    pub code: u16,
    /// The reason phrase, naming what is wrong.
    pub reason: String,
    /// Headers the response must carry (`Unsupported`, `Accept`).
    pub extra_headers: Vec<(String, String)>,
}

impl Rejection {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            extra_headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.to_string(), value.into()));
        self
    }

    /// The response to send: [`response_to`] plus the extra headers. The
    /// caller adds a To tag ([`message::set_to_tag`]).
    pub fn to_response(&self, req: &Request) -> Response {
        let mut resp = response_to(req, self.code, Some(&self.reason));
        for (name, value) in &self.extra_headers {
            message::add_header(&mut resp, name, value);
        }
        resp
    }
}

/// Validates a parsed request as a UAS must before processing it.
pub fn validate_request(req: &Request) -> Result<(), Rejection> {
    if req.version != rsip::Version::V2 {
        return Err(Rejection::new(505, "Version Not Supported"));
    }
    check_mandatory(req)?;
    check_call_id(req)?;
    check_vias(req)?;
    check_cseq(req)?;
    check_addresses(req)?;
    check_content_length(req)?;
    check_scheme(req)?;
    check_max_forwards(req)?;
    if !matches!(req.method, Method::Ack | Method::Cancel) {
        check_require(req)?;
    }
    if req.method == Method::Invite {
        check_invite_body(req)?;
        check_invite_accept(req)?;
    }
    Ok(())
}

fn bad(reason: impl Into<String>) -> Rejection {
    Rejection::new(400, reason)
}

/// A Call-ID is `word [ "@" word ]` (RFC 3261 §25.1): visible ASCII only, so
/// control bytes such as NUL, which would cut the identifier short in logs,
/// databases and the bus, are refused.
fn check_call_id(req: &Request) -> Result<(), Rejection> {
    let value = header_value(req, "Call-ID").unwrap_or_default().trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("Invalid Call-ID Header"));
    }
    Ok(())
}

/// Via at least once; From, To, Call-ID, CSeq exactly once; single-value
/// headers at most once (RFC 3261 §8.1.1, §7.3.1; RFC 4475 §3.3.1, §3.3.8, §3.3.9).
fn check_mandatory(req: &Request) -> Result<(), Rejection> {
    if header_count(req, "Via") == 0 {
        return Err(bad("Missing Via Header"));
    }
    for name in ["From", "To", "Call-ID", "CSeq"] {
        if header_count(req, name) == 0 {
            return Err(bad(format!("Missing {name} Header")));
        }
    }
    for name in [
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Max-Forwards",
        "Content-Length",
        "Content-Type",
    ] {
        if header_count(req, name) > 1 {
            return Err(bad(format!("Multiple {name} Headers")));
        }
    }
    message::call_id(req).map_err(|_| bad("Invalid Call-ID Header"))?;
    Ok(())
}

/// Every Via value parses (RFC 4475 §3.1.2.1: empty values and parameters).
fn check_vias(req: &Request) -> Result<(), Rejection> {
    if via_values(req).iter().all(|v| parse_via(v).is_ok()) {
        Ok(())
    } else {
        Err(bad("Invalid Via Header"))
    }
}

/// CSeq: a number up to 2^31-1 and the request's method (RFC 3261 §8.1.1.5, §12.2.1.1).
fn check_cseq(req: &Request) -> Result<(), Rejection> {
    let value = header_value(req, "CSeq").unwrap_or("");
    let (_, method) = cseq_parts(value).ok_or_else(|| bad("Invalid CSeq Header"))?;
    if method != req.method.to_string() {
        return Err(bad("CSeq Method Mismatch"));
    }
    Ok(())
}

/// From, To and every Contact value are well-formed name-addr or addr-spec.
fn check_addresses(req: &Request) -> Result<(), Rejection> {
    for name in ["From", "To"] {
        let value = header_value(req, name).unwrap_or("");
        name_addr::check(value).map_err(|p| bad(format!("Invalid {name} Header: {p}")))?;
    }
    for h in req
        .headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Contact"))
    {
        for value in split_commas(h.value()) {
            name_addr::check(value).map_err(|p| bad(format!("Invalid Contact Header: {p}")))?;
        }
    }
    Ok(())
}

/// Content-Length is a number and not more than the body received
/// (RFC 3261 §18.3; RFC 4475 §3.1.2.2, §3.1.2.3).
fn check_content_length(req: &Request) -> Result<(), Rejection> {
    let Some(value) = header_value(req, "Content-Length") else {
        return Ok(());
    };
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("Invalid Content-Length Header"));
    }
    match value.parse::<usize>() {
        Ok(n) if n <= req.body.len() => Ok(()),
        _ => Err(bad("Content-Length Exceeds Body")),
    }
}

/// sip:, sips: and tel: only (RFC 3261 §8.2.2.1; RFC 4475 §3.3.2, §3.3.3).
fn check_scheme(req: &Request) -> Result<(), Rejection> {
    match &req.uri.scheme {
        Some(rsip::Scheme::Sip | rsip::Scheme::Sips) => Ok(()),
        Some(rsip::Scheme::Other(s)) if s.eq_ignore_ascii_case("tel") => Ok(()),
        _ => Err(Rejection::new(416, "Unsupported URI Scheme")),
    }
}

/// Max-Forwards 0-255; 0 is a loop guard: 483 except for OPTIONS, which
/// we answer ourselves (RFC 3261 §16.3 item 2, §8.1.1.6).
fn check_max_forwards(req: &Request) -> Result<(), Rejection> {
    match message::max_forwards(req) {
        Err(_) => Err(bad("Invalid Max-Forwards Header")),
        Ok(Some(0)) if req.method != Method::Options => Err(Rejection::new(483, "Too Many Hops")),
        Ok(_) => Ok(()),
    }
}

/// Every `Require` option tag must be one we support (RFC 3261 §8.2.2.3).
fn check_require(req: &Request) -> Result<(), Rejection> {
    let unsupported: Vec<&str> = req
        .headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Require"))
        .flat_map(|h| h.value().split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .filter(|t| !SUPPORTED_OPTIONS.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .collect();
    if unsupported.is_empty() {
        return Ok(());
    }
    Err(Rejection::new(420, "Bad Extension").with_header("Unsupported", unsupported.join(", ")))
}

/// The media type of a Content-Type or Accept element, lower-case.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// An INVITE body must be SDP (RFC 3261 §8.2.3; RFC 4475 §3.3.6).
fn check_invite_body(req: &Request) -> Result<(), Rejection> {
    if req.body.is_empty() {
        return Ok(());
    }
    let ct = header_value(req, "Content-Type").map(media_type);
    if ct.as_deref() == Some("application/sdp") {
        return Ok(());
    }
    let reject = Rejection::new(415, "Unsupported Media Type");
    Err(reject.with_header("Accept", "application/sdp"))
}

/// Our answer to an INVITE carries SDP: an Accept that excludes it gets 406
/// (RFC 3261 §21.4.7; RFC 4475 §3.3.15).
fn check_invite_accept(req: &Request) -> Result<(), Rejection> {
    let Some(accept) = header_value(req, "Accept").filter(|a| !a.trim().is_empty()) else {
        return Ok(());
    };
    let ok = accept
        .split(',')
        .map(media_type)
        .any(|m| m == "application/sdp" || m == "application/*" || m == "*/*");
    if ok {
        Ok(())
    } else {
        Err(Rejection::new(406, "Not Acceptable"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, SipMessage};

    fn req(extra: &str, method: &str) -> Request {
        let text = format!(
            "{method} sip:alarm@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
             From: <sip:unit@example.net>;tag=1\r\nTo: <sip:alarm@example.com>\r\n\
             Call-ID: c1\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match parse(text.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!(),
        }
    }

    fn code(r: &Request) -> Option<u16> {
        validate_request(r).err().map(|e| e.code)
    }

    #[test]
    fn a_plain_invite_passes() {
        assert_eq!(code(&req("", "INVITE")), None);
        assert_eq!(
            code(&req(
                "Require: timer\r\nAccept: application/sdp\r\n",
                "INVITE"
            )),
            None
        );
    }

    #[test]
    fn max_forwards_zero_is_483_except_for_options() {
        assert_eq!(code(&req("Max-Forwards: 0\r\n", "INVITE")), Some(483));
        assert_eq!(code(&req("Max-Forwards: 0\r\n", "OPTIONS")), None);
        assert_eq!(code(&req("Max-Forwards: 256\r\n", "OPTIONS")), Some(400));
    }

    #[test]
    fn require_is_ignored_on_ack_and_cancel() {
        assert_eq!(code(&req("Require: 100rel, foo\r\n", "INVITE")), Some(420));
        assert_eq!(code(&req("Require: 100rel\r\n", "ACK")), None);
        assert_eq!(code(&req("Require: 100rel\r\n", "CANCEL")), None);
    }

    #[test]
    fn tel_uris_pass_and_other_schemes_get_416() {
        let mut r = req("", "INVITE");
        r.uri = rsip::Uri::try_from("tel:+4512345678").unwrap();
        assert_eq!(code(&r), None);
        r.uri = rsip::Uri::try_from("im:alarm@example.com").unwrap();
        assert_eq!(code(&r), Some(416));
    }

    #[test]
    fn rejection_response_carries_its_headers() {
        let r = req("Require: 100rel\r\n", "INVITE");
        let resp = validate_request(&r).unwrap_err().to_response(&r);
        assert_eq!(resp.status_code.code(), 420);
        assert_eq!(message::header_value(&resp, "Unsupported"), Some("100rel"));
    }

    #[test]
    fn call_id_with_control_bytes_is_400() {
        let mut r = req("", "INVITE");
        r.headers
            .retain(|h| !h.name().eq_ignore_ascii_case("Call-ID"));
        r.headers
            .push(rsip::headers::make_header("Call-ID", "c1\0x".into()));
        assert_eq!(code(&r), Some(400));
    }
}
