//! From the dialplan to the cores' settings: the routing engine's
//! [`Plan`], the registrar's [`RegistrarConfig`] and credentials, the API's
//! token hashes. The cores never see TOML.

use std::time::Duration;

use super::queues::{OverflowRule, Queue};
use super::{ChallengeAlgorithm, Config, Operator, Target, Tenant, Trunk};
use crate::registrar::{Credentials, OperatorCredentials, RegistrarConfig};
use crate::routing::{
    self, ClassPriorities, OperatorPlan, OverflowTo, OverflowWhen, Plan, QueueId, QueuePlan,
    TargetPlan, TenantPlan, RING_NO_ANSWER,
};
use crate::sip::digest::Algorithm;

impl From<ChallengeAlgorithm> for Algorithm {
    fn from(a: ChallengeAlgorithm) -> Self {
        match a {
            ChallengeAlgorithm::Sha256 => Algorithm::Sha256,
            ChallengeAlgorithm::Md5 => Algorithm::Md5,
        }
    }
}

impl Config {
    /// True when the dialplan routes calls to people (`[[queues]]` or
    /// `[[operators]]` present); every tenant then has a queue and a last resort.
    pub fn has_operator_side(&self) -> bool {
        !self.queues.is_empty() || !self.operators.is_empty()
    }

    /// True when REGISTER should reach the registrar: `registrar.enabled`
    /// and at least one operator to register.
    pub fn registrar_active(&self) -> bool {
        self.registrar.enabled && !self.operators.is_empty()
    }

    /// The routing engine's plan. Tenants without a queue or a last resort
    /// (possible only in a dialplan with no operator side) are left out:
    /// their calls are not routed, as before queues existed.
    pub fn routing_plan(&self) -> Plan {
        Plan {
            queues: self.queues.iter().map(queue_plan).collect(),
            operators: self.operators.iter().map(operator_plan).collect(),
            targets: self.targets.iter().map(target_plan).collect(),
            tenants: self
                .tenants
                .iter()
                .filter_map(|t| self.tenant_plan(t))
                .collect(),
        }
    }

    /// The queue a tenant's calls wait in: `default_queue`, else its only queue.
    pub fn default_queue(&self, tenant: &Tenant) -> Option<QueueId> {
        if let Some(q) = &tenant.default_queue {
            return Some(q.clone());
        }
        let mut own = self.queues.iter().filter(|q| q.tenant == tenant.id);
        match (own.next(), own.next()) {
            (Some(only), None) => Some(only.id.clone()),
            _ => None,
        }
    }

    fn tenant_plan(&self, tenant: &Tenant) -> Option<TenantPlan> {
        Some(TenantPlan {
            id: tenant.id.as_str().into(),
            default_queue: self.default_queue(tenant)?,
            last_resort: tenant.last_resort.clone()?,
        })
    }

    /// The registrar core's settings from `[registrar]`.
    pub fn registrar_settings(&self) -> RegistrarConfig {
        let r = &self.registrar;
        let secs = Duration::from_secs;
        RegistrarConfig {
            realm: r.realm.clone(),
            nonce_ttl: secs(r.nonce_ttl_s),
            min_expires: secs(r.min_expires_s),
            max_expires: secs(r.max_expires_s),
            default_expires: secs(r.default_expires_s),
            keepalive_interval: r.keepalive_interval(),
            max_contacts: r.max_contacts,
            fail_limit: r.auth_fail_limit,
            fail_window: secs(r.auth_fail_window_s),
            block_for: secs(r.auth_block_s),
            algorithms: r
                .challenge_order()
                .into_iter()
                .map(Algorithm::from)
                .collect(),
            ..RegistrarConfig::default()
        }
    }

    /// The operators allowed to register, with their HA1 hashes (lowercase).
    pub fn operator_credentials(&self) -> Credentials {
        self.operators
            .iter()
            .map(|op: &Operator| {
                let credentials = OperatorCredentials {
                    ha1_md5: op.ha1_md5.clone(),
                    ha1_sha256: op.ha1_sha256.clone(),
                };
                (op.id.clone(), credentials)
            })
            .collect()
    }

    /// The API's bearer tokens: name, SHA-256 and scope of each.
    pub fn api_tokens(&self) -> Vec<super::api::TokenEntry> {
        self.api.token_hashes()
    }

    /// The class of a call with no decodable alarm for `tenant`: its
    /// `default_class`, or voice for an unknown tenant.
    pub fn default_class(&self, tenant: &str) -> routing::CallClass {
        self.tenant(tenant)
            .map_or(routing::CallClass::Voice, |t| t.default_class)
    }

    /// The `[[targets]]` entry with this id.
    pub fn target(&self, id: &routing::TargetId) -> Option<&Target> {
        self.targets.iter().find(|t| &t.id == id)
    }

    /// The `[[trunks]]` entry with this name.
    pub fn trunk(&self, name: &str) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.name == name)
    }
}

fn queue_plan(q: &Queue) -> QueuePlan {
    let p = &q.priorities;
    QueuePlan {
        id: q.id.clone(),
        tenant: q.tenant.as_str().into(),
        skills: q.skills.clone(),
        ring_timeout: Duration::from_secs(q.ring_timeout_s),
        wrap_up: Duration::from_secs(q.wrap_up_s),
        priorities: ClassPriorities {
            emergency: i64::from(p.emergency),
            voice: i64::from(p.voice),
            recall: i64::from(p.recall),
            technical: i64::from(p.technical),
            unconfirmed: i64::from(p.for_class(routing::CallClass::Unconfirmed)),
        },
        event_priorities: p
            .codes
            .iter()
            .map(|(code, prio)| (code.clone(), i64::from(*prio)))
            .collect(),
        aging_per_s: q.aging_per_s,
        overflow: q.overflow.iter().filter_map(overflow_rule).collect(),
    }
}

/// A validated rule has one condition and one destination; anything else
/// (never in a loaded config) is left out.
fn overflow_rule(rule: &OverflowRule) -> Option<routing::OverflowRule> {
    let when = match (rule.after_s, rule.no_operator_logged_in, rule.longer_than) {
        (Some(s), false, None) => OverflowWhen::AfterWaiting(Duration::from_secs(s)),
        (None, true, None) => OverflowWhen::NoOperatorsLoggedIn,
        (None, false, Some(n)) => OverflowWhen::LongerThan(n),
        _ => return None,
    };
    let to = match (&rule.to_queue, &rule.to_target) {
        (Some(q), None) => OverflowTo::Queue(q.clone()),
        (None, Some(t)) => OverflowTo::Target(t.clone()),
        _ => return None,
    };
    Some(routing::OverflowRule { when, to })
}

fn operator_plan(op: &Operator) -> OperatorPlan {
    OperatorPlan {
        id: op.id.clone(),
        skills: op.skills.clone(),
        queues: op.queues.clone(),
        login_on_register: op.login_on_register,
        pause_after_no_answer: RING_NO_ANSWER.to_string(),
    }
}

fn target_plan(t: &Target) -> TargetPlan {
    TargetPlan {
        id: t.id.clone(),
        uri: t.uri.clone(),
        trunk: Some(t.trunk.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_rules_convert_one_to_one() {
        let rule = |after, none, longer, q: Option<&str>, t: Option<&str>| OverflowRule {
            after_s: after,
            no_operator_logged_in: none,
            longer_than: longer,
            to_queue: q.map(QueueId::new),
            to_target: t.map(routing::TargetId::new),
        };
        let after = overflow_rule(&rule(Some(60), false, None, Some("b"), None));
        assert_eq!(
            after.map(|r| (r.when, r.to)),
            Some((
                OverflowWhen::AfterWaiting(Duration::from_secs(60)),
                OverflowTo::Queue(QueueId::new("b"))
            ))
        );
        let none = overflow_rule(&rule(None, true, None, None, Some("p")));
        assert_eq!(
            none.map(|r| r.when),
            Some(OverflowWhen::NoOperatorsLoggedIn)
        );
        let longer = overflow_rule(&rule(None, false, Some(3), None, Some("p")));
        assert_eq!(longer.map(|r| r.when), Some(OverflowWhen::LongerThan(3)));
        assert_eq!(
            overflow_rule(&rule(Some(1), true, None, None, Some("p"))),
            None
        );
        assert_eq!(overflow_rule(&rule(Some(1), false, None, None, None)), None);
    }

    #[test]
    fn algorithms_map() {
        assert_eq!(Algorithm::from(ChallengeAlgorithm::Md5), Algorithm::Md5);
        assert_eq!(
            Algorithm::from(ChallengeAlgorithm::Sha256),
            Algorithm::Sha256
        );
    }
}
