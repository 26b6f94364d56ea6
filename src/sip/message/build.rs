//! Building responses and editing messages (RFC 3261 §8.2.6).

use super::{rsip, tag_param};
use crate::sip::types::Tag;
use rsip::{HasHeaders, Header, Request, Response, SipMessage, StatusCode};

/// Messages that carry a body.
pub trait MessageBody: HasHeaders {
    /// The body octets.
    fn body_mut(&mut self) -> &mut Vec<u8>;
}

impl MessageBody for Request {
    fn body_mut(&mut self) -> &mut Vec<u8> {
        &mut self.body
    }
}

impl MessageBody for Response {
    fn body_mut(&mut self) -> &mut Vec<u8> {
        &mut self.body
    }
}

impl MessageBody for SipMessage {
    fn body_mut(&mut self) -> &mut Vec<u8> {
        match self {
            SipMessage::Request(r) => &mut r.body,
            SipMessage::Response(r) => &mut r.body,
        }
    }
}

/// A response to `req` (RFC 3261 §8.2.6.2): every Via in order, From, To,
/// Call-ID and CSeq copied, an empty body. `reason` replaces the standard
/// reason phrase (CR, LF and other control characters are dropped).
/// The To tag is not added here: see [`set_to_tag`].
pub fn response_to(req: &Request, code: u16, reason: Option<&str>) -> Response {
    let mut headers = rsip::Headers::default();
    for h in req.headers.iter() {
        if matches!(h, Header::Via(_)) {
            headers.push(h.clone());
        }
    }
    for want in ["From", "To", "Call-ID", "CSeq"] {
        if let Some(h) = req
            .headers
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(want))
        {
            headers.push(h.clone());
        }
    }
    headers.push(Header::ContentLength(rsip::headers::ContentLength::new(
        "0",
    )));
    Response {
        status_code: status_code(code),
        wire_reason: reason.map(clean_text).filter(|r| !r.is_empty()),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// The status code for `code`, with a class phrase for codes the parser does not name.
fn status_code(code: u16) -> StatusCode {
    match StatusCode::from(code) {
        StatusCode::Other(c, _) => StatusCode::Other(c, class_phrase(c).to_string()),
        known => known,
    }
}

/// A generic phrase for a status class.
fn class_phrase(code: u16) -> &'static str {
    match code / 100 {
        1 => "Trying",
        2 => "OK",
        3 => "Redirect",
        4 => "Client Error",
        5 => "Server Error",
        _ => "Global Failure",
    }
}

/// Drops control characters (CR, LF, NUL...) so a value cannot break framing.
pub fn clean_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect::<String>()
        .trim()
        .to_string()
}

/// Adds `;tag=<tag>` to the To header when it has no tag yet (RFC 3261 §8.2.6.2).
pub fn set_to_tag(resp: &mut Response, tag: &Tag) {
    for h in resp.headers.iter_mut() {
        if let Header::To(to) = h {
            if tag_param(to.value()).is_none() {
                let v = format!("{};tag={}", to.value(), clean_text(tag.as_str()));
                to.replace(v);
            }
            return;
        }
    }
}

/// Replaces the body, its Content-Type and its Content-Length.
pub fn set_body(msg: &mut impl MessageBody, content_type: &str, body: Vec<u8>) {
    let len = body.len();
    msg.headers_mut()
        .retain(|h| !matches!(h, Header::ContentType(_) | Header::ContentLength(_)));
    if !body.is_empty() {
        let ct = rsip::headers::ContentType::new(clean_text(content_type));
        msg.headers_mut().push(Header::ContentType(ct));
    }
    let cl = rsip::headers::ContentLength::new(len.to_string());
    msg.headers_mut().push(Header::ContentLength(cl));
    *msg.body_mut() = body;
}

/// Appends a header line (typed by its name, compact forms resolved).
/// Control characters in `name` and `value` are dropped.
pub fn add_header(msg: &mut impl HasHeaders, name: &str, value: &str) {
    let header = rsip::headers::make_header(&clean_text(name), clean_text(value));
    msg.headers_mut().push(header);
}
