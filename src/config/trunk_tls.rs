//! `[trunks.tls]`: how a trunk with `transport = "tls"` opens its outgoing
//! TLS connections (issue 13): which certificate authorities to trust, the
//! name the peer's certificate must carry, and our client certificate when
//! the peer asks for one (mutual TLS).
//!
//! Without the table a TLS trunk trusts the system's CA bundle
//! ([`SYSTEM_CA_BUNDLE`]) and checks the proxy's host name (or the
//! target URI's host). The files are read when the daemon starts or
//! reloads; `alarmgate check` checks the keys' forms and combinations.

use std::path::PathBuf;

use serde::Deserialize;

use super::sip::{ListenConfig, ListenTransport};
use super::trunks::Trunk;
use super::validate::Findings;
use super::Problem;

/// The Debian/Ubuntu CA bundle (`ca-certificates`), used when `ca` is not set.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// One `[trunks.tls]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkTls {
    /// PEM file of the certificate authorities whose certificates the peer
    /// may present. Default: the system bundle [`SYSTEM_CA_BUNDLE`].
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The DNS name (or IP address) the peer's certificate must carry.
    /// Default: the trunk proxy's host, else the target URI's host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// PEM certificate chain we present when the peer asks (mutual TLS).
    /// Requires `client_key`.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`. Requires `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

impl TrunkTls {
    /// The CA bundle to trust.
    pub fn ca_path(&self) -> PathBuf {
        self.ca
            .clone()
            .unwrap_or_else(|| PathBuf::from(SYSTEM_CA_BUNDLE))
    }

    /// Our certificate and key, when both are set.
    pub fn client_identity(&self) -> Option<(&PathBuf, &PathBuf)> {
        self.client_cert.as_ref().zip(self.client_key.as_ref())
    }
}

/// Checks TLS trunks: a TLS listener to name in our Contact (the peer
/// sends its in-dialog requests, such as its BYE, to it: the port of a
/// connection we opened is not one it can reach); `tls` tables only on
/// TLS trunks, client certificate and key together, a server name of a
/// sensible form.
pub(crate) fn check_trunk_tls(trunks: &[Trunk], listen: &[ListenConfig], out: &mut Findings) {
    let has_tls_listener = listen.iter().any(|l| l.transport == ListenTransport::Tls);
    for (i, t) in trunks.iter().enumerate() {
        if matches!(t.transport, ListenTransport::Ws | ListenTransport::Wss) {
            out.push(
                format!("trunks[{i}].transport"),
                Problem::Invalid {
                    value: format!("{:?}", t.transport).to_lowercase(),
                    expected: "\"udp\", \"tcp\" or \"tls\" (WebSocket is for browser phones, reached over their own flow)",
                },
            );
        }
        if t.transport == ListenTransport::Tls && !has_tls_listener {
            out.push(
                format!("trunks[{i}].transport"),
                Problem::Missing {
                    because: "with a [[sip.listen]] of transport \"tls\" (the peer sends its in-dialog requests, its BYE, to our Contact there)",
                },
            );
        }
        let Some(tls) = &t.tls else { continue };
        let path = format!("trunks[{i}].tls");
        if t.transport != ListenTransport::Tls {
            out.push(
                path.clone(),
                Problem::Forbidden {
                    because: "unless the trunk's transport is \"tls\"",
                },
            );
        }
        match (&tls.client_cert, &tls.client_key) {
            (Some(_), None) => out.push(
                format!("{path}.client_cert"),
                Problem::Missing {
                    because: "together with client_key",
                },
            ),
            (None, Some(_)) => out.push(
                format!("{path}.client_key"),
                Problem::Missing {
                    because: "together with client_cert",
                },
            ),
            _ => {}
        }
        if let Some(name) = &tls.server_name {
            if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
                out.push(
                    format!("{path}.server_name"),
                    Problem::Invalid {
                        value: format!("{name:?}"),
                        expected: "a DNS name or an IP address",
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::IpNet;

    fn trunk(transport: ListenTransport, tls: Option<TrunkTls>) -> Trunk {
        Trunk {
            name: "partner".into(),
            allow: vec!["192.0.2.0/24".parse::<IpNet>().expect("net")],
            proxy: None,
            transport,
            priority: Default::default(),
            tls,
        }
    }

    fn keys(trunks: &[Trunk]) -> Vec<String> {
        let tls_listener = ListenConfig {
            transport: ListenTransport::Tls,
            addr: "127.0.0.1:5061".parse().expect("addr"),
            cert: None,
            key: None,
        };
        let mut out = Findings::default();
        check_trunk_tls(trunks, &[tls_listener], &mut out);
        out.iter().map(|(k, _)| k.clone()).collect()
    }

    #[test]
    fn a_tls_table_on_a_tls_trunk_with_a_full_identity_is_fine() {
        let tls = TrunkTls {
            ca: Some("ca.pem".into()),
            server_name: Some("partner.example".into()),
            client_cert: Some("c.pem".into()),
            client_key: Some("k.pem".into()),
        };
        assert!(keys(&[trunk(ListenTransport::Tls, Some(tls))]).is_empty());
        assert!(keys(&[trunk(ListenTransport::Tls, None)]).is_empty());
    }

    #[test]
    fn half_an_identity_a_bad_name_or_a_plain_trunk_are_refused() {
        let half = TrunkTls {
            client_cert: Some("c.pem".into()),
            server_name: Some("not a name".into()),
            ..TrunkTls::default()
        };
        assert_eq!(
            keys(&[trunk(ListenTransport::Tls, Some(half))]),
            ["trunks[0].tls.client_cert", "trunks[0].tls.server_name"]
        );
        assert_eq!(
            keys(&[trunk(ListenTransport::Udp, Some(TrunkTls::default()))]),
            ["trunks[0].tls"]
        );
    }

    #[test]
    fn a_tls_trunk_needs_a_tls_listener_for_our_contact() {
        let mut out = Findings::default();
        check_trunk_tls(&[trunk(ListenTransport::Tls, None)], &[], &mut out);
        let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["trunks[0].transport"]);
    }

    #[test]
    fn a_trunk_cannot_place_calls_over_websocket() {
        assert_eq!(
            keys(&[trunk(ListenTransport::Ws, None)]),
            ["trunks[0].transport"]
        );
    }

    #[test]
    fn the_system_bundle_is_the_default_authority() {
        assert_eq!(
            TrunkTls::default().ca_path(),
            PathBuf::from(SYSTEM_CA_BUNDLE)
        );
    }
}
