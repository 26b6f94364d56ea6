//! What an operator's session may see and do, worked out by the
//! switchboard at sign-in from the dialplan: the operator's queues, their
//! tenants, and the colleagues who serve the same queues.
//!
//! The API filters what it shows a session with these ([`OperatorScope`]
//! methods): the operator's queues, the calls of its tenants or rung at it,
//! the colleagues of its queues (who is on what). Acting is narrower still
//! and is checked per route: its own state only, recalls placed from its own
//! phone through one of its tenants, dispositions of calls it took (the
//! switchboard checks that one).

use super::views::{CallView, OperatorView, QueueView};
use crate::labels::TenantId;
use crate::routing::{OperatorId, QueueId};
use serde::{Deserialize, Serialize};

/// The operator behind a session and what it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorScope {
    /// The operator.
    pub operator: OperatorId,
    /// Its display name.
    pub name: String,
    /// The tenants of its queues.
    pub tenants: Vec<TenantId>,
    /// The queues it serves.
    pub queues: Vec<QueueId>,
    /// The operators serving at least one of those queues (itself included).
    pub colleagues: Vec<OperatorId>,
    /// The longest wrap-up of its queues, in seconds (the console shows the
    /// time left as this minus the seconds in `wrap_up`).
    pub wrap_up_s: u64,
}

impl OperatorScope {
    /// True for the operator itself.
    pub fn is(&self, operator: &OperatorId) -> bool {
        &self.operator == operator
    }

    /// True for an operator it may see (itself or a colleague).
    pub fn sees_operator(&self, operator: &OperatorId) -> bool {
        self.is(operator) || self.colleagues.contains(operator)
    }

    /// True for one of its tenants.
    pub fn serves_tenant(&self, tenant: &str) -> bool {
        self.tenants.iter().any(|t| t.as_str() == tenant)
    }

    /// True for a call of its tenants, of its queues, or rung at it.
    pub fn sees_call(&self, call: &CallView) -> bool {
        self.serves_tenant(call.tenant.as_str())
            || call.queue.as_ref().is_some_and(|q| self.queues.contains(q))
            || call.operator.as_ref().is_some_and(|o| self.is(o))
    }

    /// True for one of its queues.
    pub fn sees_queue(&self, queue: &QueueView) -> bool {
        self.queues.contains(&queue.id)
    }

    /// True for a journal event it may read on `GET /api/v1/events`: one
    /// of its tenants', or one about itself (its state changes).
    pub fn sees_event(&self, tenant: Option<&str>, operator: Option<&str>) -> bool {
        tenant.is_some_and(|t| self.serves_tenant(t))
            || operator.is_some_and(|o| self.operator.as_str() == o)
    }

    /// The operators of `all` it may see.
    pub fn filter_operators(&self, all: Vec<OperatorView>) -> Vec<OperatorView> {
        all.into_iter()
            .filter(|o| self.sees_operator(&o.id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CallState;
    use crate::routing::CallClass;

    fn scope() -> OperatorScope {
        OperatorScope {
            operator: OperatorId::new("op-1"),
            name: "Operator One".into(),
            tenants: vec![TenantId::new("aarhus")],
            queues: vec![QueueId::new("aarhus-main")],
            colleagues: vec![OperatorId::new("op-1"), OperatorId::new("op-2")],
            wrap_up_s: 30,
        }
    }

    fn call(tenant: &str, queue: Option<&str>, operator: Option<&str>) -> CallView {
        CallView {
            id: "c1".into(),
            tenant: tenant.into(),
            caller: "4512345678".into(),
            class: CallClass::Emergency,
            event_code: None,
            state: CallState::Waiting,
            queue: queue.map(QueueId::new),
            operator: operator.map(OperatorId::new),
            target: None,
            waited_s: 1,
            heard: None,
            protocol: None,
            account: None,
            alarm: None,
            recall: None,
        }
    }

    #[test]
    fn a_session_sees_its_tenants_queues_and_colleagues_only() {
        let s = scope();
        assert!(s.sees_call(&call("aarhus", None, None)));
        assert!(s.sees_call(&call("oslo", Some("aarhus-main"), None)));
        assert!(s.sees_call(&call("oslo", None, Some("op-1"))));
        assert!(!s.sees_call(&call("oslo", Some("oslo-main"), Some("op-7"))));
        assert!(s.sees_operator(&OperatorId::new("op-2")));
        assert!(!s.sees_operator(&OperatorId::new("op-7")));
        assert!(s.sees_event(Some("aarhus"), None));
        assert!(s.sees_event(None, Some("op-1")));
        assert!(
            !s.sees_event(None, Some("op-2")),
            "a colleague's state changes are not streamed"
        );
        assert!(!s.sees_event(Some("oslo"), None));
        assert!(
            !s.sees_event(None, None),
            "node-level events are for admin tokens"
        );
    }
}
