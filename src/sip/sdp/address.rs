//! Where an offer may point our media (strict media): the `c=` address of
//! every stream we would answer.
//!
//! Refused with 488 (see [`AddressRejection::warning`]):
//! - unspecified (`0.0.0.0`, `::`) in an initial offer; in a re-INVITE or
//!   UPDATE it is the RFC 2543 hold (RFC 3264 §8.4) and accepted;
//! - broadcast: `255.255.255.255`, and the top address of any allowed
//!   network of /30 or wider (its directed broadcast); `0.0.0.0/8` ("this
//!   network", not a destination);
//! - multicast (`224.0.0.0/4`, `ff00::/8`): we answer unicast RTP only;
//! - outside the allowed networks, when any are configured (empty: any
//!   unicast address, loopback included).
//!
//! Host names are left alone: the core resolves no names and sends no
//! media to them (see [`super::ConnectionAddr::usable_ip`]).

use std::fmt;
use std::net::IpAddr;

use super::{ConnectionAddr, SessionDescription};
use crate::admission::IpNet;

/// Why an address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressProblem {
    /// `0.0.0.0` or `::` outside a re-INVITE.
    Unspecified,
    /// A broadcast address.
    Broadcast,
    /// A multicast address.
    Multicast,
    /// Not in the trunk's or device's allowed networks.
    NotAllowed,
}

impl AddressProblem {
    /// Metric label and Warning text.
    pub fn label(self) -> &'static str {
        match self {
            AddressProblem::Unspecified => "unspecified",
            AddressProblem::Broadcast => "broadcast",
            AddressProblem::Multicast => "multicast",
            AddressProblem::NotAllowed => "not_allowed",
        }
    }
}

/// An offer whose `c=` address we will not send media to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRejection {
    /// The address.
    pub addr: IpAddr,
    /// Why.
    pub problem: AddressProblem,
}

impl AddressRejection {
    /// The RFC 3261 §20.43 warn-code: 301, "one or more network address
    /// formats contained in the session description are not available"
    /// (304 and 305 are about media types and formats, which were fine).
    pub const WARN_CODE: u16 = 301;

    /// The Warning header value, `agent` naming us.
    pub fn warning(&self, agent: &str) -> String {
        format!(
            "{} {agent} \"Incompatible network address: {} c= address not accepted\"",
            Self::WARN_CODE,
            self.problem.label()
        )
    }
}

impl fmt::Display for AddressRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c= {} is {}", self.addr, self.problem.label())
    }
}

/// Checks the connection address of every stream with a non-zero port.
/// `in_dialog`: a re-INVITE or UPDATE, where `0.0.0.0` means hold.
pub fn check_addresses(
    offer: &SessionDescription,
    allow: &[IpNet],
    in_dialog: bool,
) -> Result<(), AddressRejection> {
    let streams = offer.media.iter().filter(|m| m.port != 0);
    for media in streams {
        let Some(ConnectionAddr::Ip(ip)) = offer.connection_for(media) else {
            continue;
        };
        let ip = ip.to_canonical();
        if let Some(problem) = problem(ip, allow, in_dialog) {
            return Err(AddressRejection { addr: ip, problem });
        }
    }
    Ok(())
}

fn problem(ip: IpAddr, allow: &[IpNet], in_dialog: bool) -> Option<AddressProblem> {
    if ip.is_unspecified() {
        return (!in_dialog).then_some(AddressProblem::Unspecified);
    }
    if ip.is_multicast() {
        return Some(AddressProblem::Multicast);
    }
    if is_broadcast(ip, allow) {
        return Some(AddressProblem::Broadcast);
    }
    if !allow.is_empty() && !allow.iter().any(|net| net.contains(ip)) {
        return Some(AddressProblem::NotAllowed);
    }
    None
}

/// Limited broadcast, "this network", or an allowed network's top address.
fn is_broadcast(ip: IpAddr, allow: &[IpNet]) -> bool {
    let IpAddr::V4(v4) = ip else {
        return false;
    };
    if v4.is_broadcast() || v4.octets()[0] == 0 {
        return true;
    }
    let bits = u32::from(v4);
    allow.iter().any(|net| match net.addr() {
        IpAddr::V4(base) if net.prefix() <= 30 => {
            let host_mask = u32::MAX >> net.prefix();
            net.contains(ip) && bits == u32::from(base) | host_mask
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::sdp::parse;

    fn offer(c: &str) -> SessionDescription {
        let text = format!(
            "v=0\r\no=u 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN {c}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n"
        );
        parse(&text).expect("valid offer")
    }

    fn check(c: &str, allow: &[&str], in_dialog: bool) -> Option<AddressProblem> {
        let allow: Vec<IpNet> = allow.iter().map(|a| a.parse().expect("cidr")).collect();
        check_addresses(&offer(c), &allow, in_dialog)
            .err()
            .map(|r| r.problem)
    }

    #[test]
    fn unicast_and_loopback_pass_by_default() {
        for c in [
            "IP4 10.0.0.5",
            "IP4 127.0.0.1",
            "IP6 ::1",
            "IP6 2001:db8::5",
        ] {
            assert_eq!(check(c, &[], false), None, "{c}");
        }
    }

    #[test]
    fn unspecified_is_a_hold_only_in_a_dialog() {
        assert_eq!(
            check("IP4 0.0.0.0", &[], false),
            Some(AddressProblem::Unspecified)
        );
        assert_eq!(
            check("IP6 ::", &[], false),
            Some(AddressProblem::Unspecified)
        );
        assert_eq!(check("IP4 0.0.0.0", &[], true), None);
    }

    #[test]
    fn broadcast_and_multicast_are_refused() {
        let b = Some(AddressProblem::Broadcast);
        assert_eq!(check("IP4 255.255.255.255", &[], true), b);
        assert_eq!(check("IP4 0.1.2.3", &[], false), b);
        assert_eq!(check("IP4 10.1.255.255", &["10.1.0.0/16"], false), b);
        assert_eq!(check("IP4 10.1.255.254", &["10.1.0.0/16"], false), None);
        assert_eq!(check("IP4 10.1.0.3", &["10.1.0.2/31"], false), None);
        let m = Some(AddressProblem::Multicast);
        assert_eq!(check("IP4 224.2.1.1/127", &[], false), m);
        assert_eq!(check("IP6 ff0e::1", &[], false), m);
    }

    #[test]
    fn the_allow_list_limits_where_media_goes() {
        let allow = ["10.0.0.0/8", "127.0.0.0/8"];
        assert_eq!(check("IP4 10.9.8.7", &allow, false), None);
        assert_eq!(check("IP4 127.0.0.1", &allow, false), None);
        assert_eq!(
            check("IP4 192.0.2.66", &allow, false),
            Some(AddressProblem::NotAllowed)
        );
        assert_eq!(
            check("IP6 2001:db8::1", &allow, false),
            Some(AddressProblem::NotAllowed)
        );
    }

    #[test]
    fn media_level_c_lines_and_rejected_streams() {
        let text = "v=0\r\no=u 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
                    m=video 0 RTP/AVP 31\r\nc=IN IP4 255.255.255.255\r\n\
                    m=audio 4000 RTP/AVP 8\r\nc=IN IP4 239.1.1.1\r\n";
        let offer = parse(text).expect("valid");
        let r = check_addresses(&offer, &[], false).expect_err("multicast audio");
        assert_eq!(r.problem, AddressProblem::Multicast);
        assert_eq!(
            r.warning("192.0.2.10"),
            "301 192.0.2.10 \"Incompatible network address: multicast c= address not accepted\""
        );
    }
}
