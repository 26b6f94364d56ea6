//! Typed accessors over parsed messages: Call-ID, CSeq, tags, Max-Forwards,
//! the Request-URI user (RFC 3261 §8.1.1, §19.1.1, §20; RFC 3966 for `tel:`).

use super::{rsip, MessageError};
use crate::sip::types::{CallId, Tag};
use rsip::{HasHeaders, Header, Method};

/// The largest CSeq number RFC 3261 §8.1.1.5 allows (2^31 - 1).
pub const MAX_CSEQ: u32 = 0x7fff_ffff;

/// The first header named `name` (case-insensitive, compact forms resolved by
/// the parser), as its raw value.
pub fn header_value<'a>(msg: &'a impl HasHeaders, name: &str) -> Option<&'a str> {
    msg.headers()
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(Header::value)
}

/// How many header lines are named `name` (case-insensitive).
pub fn header_count(msg: &impl HasHeaders, name: &str) -> usize {
    msg.headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .count()
}

fn required<'a>(msg: &'a impl HasHeaders, name: &str) -> Result<&'a str, MessageError> {
    header_value(msg, name).ok_or_else(|| MessageError::MissingHeader { name: name.into() })
}

fn invalid(name: &str, value: &str) -> MessageError {
    MessageError::InvalidHeader {
        name: name.into(),
        value: value.into(),
    }
}

/// The Call-ID (RFC 3261 §8.1.1.4); it must be one non-empty word.
pub fn call_id(msg: &impl HasHeaders) -> Result<CallId, MessageError> {
    let v = required(msg, "Call-ID")?.trim();
    if v.is_empty() || v.contains(char::is_whitespace) {
        return Err(invalid("Call-ID", v));
    }
    Ok(CallId::new(v))
}

/// The CSeq number and method (RFC 3261 §8.1.1.5); the number must be at
/// most 2^31-1 and the method one the parser knows.
pub fn cseq(msg: &impl HasHeaders) -> Result<(u32, Method), MessageError> {
    let v = required(msg, "CSeq")?;
    let (num, method) = cseq_parts(v).ok_or_else(|| invalid("CSeq", v))?;
    let method = method.parse::<Method>().map_err(|_| invalid("CSeq", v))?;
    Ok((num, method))
}

/// Splits a CSeq value into its number (at most 2^31-1) and method text.
pub fn cseq_parts(value: &str) -> Option<(u32, &str)> {
    let mut words = value.split_whitespace();
    let num = words.next()?;
    let method = words.next()?;
    if words.next().is_some() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num: u32 = num.parse().ok().filter(|n| *n <= MAX_CSEQ)?;
    Some((num, method))
}

/// The `tag` parameter of the From header, if any.
pub fn from_tag(msg: &impl HasHeaders) -> Option<Tag> {
    header_value(msg, "From").and_then(tag_param).map(Tag::new)
}

/// The `tag` parameter of the To header, if any.
pub fn to_tag(msg: &impl HasHeaders) -> Option<Tag> {
    header_value(msg, "To").and_then(tag_param).map(Tag::new)
}

/// The header parameters of a name-addr or addr-spec value: what follows the
/// closing `>`, or, without angle brackets, the first `;`.
pub fn addr_params(value: &str) -> &str {
    match value.rfind('>') {
        Some(i) if value.contains('<') => value.get(i + 1..).unwrap_or(""),
        _ => value.find(';').and_then(|i| value.get(i..)).unwrap_or(""),
    }
}

/// The `tag` parameter of a From/To value.
pub fn tag_param(value: &str) -> Option<&str> {
    addr_params(value).split(';').find_map(|p| {
        let (n, v) = p.split_once('=')?;
        (n.trim().eq_ignore_ascii_case("tag") && !v.trim().is_empty()).then(|| v.trim())
    })
}

/// Max-Forwards (RFC 3261 §8.1.1.6): `None` when absent, an error unless it
/// is a number from 0 to 255.
pub fn max_forwards(msg: &impl HasHeaders) -> Result<Option<u8>, MessageError> {
    let Some(v) = header_value(msg, "Max-Forwards") else {
        return Ok(None);
    };
    let t = v.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("Max-Forwards", v));
    }
    t.parse::<u8>()
        .map(Some)
        .map_err(|_| invalid("Max-Forwards", v))
}

/// The dialled user: the user part of a `sip:`/`sips:` Request-URI or the
/// number of a `tel:` URI, %-unescaped, without visual separators
/// (`-.()` and spaces, RFC 3966 §5.1.1). `None` when there is none.
pub fn request_user(req: &rsip::Request) -> Option<String> {
    let raw = match &req.uri.scheme {
        Some(rsip::Scheme::Sip | rsip::Scheme::Sips) => req.uri.user()?.to_string(),
        Some(rsip::Scheme::Other(s)) if s.eq_ignore_ascii_case("tel") => {
            req.uri.host_with_port.host.to_string()
        }
        _ => return None,
    };
    let user: String = unescape(raw.split(';').next().unwrap_or(""))
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect();
    (!user.is_empty()).then_some(user)
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as is.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(decoded) if b == b'%' => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
