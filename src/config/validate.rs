//! Semantic checks that serde cannot express, run after deserialising.
//!
//! Each section checks itself (`check` next to its struct) and reports a
//! dotted key path with a [`Problem`]; the loader turns paths into lines.
//! Every check runs, so one `alarmgate check` shows every problem.

use std::collections::HashMap;

use super::operators::check_operators;
use super::queues::check_queues;
use super::routing::check_tenants;
use super::trunk_tls::check_trunk_tls;
use super::trunks::{check_targets, check_trunks};
use super::xref::{check_ports, check_tenant_routing, Ids};
use super::{Config, Problem};

/// Problems found so far, each with the dotted path of its key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Findings {
    items: Vec<(String, Problem)>,
}

impl Findings {
    /// Records a problem at `path`.
    pub(crate) fn push(&mut self, path: impl Into<String>, problem: Problem) {
        self.items.push((path.into(), problem));
    }

    /// The problems, in the order found.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, (String, Problem)> {
        self.items.iter()
    }

    /// True when nothing was found.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The problems, by value.
    pub(crate) fn into_vec(self) -> Vec<(String, Problem)> {
        self.items
    }
}

/// Runs every check; returns the problems and the DID index.
pub(crate) fn validate(config: &Config) -> (Findings, HashMap<String, usize>) {
    let mut out = Findings::default();
    config.node.check(&mut out);
    config.log.check(&mut out);
    config.sip.check(&mut out);
    config.media.check(&mut out);
    config.calls.check(&mut out);
    config.alarm.check(&mut out);
    config.auth.check(&mut out);
    if let Some(bus) = &config.bus {
        bus.check(&mut out);
    }
    if let Some(cluster) = &config.cluster {
        cluster.check(&mut out);
    }
    config.registrar.check(&mut out);
    config.api.check(&mut out);
    config.records.check(&mut out);
    config.recording.check(&mut out);
    check_trunks(&config.trunks, &mut out);
    check_trunk_tls(&config.trunks, &config.sip.listen, &mut out);
    let dids = check_tenants(&config.tenants, &mut out);
    super::recording::check_tenants(&config.tenants, &mut out);
    check_reachability(config, &mut out);
    check_ports(config, &mut out);
    let ids = Ids::of(config);
    check_targets(&config.targets, &config.trunks, &mut out);
    check_queues(&config.queues, &ids, &mut out);
    check_operators(&config.operators, &ids, &mut out);
    check_tenant_routing(config, &ids, &mut out);
    if let Some(dc09) = &config.dc09 {
        dc09.check(&ids, &mut out);
    }
    config.api.check_tenants(&ids, &mut out);
    super::supervision::check_units(&config.units, &config.tenants, &mut out);
    let tenant_ids: Vec<&str> = config.tenants.iter().map(|t| t.id.as_str()).collect();
    config.scaip.check(&tenant_ids, &mut out);
    (out, dids)
}

/// A node that can neither trust a trunk nor authenticate a device would
/// refuse every call; say so instead of starting a useless daemon.
fn check_reachability(config: &Config, out: &mut Findings) {
    if config.trunks.is_empty() && config.auth.devices.is_empty() {
        let detail =
            "no [[trunks]] and no [[auth.devices]]: every call would be refused".to_string();
        out.push("trunks", Problem::Conflict { detail });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_unreachable() {
        let (out, dids) = validate(&Config::default());
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["trunks"]);
        assert!(dids.is_empty());
    }
}
