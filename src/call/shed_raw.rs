//! The cheapest refusal: a 503 written from the raw bytes of an INVITE,
//! without parsing it, while the node sheds load.
//!
//! Under a storm most INVITEs are refused; if each refusal cost a full parse,
//! the refusals alone would fill the node and squeeze out the calls it took.
//! So while a load gate is shut (and only then), a new INVITE from a trusted
//! trunk is scanned line by line for the few headers a response copies (Via,
//! From, To, Call-ID, CSeq; compact forms too), screened
//! ([`crate::admission::Admission::screen`]) and, when refused, answered with a
//! 503 + Retry-After built from those lines: a few microseconds. The ACK for
//! such a 503 carries our `ov` To tag and is dropped the same way. Anything
//! unusual (folded lines, a To tag, no Call-ID, an untrusted source, whose
//! screening spends tokens) takes the full path ([`super::shed`]), as does
//! the retransmission of an INVITE that was let through (its Call-ID is in
//! [`super::shed::Admitted`]).

use super::CallCore;
use crate::sip::types::{Peer, Transmit};
use crate::telemetry::metrics as m;
use bytes::{BufMut, Bytes, BytesMut};
use std::time::Instant;

/// The prefix of the To tag of our overload 503s.
pub const TAG_PREFIX: &str = "ov";

/// The lines of a request that a stateless response copies.
#[derive(Debug, Default)]
pub(crate) struct RawRequest<'a> {
    /// `INVITE`, `ACK`, ...
    pub(crate) method: &'a [u8],
    /// The Request-URI's user part, separators removed, when it has one.
    pub(crate) user: Option<String>,
    vias: Vec<&'a [u8]>,
    from: Option<&'a [u8]>,
    to: Option<&'a [u8]>,
    /// The Call-ID value, trimmed.
    pub(crate) call_id: Option<&'a [u8]>,
    cseq: Option<&'a [u8]>,
}

impl<'a> RawRequest<'a> {
    /// Scans the header block, line by line up to the empty line (the body
    /// is never read); `None` for anything this path does not handle.
    pub(crate) fn scan(bytes: &'a [u8]) -> Option<Self> {
        let (first, mut rest) = next_line(bytes)?;
        let mut parts = first.splitn(3, |&b| b == b' ');
        let method = parts.next()?;
        let uri = parts.next()?;
        let mut raw = RawRequest {
            method,
            user: uri_user(uri),
            ..RawRequest::default()
        };
        loop {
            let (line, after) = next_line(rest)?;
            rest = after;
            match line.first() {
                None => return Some(raw),
                Some(b' ' | b'\t') => return None, // folded: the full parser's job
                Some(_) => raw.header(line)?,
            }
        }
    }

    fn header(&mut self, line: &'a [u8]) -> Option<()> {
        let colon = line.iter().position(|&b| b == b':')?;
        let name = trim(line.get(..colon)?);
        let value = trim(line.get(colon + 1..)?);
        let is = |long: &[u8], short: &[u8]| {
            name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(short)
        };
        if is(b"via", b"v") {
            self.vias.push(line);
        } else if is(b"from", b"f") {
            self.from = Some(line);
        } else if is(b"to", b"t") {
            self.to = Some(line);
        } else if is(b"call-id", b"i") {
            self.call_id = Some(value);
        } else if is(b"cseq", b"cseq") {
            self.cseq = Some(value);
        }
        Some(())
    }

    /// The To header's tag, if it has one.
    pub(crate) fn to_tag(&self) -> Option<&'a [u8]> {
        let to = self.to?;
        let at = find_ci(to, b";tag=")?;
        let tag = to.get(at + 5..)?;
        let len = tag
            .iter()
            .position(|&b| matches!(b, b';' | b' ' | b'>' | b','))
            .unwrap_or(tag.len());
        tag.get(..len)
    }

    /// The 503 + Retry-After for this request, with our `ov` To tag.
    pub(crate) fn overloaded(&self, retry_after_s: u64, server: &str) -> Option<Bytes> {
        let (from, to) = (self.from?, self.to?);
        let (call_id, cseq) = (self.call_id?, self.cseq?);
        if self.vias.is_empty() {
            return None;
        }
        let mut out = BytesMut::with_capacity(512);
        out.put_slice(b"SIP/2.0 503 Service Unavailable\r\n");
        for via in &self.vias {
            line(&mut out, via);
        }
        line(&mut out, from);
        out.put_slice(to);
        out.put_slice(format!(";tag={}\r\n", overload_tag(call_id, cseq)).as_bytes());
        out.put_slice(b"Call-ID: ");
        line(&mut out, call_id);
        out.put_slice(b"CSeq: ");
        line(&mut out, cseq);
        let tail = format!(
            "Retry-After: {retry_after_s}\r\nServer: {server}\r\nContent-Length: 0\r\n\r\n"
        );
        out.put_slice(tail.as_bytes());
        Some(out.freeze())
    }
}

/// Our To tag for an overload 503: `ov` and a hash of Call-ID and CSeq, so
/// that a retransmitted INVITE gets the same answer.
pub fn overload_tag(call_id: &[u8], cseq: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in call_id.iter().chain(b"\0").chain(cseq) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{TAG_PREFIX}{:012x}", h & 0xffff_ffff_ffff)
}

fn line(out: &mut BytesMut, bytes: &[u8]) {
    out.put_slice(bytes);
    out.put_slice(b"\r\n");
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// The line at the start of `bytes` (without its CRLF) and what follows it.
fn next_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let lf = bytes.iter().position(|&b| b == b'\n')?;
    let line = bytes.get(..lf)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, bytes.get(lf + 1..)?))
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// The user part of a `sip:`/`sips:` URI with visual separators removed
/// (as [`crate::sip::message::request_user`] does for plain users).
fn uri_user(uri: &[u8]) -> Option<String> {
    let uri = std::str::from_utf8(uri).ok()?;
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let user = rest.split_once('@')?.0.split(';').next()?;
    if user.contains('%') {
        return None;
    }
    let user: String = user
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect();
    (!user.is_empty()).then_some(user)
}

impl CallCore {
    /// `Some` when `bytes` were handled here: a new INVITE refused with a
    /// 503 written from its raw lines (inside), or the ACK for one (`None`
    /// inside: dropped). Only while shedding.
    pub(crate) fn shed_raw(
        &mut self,
        now: Instant,
        peer: Peer,
        bytes: &[u8],
    ) -> Option<Option<Transmit>> {
        let draining = self.draining.is_some();
        if !draining && !self.admission.shedding_any(now) {
            return None;
        }
        if !bytes.starts_with(b"ACK ") && !bytes.starts_with(b"INVITE ") {
            return None;
        }
        let raw = RawRequest::scan(bytes)?;
        if raw.method == b"ACK" {
            let ours = raw
                .to_tag()
                .is_some_and(|tag| tag.starts_with(TAG_PREFIX.as_bytes()));
            return ours.then_some(None);
        }
        self.refuse_raw(now, peer, &raw, draining).map(Some)
    }

    fn refuse_raw(
        &mut self,
        now: Instant,
        peer: Peer,
        raw: &RawRequest,
        draining: bool,
    ) -> Option<Transmit> {
        if raw.to_tag().is_some() || !self.admission.is_trusted(peer.addr.ip()) {
            return None;
        }
        let call_id = raw.call_id?;
        if self.admitted.contains(call_id) {
            return None; // a retransmission of a call let through
        }
        // Every call, incoming or not: an upper bound of the incoming ones
        // that costs no scan (`incoming_calls` walks them all).
        let active = self.calls.len().max(self.ports.in_use());
        let did = raw.user.as_deref();
        let shed = self
            .admission
            .screen(now, peer.addr.ip(), did, active, draining)?;
        let data = raw.overloaded(shed.retry_after.as_secs().max(1), &self.config.user_agent)?;
        let reason = shed.reason.as_str();
        metrics::counter!(m::ADMISSION_REFUSALS, "reason" => reason).increment(1);
        let priority = shed.priority.as_str();
        metrics::counter!(m::OVERLOAD_REFUSALS, "reason" => reason, "priority" => priority)
            .increment(1);
        Some(Transmit { peer, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:+45-7000-0112@127.0.0.1 SIP/2.0\r\n\
v: SIP/2.0/UDP 127.0.0.3:5070;branch=z9hG4bK1;rport\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0\r\n\
f: <sip:a@127.0.0.3>;tag=u1\r\nTo: <sip:112@127.0.0.1>\r\ni: abc@h\r\nCSeq: 7 INVITE\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn a_503_from_raw_lines() {
        let raw = RawRequest::scan(INVITE.as_bytes()).unwrap();
        assert_eq!(raw.method, b"INVITE");
        assert_eq!(raw.user.as_deref(), Some("+4570000112"));
        assert_eq!(raw.to_tag(), None);
        let out = raw.overloaded(5, "alarmgate").unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        let tag = overload_tag(b"abc@h", b"7 INVITE");
        let want = format!(
            "SIP/2.0 503 Service Unavailable\r\nv: SIP/2.0/UDP 127.0.0.3:5070;branch=z9hG4bK1;rport\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0\r\nf: <sip:a@127.0.0.3>;tag=u1\r\n\
To: <sip:112@127.0.0.1>;tag={tag}\r\nCall-ID: abc@h\r\nCSeq: 7 INVITE\r\nRetry-After: 5\r\n\
Server: alarmgate\r\nContent-Length: 0\r\n\r\n"
        );
        assert_eq!(text, want);
        // The full parser reads it back as a 503 for the same transaction.
        let parsed = crate::sip::message::parse(&out).unwrap();
        assert!(
            matches!(parsed, crate::sip::message::SipMessage::Response(r) if r.status_code.code() == 503)
        );
    }

    #[test]
    fn unusual_requests_take_the_full_path() {
        let folded = INVITE.replace("CSeq: 7 INVITE\r\n", "CSeq: 7\r\n INVITE\r\n");
        assert!(RawRequest::scan(folded.as_bytes()).is_none());
        assert!(RawRequest::scan(b"INVITE sip:1@h SIP/2.0\r\nVia: x\r\n").is_none());
        let tagged = INVITE.replace(
            "To: <sip:112@127.0.0.1>",
            "To: <sip:112@127.0.0.1>;tag=ov12;x=1",
        );
        let raw = RawRequest::scan(tagged.as_bytes()).unwrap();
        assert_eq!(raw.to_tag(), Some(&b"ov12"[..]));
        let no_call_id = INVITE.replace("i: abc@h\r\n", "");
        let raw = RawRequest::scan(no_call_id.as_bytes()).unwrap();
        assert!(raw.overloaded(5, "alarmgate").is_none());
        assert_eq!(uri_user(b"sip:%31@h"), None);
        assert_eq!(uri_user(b"tel:112"), None);
    }
}
