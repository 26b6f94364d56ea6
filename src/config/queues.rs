//! `[[queues]]` and `[[queues.overflow]]`: where calls for a person wait,
//! in which order, and where they go when nobody takes them.
//!
//! A waiting call's priority is its class's base priority (or its event
//! code's, when listed in `priorities.codes`) plus `aging_per_s` points per
//! second waited. Overflow rules are evaluated continuously, first match
//! wins; a match moves the call to another queue or forwards it to a target.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::validate::Findings;
use super::xref::{check_id, check_name, Ids};
use super::Problem;
use crate::alarm::types::EventCode;
use crate::routing::{CallClass, QueueId, TargetId};

/// Longest `ring_timeout_s`.
pub const MAX_RING_TIMEOUT_S: u64 = 300;
/// Longest `wrap_up_s`.
pub const MAX_WRAP_UP_S: u64 = 3600;

/// One `[[queues]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Identifier in the API, events and overflow rules: lowercase letters,
    /// digits and `-`. Required, unique.
    pub id: QueueId,
    /// The `[[tenants]]` id this queue belongs to. Required, must exist.
    pub tenant: String,
    /// Skills an operator needs, all of them, to be offered this queue's
    /// calls. Default: none.
    #[serde(default)]
    pub skills: Vec<String>,
    /// How long an offered call rings at one operator before it is offered
    /// to the next (and the operator is paused, `ring-no-answer`), in
    /// seconds, 1 to 300. Default 20.
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_s: u64,
    /// After-call work: seconds an operator stays in wrap-up after a call of
    /// this queue, 0 to 3600 (the operator may end it early through the API).
    /// Default 30.
    #[serde(default = "default_wrap_up")]
    pub wrap_up_s: u64,
    /// `[queues.priorities]`: base priority per call class and event code.
    #[serde(default)]
    pub priorities: Priorities,
    /// Priority points a call gains per second waited, so that long waits
    /// overtake fresher calls of a higher class (with the default
    /// priorities, a voice call that waited 500 s ties with a fresh
    /// emergency). 0 turns aging off. Default 1.
    #[serde(default = "default_aging")]
    pub aging_per_s: u32,
    /// `[[queues.overflow]]`: rules, first match wins. Default: none.
    #[serde(default)]
    pub overflow: Vec<OverflowRule>,
}

fn default_ring_timeout() -> u64 {
    20
}
fn default_wrap_up() -> u64 {
    30
}
fn default_aging() -> u32 {
    1
}

/// `[queues.priorities]`: higher is served first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Priorities {
    /// A decoded alarm that needs a person (medical, fire, panic). Default 1000.
    pub emergency: u32,
    /// A voice call without an alarm. Default 500.
    pub voice: u32,
    /// A recall placed by an operator. Default 400.
    pub recall: u32,
    /// Technical or test alarms that reached a queue. Default 100.
    pub technical: u32,
    /// An alarm attempted whose message never decoded (checksum failures,
    /// digits missing). Default: the highest of `emergency` and every
    /// `codes` value (what failed may have been the most urgent alarm).
    pub unconfirmed: Option<u32>,
    /// Per event code (3 Ademco digits), overriding the class's priority,
    /// e.g. `codes = { "100" = 1200, "101" = 1100 }`. Default: none.
    pub codes: BTreeMap<EventCode, u32>,
}

impl Default for Priorities {
    fn default() -> Self {
        Self {
            emergency: 1000,
            voice: 500,
            recall: 400,
            technical: 100,
            unconfirmed: None,
            codes: BTreeMap::new(),
        }
    }
}

impl Priorities {
    /// The base priority of a class.
    pub fn for_class(&self, class: CallClass) -> u32 {
        match class {
            CallClass::Emergency => self.emergency,
            CallClass::Voice => self.voice,
            CallClass::Recall => self.recall,
            CallClass::Technical => self.technical,
            CallClass::Unconfirmed => self
                .unconfirmed
                .unwrap_or_else(|| self.codes.values().copied().fold(self.emergency, u32::max)),
        }
    }
}

/// One `[[queues.overflow]]` rule: exactly one condition (`after_s`,
/// `no_operator_logged_in`, `longer_than`) and exactly one destination
/// (`to_queue`, `to_target`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverflowRule {
    /// Condition: the call has waited this many seconds (at least 1).
    pub after_s: Option<u64>,
    /// Condition: no operator serving the queue is logged in.
    pub no_operator_logged_in: bool,
    /// Condition: more than this many calls wait in the queue (at least 1);
    /// the lowest-ranked calls beyond it move.
    pub longer_than: Option<usize>,
    /// Destination: another queue (of any tenant), by id.
    pub to_queue: Option<QueueId>,
    /// Destination: a `[[targets]]` entry, by id; the call is forwarded.
    pub to_target: Option<TargetId>,
}

impl OverflowRule {
    /// The condition keys written, by name.
    fn conditions(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.after_s.is_some() {
            keys.push("after_s");
        }
        if self.no_operator_logged_in {
            keys.push("no_operator_logged_in");
        }
        if self.longer_than.is_some() {
            keys.push("longer_than");
        }
        keys
    }
}

/// Checks every queue: fields, unique ids, known tenants, overflow rules.
pub(crate) fn check_queues(queues: &[Queue], ids: &Ids<'_>, out: &mut Findings) {
    let mut seen = HashMap::new();
    for (i, q) in queues.iter().enumerate() {
        let path = format!("queues[{i}]");
        check_id(q.id.as_str(), &format!("{path}.id"), out);
        if let Some(first) = seen.insert(q.id.as_str(), i) {
            let first = format!("queues[{first}].id");
            let value = q.id.to_string();
            out.push(format!("{path}.id"), Problem::Duplicate { value, first });
        }
        if !ids.has_tenant(&q.tenant) {
            let detail = format!("no [[tenants]] entry has id {:?}", q.tenant);
            out.push(format!("{path}.tenant"), Problem::Conflict { detail });
        }
        for (j, skill) in q.skills.iter().enumerate() {
            check_name(skill, &format!("{path}.skills[{j}]"), out);
        }
        check_numbers(q, &path, out);
        for (j, rule) in q.overflow.iter().enumerate() {
            check_rule(rule, &q.id, &format!("{path}.overflow[{j}]"), ids, out);
        }
    }
}

fn check_numbers(q: &Queue, path: &str, out: &mut Findings) {
    if !(1..=MAX_RING_TIMEOUT_S).contains(&q.ring_timeout_s) {
        let value = q.ring_timeout_s.to_string();
        let expected = "1 to 300 seconds";
        let key = format!("{path}.ring_timeout_s");
        out.push(key, Problem::Invalid { value, expected });
    }
    if q.wrap_up_s > MAX_WRAP_UP_S {
        let value = q.wrap_up_s.to_string();
        let expected = "0 to 3600 seconds";
        out.push(
            format!("{path}.wrap_up_s"),
            Problem::Invalid { value, expected },
        );
    }
}

fn check_rule(rule: &OverflowRule, own: &QueueId, path: &str, ids: &Ids<'_>, out: &mut Findings) {
    check_condition(rule, path, out);
    check_destination(rule, own, path, ids, out);
}

/// Exactly one condition, and no zero thresholds.
fn check_condition(rule: &OverflowRule, path: &str, out: &mut Findings) {
    match rule.conditions().as_slice() {
        [] => {
            let because = "(one condition: after_s, no_operator_logged_in = true or longer_than)";
            out.push(path, Problem::Missing { because });
        }
        [_] => {}
        [_, second, ..] => {
            let because = "with another condition in the same rule (write one rule per condition)";
            out.push(format!("{path}.{second}"), Problem::Forbidden { because });
        }
    }
    let thresholds = [
        ("after_s", rule.after_s),
        ("longer_than", rule.longer_than.map(|n| n as u64)),
    ];
    for (key, _) in thresholds.into_iter().filter(|(_, v)| *v == Some(0)) {
        let (value, expected) = ("0".to_string(), "at least 1");
        out.push(
            format!("{path}.{key}"),
            Problem::Invalid { value, expected },
        );
    }
}

/// Exactly one destination, which exists and is not the queue itself.
fn check_destination(
    rule: &OverflowRule,
    own: &QueueId,
    path: &str,
    ids: &Ids<'_>,
    out: &mut Findings,
) {
    let (key, detail) = match (&rule.to_queue, &rule.to_target) {
        (None, None) => {
            let because = "(one destination: to_queue or to_target)";
            return out.push(path, Problem::Missing { because });
        }
        (Some(_), Some(_)) => {
            let because = "together with to_queue";
            return out.push(format!("{path}.to_target"), Problem::Forbidden { because });
        }
        (Some(q), None) if q == own => (
            "to_queue",
            format!("overflows queue {:?} into itself", q.as_str()),
        ),
        (Some(q), None) if ids.queue(q.as_str()).is_none() => (
            "to_queue",
            format!("no [[queues]] entry has id {:?}", q.as_str()),
        ),
        (None, Some(t)) if !ids.has_target(t.as_str()) => (
            "to_target",
            format!("no [[targets]] entry has id {:?}", t.as_str()),
        ),
        _ => return,
    };
    out.push(format!("{path}.{key}"), Problem::Conflict { detail });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::xref::tests::{ids_with_targets, queue};

    fn keys(out: &Findings) -> Vec<&str> {
        out.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn rule(after: Option<u64>, to_queue: Option<&str>, to_target: Option<&str>) -> OverflowRule {
        OverflowRule {
            after_s: after,
            to_queue: to_queue.map(QueueId::new),
            to_target: to_target.map(TargetId::new),
            ..OverflowRule::default()
        }
    }

    #[test]
    fn queue_field_checks() {
        let mut bad = queue("Q", "nowhere");
        bad.skills = vec!["".into()];
        bad.ring_timeout_s = 0;
        bad.wrap_up_s = 3601;
        let queues = [queue("a", "t"), bad, queue("a", "t")];
        let mut out = Findings::default();
        check_queues(&queues, &ids_with_targets(&queues, &[]), &mut out);
        assert_eq!(
            keys(&out),
            [
                "queues[1].id",
                "queues[1].tenant",
                "queues[1].skills[0]",
                "queues[1].ring_timeout_s",
                "queues[1].wrap_up_s",
                "queues[2].id",
            ]
        );
    }

    #[test]
    fn overflow_rule_checks() {
        let mut q = queue("a", "t");
        let mut two = rule(Some(5), Some("b"), Some("p"));
        two.longer_than = Some(0);
        q.overflow = vec![
            rule(Some(60), Some("b"), None),
            rule(None, None, None),
            two,
            rule(Some(0), Some("a"), None),
            rule(Some(1), Some("zz"), None),
            rule(Some(1), None, Some("nope")),
            rule(Some(1), None, Some("p")),
        ];
        let queues = [q, queue("b", "t")];
        let mut out = Findings::default();
        check_queues(&queues, &ids_with_targets(&queues, &["p"]), &mut out);
        assert_eq!(
            keys(&out),
            [
                "queues[0].overflow[1]",
                "queues[0].overflow[1]",
                "queues[0].overflow[2].longer_than",
                "queues[0].overflow[2].longer_than",
                "queues[0].overflow[2].to_target",
                "queues[0].overflow[3].after_s",
                "queues[0].overflow[3].to_queue",
                "queues[0].overflow[4].to_queue",
                "queues[0].overflow[5].to_target",
            ]
        );
    }

    #[test]
    fn class_priorities() {
        let p = Priorities::default();
        assert!(p.for_class(CallClass::Emergency) > p.for_class(CallClass::Voice));
        assert_eq!(p.for_class(CallClass::Technical), 100);
    }

    /// An unconfirmed alarm is as urgent as the most urgent decoded alarm
    /// (emergency or an event code above it) unless configured.
    #[test]
    fn unconfirmed_defaults_to_the_most_urgent_decoded_priority() {
        let p = Priorities::default();
        assert_eq!(p.for_class(CallClass::Unconfirmed), 1000);
        let raised = Priorities {
            emergency: 1500,
            ..Priorities::default()
        };
        assert_eq!(raised.for_class(CallClass::Unconfirmed), 1500);
        let mut medical = Priorities::default();
        let code = |c: &str| EventCode::new(c).unwrap_or_else(|e| panic!("{e}"));
        medical.codes.insert(code("100"), 1200);
        medical.codes.insert(code("602"), 50);
        assert_eq!(medical.for_class(CallClass::Unconfirmed), 1200);
        let own = Priorities {
            unconfirmed: Some(1200),
            ..Priorities::default()
        };
        assert_eq!(own.for_class(CallClass::Unconfirmed), 1200);
    }
}
