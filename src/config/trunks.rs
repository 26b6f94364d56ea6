//! `[[trunks]]` and `[[targets]]`: carriers we trust and reach, and the
//! external SIP destinations (partner centres, night staff) calls overflow to.
//!
//! A trunk is matched by source address for incoming calls (`allow`). For
//! outgoing calls (forwarding to a target, recalls) it says how to reach the
//! far side: through `proxy` when set, else straight to the URI's host, over
//! `transport`.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;

use super::sip::ListenTransport;
use super::validate::Findings;
use super::Problem;
use crate::admission::{IpNet, Priority, TrunkAcl};
use crate::routing::TargetId;

/// One `[[trunks]]` entry: a carrier or gateway trusted by source address.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trunk {
    /// Name used in logs, metrics and events. Required, unique.
    pub name: String,
    /// Source networks, as CIDR (`"192.0.2.0/24"`, `"2001:db8::/32"`) or
    /// single addresses (`"192.0.2.7"` = /32). Calls from here are admitted
    /// without authentication. Host bits must be clear. Required, not empty.
    pub allow: Vec<IpNet>,
    /// Outgoing calls over this trunk go to this `"host:port"` (or `"host"`,
    /// port 5060, 5061 for tls) whatever the Request-URI says. Optional:
    /// without it, calls go to the host of the target's URI.
    #[serde(default)]
    pub proxy: Option<HostPort>,
    /// Transport for outgoing calls: `"udp"`, `"tcp"` or `"tls"` (the
    /// server's certificate checked, see `tls`). Default `"udp"`.
    #[serde(default = "default_transport")]
    pub transport: ListenTransport,
    /// `"alarm"` or `"normal"`: under overload, calls from a normal trunk
    /// are shed first and may not use the share of `calls.max_concurrent`
    /// reserved for alarms. Default `"alarm"` (a trunk carries alarm units
    /// unless you say it carries plain calls only).
    #[serde(default)]
    pub priority: Priority,
    /// `[trunks.tls]`: trusted authorities, server name and client
    /// certificate for outgoing TLS (see `trunk_tls`). Only with `transport = "tls"`.
    #[serde(default)]
    pub tls: Option<super::trunk_tls::TrunkTls>,
}

fn default_transport() -> ListenTransport {
    ListenTransport::Udp
}

impl Trunk {
    /// The admission core's view of this trunk.
    pub fn acl(&self) -> TrunkAcl {
        TrunkAcl {
            name: self.name.clone(),
            allow: self.allow.clone(),
            priority: self.priority,
        }
    }
}

/// A `"host:port"` or `"host"` (DNS name, IPv4, or `[IPv6]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct HostPort {
    /// The host: a DNS name or an IP address (IPv6 without brackets).
    pub host: String,
    /// The port; `None` when not written (the transport's default applies).
    pub port: Option<u16>,
}

impl HostPort {
    /// The port, or the transport's default (5061 for tls, else 5060).
    pub fn port_or_default(&self, transport: ListenTransport) -> u16 {
        let default = if transport == ListenTransport::Tls {
            5061
        } else {
            5060
        };
        self.port.unwrap_or(default)
    }
}

/// Why a `host:port` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid host or host:port (e.g. \"proxy.example.net:5060\", \"[2001:db8::1]:5060\")")]
pub struct HostPortError(String);

impl TryFrom<String> for HostPort {
    type Error = HostPortError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        parse_host_port(&text).ok_or(HostPortError(text))
    }
}

fn parse_host_port(text: &str) -> Option<HostPort> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        (v6, after.strip_prefix(':'))
    } else {
        match text.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let name_ok = |h: &str| {
        !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':')
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
        None => None,
    };
    name_ok(host).then(|| HostPort {
        host: host.to_string(),
        port,
    })
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.host.contains(':'), self.port) {
            (true, Some(p)) => write!(f, "[{}]:{p}", self.host),
            (true, None) => write!(f, "[{}]", self.host),
            (false, Some(p)) => write!(f, "{}:{p}", self.host),
            (false, None) => f.write_str(&self.host),
        }
    }
}

/// One `[[targets]]` entry: an external SIP destination calls can be
/// forwarded to (a partner centre, a municipality's night staff).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Identifier used by overflow rules and `last_resort`: lowercase
    /// letters, digits and `-`. Required, unique.
    pub id: TargetId,
    /// Where to call: a `sip:` or `sips:` URI, e.g. `"sip:+4589001000@partner.example"`.
    /// Required.
    pub uri: String,
    /// The `[[trunks]]` name the call goes out over (its `proxy` and
    /// `transport`). Required, must exist.
    pub trunk: String,
}

/// True for `sip:user@host[:port][;params]` or `sips:…`, without spaces or brackets.
pub(crate) fn sip_uri_ok(uri: &str) -> bool {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"));
    let Some(rest) = rest else { return false };
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    !host.is_empty()
        && !host.starts_with([';', ':'])
        && !rest.contains(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
}

/// Checks trunks: names present and unique, at least one network each.
pub(crate) fn check_trunks(trunks: &[Trunk], out: &mut Findings) {
    let mut seen = HashMap::new();
    for (i, t) in trunks.iter().enumerate() {
        if t.name.trim().is_empty() {
            out.push(
                format!("trunks[{i}].name"),
                Problem::Invalid {
                    value: "\"\"".into(),
                    expected: "a name",
                },
            );
        } else if let Some(first) = seen.insert(t.name.as_str(), i) {
            let first = format!("trunks[{first}].name");
            out.push(
                format!("trunks[{i}].name"),
                Problem::Duplicate {
                    value: t.name.clone(),
                    first,
                },
            );
        }
        if t.allow.is_empty() {
            out.push(
                format!("trunks[{i}].allow"),
                Problem::Missing {
                    because: "(at least one network)",
                },
            );
        }
    }
}

/// Checks targets on their own: id form and uniqueness, URI form, trunk known.
pub(crate) fn check_targets(targets: &[Target], trunks: &[Trunk], out: &mut Findings) {
    let mut seen = HashMap::new();
    for (i, t) in targets.iter().enumerate() {
        let path = format!("targets[{i}]");
        super::xref::check_id(t.id.as_str(), &format!("{path}.id"), out);
        if let Some(first) = seen.insert(t.id.as_str(), i) {
            let first = format!("targets[{first}].id");
            let value = t.id.to_string();
            out.push(format!("{path}.id"), Problem::Duplicate { value, first });
        }
        if !sip_uri_ok(&t.uri) {
            let value = format!("{:?}", t.uri);
            let expected = "a sip: or sips: URI such as \"sip:+4589001000@partner.example\"";
            out.push(format!("{path}.uri"), Problem::Invalid { value, expected });
        }
        if !trunks.iter().any(|k| k.name == t.trunk) {
            let detail = format!("no [[trunks]] entry is named {:?}", t.trunk);
            out.push(format!("{path}.trunk"), Problem::Conflict { detail });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(out: &Findings) -> Vec<&str> {
        out.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn trunk(name: &str, allow: &[&str]) -> Trunk {
        Trunk {
            name: name.into(),
            allow: allow.iter().map(|a| a.parse().unwrap()).collect(),
            proxy: None,
            transport: ListenTransport::Udp,
            priority: Default::default(),
            tls: None,
        }
    }

    #[test]
    fn trunk_checks() {
        let mut out = Findings::default();
        let trunks = [
            trunk("a", &["10.0.0.0/8"]),
            trunk("a", &[]),
            trunk("", &["::1"]),
        ];
        check_trunks(&trunks, &mut out);
        assert_eq!(
            keys(&out),
            ["trunks[1].name", "trunks[1].allow", "trunks[2].name"]
        );
        assert_eq!(trunks[0].acl().allow.len(), 1);
    }

    #[test]
    fn host_ports() {
        let hp = |s: &str| HostPort::try_from(s.to_string()).ok();
        let v = hp("proxy.example.net:5070").unwrap();
        assert_eq!((v.host.as_str(), v.port), ("proxy.example.net", Some(5070)));
        assert_eq!(hp("192.0.2.1").unwrap().port, None);
        let v6 = hp("[2001:db8::1]:5061").unwrap();
        assert_eq!(v6.host, "2001:db8::1");
        assert_eq!(v6.to_string(), "[2001:db8::1]:5061");
        assert_eq!(hp("h").unwrap().port_or_default(ListenTransport::Tls), 5061);
        for bad in [
            "",
            ":5060",
            "h:0",
            "h:70000",
            "h:x",
            "[zz]:1",
            "a b:1",
            "2001:db8::1",
        ] {
            assert!(hp(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn target_checks() {
        let t = |id: &str, uri: &str, trunk: &str| Target {
            id: TargetId::new(id),
            uri: uri.into(),
            trunk: trunk.into(),
        };
        let targets = [
            t("partner", "sip:+4589001000@partner.example", "lo"),
            t("partner", "tel:+4589", "nope"),
            t("Bad", "sips:night@192.0.2.5:5061;transport=tls", "lo"),
        ];
        let mut out = Findings::default();
        check_targets(&targets, &[trunk("lo", &["127.0.0.1"])], &mut out);
        assert_eq!(
            keys(&out),
            [
                "targets[1].id",
                "targets[1].uri",
                "targets[1].trunk",
                "targets[2].id"
            ]
        );
        assert!(!sip_uri_ok("sip:"));
        assert!(!sip_uri_ok("sip:user@"));
        assert!(sip_uri_ok("sip:partner.example"));
    }
}
