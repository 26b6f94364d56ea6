//! Checks across sections: ids that refer to other entries, what a tenant
//! needs once people answer calls, and ports two sections both claim.

use std::collections::{HashMap, HashSet};

use super::queues::Queue;
use super::validate::Findings;
use super::{Config, Problem, Tenant};
use crate::routing::CallClass;

/// The ids of the entries other entries refer to (first entry wins on
/// duplicates, which are reported where they occur).
pub(crate) struct Ids<'a> {
    queues: HashMap<&'a str, &'a Queue>,
    targets: HashSet<&'a str>,
    tenants: HashSet<&'a str>,
}

impl<'a> Ids<'a> {
    /// The ids of a whole config.
    pub(crate) fn of(config: &'a Config) -> Self {
        let targets = config.targets.iter().map(|t| t.id.as_str());
        let tenants = config.tenants.iter().map(|t| t.id.as_str());
        Self::from_parts(&config.queues, targets, tenants)
    }

    /// The ids of the given entries.
    pub(crate) fn from_parts(
        queues: &'a [Queue],
        targets: impl Iterator<Item = &'a str>,
        tenants: impl Iterator<Item = &'a str>,
    ) -> Self {
        let mut by_id = HashMap::new();
        for q in queues {
            by_id.entry(q.id.as_str()).or_insert(q);
        }
        Self {
            queues: by_id,
            targets: targets.collect(),
            tenants: tenants.collect(),
        }
    }

    /// The queue with this id.
    pub(crate) fn queue(&self, id: &str) -> Option<&'a Queue> {
        self.queues.get(id).copied()
    }

    /// True when a `[[targets]]` entry has this id.
    pub(crate) fn has_target(&self, id: &str) -> bool {
        self.targets.contains(id)
    }

    /// True when a `[[tenants]]` entry has this id.
    pub(crate) fn has_tenant(&self, id: &str) -> bool {
        self.tenants.contains(id)
    }
}

/// True for an id or name: `[a-z0-9-]+`.
pub(crate) fn id_ok(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Reports `path` unless `id` is `[a-z0-9-]+`.
pub(crate) fn check_id(id: &str, path: &str, out: &mut Findings) {
    if !id_ok(id) {
        let value = format!("{id:?}");
        let expected = "lowercase letters, digits and `-` ([a-z0-9-]+)";
        out.push(path, Problem::Invalid { value, expected });
    }
}

/// Skill names follow the id rule.
pub(crate) fn check_name(name: &str, path: &str, out: &mut Findings) {
    check_id(name, path, out);
}

/// What each tenant needs once the dialplan routes calls to people.
pub(crate) fn check_tenant_routing(config: &Config, ids: &Ids<'_>, out: &mut Findings) {
    let people = !config.queues.is_empty() || !config.operators.is_empty();
    for (i, t) in config.tenants.iter().enumerate() {
        let path = format!("tenants[{i}]");
        check_default_queue(config, i, &path, ids, out);
        check_last_resort(t, people, &format!("{path}.last_resort"), ids, out);
        if matches!(t.default_class, CallClass::Recall | CallClass::Unconfirmed) {
            let value = format!("\"{}\"", t.default_class.as_str());
            let expected = "\"emergency\", \"voice\" or \"technical\"";
            let key = format!("{path}.default_class");
            out.push(key, Problem::Invalid { value, expected });
        }
        if let Some(trunk) = t.recall_trunk.as_deref() {
            check_recall_trunk(config, trunk, &format!("{path}.recall_trunk"), out);
        }
    }
}

/// Required once people answer calls, and it must exist.
fn check_last_resort(t: &Tenant, people: bool, key: &str, ids: &Ids<'_>, out: &mut Findings) {
    match &t.last_resort {
        None if people => {
            let because = "when the dialplan has [[queues]] or [[operators]] \
                           (a [[targets]] id: an alarm is never rejected)";
            out.push(key, Problem::Missing { because });
        }
        Some(target) if !ids.has_target(target.as_str()) => {
            let detail = format!("no [[targets]] entry has id {:?}", target.as_str());
            out.push(key, Problem::Conflict { detail });
        }
        _ => {}
    }
}

/// A recall dials a device number: the trunk must exist and name the
/// proxy that number is sent to.
fn check_recall_trunk(config: &Config, trunk: &str, key: &str, out: &mut Findings) {
    let detail = match config.trunks.iter().find(|k| k.name == trunk) {
        None => format!("no [[trunks]] entry is named {trunk:?}"),
        Some(k) if k.proxy.is_none() => {
            format!("trunk {trunk:?} has no proxy to send recalls (a device number) to")
        }
        Some(_) => return,
    };
    out.push(key, Problem::Conflict { detail });
}

fn check_default_queue(config: &Config, i: usize, path: &str, ids: &Ids<'_>, out: &mut Findings) {
    let Some(t) = config.tenants.get(i) else {
        return;
    };
    let key = format!("{path}.default_queue");
    let Some(q) = &t.default_queue else {
        let own = config.queues.iter().filter(|q| q.tenant == t.id).count();
        let people = !config.queues.is_empty() || !config.operators.is_empty();
        if own > 1 {
            let because = "when the tenant has several [[queues]] (which one takes its calls?)";
            out.push(key, Problem::Missing { because });
        } else if own == 0 && people {
            let because = "when the dialplan has [[queues]] or [[operators]]: \
                           each tenant needs a queue of its own";
            out.push(key, Problem::Missing { because });
        }
        return;
    };
    match ids.queue(q.as_str()) {
        None => {
            let detail = format!("no [[queues]] entry has id {:?}", q.as_str());
            out.push(key, Problem::Conflict { detail });
        }
        Some(queue) if queue.tenant != t.id => {
            let detail = format!(
                "queue {:?} belongs to tenant {:?}, not {:?}",
                q.as_str(),
                queue.tenant,
                t.id
            );
            out.push(key, Problem::Conflict { detail });
        }
        Some(_) => {}
    }
}

/// A UDP SIP listener whose port lies in the RTP range would be handed out
/// as a media port (or fail to bind): refuse the file instead.
pub(crate) fn check_ports(config: &Config, out: &mut Findings) {
    let range = config.media.rtp_port_range();
    for (i, l) in config.sip.listen.iter().enumerate() {
        let udp = l.transport == super::ListenTransport::Udp;
        if udp && range.contains(&l.addr.port()) {
            let detail = format!(
                "UDP port {} lies in the RTP range media.rtp_port_min..=rtp_port_max ({}..={})",
                l.addr.port(),
                range.start(),
                range.end()
            );
            out.push(
                format!("sip.listen[{i}].addr"),
                Problem::Conflict { detail },
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::routing::QueueId;

    /// A queue with defaults, for tests.
    pub(crate) fn queue(id: &str, tenant: &str) -> Queue {
        Queue {
            id: QueueId::new(id),
            tenant: tenant.into(),
            skills: Vec::new(),
            ring_timeout_s: 20,
            wrap_up_s: 30,
            priorities: Default::default(),
            aging_per_s: 1,
            overflow: Vec::new(),
        }
    }

    /// Ids of these queues, tenant `t` and no targets.
    pub(crate) fn ids_for(queues: &[Queue]) -> Ids<'_> {
        ids_with_targets(queues, &[])
    }

    /// Ids of these queues and targets, and tenant `t`.
    pub(crate) fn ids_with_targets<'a>(queues: &'a [Queue], targets: &[&'a str]) -> Ids<'a> {
        Ids::from_parts(queues, targets.iter().copied(), ["t"].into_iter())
    }

    #[test]
    fn id_rules() {
        assert!(id_ok("night-2"));
        assert!(!id_ok(""));
        assert!(!id_ok("Night"));
        let mut out = Findings::default();
        check_name("a_b", "x", &mut out);
        assert_eq!(out.into_vec().len(), 1);
    }

    #[test]
    fn ids_lookups() {
        let queues = [queue("a", "t"), queue("a", "u")];
        let ids = ids_with_targets(&queues, &["p"]);
        assert_eq!(ids.queue("a").map(|q| q.tenant.as_str()), Some("t"));
        assert!(ids.has_target("p") && !ids.has_target("a"));
        assert!(ids.has_tenant("t") && !ids.has_tenant("u"));
    }
}
