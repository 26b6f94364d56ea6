//! CIDR networks for trunk access lists.
//!
//! Our own small type rather than a dependency: parsing `10.0.0.0/8`,
//! `::1/128` or a single address, and a `contains` that treats an
//! IPv4-mapped IPv6 source (`::ffff:10.1.2.3`, what a dual-stack socket
//! reports for an IPv4 peer) as the IPv4 address it carries.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why a network could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpNetError {
    /// The address part is neither an IPv4 nor an IPv6 address.
    #[error("`{text}` is not an IP address or CIDR network")]
    BadAddress {
        /// The text as written.
        text: String,
    },
    /// The prefix length is not a number or too long for the family.
    #[error("prefix length `{prefix}` is invalid (at most {max} for this address family)")]
    BadPrefix {
        /// The prefix as written.
        prefix: String,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
    /// Bits are set below the prefix, which usually hides a typo.
    #[error("host bits are set in `{text}`; did you mean `{suggestion}`?")]
    HostBitsSet {
        /// The text as written.
        text: String,
        /// The network with the host bits cleared.
        suggestion: String,
    },
}

/// An IPv4 or IPv6 network: an address with its host bits clear, and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// A network from its parts; host bits below `prefix` are cleared.
    /// Returns `None` when the prefix is too long for the family.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        if prefix > max_prefix(addr) {
            return None;
        }
        Some(Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// The network address (host bits clear).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length: 0 to 32 for IPv4, 0 to 128 for IPv6.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True when `ip` lies in this network. An IPv4-mapped IPv6 address is
    /// matched as the IPv4 address it carries; otherwise families never mix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(ip, self.prefix) == self.addr
            }
            _ => false,
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Clears every bit below `prefix`. `prefix` must not exceed the family's width.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & bits))
        }
        IpAddr::V6(v6) => {
            let bits = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & bits))
        }
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    /// Parses `addr/prefix`, or a single address as a /32 or /128.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .trim()
            .parse()
            .map_err(|_| IpNetError::BadAddress {
                text: text.to_string(),
            })?;
        let max = max_prefix(addr);
        let prefix = match prefix_text {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| IpNetError::BadPrefix {
                    prefix: p.to_string(),
                    max,
                })?,
        };
        let net = Self {
            addr: mask(addr, prefix),
            prefix,
        };
        if net.addr != addr {
            return Err(IpNetError::HostBitsSet {
                text: text.to_string(),
                suggestion: net.to_string(),
            });
        }
        Ok(net)
    }
}

impl TryFrom<String> for IpNet {
    type Error = IpNetError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Deserialises from a string. A visitor (rather than `String` then parse)
/// so that the error is raised inside the value and carries its position.
impl<'de> serde::Deserialize<'de> for IpNet {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_str(IpNetVisitor)
    }
}

struct IpNetVisitor;

impl serde::de::Visitor<'_> for IpNetVisitor {
    type Value = IpNet;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CIDR network such as \"10.0.0.0/8\" or a single IP address")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<IpNet, E> {
        text.parse().map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn zero_prefix_matches_whole_family_only() {
        assert!(net("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(net("0.0.0.0/0").contains(ip("::ffff:1.2.3.4")));
        assert!(!net("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(net("::/0").contains(ip("2001:db8::1")));
        assert!(!net("::/0").contains(ip("1.2.3.4")));
    }

    #[test]
    fn host_routes() {
        assert!(net("192.0.2.7/32").contains(ip("192.0.2.7")));
        assert!(!net("192.0.2.7/32").contains(ip("192.0.2.8")));
        assert!(net("::1/128").contains(ip("::1")));
        assert!(!net("::1/128").contains(ip("::2")));
    }

    #[test]
    fn single_address_is_a_host_route() {
        assert_eq!(net("192.0.2.7").prefix(), 32);
        assert_eq!(net("2001:db8::5").prefix(), 128);
    }

    #[test]
    fn v4_mapped_source_matches_v4_net() {
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(!net("10.0.0.0/8").contains(ip("::ffff:11.1.2.3")));
    }

    #[test]
    fn prefix_boundaries() {
        let n = net("172.16.0.0/12");
        assert!(n.contains(ip("172.31.255.255")));
        assert!(!n.contains(ip("172.32.0.0")));
        let n6 = net("fc00::/7");
        assert!(n6.contains(ip("fdff:ffff::1")));
        assert!(!n6.contains(ip("fe00::1")));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            "10.0.0.0/33".parse::<IpNet>(),
            Err(IpNetError::BadPrefix { max: 32, .. })
        ));
        assert!(matches!(
            "::/129".parse::<IpNet>(),
            Err(IpNetError::BadPrefix { max: 128, .. })
        ));
        assert!(matches!(
            "10.0.0/8".parse::<IpNet>(),
            Err(IpNetError::BadAddress { .. })
        ));
        assert!(matches!(
            "10.0.0.0/x".parse::<IpNet>(),
            Err(IpNetError::BadPrefix { .. })
        ));
        assert!(matches!(
            "".parse::<IpNet>(),
            Err(IpNetError::BadAddress { .. })
        ));
        let err = "10.0.0.1/8".parse::<IpNet>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "host bits are set in `10.0.0.1/8`; did you mean `10.0.0.0/8`?"
        );
    }

    #[test]
    fn new_masks_and_checks() {
        assert_eq!(IpNet::new(ip("10.1.2.3"), 8), Some(net("10.0.0.0/8")));
        assert_eq!(IpNet::new(ip("10.1.2.3"), 33), None);
        assert_eq!(net("2001:db8::/32").to_string(), "2001:db8::/32");
    }
}
