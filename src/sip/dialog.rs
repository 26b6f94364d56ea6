//! Dialogs (RFC 3261 §12): the state two user agents share after a 2xx.
//!
//! A [`Dialog`] is created on the UAS side from an INVITE and the local tag
//! we chose (§12.1.1), or on the UAC side from our INVITE and its 2xx (§12.1.2). It remembers what in-dialog requests need: the remote
//! target (Contact), the route set (Record-Route), both CSeq spaces, and the
//! From/To values with their tags. [`Dialog::request`] builds a request
//! inside the dialog (§12.2.1.1) such as our BYE or a session refresh;
//! [`Dialog::check_remote_cseq`] applies §12.2.2 to requests from the far end.
//!
//! Requests we send go back over the flow the INVITE came in on (the
//! [`Peer`]), not to a Contact that may be a private address behind NAT: alarm
//! units are often behind carrier-grade NAT, and the flow is what reaches them
//! (the idea of RFC 5626 without its registration machinery).

use super::message::rsip::{
    self, headers::make_header, Header, Headers, Method, Request, Response,
};
use super::message::{cseq_parts, header_value, split_commas, tag_param};
use super::types::{Branch, CallId, Peer, Tag};
use thiserror::Error;

/// Why a dialog could not be created from a request.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DialogError {
    /// A header the dialog needs is missing.
    #[error("missing {name} header")]
    MissingHeader {
        /// The header name.
        name: &'static str,
    },
    /// A header the dialog needs could not be parsed.
    #[error("invalid {name} header: {value}")]
    InvalidHeader {
        /// The header name.
        name: &'static str,
        /// What it contained.
        value: String,
    },
}

/// The identity of a dialog: Call-ID plus both tags (§12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID.
    pub call_id: CallId,
    /// Our tag (the To tag for a dialog we accepted).
    pub local_tag: Tag,
    /// The far end's tag (its From tag).
    pub remote_tag: Option<Tag>,
}

/// Result of checking a request's CSeq against the remote sequence (§12.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CseqCheck {
    /// In order: process the request.
    InOrder,
    /// Lower than one already seen: answer 500 Server Internal Error.
    OutOfOrder,
}

/// The UAS side of an INVITE dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID and tags.
    pub id: DialogId,
    /// Our From header value for requests we send (the INVITE's To plus our tag).
    local_party: String,
    /// Our To header value for requests we send (the INVITE's From, with its tag).
    remote_party: String,
    /// The remote target: the URI of the INVITE's Contact.
    pub remote_target: String,
    /// Record-Route values of the INVITE, in order (the UAS route set, §12.1.1).
    pub route_set: Vec<String>,
    /// The next CSeq number we use.
    local_seq: u32,
    /// The highest CSeq number seen from the far end.
    remote_seq: u32,
    /// The flow requests go back on.
    pub peer: Peer,
}

impl Dialog {
    /// Creates the dialog a UAS forms when it answers `invite` with `local_tag`.
    pub fn uas(invite: &Request, local_tag: Tag, peer: Peer) -> Result<Self, DialogError> {
        let call_id = header_value(invite, "Call-ID")
            .ok_or(DialogError::MissingHeader { name: "Call-ID" })?;
        let from =
            header_value(invite, "From").ok_or(DialogError::MissingHeader { name: "From" })?;
        let to = header_value(invite, "To").ok_or(DialogError::MissingHeader { name: "To" })?;
        let cseq =
            header_value(invite, "CSeq").ok_or(DialogError::MissingHeader { name: "CSeq" })?;
        let (remote_seq, _) = cseq_parts(cseq).ok_or_else(|| DialogError::InvalidHeader {
            name: "CSeq",
            value: cseq.to_string(),
        })?;
        let remote_target = header_value(invite, "Contact")
            .and_then(contact_uri)
            .unwrap_or_else(|| invite.uri.to_string());
        let route_set = record_routes(&invite.headers);
        Ok(Self {
            id: DialogId {
                call_id: CallId::new(call_id.trim()),
                remote_tag: tag_param(from).map(Tag::new),
                local_tag: local_tag.clone(),
            },
            local_party: format!("{};tag={}", to.trim(), local_tag),
            remote_party: from.trim().to_string(),
            remote_target,
            route_set,
            local_seq: 1,
            remote_seq,
            peer,
        })
    }

    /// Creates the dialog a UAC forms from its INVITE and the 2xx that answered
    /// it (§12.1.2): the route set is the 2xx's Record-Route in reverse, the
    /// remote target its Contact, the remote tag its To tag; our CSeq space
    /// continues after the INVITE's.
    pub fn uac(invite: &Request, ok: &Response, peer: Peer) -> Result<Self, DialogError> {
        let call_id = header_value(invite, "Call-ID")
            .ok_or(DialogError::MissingHeader { name: "Call-ID" })?;
        let from =
            header_value(invite, "From").ok_or(DialogError::MissingHeader { name: "From" })?;
        let to = header_value(ok, "To").ok_or(DialogError::MissingHeader { name: "To" })?;
        let local_tag = tag_param(from).ok_or_else(|| DialogError::InvalidHeader {
            name: "From",
            value: from.to_string(),
        })?;
        let cseq =
            header_value(invite, "CSeq").ok_or(DialogError::MissingHeader { name: "CSeq" })?;
        let (invite_seq, _) = cseq_parts(cseq).ok_or_else(|| DialogError::InvalidHeader {
            name: "CSeq",
            value: cseq.to_string(),
        })?;
        let remote_target = header_value(ok, "Contact")
            .and_then(contact_uri)
            .unwrap_or_else(|| invite.uri.to_string());
        let mut route_set = record_routes(&ok.headers);
        route_set.reverse();
        Ok(Self {
            id: DialogId {
                call_id: CallId::new(call_id.trim()),
                local_tag: Tag::new(local_tag),
                remote_tag: tag_param(to).map(Tag::new),
            },
            local_party: from.trim().to_string(),
            remote_party: to.trim().to_string(),
            remote_target,
            route_set,
            local_seq: invite_seq.saturating_add(1),
            remote_seq: 0,
            peer,
        })
    }

    /// The ACK for a 2xx to our INVITE (§13.2.2.4): same CSeq number as the
    /// INVITE, method ACK, a new branch; it is sent without a transaction.
    pub fn ack(&self, invite_seq: u32, via: &ViaSpec, branch: &Branch) -> Request {
        let mut copy = self.clone();
        copy.local_seq = invite_seq;
        copy.request(Method::Ack, via, branch)
    }

    /// Applies §12.2.2 to the CSeq number of a request from the far end.
    pub fn check_remote_cseq(&mut self, seq: u32) -> CseqCheck {
        if seq < self.remote_seq {
            return CseqCheck::OutOfOrder;
        }
        self.remote_seq = seq;
        CseqCheck::InOrder
    }

    /// Builds a request inside the dialog (§12.2.1.1).
    ///
    /// `via` is the sent-by value (`host:port`) and transport token of our Via;
    /// the caller chooses a fresh `branch`. Route headers carry the route set.
    pub fn request(&mut self, method: Method, via: &ViaSpec, branch: &Branch) -> Request {
        let seq = self.local_seq;
        self.local_seq = self.local_seq.saturating_add(1);
        let uri = rsip::Uri::try_from(self.remote_target.as_str()).unwrap_or_default();
        let mut headers = Headers::default();
        let via_value = format!(
            "SIP/2.0/{} {};branch={};rport",
            via.transport, via.sent_by, branch
        );
        headers.push(make_header("Via", via_value));
        headers.push(make_header("Max-Forwards", "70".into()));
        for route in &self.route_set {
            headers.push(make_header("Route", route.clone()));
        }
        headers.push(make_header("From", self.local_party.clone()));
        headers.push(make_header("To", self.remote_party.clone()));
        headers.push(make_header("Call-ID", self.id.call_id.to_string()));
        headers.push(make_header("CSeq", format!("{seq} {method}")));
        Request {
            method,
            uri,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        }
    }
}

/// What goes into the Via of a request we send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaSpec {
    /// `UDP`, `TCP` or `TLS`.
    pub transport: &'static str,
    /// `host:port` of our listener.
    pub sent_by: String,
}

/// Every Record-Route value, in order, comma-joined lines split.
fn record_routes(headers: &Headers) -> Vec<String> {
    headers
        .iter()
        .filter(|h| matches!(h, Header::RecordRoute(_)))
        .flat_map(|h| split_commas(h.value()))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// The URI inside a Contact value (`"Name" <sip:a@b>;expires=3` → `sip:a@b`).
fn contact_uri(value: &str) -> Option<String> {
    let first = split_commas(value).into_iter().next()?;
    match (first.find('<'), first.find('>')) {
        (Some(a), Some(b)) if b > a => first.get(a + 1..b).map(str::to_string),
        _ => first
            .split(';')
            .next()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::rsip::SipMessage;
    use std::net::SocketAddr;

    const INVITE: &str = "INVITE sip:112@10.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1\r\n\
Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
From: \"Unit, 42\" <sip:unit42@10.0.0.5>;tag=abc\r\n\
To: <sip:112@10.0.0.1>\r\n\
Call-ID: c1@10.0.0.5\r\n\
CSeq: 7 INVITE\r\n\
Contact: <sip:unit42@192.168.1.9:5062;transport=udp>\r\n\
Content-Length: 0\r\n\r\n";

    fn invite() -> Request {
        match SipMessage::try_from(INVITE.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => unreachable!(),
        }
    }

    fn peer() -> Peer {
        Peer::udp("10.0.0.5:5060".parse::<SocketAddr>().unwrap())
    }

    #[test]
    fn uas_dialog_takes_tags_target_and_routes() {
        let d = Dialog::uas(&invite(), Tag::new("ours"), peer()).unwrap();
        assert_eq!(d.id.call_id.as_str(), "c1@10.0.0.5");
        assert_eq!(d.id.remote_tag.as_ref().unwrap().as_str(), "abc");
        assert_eq!(d.remote_target, "sip:unit42@192.168.1.9:5062;transport=udp");
        assert_eq!(
            d.route_set,
            vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
    }

    #[test]
    fn bye_has_swapped_parties_next_cseq_and_routes() {
        let mut d = Dialog::uas(&invite(), Tag::new("ours"), peer()).unwrap();
        let via = ViaSpec {
            transport: "UDP",
            sent_by: "10.0.0.1:5060".into(),
        };
        let bye = d.request(Method::Bye, &via, &Branch::new("z9hG4bKb1"));
        let text = bye.to_string();
        // rsip prints URI parameter values in its own case; the parameter is case-insensitive.
        assert!(
            text.to_ascii_lowercase()
                .starts_with("bye sip:unit42@192.168.1.9:5062;transport=udp sip/2.0"),
            "{text}"
        );
        assert!(text.contains("From: <sip:112@10.0.0.1>;tag=ours"));
        assert!(text.contains("To: \"Unit, 42\" <sip:unit42@10.0.0.5>;tag=abc"));
        assert!(text.contains("CSeq: 1 BYE"));
        assert!(text.contains("Route: <sip:p1.example.com;lr>"));
        let next = d.request(Method::Update, &via, &Branch::new("z9hG4bKb2"));
        assert!(next.to_string().contains("CSeq: 2 UPDATE"));
    }

    #[test]
    fn remote_cseq_must_not_go_back() {
        let mut d = Dialog::uas(&invite(), Tag::new("ours"), peer()).unwrap();
        assert_eq!(d.check_remote_cseq(8), CseqCheck::InOrder);
        assert_eq!(d.check_remote_cseq(8), CseqCheck::InOrder);
        assert_eq!(d.check_remote_cseq(5), CseqCheck::OutOfOrder);
    }

    #[test]
    fn missing_call_id_is_an_error() {
        let mut r = invite();
        r.headers.retain(|h| !matches!(h, Header::CallId(_)));
        assert_eq!(
            Dialog::uas(&r, Tag::new("t"), peer()).unwrap_err(),
            DialogError::MissingHeader { name: "Call-ID" }
        );
    }

    const OK: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKout\r\n\
Record-Route: <sip:p2.example.com;lr>\r\n\
Record-Route: <sip:p1.example.com;lr>\r\n\
From: <sip:alarmgate@10.0.0.1>;tag=mine\r\n\
To: <sip:op1@10.0.0.9>;tag=theirs\r\n\
Call-ID: out1@10.0.0.1\r\n\
CSeq: 41 INVITE\r\n\
Contact: <sip:op1@10.0.0.9:5080>\r\n\
Content-Length: 0\r\n\r\n";

    const OUT_INVITE: &str = "INVITE sip:op1@10.0.0.9 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKout\r\n\
From: <sip:alarmgate@10.0.0.1>;tag=mine\r\n\
To: <sip:op1@10.0.0.9>\r\n\
Call-ID: out1@10.0.0.1\r\n\
CSeq: 41 INVITE\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn uac_dialog_from_our_invite_and_its_2xx() {
        let invite = match SipMessage::try_from(OUT_INVITE.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => unreachable!(),
        };
        let ok = match SipMessage::try_from(OK.as_bytes()).unwrap() {
            SipMessage::Response(r) => r,
            SipMessage::Request(_) => unreachable!(),
        };
        let mut d = Dialog::uac(&invite, &ok, peer()).unwrap();
        assert_eq!(d.id.local_tag.as_str(), "mine");
        assert_eq!(d.id.remote_tag.as_ref().unwrap().as_str(), "theirs");
        assert_eq!(d.remote_target, "sip:op1@10.0.0.9:5080");
        // §12.1.2: the UAC's route set is the Record-Route in reverse order.
        assert_eq!(
            d.route_set,
            vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        let via = ViaSpec {
            transport: "UDP",
            sent_by: "10.0.0.1:5060".into(),
        };
        let ack = d.ack(41, &via, &Branch::new("z9hG4bKack")).to_string();
        assert!(ack.contains("CSeq: 41 ACK"), "{ack}");
        assert!(ack.contains("To: <sip:op1@10.0.0.9>;tag=theirs"));
        let bye = d
            .request(Method::Bye, &via, &Branch::new("z9hG4bKbye"))
            .to_string();
        assert!(bye.contains("CSeq: 42 BYE"), "{bye}");
        assert!(bye.contains("From: <sip:alarmgate@10.0.0.1>;tag=mine"));
    }
}
