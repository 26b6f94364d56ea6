//! `[sip.connections]`: limits on TCP and TLS connections, global and per
//! source, and how long a connection may stay without speaking SIP.

use std::time::Duration;

use serde::Deserialize;

use super::validate::Findings;
use super::Problem;

/// Default `sip.connections.max`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8192;
/// Default `sip.connections.per_source`.
pub const DEFAULT_PER_SOURCE: usize = 64;
/// Default `sip.connections.trunk_per_source`.
pub const DEFAULT_TRUNK_PER_SOURCE: usize = 1024;
/// Default `sip.connections.first_message_s`.
pub const DEFAULT_FIRST_MESSAGE_S: u64 = 10;
/// Default `sip.connections.idle_s`.
pub const DEFAULT_IDLE_S: u64 = 900;

/// `[sip.connections]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConnections {
    /// Open TCP and TLS connections in all, inbound and outbound. Default 8192.
    pub max: usize,
    /// Open inbound connections per source (an IPv4 address, or an IPv6
    /// /64). Default 64.
    pub per_source: usize,
    /// The same for sources inside a `[[trunks]]` `allow` network (a
    /// carrier's SBC opens many). Default 1024.
    pub trunk_per_source: usize,
    /// Seconds an inbound connection may stay open (TLS handshake included)
    /// before it has sent one complete SIP message. Default 10.
    pub first_message_s: u64,
    /// Seconds a connection that has sent a message may stay silent
    /// (keep-alives count as traffic). Default 900.
    pub idle_s: u64,
}

impl Default for SipConnections {
    fn default() -> Self {
        Self {
            max: DEFAULT_MAX_CONNECTIONS,
            per_source: DEFAULT_PER_SOURCE,
            trunk_per_source: DEFAULT_TRUNK_PER_SOURCE,
            first_message_s: DEFAULT_FIRST_MESSAGE_S,
            idle_s: DEFAULT_IDLE_S,
        }
    }
}

impl SipConnections {
    /// `first_message_s`.
    pub fn first_message(&self) -> Duration {
        Duration::from_secs(self.first_message_s)
    }

    /// `idle_s`.
    pub fn idle(&self) -> Duration {
        Duration::from_secs(self.idle_s)
    }

    pub(crate) fn check(&self, out: &mut Findings) {
        let at_least_one = [
            ("max", self.max as u64),
            ("per_source", self.per_source as u64),
            ("trunk_per_source", self.trunk_per_source as u64),
            ("first_message_s", self.first_message_s),
            ("idle_s", self.idle_s),
        ];
        for (name, value) in at_least_one {
            if value == 0 {
                out.push(
                    format!("sip.connections.{name}"),
                    Problem::Invalid {
                        value: "0".into(),
                        expected: "at least 1",
                    },
                );
            }
        }
        for (name, value) in [
            ("per_source", self.per_source),
            ("trunk_per_source", self.trunk_per_source),
        ] {
            if value > self.max {
                let detail = format!("{name} ({value}) is above max ({})", self.max);
                out.push(
                    format!("sip.connections.{name}"),
                    Problem::Conflict { detail },
                );
            }
        }
        if self.first_message_s > self.idle_s {
            let detail = format!(
                "first_message_s ({}) is above idle_s ({})",
                self.first_message_s, self.idle_s
            );
            out.push(
                "sip.connections.first_message_s",
                Problem::Conflict { detail },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(c: SipConnections) -> Vec<String> {
        let mut out = Findings::default();
        c.check(&mut out);
        out.iter().map(|(k, _)| k.clone()).collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert!(problems(SipConnections::default()).is_empty());
        assert_eq!(
            SipConnections::default().first_message(),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn zeros_and_relations_are_refused() {
        let c = SipConnections {
            max: 100,
            per_source: 0,
            trunk_per_source: 200,
            first_message_s: 30,
            idle_s: 20,
        };
        assert_eq!(
            problems(c),
            [
                "sip.connections.per_source",
                "sip.connections.trunk_per_source",
                "sip.connections.first_message_s",
            ]
        );
    }
}
