//! Answering what cannot be parsed (RFC 3261 §8.2, §21.4.1; RFC 4475 §3.1.2).
//!
//! A request the parser rejects still deserves a `400 Bad Request` when the
//! headers a response needs (Via, From, To, Call-ID, CSeq) can be read as
//! text. An unknown method gets `501 Not Implemented` (§8.2.1), unless its
//! CSeq names another method (RFC 4475 §3.1.2.18: 400). Responses and ACKs
//! are never answered; garbage gets `None`.

use std::hash::{Hash, Hasher};

use bytes::Bytes;

use super::{clean_text, parse, rsip, tag_param, MessageError};

/// RFC 3261 §25.1: `Method SP Request-URI SP SIP-Version`, single spaces,
/// no `<>` around the URI (RFC 4475 §3.1.2.7-10) and no escaped headers in a
/// SIP Request-URI (§19.1.5, RFC 4475 §3.1.2.11).
pub(super) fn check_request_line(line: &[u8]) -> Result<(), MessageError> {
    let text = String::from_utf8_lossy(line);
    let bad = |reason| MessageError::BadRequestLine {
        line: text.to_string(),
        reason,
    };
    let parts: Vec<&str> = text.split(' ').collect();
    let [method, uri, version] = parts.as_slice() else {
        return Err(bad("not three parts separated by single spaces"));
    };
    if [method, uri, version]
        .iter()
        .any(|p| p.is_empty() || p.contains(char::is_whitespace))
    {
        return Err(bad("empty part or stray whitespace"));
    }
    if uri.contains(['<', '>']) {
        return Err(bad("Request-URI enclosed in <>"));
    }
    if !is_known_method(method) {
        // Methods are case-sensitive (RFC 3261 §7.1): `options` is not OPTIONS,
        // although the parser would take it as such.
        return Err(bad("unknown method"));
    }
    let lower = uri.to_ascii_lowercase();
    let after_at = uri.rsplit('@').next().unwrap_or(uri);
    if (lower.starts_with("sip:") || lower.starts_with("sips:")) && after_at.contains('?') {
        return Err(bad("headers in a SIP Request-URI"));
    }
    if !version.to_ascii_uppercase().starts_with("SIP/") {
        return Err(bad("no SIP version"));
    }
    Ok(())
}

/// True for the methods we know, spelled exactly as RFC 3261 and its
/// extensions define them (upper case).
fn is_known_method(token: &str) -> bool {
    token
        .parse::<rsip::Method>()
        .is_ok_and(|m| m.to_string() == token)
}

/// Parses `bytes`; when that fails, [`salvage_response`] for the error.
/// `None` when the bytes parse (validate them instead) or nothing can be answered.
pub fn best_effort_400(bytes: &[u8]) -> Option<Bytes> {
    match parse(bytes) {
        Ok(_) => None,
        Err(e) => salvage_response(bytes, &e),
    }
}

/// The headers a response echoes, read as text.
#[derive(Default)]
struct Echo {
    vias: Vec<String>,
    from: Option<String>,
    to: Option<String>,
    call_id: Option<String>,
    cseq: Option<String>,
}

/// Builds the 400 (or 501) for bytes that failed to parse with `err`.
pub fn salvage_response(bytes: &[u8], err: &MessageError) -> Option<Bytes> {
    let text = String::from_utf8_lossy(head_section(bytes));
    let mut lines = unfold(&text).into_iter();
    let start = lines.next()?;
    let method = start.split_whitespace().next()?;
    let is_token = method
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c));
    if !is_token || method.starts_with("SIP/") || method == "ACK" || !start.contains("SIP/") {
        return None;
    }
    let echo = collect(lines);
    let (from, to, call_id, cseq) = (echo.from?, echo.to?, echo.call_id?, echo.cseq?);
    if echo.vias.is_empty() {
        return None;
    }
    let unknown_method = !is_known_method(method);
    let cseq_method = cseq.split_whitespace().nth(1);
    let (code, reason) = if unknown_method && cseq_method == Some(method) {
        (501, "Not Implemented".to_string())
    } else {
        (400, err.reason_phrase())
    };
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for via in &echo.vias {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    let to = with_tag(&to, &call_id);
    out.push_str(&format!(
        "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n"
    ));
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(Bytes::from(out))
}

/// The header section: up to the first empty line, or everything.
fn head_section(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| bytes.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(bytes.len());
    bytes.get(..end).unwrap_or(bytes)
}

/// Lines with continuation lines (starting with SP or HT) joined.
fn unfold(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        match out.last_mut() {
            Some(prev) if line.starts_with([' ', '\t']) => {
                prev.push(' ');
                prev.push_str(line.trim());
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

/// Picks Via (all), From, To, Call-ID and CSeq (first of each), compact forms included.
fn collect(lines: impl Iterator<Item = String>) -> Echo {
    let mut echo = Echo::default();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = clean_text(value);
        if value.is_empty() {
            continue;
        }
        let slot = match name.trim().to_ascii_lowercase().as_str() {
            "via" | "v" => {
                echo.vias.push(value);
                continue;
            }
            "from" | "f" => &mut echo.from,
            "to" | "t" => &mut echo.to,
            "call-id" | "i" => &mut echo.call_id,
            "cseq" => &mut echo.cseq,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    echo
}

/// The To value with a tag: kept if present, else one derived from the
/// Call-ID so that a retransmitted request gets the same answer.
fn with_tag(to: &str, call_id: &str) -> String {
    if tag_param(to).is_some() {
        return to.to_string();
    }
    let mut hasher = std::hash::DefaultHasher::new();
    call_id.hash(&mut hasher);
    format!("{to};tag={:016x}", hasher.finish())
}
