//! Transaction keys (RFC 3261 §17.1.3, §17.2.3) and the dialog-level index
//! used for merged requests (§8.2.2.2) and ACKs for 2xx (§13.3.1.4).
//!
//! A branch starting with the magic cookie `z9hG4bK`, with the top Via's
//! sent-by, is the key of a server transaction (the branch alone of a client
//! transaction, since we chose it). Without the cookie
//! (RFC 2543 peers, RFC 4475 §3.2.1) the key is built from the Request-URI,
//! From tag, Call-ID, CSeq number and top Via value, which an INVITE, its ACK
//! for a non-2xx and its CANCEL share (§17.2.3).

use crate::sip::message::{
    self, call_id, cseq_parts, from_tag, header_value, split_commas, top_via, MessageError,
};
use crate::sip::types::{Branch, CallId, Tag};
use rsipstack::sip::{Method, Request, Response};

/// The RFC 3261 branch prefix.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Which side of the transaction we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We received the request.
    Server,
    /// We sent the request.
    Client,
}

/// Identifies one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxKey {
    /// The branch (or, for RFC 2543 requests, a key derived from the request).
    pub branch: Branch,
    /// The transaction's method: an ACK for a non-2xx belongs to its INVITE's
    /// transaction, so it is looked up with `Invite`; CANCEL has its own.
    pub method: Method,
    /// Server or client.
    pub role: Role,
}

impl TxKey {
    /// The same branch, another method (the CANCEL of an INVITE, or back).
    pub fn with_method(&self, method: Method) -> Self {
        Self {
            branch: self.branch.clone(),
            method,
            role: self.role,
        }
    }

    /// True for INVITE transactions.
    pub fn is_invite(&self) -> bool {
        self.method == Method::Invite
    }
}

/// The key of the server transaction an incoming request belongs to (an ACK maps to INVITE).
pub fn server_key(req: &Request) -> Result<TxKey, MessageError> {
    let via = top_via(req)?;
    let method = match req.method {
        Method::Ack => Method::Invite,
        m => m,
    };
    let branch = match via.branch {
        // §17.2.3: the branch, the sent-by and the method identify a server
        // transaction; two clients that pick the same branch stay apart.
        Some(b) if b.as_str().starts_with(MAGIC_COOKIE) => {
            let host = via.host.to_ascii_lowercase();
            Branch::new(format!("{b}|{host}:{}", via.port.unwrap_or(0)))
        }
        _ => rfc2543_branch(req)?,
    };
    Ok(TxKey {
        branch,
        method,
        role: Role::Server,
    })
}

/// The key of the client transaction a response belongs to: top Via branch and CSeq method.
pub fn client_key(resp: &Response) -> Result<TxKey, MessageError> {
    let branch = top_via(resp)?
        .branch
        .ok_or_else(|| MessageError::MissingHeader {
            name: "Via branch".into(),
        })?;
    let (_, method) = message::cseq(resp)?;
    Ok(TxKey {
        branch,
        method,
        role: Role::Client,
    })
}

/// §17.2.3 matching for requests without the magic cookie.
fn rfc2543_branch(req: &Request) -> Result<Branch, MessageError> {
    let cseq = header_value(req, "CSeq").unwrap_or("");
    let (num, _) = cseq_parts(cseq).ok_or_else(|| MessageError::InvalidHeader {
        name: "CSeq".into(),
        value: cseq.into(),
    })?;
    let via = header_value(req, "Via")
        .map(split_commas)
        .and_then(|v| v.first().copied());
    let tag = from_tag(req);
    Ok(Branch::new(format!(
        "2543|{}|{}|{}|{}|{}",
        req.uri,
        tag.as_ref().map_or("", Tag::as_str),
        call_id(req)?,
        num,
        via.unwrap_or("")
    )))
}

/// Call-ID, From tag, CSeq number and method: what merged requests and
/// 2xx ACKs are matched on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DialogKey {
    call_id: CallId,
    from_tag: Option<Tag>,
    cseq: u32,
    method: Method,
}

impl DialogKey {
    /// The dialog key of `req`; an ACK is keyed as the INVITE it acknowledges.
    pub(crate) fn of(req: &Request) -> Option<Self> {
        let (cseq, _) = cseq_parts(header_value(req, "CSeq")?)?;
        let method = match req.method {
            Method::Ack => Method::Invite,
            m => m,
        };
        Some(Self {
            call_id: call_id(req).ok()?,
            from_tag: from_tag(req),
            cseq,
            method,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, SipMessage};

    fn req(method: &str, branch: &str) -> Request {
        let text = format!(
            "{method} sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h:5060{branch}\r\nFrom: <sip:x@y>;tag=f\r\n\
             To: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 4 {method}\r\n\r\n"
        );
        match parse(text.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!(),
        }
    }

    #[test]
    fn ack_maps_to_invite_and_cancel_keeps_its_own_method() {
        let invite = server_key(&req("INVITE", ";branch=z9hG4bK1")).unwrap();
        assert_eq!(server_key(&req("ACK", ";branch=z9hG4bK1")).unwrap(), invite);
        let cancel = server_key(&req("CANCEL", ";branch=z9hG4bK1")).unwrap();
        assert_eq!(cancel, invite.with_method(Method::Cancel));
    }

    #[test]
    fn same_branch_from_another_sent_by_is_another_transaction() {
        let a = server_key(&req("INVITE", ";branch=z9hG4bK1")).unwrap();
        let text = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP other:5062;branch=z9hG4bK1\r\n\
                    From: <sip:x@y>;tag=f\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 4 INVITE\r\n\r\n";
        let SipMessage::Request(other) = parse(text.as_bytes()).unwrap() else {
            panic!()
        };
        assert_ne!(server_key(&other).unwrap(), a);
        // Host case does not matter (RFC 3261 §19.1.4).
        let upper = text.replace("other:5062", "OTHER:5062");
        let SipMessage::Request(upper) = parse(upper.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(server_key(&upper).unwrap(), server_key(&other).unwrap());
    }

    #[test]
    fn rfc2543_requests_match_on_uri_tag_callid_cseq_and_via() {
        let invite = server_key(&req("INVITE", "")).unwrap();
        assert!(invite.branch.as_str().starts_with("2543|"));
        assert_eq!(server_key(&req("ACK", "")).unwrap(), invite);
        assert_eq!(
            server_key(&req("CANCEL", "")).unwrap().branch,
            invite.branch
        );
        let old_style = server_key(&req("INVITE", ";branch=1234")).unwrap();
        assert!(old_style.branch.as_str().starts_with("2543|"));
        assert_ne!(old_style, invite, "the Via value differs");
    }

    #[test]
    fn dialog_key_of_ack_equals_invite() {
        let a = DialogKey::of(&req("INVITE", ";branch=z9hG4bK1"));
        assert_eq!(a, DialogKey::of(&req("ACK", ";branch=z9hG4bK2")));
        assert!(a.is_some());
    }
}
