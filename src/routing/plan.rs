//! The routing plan: queues per tenant, operators, external targets and the
//! tenants' defaults, as the dialplan describes them (`Config::routing_plan`).
//!
//! The plan is data only; `Plan::problems` (in `validate`) lists everything
//! the engine cannot route with (unknown names, duplicates, a zero ring timeout).

use super::types::{CallClass, OperatorId, QueueId, TargetId};
use crate::alarm::EventCode;
use crate::labels::TenantId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

pub use super::validate::PlanError;

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
    pub tenant: TenantId,
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
    /// Alarms attempted but never decoded (default: as an emergency).
    pub unconfirmed: i64,
}

impl Default for ClassPriorities {
    fn default() -> Self {
        Self {
            emergency: 100,
            voice: 50,
            recall: 40,
            technical: 10,
            unconfirmed: 100,
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
            CallClass::Unconfirmed => self.unconfirmed,
        }
    }
}

impl QueuePlan {
    /// A queue with default priorities, no skills, no aging and no overflow.
    pub fn new(id: &str, tenant: &str, ring_timeout: Duration, wrap_up: Duration) -> Self {
        Self {
            id: QueueId::new(id),
            tenant: TenantId::new(tenant),
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
    pub id: TenantId,
    /// Where calls without a named queue wait.
    pub default_queue: QueueId,
    /// Where a call goes when a forward fails; required.
    pub last_resort: TargetId,
}

impl Plan {
    /// The queue named `id`.
    pub fn queue(&self, id: &QueueId) -> Option<&QueuePlan> {
        self.queues.iter().find(|q| &q.id == id)
    }

    /// The tenant named `id`.
    pub fn tenant(&self, id: &str) -> Option<&TenantPlan> {
        self.tenants.iter().find(|t| t.id.as_str() == id)
    }

    /// The target named `id`.
    pub fn target(&self, id: &TargetId) -> Option<&TargetPlan> {
        self.targets.iter().find(|t| &t.id == id)
    }
}
