//! `[sip]`: listeners, identity, RFC 3261 timers and connection limits
//! (`[sip.connections]`, in `sip_connections.rs`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::sip_connections::SipConnections;
use super::validate::Findings;
use super::Problem;
use crate::sip::types::Transport;

/// Default `sip.user_agent`.
pub const DEFAULT_USER_AGENT: &str = "alarmgate";
/// Default `sip.timers.t1_ms`: RFC 3261 §17.1.1.1 RTT estimate.
pub const DEFAULT_T1_MS: u64 = 500;
/// Default `sip.timers.t2_ms`: RFC 3261 maximum retransmit interval.
pub const DEFAULT_T2_MS: u64 = 4000;
/// Default `sip.timers.t4_ms`: RFC 3261 maximum time a message stays in the network.
pub const DEFAULT_T4_MS: u64 = 5000;

/// `[sip]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// Sent in the `User-Agent` and `Server` headers. Default `"alarmgate"`.
    pub user_agent: String,
    /// The IP address put in Contact headers and SDP `c=` lines. Optional:
    /// when absent the runtime derives it from the listening socket (or, for
    /// a wildcard listener, from the route to the peer). Set it when the
    /// daemon sits behind a 1:1 NAT.
    pub advertise: Option<IpAddr>,
    /// `[[sip.listen]]`: sockets to receive SIP on. Default: UDP and TCP on
    /// `0.0.0.0:5060`.
    pub listen: Vec<ListenConfig>,
    /// `[sip.timers]`: transaction timers.
    pub timers: SipTimers,
    /// `[sip.connections]`: TCP and TLS connection limits.
    pub connections: SipConnections,
}

impl Default for SipConfig {
    fn default() -> Self {
        let any = SocketAddr::from(([0, 0, 0, 0], 5060));
        let plain = |transport| ListenConfig {
            transport,
            addr: any,
            cert: None,
            key: None,
        };
        Self {
            user_agent: DEFAULT_USER_AGENT.to_string(),
            advertise: None,
            listen: vec![plain(ListenTransport::Udp), plain(ListenTransport::Tcp)],
            timers: SipTimers::default(),
            connections: SipConnections::default(),
        }
    }
}

/// The transport named in a `[[sip.listen]]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenTransport {
    /// `"udp"`.
    Udp,
    /// `"tcp"`.
    Tcp,
    /// `"tls"`: needs `cert` and `key`.
    Tls,
    /// `"ws"`: SIP over WebSocket (RFC 7118), for browsers on this machine.
    Ws,
    /// `"wss"`: SIP over secure WebSocket; needs `cert` and `key`.
    Wss,
}

impl ListenTransport {
    /// True for the transports that need a certificate (`tls`, `wss`).
    pub fn needs_cert(self) -> bool {
        matches!(self, ListenTransport::Tls | ListenTransport::Wss)
    }
}

impl From<ListenTransport> for Transport {
    fn from(t: ListenTransport) -> Self {
        match t {
            ListenTransport::Udp => Transport::Udp,
            ListenTransport::Tcp => Transport::Tcp,
            ListenTransport::Tls => Transport::Tls,
            ListenTransport::Ws => Transport::Ws,
            ListenTransport::Wss => Transport::Wss,
        }
    }
}

/// One `[[sip.listen]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// `"udp"`, `"tcp"`, `"tls"`, `"ws"` or `"wss"`. Required.
    pub transport: ListenTransport,
    /// Socket address to bind, `"0.0.0.0:5060"` or `"[::]:5061"`. Required.
    pub addr: SocketAddr,
    /// PEM certificate chain for `tls` and `wss`; required for them,
    /// forbidden otherwise. A relative path is resolved against the daemon's
    /// working directory.
    pub cert: Option<PathBuf>,
    /// PEM private key for `tls` and `wss`; required for them, forbidden otherwise.
    pub key: Option<PathBuf>,
}

/// Certificate and key files for a TLS or WSS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

impl ListenConfig {
    /// The TLS files, when this is a TLS or WSS listener with both set.
    pub fn tls_paths(&self) -> Option<TlsPaths> {
        match (self.transport, &self.cert, &self.key) {
            (t, Some(cert), Some(key)) if t.needs_cert() => Some(TlsPaths {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }
}

/// `[sip.timers]`: RFC 3261 §17 timer bases, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipTimers {
    /// T1, the round-trip estimate; retransmissions start here. Default 500.
    pub t1_ms: u64,
    /// T2, the cap on the retransmit interval for non-INVITE requests and
    /// INVITE responses; must be at least T1. Default 4000.
    pub t2_ms: u64,
    /// T4, how long a message may remain in the network. Default 5000.
    pub t4_ms: u64,
}

impl Default for SipTimers {
    fn default() -> Self {
        Self {
            t1_ms: DEFAULT_T1_MS,
            t2_ms: DEFAULT_T2_MS,
            t4_ms: DEFAULT_T4_MS,
        }
    }
}

impl SipTimers {
    /// T1.
    pub fn t1(&self) -> Duration {
        Duration::from_millis(self.t1_ms)
    }
    /// T2.
    pub fn t2(&self) -> Duration {
        Duration::from_millis(self.t2_ms)
    }
    /// T4.
    pub fn t4(&self) -> Duration {
        Duration::from_millis(self.t4_ms)
    }
}

impl SipConfig {
    pub(crate) fn check(&self, out: &mut Findings) {
        if self.user_agent.trim().is_empty() {
            out.push(
                "sip.user_agent",
                Problem::Invalid {
                    value: "\"\"".into(),
                    expected: "a non-empty string",
                },
            );
        }
        if self.listen.is_empty() {
            out.push(
                "sip.listen",
                Problem::Missing {
                    because: "so that calls can reach the daemon",
                },
            );
        }
        let mut seen = HashMap::new();
        for (i, l) in self.listen.iter().enumerate() {
            l.check(&format!("sip.listen[{i}]"), out);
            if let Some(first) = seen.insert((l.transport, l.addr), i) {
                let value = format!("{:?} on {}", l.transport, l.addr).to_lowercase();
                out.push(
                    format!("sip.listen[{i}]"),
                    Problem::Duplicate {
                        value,
                        first: format!("sip.listen[{first}]"),
                    },
                );
            }
        }
        self.timers.check(out);
        self.connections.check(out);
    }
}

impl ListenConfig {
    fn check(&self, path: &str, out: &mut Findings) {
        let tls = self.transport.needs_cert();
        for (name, value) in [("cert", &self.cert), ("key", &self.key)] {
            match (tls, value) {
                (true, None) => out.push(
                    format!("{path}.{name}"),
                    Problem::Missing {
                        because: "for a tls or wss listener",
                    },
                ),
                (false, Some(_)) => out.push(
                    format!("{path}.{name}"),
                    Problem::Forbidden {
                        because: "on a udp, tcp or ws listener",
                    },
                ),
                _ => {}
            }
        }
    }
}

impl SipTimers {
    fn check(&self, out: &mut Findings) {
        for (name, value) in [
            ("t1_ms", self.t1_ms),
            ("t2_ms", self.t2_ms),
            ("t4_ms", self.t4_ms),
        ] {
            if value == 0 {
                out.push(
                    format!("sip.timers.{name}"),
                    Problem::Invalid {
                        value: "0".into(),
                        expected: "at least 1 ms",
                    },
                );
            }
        }
        if self.t1_ms > self.t2_ms {
            let detail = format!(
                "t1_ms ({}) must not exceed t2_ms ({})",
                self.t1_ms, self.t2_ms
            );
            out.push("sip.timers.t1_ms", Problem::Conflict { detail });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_udp_and_tcp() {
        let sip = SipConfig::default();
        assert_eq!(sip.listen.len(), 2);
        assert_eq!(Transport::from(sip.listen[1].transport), Transport::Tcp);
        assert_eq!(sip.timers.t2(), Duration::from_secs(4));
        let mut out = Findings::default();
        sip.check(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn tls_needs_files_and_plain_forbids_them() {
        let mut sip = SipConfig::default();
        sip.listen[0].cert = Some("c.pem".into());
        sip.listen.push(ListenConfig {
            transport: ListenTransport::Tls,
            addr: "0.0.0.0:5061".parse().unwrap(),
            cert: None,
            key: Some("k.pem".into()),
        });
        let mut out = Findings::default();
        sip.check(&mut out);
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["sip.listen[0].cert", "sip.listen[2].cert"]);
        assert_eq!(sip.listen[2].tls_paths(), None);
    }

    #[test]
    fn timers_relation_and_duplicates() {
        let mut sip = SipConfig {
            timers: SipTimers {
                t1_ms: 5000,
                t2_ms: 4000,
                t4_ms: 0,
            },
            ..SipConfig::default()
        };
        sip.listen.push(sip.listen[0].clone());
        let mut out = Findings::default();
        sip.check(&mut out);
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["sip.listen[2]", "sip.timers.t4_ms", "sip.timers.t1_ms"]
        );
    }
}
