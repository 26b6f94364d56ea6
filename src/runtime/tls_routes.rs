//! The TLS next hops of a dialplan (issue 13, outgoing TLS): for every
//! trunk with `transport = "tls"`, the address its calls go to (its proxy,
//! or the host of each target URI that uses it) and how to check the peer
//! there ([`TlsPeer`]: the trunk's CA bundle and client identity, the
//! server name from `[trunks.tls] server_name`, else the proxy's or the
//! URI's host). Built off the SIP driver at start and at SIGHUP (DNS and
//! file reads block), then handed to the transports.

use super::switchboard_setup::{resolve, uri_host};
use super::transport::{TlsPeer, TlsPeers, TransportError};
use crate::config::{Config, ListenTransport, Trunk, TrunkTls};

/// Every TLS next hop of `config`. A file that cannot be read or a name
/// that cannot be checked is an error; a host that does not resolve is
/// skipped with a warning, as for plain routes.
pub fn tls_peers(config: &Config) -> Result<TlsPeers, TransportError> {
    let mut peers = TlsPeers::new();
    for trunk in config.trunks.iter().filter(|t| is_tls(t)) {
        let tls = trunk.tls.clone().unwrap_or_default();
        for host in next_hops(config, trunk) {
            let Some(addr) = resolve(&host, 5061) else {
                tracing::warn!(trunk = %trunk.name, %host, "TLS next hop does not resolve");
                continue;
            };
            let name = server_name(&tls, &host);
            peers.insert(addr, TlsPeer::new(&tls, &name)?);
        }
    }
    Ok(peers)
}

/// [`tls_peers`] on a blocking thread (DNS, file reads), for the start.
pub async fn resolve_off_thread(config: &Config) -> Result<TlsPeers, TransportError> {
    let owned = config.clone();
    match tokio::task::spawn_blocking(move || tls_peers(&owned)).await {
        Ok(peers) => peers,
        Err(_) => tls_peers(config),
    }
}

fn is_tls(trunk: &Trunk) -> bool {
    trunk.transport == ListenTransport::Tls
}

/// `host[:port]` of the trunk's proxy, or of each target URI using it.
fn next_hops(config: &Config, trunk: &Trunk) -> Vec<String> {
    if let Some(proxy) = &trunk.proxy {
        return vec![proxy.to_string()];
    }
    config
        .targets
        .iter()
        .filter(|t| t.trunk == trunk.name)
        .filter_map(|t| uri_host(&t.uri).map(str::to_string))
        .collect()
}

/// The configured name, else the host without its port or brackets.
fn server_name(tls: &TrunkTls, host: &str) -> String {
    if let Some(name) = &tls.server_name {
        return name.clone();
    }
    let bare = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    bare.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_name_is_the_host_without_port_unless_configured() {
        let none = TrunkTls::default();
        assert_eq!(
            server_name(&none, "partner.example:5061"),
            "partner.example"
        );
        assert_eq!(server_name(&none, "[2001:db8::1]:5061"), "2001:db8::1");
        assert_eq!(server_name(&none, "127.0.0.1"), "127.0.0.1");
        let named = TrunkTls {
            server_name: Some("sip.partner.example".into()),
            ..TrunkTls::default()
        };
        assert_eq!(server_name(&named, "127.0.0.1:5061"), "sip.partner.example");
    }

    #[test]
    fn a_tls_trunk_with_a_missing_ca_file_is_an_error_and_plain_trunks_need_none() {
        let text = r#"
[[sip.listen]]
transport = "tls"
addr = "127.0.0.1:5061"
cert = "c.pem"
key = "k.pem"

[[trunks]]
name = "partner"
allow = ["127.0.0.1"]
proxy = "127.0.0.1:5061"
transport = "tls"
[trunks.tls]
ca = "/nonexistent/ca.pem"
"#;
        let config = crate::config::load_str(text, "t.toml").expect("valid");
        assert!(matches!(
            tls_peers(&config),
            Err(TransportError::ReadFile { .. })
        ));
        let plain = text.replace(
            "transport = \"tls\"\n[trunks.tls]\nca = \"/nonexistent/ca.pem\"\n",
            "",
        );
        let config = crate::config::load_str(&plain, "t.toml").expect("valid");
        assert!(tls_peers(&config).map(|p| p.is_empty()).unwrap_or(false));
    }
}
