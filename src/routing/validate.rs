//! Validation of a routing plan: every problem the engine cannot route
//! with, listed (the config's check reports them all).

use super::plan::{OverflowTo, Plan, QueuePlan};
use super::types::{QueueId, TargetId};
use crate::labels::TenantId;
use std::collections::HashSet;

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
    #[error("{whose} names unknown tenant {:?}", tenant.as_str())]
    UnknownTenant {
        /// Who named it.
        whose: String,
        /// The missing tenant.
        tenant: TenantId,
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
        if self.tenant(q.tenant.as_str()).is_none() {
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
    use crate::alarm::EventCode;
    use crate::routing::plan::{OperatorPlan, OverflowRule, OverflowWhen, TargetPlan, TenantPlan};
    use crate::routing::types::CallClass;
    use std::time::Duration;

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
