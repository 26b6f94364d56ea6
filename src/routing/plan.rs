//! The routing plan: queues per tenant, operators, external targets and the
//! tenants' defaults, as the dialplan describes them (`Config::routing_plan`).
//!
//! The plan is data only; [`Plan::problems`] lists everything the engine
//! cannot route with (unknown names, duplicates, a zero ring timeout).

use super::types::{CallClass, OperatorId, QueueId, TargetId};
use crate::alarm::EventCode;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// The reason an operator is paused with after a ring timeout, unless the
/// operator's plan names another.
pub const RING_NO_ANSWER: &str = "ring-no-answer";

/// Everything the engine routes with. Replaced whole by `Router::reconfigure`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The queues, each belonging to one tenant.
    pub queues: Vec<QueuePlan>,
    /// The operators and what they serve.
    pub operators: Vec<OperatorPlan>,
    /// External SIP targets calls may be forwarded to.
    pub targets: Vec<TargetPlan>,
    /// Tenants: default queue and the required last-resort target.
    pub tenants: Vec<TenantPlan>,
}

/// One queue of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuePlan {
    /// The queue's name.
    pub id: QueueId,
    /// The tenant the queue belongs to.
    pub tenant: String,
    /// Skills an operator needs (all of them) to be offered this queue's calls.
    pub skills: Vec<String>,
    /// How long an offer rings before the operator is paused and the call moves on.
    pub ring_timeout: Duration,
    /// Wrap-up time after each connected call of this queue.
    pub wrap_up: Duration,
    /// Base priority per call class.
    pub priorities: ClassPriorities,
    /// Base priority per Contact ID event code; replaces the class priority when present.
    pub event_priorities: BTreeMap<EventCode, i64>,
    /// Priority points added per second waited.
    pub aging_per_s: u32,
    /// Overflow rules, tried in order; the first that applies moves the call.
    pub overflow: Vec<OverflowRule>,
}

/// Base priority per [`CallClass`]; higher is served first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassPriorities {
    /// Decoded alarms that need a person now.
    pub emergency: i64,
    /// Voice calls without an alarm.
    pub voice: i64,
    /// Recalls placed by operators.
    pub recall: i64,
    /// Technical alarms that reached a queue.
    pub technical: i64,
}

impl Default for ClassPriorities {
    fn default() -> Self {
        Self {
            emergency: 100,
            voice: 50,
            recall: 40,
            technical: 10,
        }
    }
}

impl ClassPriorities {
    /// The base priority of a class.
    pub fn of(&self, class: CallClass) -> i64 {
        match class {
            CallClass::Emergency => self.emergency,
            CallClass::Voice => self.voice,
            CallClass::Recall => self.recall,
            CallClass::Technical => self.technical,
        }
    }
}

impl QueuePlan {
    /// A queue with default priorities, no skills, no aging and no overflow.
    pub fn new(id: &str, tenant: &str, ring_timeout: Duration, wrap_up: Duration) -> Self {
        Self {
            id: QueueId::new(id),
            tenant: tenant.to_owned(),
            skills: Vec::new(),
            ring_timeout,
            wrap_up,
            priorities: ClassPriorities::default(),
            event_priorities: BTreeMap::new(),
            aging_per_s: 0,
            overflow: Vec::new(),
        }
    }

    /// The base priority of a call of `class` (and `event_code`) in this queue.
    pub fn base_priority(&self, class: CallClass, event_code: Option<&EventCode>) -> i64 {
        event_code
            .and_then(|code| self.event_priorities.get(code).copied())
            .unwrap_or_else(|| self.priorities.of(class))
    }
}

/// When an overflow rule moves a waiting call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowWhen {
    /// The call has waited this long in the queue.
    AfterWaiting(Duration),
    /// No operator of the queue is logged in with a reachable phone.
    NoOperatorsLoggedIn,
    /// More than this many calls wait; the lowest-ranked beyond it move.
    LongerThan(usize),
}

/// Where a call goes (or came from): another queue or an external target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum OverflowTo {
    /// Another queue (of any tenant).
    Queue(QueueId),
    /// An external SIP target, reached over a trunk.
    Target(TargetId),
}

/// One overflow rule of a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverflowRule {
    /// The condition.
    pub when: OverflowWhen,
    /// The destination.
    pub to: OverflowTo,
}

/// One operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorPlan {
    /// The operator's name (the SIP user its phones register with).
    pub id: OperatorId,
    /// The operator's skills.
    pub skills: Vec<String>,
    /// Queues the operator serves (those whose skills the operator also has).
    pub queues: Vec<QueueId>,
    /// A phone registering (becoming reachable) logs the operator in.
    pub login_on_register: bool,
    /// The pause reason after a ring timeout ([`RING_NO_ANSWER`] by default).
    pub pause_after_no_answer: String,
}

impl OperatorPlan {
    /// An operator serving `queues`, no skills, logged in on register.
    pub fn new(id: &str, queues: &[&str]) -> Self {
        Self {
            id: OperatorId::new(id),
            skills: Vec::new(),
            queues: queues.iter().map(|q| QueueId::new(*q)).collect(),
            login_on_register: true,
            pause_after_no_answer: RING_NO_ANSWER.to_owned(),
        }
    }

    /// True when the operator has every skill in `needed`.
    pub fn has_skills(&self, needed: &[String]) -> bool {
        needed.iter().all(|s| self.skills.contains(s))
    }
}

/// An external SIP target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetPlan {
    /// The target's name.
    pub id: TargetId,
    /// The SIP URI to call.
    pub uri: String,
    /// The trunk to call it over, if not the default.
    pub trunk: Option<String>,
}

/// A tenant's routing defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPlan {
    /// The tenant's name, as in `[[tenants]]`.
    pub id: String,
    /// Where calls without a named queue wait.
    pub default_queue: QueueId,
    /// Where a call goes when a forward fails; required.
    pub last_resort: TargetId,
}

/// Why a plan cannot be routed with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Two entries of one kind share a name.
    #[error("duplicate {kind} {id:?}")]
    Duplicate {
        /// queue, operator, target or tenant.
        kind: &'static str,
        /// The repeated name.
        id: String,
    },
    /// A queue, a tenant or an overflow rule names an unknown tenant.
    #[error("{whose} names unknown tenant {tenant:?}")]
    UnknownTenant {
        /// Who named it.
        whose: String,
        /// The missing tenant.
        tenant: String,
    },
    /// A tenant, an operator or an overflow rule names an unknown queue.
    #[error("{whose} names unknown queue {queue}")]
    UnknownQueue {
        /// Who named it.
        whose: String,
        /// The missing queue.
        queue: QueueId,
    },
    /// A tenant or an overflow rule names an unknown target.
    #[error("{whose} names unknown target {target}")]
    UnknownTarget {
        /// Who named it.
        whose: String,
        /// The missing target.
        target: TargetId,
    },
    /// A queue overflows into itself.
    #[error("queue {queue} overflows into itself")]
    OverflowToSelf {
        /// The queue.
        queue: QueueId,
    },
    /// A queue's ring timeout is zero: offers would never ring.
    #[error("queue {queue} has a zero ring timeout")]
    ZeroRingTimeout {
        /// The queue.
        queue: QueueId,
    },
}

impl Plan {
    /// The queue named `id`.
    pub fn queue(&self, id: &QueueId) -> Option<&QueuePlan> {
        self.queues.iter().find(|q| &q.id == id)
    }

    /// The tenant named `id`.
    pub fn tenant(&self, id: &str) -> Option<&TenantPlan> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// The target named `id`.
    pub fn target(&self, id: &TargetId) -> Option<&TargetPlan> {
        self.targets.iter().find(|t| &t.id == id)
    }

    /// The first problem, if any.
    pub fn validate(&self) -> Result<(), PlanError> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
    }

    /// Every problem of the plan, in a stable order.
    pub fn problems(&self) -> Vec<PlanError> {
        let mut out = self.duplicates();
        for q in &self.queues {
            self.queue_problems(q, &mut out);
        }
        for t in &self.tenants {
            let whose = format!("tenant {}", t.id);
            self.check_queue(&whose, &t.default_queue, &mut out);
            self.check_target(&whose, &t.last_resort, &mut out);
        }
        for o in &self.operators {
            for q in &o.queues {
                self.check_queue(&format!("operator {}", o.id), q, &mut out);
            }
        }
        out
    }

    fn duplicates(&self) -> Vec<PlanError> {
        let mut out = Vec::new();
        dup("queue", self.queues.iter().map(|q| q.id.as_str()), &mut out);
        dup(
            "operator",
            self.operators.iter().map(|o| o.id.as_str()),
            &mut out,
        );
        dup(
            "target",
            self.targets.iter().map(|t| t.id.as_str()),
            &mut out,
        );
        dup(
            "tenant",
            self.tenants.iter().map(|t| t.id.as_str()),
            &mut out,
        );
        out
    }

    fn queue_problems(&self, q: &QueuePlan, out: &mut Vec<PlanError>) {
        let whose = format!("queue {}", q.id);
        if self.tenant(&q.tenant).is_none() {
            let tenant = q.tenant.clone();
            out.push(PlanError::UnknownTenant {
                whose: whose.clone(),
                tenant,
            });
        }
        if q.ring_timeout.is_zero() {
            out.push(PlanError::ZeroRingTimeout {
                queue: q.id.clone(),
            });
        }
        for rule in &q.overflow {
            match &rule.to {
                OverflowTo::Queue(to) if to == &q.id => out.push(PlanError::OverflowToSelf {
                    queue: q.id.clone(),
                }),
                OverflowTo::Queue(to) => self.check_queue(&whose, to, out),
                OverflowTo::Target(to) => self.check_target(&whose, to, out),
            }
        }
    }

    fn check_queue(&self, whose: &str, queue: &QueueId, out: &mut Vec<PlanError>) {
        if self.queue(queue).is_none() {
            let (whose, queue) = (whose.to_owned(), queue.clone());
            out.push(PlanError::UnknownQueue { whose, queue });
        }
    }

    fn check_target(&self, whose: &str, target: &TargetId, out: &mut Vec<PlanError>) {
        if self.target(target).is_none() {
            let (whose, target) = (whose.to_owned(), target.clone());
            out.push(PlanError::UnknownTarget { whose, target });
        }
    }
}

fn dup<'a>(kind: &'static str, ids: impl Iterator<Item = &'a str>, out: &mut Vec<PlanError>) {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            out.push(PlanError::Duplicate {
                kind,
                id: id.to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let secs = Duration::from_secs;
        Plan {
            queues: vec![QueuePlan::new("q1", "t1", secs(20), secs(5))],
            operators: vec![OperatorPlan::new("op1", &["q1"])],
            targets: vec![TargetPlan {
                id: TargetId::new("partner"),
                uri: "sip:p@x".into(),
                trunk: None,
            }],
            tenants: vec![TenantPlan {
                id: "t1".into(),
                default_queue: QueueId::new("q1"),
                last_resort: TargetId::new("partner"),
            }],
        }
    }

    #[test]
    fn a_consistent_plan_has_no_problems() {
        assert_eq!(plan().problems(), vec![]);
    }

    #[test]
    fn every_problem_is_listed() {
        let mut p = plan();
        p.queues[0].overflow.push(OverflowRule {
            when: OverflowWhen::NoOperatorsLoggedIn,
            to: OverflowTo::Queue(QueueId::new("q1")),
        });
        p.queues[0].ring_timeout = Duration::ZERO;
        p.tenants[0].last_resort = TargetId::new("nobody");
        p.operators.push(OperatorPlan::new("op1", &["q9"]));
        let problems = p.problems();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(matches!(
            problems[0],
            PlanError::Duplicate {
                kind: "operator",
                ..
            }
        ));
        assert!(p.validate().is_err());
    }

    #[test]
    fn event_code_priority_replaces_the_class() {
        let mut q = plan().queues.remove(0);
        let code = EventCode::new("101").ok();
        assert_eq!(q.base_priority(CallClass::Voice, code.as_ref()), 50);
        if let Some(c) = code.clone() {
            q.event_priorities.insert(c, 500);
        }
        assert_eq!(q.base_priority(CallClass::Voice, code.as_ref()), 500);
    }
}
