//! The registrar's responses (RFC 3261 §10.3 step 8, §21.4.17 for 423,
//! §22.4 for 401).

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use super::bindings::Binding;
use crate::sip::message::{self, Request, Response};
use crate::sip::types::Tag;

/// A response to `req` with a To tag derived from Call-ID, CSeq and `salt`
/// (the same for a retransmitted request).
pub(crate) fn base(req: &Request, code: u16, reason: Option<&str>, salt: u64) -> Response {
    let mut resp = message::response_to(req, code, reason);
    if message::to_tag(req).is_none() {
        message::set_to_tag(&mut resp, &tag(req, salt));
    }
    resp
}

fn tag(req: &Request, salt: u64) -> Tag {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    salt.hash(&mut h);
    message::header_value(req, "Call-ID").hash(&mut h);
    message::header_value(req, "CSeq").hash(&mut h);
    Tag::new(format!("rg{:012x}", h.finish() & 0xffff_ffff_ffff))
}

/// 200 OK listing every current binding with the seconds it has left.
pub(crate) fn ok(req: &Request, bindings: &[Binding], now: Instant, salt: u64) -> Response {
    let mut resp = base(req, 200, None, salt);
    for b in bindings {
        let left = ceil_secs(b.expires_at.saturating_duration_since(now));
        let value = format!("<{}>;expires={left}", b.contact);
        message::add_header(&mut resp, "Contact", &value);
    }
    resp
}

/// 401 with one `WWW-Authenticate` per challenge, in order.
pub(crate) fn challenge(req: &Request, challenges: &[String], salt: u64) -> Response {
    let mut resp = base(req, 401, None, salt);
    for value in challenges {
        message::add_header(&mut resp, "WWW-Authenticate", value);
    }
    resp
}

/// 423 Interval Too Brief with Min-Expires.
pub(crate) fn too_brief(req: &Request, min_expires: u64, salt: u64) -> Response {
    let mut resp = base(req, 423, Some("Interval Too Brief"), salt);
    message::add_header(&mut resp, "Min-Expires", &min_expires.to_string());
    resp
}

/// Whole seconds, rounded up.
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_up() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(60)), 60);
        assert_eq!(ceil_secs(Duration::from_millis(59_001)), 60);
    }
}
