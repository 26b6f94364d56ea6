//! Builds the switchboard from the config: the registrar and the router
//! when the dialplan has an operator side, and the routes to targets and
//! recall trunks with their host names resolved (the pure cores never
//! resolve names).

use crate::call::CallCore;
use crate::config::Config;
use crate::registrar::Registrar;
use crate::routing::Router;
use crate::sip::types::{Peer, Transport};
use crate::switchboard::{Route, Switchboard, SwitchboardConfig};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Instant;

/// Why the operator side could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The registrar refused its settings.
    #[error("registrar: {0}")]
    Registrar(#[from] crate::registrar::RegistrarConfigError),
    /// The routing plan is inconsistent.
    #[error("routing plan: {0}")]
    Plan(#[from] crate::routing::PlanError),
}

/// A validated dialplan for [`reload`], with its routes already resolved.
#[derive(Debug)]
pub struct Reload {
    /// The new dialplan.
    pub config: Config,
    /// Its targets, recall trunks and names ([`switchboard_config`]).
    pub routes: SwitchboardConfig,
    /// Its TLS next hops; `None` when a file could not be read (logged:
    /// the running ones stay).
    pub tls: Option<super::transport::TlsPeers>,
}

impl Reload {
    /// Resolves the host names of `config`'s targets and trunks: blocking
    /// DNS, so this runs on a blocking thread (`spawn_blocking`), never on
    /// the SIP driver, whose calls would all stop for as long as DNS takes.
    pub fn resolve(config: Config) -> Self {
        let routes = switchboard_config(&config);
        let tls = super::tls_routes::tls_peers(&config)
            .inspect_err(|err| tracing::error!(%err, "reload: TLS trunks unchanged"))
            .ok();
        Self {
            config,
            routes,
            tls,
        }
    }
}

/// The switchboard over `core` for `config`, resolving its routes now.
pub fn build(config: &Config, core: CallCore, now: Instant) -> Result<Switchboard, SetupError> {
    build_resolved(config, core, now, switchboard_config(config))
}

/// The switchboard over `core` for `config`, with `routes` resolved
/// beforehand ([`switchboard_config`]): no DNS between the SIP listeners
/// opening and the SIP driver running.
pub fn build_resolved(
    config: &Config,
    core: CallCore,
    now: Instant,
    routes: SwitchboardConfig,
) -> Result<Switchboard, SetupError> {
    let (registrar, router) = if config.has_operator_side() {
        let registrar = Registrar::new(
            config.registrar_settings(),
            config.operator_credentials(),
            rand::random(),
            rand::random(),
        )?;
        (
            Some(registrar),
            Some(Router::new(config.routing_plan(), now)?),
        )
    } else {
        (None, None)
    };
    Ok(Switchboard::new(core, registrar, router, routes))
}

/// SIGHUP: the new dialplan for new calls and for routing; calls in
/// progress, operators' states and registrations are kept. A plan the
/// router refuses leaves everything as it was. Resolves no name: the
/// routes come resolved ([`Reload::resolve`]).
pub fn reload(sb: &mut Switchboard, reload: Reload, now: Instant) {
    let Reload { config, routes, .. } = reload;
    let config = &config;
    if sb.routes_calls() && !config.has_operator_side() {
        // Calls may be waiting or connected: with no queues and no last
        // resort left there would be nowhere to put them.
        metrics::counter!(crate::telemetry::metrics::CONFIG_RELOADS, "result" => "invalid")
            .increment(1);
        return tracing::error!(
            "reload refused: the new dialplan removes every queue and operator; \
             that needs a restart (calls in progress would have nowhere to go)"
        );
    }
    let plan = config.has_operator_side().then(|| config.routing_plan());
    let credentials = config
        .has_operator_side()
        .then(|| config.operator_credentials());
    if sb.registrar_mut().is_none() && config.registrar_active() {
        match Registrar::new(
            config.registrar_settings(),
            config.operator_credentials(),
            rand::random(),
            rand::random(),
        ) {
            Ok(registrar) => sb.set_registrar(registrar),
            Err(err) => return tracing::error!(%err, "reload refused: registrar settings"),
        }
    }
    match sb.reconfigure(now, plan, credentials, routes) {
        Ok(()) => {
            let tenants = config
                .tenants
                .iter()
                .map(super::daemon::tenant_policy)
                .collect();
            sb.core().set_routing(tenants, config.registrar_active());
            metrics::counter!(crate::telemetry::metrics::CONFIG_RELOADS, "result" => "ok")
                .increment(1);
            tracing::info!("dialplan reloaded");
        }
        Err(err) => {
            metrics::counter!(crate::telemetry::metrics::CONFIG_RELOADS, "result" => "invalid")
                .increment(1);
            tracing::error!(%err, "reload refused: the routing plan; the old one stays");
        }
    }
}

/// Targets, recall trunks, codecs and names, resolved now.
pub fn switchboard_config(config: &Config) -> SwitchboardConfig {
    let mut out = SwitchboardConfig::default();
    for target in &config.targets {
        match target_route(config, &target.uri, &target.trunk) {
            Some(route) => {
                out.targets.insert(target.id.clone(), route);
            }
            None => {
                tracing::warn!(target = %target.id, uri = %target.uri, "target unreachable: cannot resolve its next hop")
            }
        }
    }
    for tenant in &config.tenants {
        let trunk = tenant.recall_trunk.as_deref().and_then(|t| config.trunk(t));
        if let Some(route) = trunk.and_then(trunk_route) {
            out.recall_trunks.insert(tenant.id.as_str().into(), route);
        }
        let codecs = tenant.codecs.iter().map(|&c| c.into()).collect();
        out.codecs.insert(tenant.id.as_str().into(), codecs);
        out.default_class
            .insert(tenant.id.as_str().into(), tenant.default_class);
    }
    for op in &config.operators {
        out.operator_names.insert(op.id.clone(), op.name.clone());
    }
    out.scaip = scaip_settings(config);
    out
}

/// `[scaip]` as the switchboard uses it.
pub fn scaip_settings(config: &Config) -> crate::switchboard::scaip::ScaipSettings {
    use crate::scaip::{Policy, VoiceRequest};
    use crate::switchboard::scaip::{ScaipSettings, UnitRoute};
    let s = &config.scaip;
    let default_policy = Policy {
        voice: VoiceRequest {
            mre: s.mre,
            cre: s.cre,
            tnu: s.tnu.clone(),
        },
        hbi: (s.hbi_s > 0).then_some(s.hbi_s),
    };
    let policies = s
        .tenants
        .iter()
        .map(|t| {
            let base = &default_policy;
            let hbi = t.hbi_s.map_or(base.hbi, |h| (h > 0).then_some(h));
            let voice = VoiceRequest {
                mre: t.mre.unwrap_or(base.voice.mre),
                cre: t.cre.unwrap_or(base.voice.cre),
                tnu: t.tnu.clone().or_else(|| base.voice.tnu.clone()),
            };
            (t.tenant.as_str().into(), Policy { voice, hbi })
        })
        .collect();
    let units = s
        .units
        .iter()
        .map(|u| {
            let route = UnitRoute {
                tenant: u.tenant.as_str().into(),
                numbers: u.numbers.clone(),
            };
            (u.cid.clone(), route)
        })
        .collect();
    let classifiers = config
        .tenants
        .iter()
        .map(|t| {
            let c = crate::alarm::Classifier::default().with_overrides(t.classify.clone());
            (t.id.as_str().into(), c)
        })
        .collect();
    ScaipSettings {
        enabled: s.enabled,
        link_window: s.link_window(),
        contact_id_on_voice: s.contact_id_on_voice,
        default_policy,
        policies,
        units,
        classifiers,
    }
}

/// A target goes through its trunk's proxy when it has one, else straight
/// to the host in its URI.
fn target_route(config: &Config, uri: &str, trunk: &str) -> Option<Route> {
    let trunk = config.trunk(trunk);
    if let Some(route) = trunk.and_then(trunk_route) {
        return Some(Route {
            uri: uri.to_string(),
            peer: route.peer,
        });
    }
    let transport = trunk.map_or(Transport::Udp, |t| t.transport.into());
    let host = uri_host(uri)?;
    let addr = resolve(host, default_port(transport))?;
    Some(Route {
        uri: uri.to_string(),
        peer: peer(transport, addr),
    })
}

/// A trunk with a proxy: recalls go to `sip:<number>@<proxy>`.
fn trunk_route(trunk: &crate::config::Trunk) -> Option<Route> {
    let proxy = trunk.proxy.as_ref()?;
    let port = proxy.port_or_default(trunk.transport);
    let addr = resolve(&proxy.host, port)?;
    let host = if proxy.host.contains(':') {
        format!("[{}]:{port}", proxy.host)
    } else {
        format!("{}:{port}", proxy.host)
    };
    Some(Route {
        uri: host,
        peer: peer(trunk.transport.into(), addr),
    })
}

/// `host[:port]` of a `sip:` URI (after the user part, before parameters).
pub(super) fn uri_host(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))?;
    let rest = rest.rsplit('@').next()?;
    rest.split([';', '?', '>']).next().filter(|h| !h.is_empty())
}

pub(super) fn resolve(host: &str, default_port: u16) -> Option<SocketAddr> {
    let with_port = if host.parse::<SocketAddr>().is_ok()
        || host
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
    {
        host.to_string()
    } else {
        format!("{host}:{default_port}")
    };
    with_port.to_socket_addrs().ok()?.next()
}

fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Tls => 5061,
        _ => 5060,
    }
}

fn peer(transport: Transport, addr: SocketAddr) -> Peer {
    Peer {
        transport,
        addr,
        conn: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_a_uri() {
        assert_eq!(
            uri_host("sip:night@192.0.2.5:5080;transport=udp"),
            Some("192.0.2.5:5080")
        );
        assert_eq!(uri_host("sip:192.0.2.5"), Some("192.0.2.5"));
        assert_eq!(uri_host("tel:+4512345678"), None);
    }

    #[test]
    fn resolves_with_and_without_a_port() {
        assert_eq!(
            resolve("127.0.0.1:5080", 5060),
            Some(([127, 0, 0, 1], 5080).into())
        );
        assert_eq!(
            resolve("127.0.0.1", 5060),
            Some(([127, 0, 0, 1], 5060).into())
        );
    }

    #[test]
    fn a_reload_takes_its_routes_resolved_beforehand() {
        let config = crate::config::load_default().expect("the embedded dialplan");
        let admission = crate::admission::Admission::for_tests(&["127.0.0.0/8"], 100, 0);
        let core = CallCore::new(crate::call::CoreConfig::for_tests(), admission, None, 11);
        let now = crate::clock::epoch();
        let mut sb = build(&config, core, now).expect("switchboard");
        // A name nobody resolves: the reload must not try (it runs on the
        // SIP driver); it takes the route resolved off the driver.
        let night = Route {
            uri: "sip:night@night-desk.invalid".into(),
            peer: peer(Transport::Udp, ([192, 0, 2, 9], 5060).into()),
        };
        let mut routes = switchboard_config(&config);
        let id = crate::routing::TargetId::new("night");
        routes.targets.insert(id.clone(), night.clone());
        reload(
            &mut sb,
            Reload {
                config,
                routes,
                tls: None,
            },
            now,
        );
        assert_eq!(sb.config.targets.get(&id), Some(&night));
    }

    #[test]
    fn a_reload_that_removes_every_queue_and_operator_is_refused() {
        let config = crate::config::load_default().expect("the embedded dialplan");
        let admission = crate::admission::Admission::for_tests(&["127.0.0.0/8"], 100, 0);
        let core = CallCore::new(crate::call::CoreConfig::for_tests(), admission, None, 11);
        let now = crate::clock::epoch();
        let mut sb = build(&config, core, now).expect("switchboard");
        let mut bare = config.clone();
        bare.operators.clear();
        bare.queues.clear();
        let routes = switchboard_config(&bare);
        reload(
            &mut sb,
            Reload {
                config: bare,
                routes,
                tls: None,
            },
            now,
        );
        assert!(sb.routes_calls(), "the running routing stays");
        assert_eq!(sb.config.operator_names.len(), config.operators.len());
    }

    #[test]
    fn the_embedded_dialplan_builds_a_switchboard_config() {
        let config = crate::config::load_default().unwrap_or_default();
        let sb = switchboard_config(&config);
        assert_eq!(sb.operator_names.len(), config.operators.len());
    }
}
