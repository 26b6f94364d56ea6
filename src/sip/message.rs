//! SIP messages: parse, serialise, read and build (RFC 3261 §7, §8.2.6, §18, §20).
//!
//! Parsing is `rsipstack::sip` (the maintained rsip fork) plus the checks it
//! lacks: a strict Request-Line (§7.1, §25.1), status codes 100-699 and a
//! well-formed CSeq (§8.1.1.5). Serialisation is ours and always writes a
//! correct Content-Length (the parser's own printer keeps a stale one).
//! Comma-joined Via lines are split here ([`via_values`], [`top_via`]).
//! Nothing here panics on input: every failure is a [`MessageError`].

mod access;
mod build;
mod salvage;
mod split;
mod via;

pub use rsipstack::sip as rsip;
pub use rsipstack::sip::{Method, Request, Response, SipMessage, StatusCode};

pub use access::{
    addr_params, call_id, cseq, cseq_parts, from_tag, header_count, header_value, max_forwards,
    request_user, tag_param, to_tag, MAX_CSEQ,
};
pub use build::{add_header, clean_text, response_to, set_body, set_to_tag, MessageBody};
pub use salvage::{best_effort_400, salvage_response};
pub use split::{split_commas, split_params};
pub use via::{
    parse_via, response_target, stamp_received, top_via, via_values, ViaInfo, ViaTransport,
};

use std::fmt::Write as _;

use bytes::Bytes;
use rsip::Header;

/// Why bytes are not a usable SIP message, or a header is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The parser rejected the bytes.
    #[error("unparseable SIP message: {reason}")]
    Unparseable {
        /// What the parser reported.
        reason: String,
    },
    /// The Request-Line breaks RFC 3261 §25.1 (`Method SP Request-URI SP SIP-Version`).
    #[error("malformed Request-Line {line:?}: {reason}")]
    BadRequestLine {
        /// The line as received (lossy UTF-8).
        line: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A status code outside 100-699.
    #[error("status code {code} out of range")]
    BadStatusCode {
        /// The code received.
        code: u16,
    },
    /// A header the operation needs is absent.
    #[error("missing {name} header")]
    MissingHeader {
        /// Header name.
        name: String,
    },
    /// A header is present but its value is malformed.
    #[error("invalid {name} header: {value:?}")]
    InvalidHeader {
        /// Header name.
        name: String,
        /// The offending value.
        value: String,
    },
}

impl MessageError {
    /// A short reason fit for a 400 reason phrase.
    pub fn reason_phrase(&self) -> String {
        match self {
            Self::Unparseable { .. } => "Malformed Message".into(),
            Self::BadRequestLine { .. } => "Malformed Request-Line".into(),
            Self::BadStatusCode { .. } => "Bad Status Code".into(),
            Self::MissingHeader { name } => format!("Missing {name} Header"),
            Self::InvalidHeader { name, .. } => format!("Invalid {name} Header"),
        }
    }
}

/// Parses one SIP message (a datagram, or one framed stream message).
pub fn parse(bytes: &[u8]) -> Result<SipMessage, MessageError> {
    let upper;
    let bytes = match lowercase_version_at(bytes) {
        // ABNF literals are case-insensitive (RFC 3261 §25, RFC 5234 §2.3):
        // `sip/2.0` is SIP/2.0, which the parser only takes in upper case.
        Some(range) => {
            upper = uppercase_range(bytes, range);
            &upper[..]
        }
        None => bytes,
    };
    let mut msg = rsip::SipMessage::try_from(bytes).map_err(|e| MessageError::Unparseable {
        reason: e.to_string(),
    })?;
    if header_count(&msg, "Content-Length") == 0 {
        // RFC 3261 §18.3: without Content-Length a datagram's body runs to its end.
        *msg.body_mut() = body_after_head(bytes).to_vec();
    }
    match &msg {
        SipMessage::Request(_) => salvage::check_request_line(first_line(bytes))?,
        SipMessage::Response(r) => {
            let code = r.status_code.code();
            if !(100..=699).contains(&code) {
                return Err(MessageError::BadStatusCode { code });
            }
        }
    }
    if let Some(v) = header_value(&msg, "CSeq") {
        // The number must fit (RFC 4475 §3.1.2.4-5); the method may be unknown.
        cseq_parts(v).ok_or_else(|| MessageError::InvalidHeader {
            name: "CSeq".into(),
            value: v.into(),
        })?;
    }
    Ok(msg)
}

/// Where `SIP/2.0` stands in other than upper case on the first line (at its
/// end for a request, at its start for a response), if it does.
fn lowercase_version_at(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    const VERSION: &[u8] = b"SIP/2.0";
    let line = first_line(bytes);
    let n = VERSION.len();
    let candidates = [0, line.len().saturating_sub(n)];
    candidates.into_iter().find_map(|start| {
        let found = line.get(start..start + n)?;
        (found != VERSION && found.eq_ignore_ascii_case(VERSION)).then_some(start..start + n)
    })
}

fn uppercase_range(bytes: &[u8], range: std::ops::Range<usize>) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if let Some(part) = out.get_mut(range) {
        part.make_ascii_uppercase();
    }
    out
}

/// The octets after the first empty line.
fn body_after_head(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |i| i + 4);
    bytes.get(start..).unwrap_or(&[])
}

/// The first line of `bytes`, without its line end.
fn first_line(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let line = bytes.get(..end).unwrap_or(bytes);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Serialises a message with a correct Content-Length.
pub fn serialize(msg: &SipMessage) -> Bytes {
    match msg {
        SipMessage::Request(r) => serialize_request(r),
        SipMessage::Response(r) => serialize_response(r),
    }
}

/// Serialises a request with a correct Content-Length.
pub fn serialize_request(req: &Request) -> Bytes {
    let start = format!("{} {} {}", req.method, req.uri, req.version);
    assemble(&start, &req.headers, &req.body)
}

/// Serialises a response with a correct Content-Length; the reason phrase
/// is `wire_reason` when set, else the standard text.
pub fn serialize_response(resp: &Response) -> Bytes {
    let reason = resp
        .wire_reason
        .as_deref()
        .unwrap_or(resp.status_code.text());
    let start = format!("{} {} {}", resp.version, resp.status_code.code(), reason);
    assemble(&start, &resp.headers, &resp.body)
}

/// Start line, headers (every Content-Length dropped), the true Content-Length, body.
fn assemble(start: &str, headers: &rsip::Headers, body: &[u8]) -> Bytes {
    let mut head = String::with_capacity(64 + start.len() + headers.len() * 48);
    head.push_str(start);
    head.push_str("\r\n");
    for h in headers.iter() {
        if !matches!(h, Header::ContentLength(_)) {
            let _ = write!(head, "{h}\r\n");
        }
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::types::{ConnId, Peer, Tag, Transport};
    use std::net::SocketAddr;

    pub(crate) const INVITE: &str = "INVITE sip:+45-1234(56)@alarm.example SIP/2.0\r\n\
        v: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK-a;rport, SIP/2.0/TCP [2001:db8::1];branch=z9hG4bK-b\r\n\
        Via: SIP/2.0/TLS proxy.example;branch=z9hG4bK-c\r\n\
        f: \"Unit, 7\" <sip:unit@192.0.2.7>;tag=ft1\r\n\
        t: <sip:+451234@alarm.example>\r\n\
        i: abc@192.0.2.7\r\n\
        CSeq: 17 INVITE\r\n\
        Max-Forwards: 69\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 999\r\n\r\nv=0\r\n";

    fn req(text: &str) -> Request {
        match parse(text.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!("expected a request"),
        }
    }

    #[test]
    fn accessors_read_compact_and_comma_joined_headers() {
        let r = req(INVITE);
        assert_eq!(call_id(&r).unwrap().as_str(), "abc@192.0.2.7");
        assert_eq!(cseq(&r).unwrap(), (17, Method::Invite));
        assert_eq!(from_tag(&r), Some(Tag::new("ft1")));
        assert_eq!(to_tag(&r), None);
        assert_eq!(max_forwards(&r).unwrap(), Some(69));
        assert_eq!(request_user(&r).as_deref(), Some("+45123456"));
        let vias = via_values(&r);
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[1], "SIP/2.0/TCP [2001:db8::1];branch=z9hG4bK-b");
        let top = top_via(&r).unwrap();
        assert_eq!(top.host, "192.0.2.7");
        assert_eq!(top.port, Some(5062));
        assert_eq!(top.rport, Some(None));
        assert_eq!(top.branch.unwrap().as_str(), "z9hG4bK-a");
        let second = parse_via(&vias[1]).unwrap();
        assert_eq!(second.transport, ViaTransport::Known(Transport::Tcp));
        assert_eq!(second.host_ip(), Some("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn the_parser_truncates_to_content_length_and_we_always_write_the_true_one() {
        let r = req(INVITE);
        assert_eq!(r.body, b"v=0\r\n");
        let out = serialize_request(&r);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.contains("Content-Length: 5\r\n\r\nv=0\r\n"), "{text}");
        assert_eq!(text.matches("Content-Length").count(), 1);
        let again = req(text);
        assert_eq!(via_values(&again), via_values(&r));
        assert_eq!(again.body, r.body);
    }

    #[test]
    fn response_to_copies_vias_in_order_and_custom_reason_goes_on_the_wire() {
        let r = req(INVITE);
        let mut resp = response_to(&r, 486, Some("Busy\r\nX: y"));
        set_to_tag(&mut resp, &Tag::new("tt9"));
        set_to_tag(&mut resp, &Tag::new("other"));
        assert_eq!(via_values(&resp), via_values(&r));
        assert_eq!(to_tag(&resp), Some(Tag::new("tt9")));
        let text = String::from_utf8(serialize_response(&resp).to_vec()).unwrap();
        assert!(text.starts_with("SIP/2.0 486 BusyX: y\r\n"), "{text}");
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        set_body(&mut resp, "application/sdp", b"v=0\r\n".to_vec());
        add_header(&mut resp, "Contact", "<sip:gw@198.51.100.1>");
        let text = String::from_utf8(serialize_response(&resp).to_vec()).unwrap();
        assert!(text.contains("Content-Type: application/sdp\r\n"));
        assert!(text.contains("Contact: <sip:gw@198.51.100.1>\r\n"));
        assert!(text.ends_with("Content-Length: 5\r\n\r\nv=0\r\n"));
        let unknown = response_to(&r, 499, None);
        assert!(serialize_response(&unknown).starts_with(b"SIP/2.0 499 Client Error\r\n"));
    }

    #[test]
    fn stamping_fills_rport_and_received_and_targets_follow_rfc3581() {
        let mut r = req(INVITE);
        let src: SocketAddr = "203.0.113.9:40000".parse().unwrap();
        stamp_received(&mut r, src);
        let top = top_via(&r).unwrap();
        assert_eq!(top.rport, Some(Some(40000)));
        assert_eq!(top.received, Some(src.ip()));
        assert_eq!(via_values(&r).len(), 3);
        assert_eq!(response_target(&r, Peer::udp(src)).addr, src);
        let tcp = Peer {
            transport: Transport::Tcp,
            addr: src,
            conn: Some(ConnId(4)),
        };
        assert_eq!(response_target(&r, tcp), tcp);
    }

    #[test]
    fn without_rport_the_response_goes_to_received_at_the_sent_by_port() {
        let text = INVITE.replace(";rport", "").replace(":5062", "");
        let mut r = req(&text);
        let src: SocketAddr = "203.0.113.9:40000".parse().unwrap();
        stamp_received(&mut r, src);
        assert_eq!(top_via(&r).unwrap().received, Some(src.ip()));
        assert_eq!(
            response_target(&r, Peer::udp(src)).addr,
            "203.0.113.9:5060".parse::<std::net::SocketAddr>().unwrap()
        );
        let same: SocketAddr = "192.0.2.7:5060".parse().unwrap();
        let mut r = req(&text);
        stamp_received(&mut r, same);
        assert_eq!(top_via(&r).unwrap().received, None, "sent-by equals source");
    }

    #[test]
    fn strict_request_line_and_status_codes() {
        for line in [
            "INVITE <sip:a@b> SIP/2.0",
            "INVITE  sip:a@b SIP/2.0",
            "INVITE sip:a@b SIP/2.0 ",
            "INVITE sip:a@b?Route=x SIP/2.0",
        ] {
            let text = INVITE.replacen("INVITE sip:+45-1234(56)@alarm.example SIP/2.0", line, 1);
            assert!(parse(text.as_bytes()).is_err(), "{line:?} accepted");
        }
        let resp =
            "SIP/2.0 700 Odd\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n\r\n";
        assert_eq!(
            parse(resp.as_bytes()),
            Err(MessageError::BadStatusCode { code: 700 })
        );
        let big = INVITE.replace("CSeq: 17", "CSeq: 2147483648");
        assert!(matches!(
            parse(big.as_bytes()),
            Err(MessageError::InvalidHeader { .. })
        ));
    }

    #[test]
    fn best_effort_400_answers_broken_requests_only() {
        let broken = INVITE.replace("SIP/2.0\r\nv:", "SIP/2.0 \r\nv:");
        let out = best_effort_400(broken.as_bytes()).unwrap();
        let resp = match parse(&out).unwrap() {
            SipMessage::Response(r) => r,
            SipMessage::Request(_) => panic!("not a response"),
        };
        assert_eq!(resp.status_code.code(), 400);
        assert_eq!(resp.wire_reason.as_deref(), Some("Malformed Request-Line"));
        assert_eq!(via_values(&resp).len(), 3);
        assert!(to_tag(&resp).is_some());
        assert_eq!(
            best_effort_400(broken.as_bytes()),
            Some(out),
            "same tag on retransmission"
        );
        assert_eq!(best_effort_400(INVITE.as_bytes()), None, "parseable");
        assert_eq!(best_effort_400(b"\x16\x03\x01garbage"), None);
        let ack = broken.replacen("INVITE", "ACK", 1);
        assert_eq!(best_effort_400(ack.as_bytes()), None);
        let no_callid = broken.replace("i: abc@192.0.2.7\r\n", "");
        assert_eq!(best_effort_400(no_callid.as_bytes()), None);
    }

    #[test]
    fn an_unknown_method_gets_501_unless_cseq_disagrees() {
        let text = INVITE
            .replacen("INVITE", "FROB", 1)
            .replace("17 INVITE", "17 FROB");
        let out = best_effort_400(text.as_bytes()).unwrap();
        assert!(out.starts_with(b"SIP/2.0 501 Not Implemented\r\n"));
        let text = INVITE.replacen("INVITE", "FROB", 1);
        assert!(best_effort_400(text.as_bytes())
            .unwrap()
            .starts_with(b"SIP/2.0 400 "));
    }

    #[test]
    fn version_is_case_insensitive() {
        let lower = INVITE.replacen("SIP/2.0\r\n", "sip/2.0\r\n", 1);
        assert!(lower.starts_with("INVITE sip:+45-1234(56)@alarm.example sip/2.0\r\n"));
        assert_eq!(call_id(&req(&lower)).unwrap().as_str(), "abc@192.0.2.7");
        let response = "sip/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nCall-ID: x\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(
            parse(response.as_bytes()),
            Ok(SipMessage::Response(_))
        ));
    }

    #[test]
    fn method_names_are_case_sensitive() {
        let lower = "options sip:112@alarm.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK-o\r\n\
            From: <sip:u@192.0.2.7>;tag=1\r\nTo: <sip:112@alarm.example>\r\nCall-ID: lc1\r\n\
            CSeq: 1 options\r\nContent-Length: 0\r\n\r\n";
        assert!(parse(lower.as_bytes()).is_err());
        let answer = best_effort_400(lower.as_bytes()).unwrap();
        assert!(answer.starts_with(b"SIP/2.0 501 "), "{answer:?}");
    }
}
