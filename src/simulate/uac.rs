//! The SIP user-agent client pieces of the simulated unit (RFC 3261 §8.1,
//! §12.1.2, §13.2.2.4, §15.1.1): the INVITE, the ACK for a 2xx, the dialog
//! formed by the 2xx and the requests inside it (our BYE).
//!
//! Requests are written as text and read back with the crate's own parser,
//! so they are exactly what the daemon's parser accepts. In-dialog requests
//! go to the address the INVITE went to (the flow), with the remote target
//! from the 2xx's Contact as Request-URI and its Record-Route reversed as
//! the route set.

use std::net::SocketAddr;

use crate::sip::message::{
    self, header_value, rsip::Method, split_commas, to_tag, Request, Response, SipMessage,
};
use crate::sip::types::Tag;

use super::SimError;

/// Who we are and whom we call, fixed for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallIdentity {
    /// The Request-URI of the INVITE (and the To URI).
    pub target: String,
    /// Our From/Contact user.
    pub user: String,
    /// Our SIP socket address (Via sent-by, Contact).
    pub local: SocketAddr,
    /// The Call-ID.
    pub call_id: String,
    /// Our From tag.
    pub local_tag: String,
}

impl CallIdentity {
    fn caller_header(&self) -> String {
        format!("<sip:{}@{}>;tag={}", self.user, self.local, self.local_tag)
    }

    fn via(&self, branch: &str) -> String {
        format!("SIP/2.0/UDP {};branch={branch};rport", self.local)
    }

    fn contact(&self) -> String {
        format!("<sip:{}@{}>", self.user, self.local)
    }
}

/// Builds the INVITE carrying `sdp` on `branch` (CSeq 1).
pub fn invite(id: &CallIdentity, branch: &str, sdp: &str) -> Result<Request, SimError> {
    let text = format!(
        "INVITE {target} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
         To: <{target}>\r\nCall-ID: {cid}\r\nCSeq: 1 INVITE\r\nContact: {contact}\r\n\
         User-Agent: alarmgate-simulate/{version}\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n\
         Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
        target = id.target,
        via = id.via(branch),
        from = id.caller_header(),
        cid = id.call_id,
        contact = id.contact(),
        version = env!("CARGO_PKG_VERSION"),
        len = sdp.len(),
    );
    parse_request(&text)
}

fn parse_request(text: &str) -> Result<Request, SimError> {
    match message::parse(text.as_bytes()) {
        Ok(SipMessage::Request(r)) => Ok(r),
        Ok(SipMessage::Response(_)) => Err(SimError::Sip("built a response".into())),
        Err(e) => Err(SimError::Sip(e.to_string())),
    }
}

/// The dialog a 2xx to our INVITE formed (§12.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UacDialog {
    identity: CallIdentity,
    /// The far end's To tag.
    pub remote_tag: Tag,
    /// The Request-URI of in-dialog requests (the 2xx's Contact, else the target).
    pub remote_target: String,
    /// Route headers for in-dialog requests: Record-Route reversed.
    pub route_set: Vec<String>,
    next_cseq: u32,
}

impl UacDialog {
    /// The dialog from a 2xx; `None` without a To tag (not a valid 2xx).
    pub fn from_2xx(identity: &CallIdentity, response: &Response) -> Option<Self> {
        let remote_tag = to_tag(response)?;
        let remote_target = header_value(response, "Contact")
            .and_then(contact_uri)
            .unwrap_or_else(|| identity.target.clone());
        let mut route_set: Vec<String> = response
            .headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case("Record-Route"))
            .flat_map(|h| split_commas(h.value()))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        route_set.reverse();
        Some(Self {
            identity: identity.clone(),
            remote_tag,
            remote_target,
            route_set,
            next_cseq: 2,
        })
    }

    /// The ACK for the 2xx (§13.2.2.4): its own branch, CSeq 1 ACK.
    pub fn ack(&self, branch: &str) -> Result<Request, SimError> {
        self.build(Method::Ack, 1, branch)
    }

    /// A request inside the dialog with the next CSeq (our BYE).
    pub fn request(&mut self, method: Method, branch: &str) -> Result<Request, SimError> {
        let seq = self.next_cseq;
        self.next_cseq = self.next_cseq.saturating_add(1);
        self.build(method, seq, branch)
    }

    fn build(&self, method: Method, seq: u32, branch: &str) -> Result<Request, SimError> {
        let id = &self.identity;
        let routes: String = self
            .route_set
            .iter()
            .map(|r| format!("Route: {r}\r\n"))
            .collect();
        let text = format!(
            "{method} {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n{routes}From: {from}\r\n\
             To: <{target}>;tag={tag}\r\nCall-ID: {cid}\r\nCSeq: {seq} {method}\r\n\
             Content-Length: 0\r\n\r\n",
            uri = self.remote_target,
            via = id.via(branch),
            from = id.caller_header(),
            target = id.target,
            tag = self.remote_tag,
            cid = id.call_id,
        );
        parse_request(&text)
    }
}

/// The URI inside a Contact value (`"x" <sip:a@b>;expires=1` → `sip:a@b`).
fn contact_uri(value: &str) -> Option<String> {
    let first = split_commas(value).into_iter().next()?;
    let uri = match (first.find('<'), first.find('>')) {
        (Some(a), Some(b)) if b > a => first.get(a + 1..b)?,
        _ => first.split(';').next()?.trim(),
    };
    (!uri.is_empty()).then(|| uri.to_string())
}

/// The `host:port` a `sip:` URI points at (default port 5060), for the driver
/// to resolve. Only UDP is supported.
pub fn target_host_port(uri: &str) -> Result<(String, u16), SimError> {
    let bad = |reason: &str| SimError::InvalidTarget {
        target: uri.to_owned(),
        reason: reason.into(),
    };
    let rest = uri
        .strip_prefix("sip:")
        .ok_or_else(|| bad("only sip: URIs (UDP) are supported"))?;
    let hostport = rest.rsplit('@').next().unwrap_or(rest);
    let hostport = hostport.split([';', '?']).next().unwrap_or(hostport);
    if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed [IPv6]"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None => 5060,
        };
        return Ok((host.to_string(), port));
    }
    let (host, port) = match hostport.split_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| bad("bad port"))?),
        None => (hostport, 5060),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{cseq, response_to, set_to_tag, top_via};

    fn identity() -> CallIdentity {
        CallIdentity {
            target: "sip:112@127.0.0.1:5060".into(),
            user: "unit".into(),
            local: "127.0.0.1:40000".parse().expect("addr"),
            call_id: "c1@sim".into(),
            local_tag: "lt1".into(),
        }
    }

    #[test]
    fn invite_ack_and_bye_follow_the_dialog() {
        let id = identity();
        let inv = invite(&id, "z9hG4bK-i1", "v=0\r\n").expect("builds");
        assert_eq!(cseq(&inv).expect("cseq"), (1, Method::Invite));
        assert_eq!(inv.body, b"v=0\r\n");
        let mut ok = response_to(&inv, 200, None);
        set_to_tag(&mut ok, &Tag::new("rt9"));
        message::add_header(&mut ok, "Contact", "<sip:gw@127.0.0.1:5070>");
        message::add_header(&mut ok, "Record-Route", "<sip:p1;lr>, <sip:p2;lr>");
        let mut dialog = UacDialog::from_2xx(&id, &ok).expect("tagged 2xx");
        assert_eq!(dialog.route_set, ["<sip:p2;lr>", "<sip:p1;lr>"]);
        let ack = dialog.ack("z9hG4bK-a1").expect("builds");
        assert_eq!(ack.uri.to_string(), "sip:gw@127.0.0.1:5070");
        assert_eq!(cseq(&ack).expect("cseq"), (1, Method::Ack));
        assert_eq!(to_tag(&ack), Some(Tag::new("rt9")));
        let bye = dialog.request(Method::Bye, "z9hG4bK-b1").expect("builds");
        assert_eq!(cseq(&bye).expect("cseq"), (2, Method::Bye));
        assert_eq!(
            top_via(&bye).expect("via").branch.map(|b| b.to_string()),
            Some("z9hG4bK-b1".into())
        );
        let untagged = response_to(&inv, 200, None);
        assert!(UacDialog::from_2xx(&id, &untagged).is_none());
    }

    #[test]
    fn target_addresses() {
        let hp = |u: &str| target_host_port(u).ok();
        assert_eq!(
            hp("sip:112@127.0.0.1:5062"),
            Some(("127.0.0.1".into(), 5062))
        );
        assert_eq!(
            hp("sip:alarm.example"),
            Some(("alarm.example".into(), 5060))
        );
        assert_eq!(
            hp("sip:1@[::1]:5070;transport=udp"),
            Some(("::1".into(), 5070))
        );
        assert!(hp("sips:1@h").is_none() && hp("sip:1@h:x").is_none() && hp("sip:1@").is_none());
    }
}
