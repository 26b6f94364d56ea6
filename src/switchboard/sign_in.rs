//! The console's sign-in and what an operator's session may touch: the
//! password is the softphone's (checked by the registrar, whose blocking of
//! guessing sources applies), and the session's scope comes from the
//! routing plan (the operator's queues, their tenants, its colleagues).

use super::Switchboard;
use crate::api::{ApiError, OperatorScope, Password};
use crate::registrar::PasswordCheck;
use crate::routing::{OperatorId, QueueId};
use std::net::IpAddr;
use std::time::Instant;

/// What a person is told for an unknown id or a wrong password (the same
/// words for both: the answer does not tell which ids exist).
pub const WRONG_PASSWORD: &str = "wrong operator id or password";

impl Switchboard {
    /// Checks the operator's password from `source`; its scope when right.
    pub(crate) fn sign_in(
        &mut self,
        now: Instant,
        operator: &OperatorId,
        password: &Password,
        source: IpAddr,
    ) -> Result<OperatorScope, ApiError> {
        let registrar = self
            .registrar
            .as_mut()
            .ok_or_else(|| ApiError::unavailable("no operators are configured"))?;
        match registrar.check_password(now, source, operator, &password.0) {
            PasswordCheck::Accepted => {}
            PasswordCheck::Refused => return Err(ApiError::unauthorized(WRONG_PASSWORD)),
            PasswordCheck::Blocked { until } => {
                let left = until.saturating_duration_since(now).as_secs().max(1);
                return Err(ApiError::Blocked {
                    retry_after_s: left,
                });
            }
        }
        tracing::info!(%operator, %source, "console sign-in");
        self.operator_scope(operator)
            .ok_or_else(|| ApiError::unauthorized(WRONG_PASSWORD))
    }

    /// The operator's queues, their tenants and its colleagues.
    fn operator_scope(&self, operator: &OperatorId) -> Option<OperatorScope> {
        let plan = self.router.as_ref()?.plan();
        let me = plan.operators.iter().find(|o| &o.id == operator)?;
        let queues: Vec<QueueId> = me.queues.clone();
        let mut tenants: Vec<_> = (plan.queues.iter())
            .filter(|q| queues.contains(&q.id))
            .map(|q| q.tenant.clone())
            .collect();
        tenants.sort();
        tenants.dedup();
        let wrap_up_s = (plan.queues.iter())
            .filter(|q| queues.contains(&q.id))
            .map(|q| q.wrap_up.as_secs())
            .max()
            .unwrap_or(0);
        let colleagues = (plan.operators.iter())
            .filter(|o| o.queues.iter().any(|q| queues.contains(q)))
            .map(|o| o.id.clone())
            .collect();
        let name = self.config.operator_names.get(operator).cloned();
        Some(OperatorScope {
            operator: operator.clone(),
            name: name.unwrap_or_else(|| operator.to_string()),
            tenants,
            queues,
            colleagues,
            wrap_up_s,
        })
    }

    /// For a session's disposition: the call must be one `operator` took,
    /// or an unconfirmed alarm waiting for a callback (nobody took it).
    pub(crate) fn may_classify(&self, call: &str, operator: &OperatorId) -> Result<(), ApiError> {
        if self.recent.taken_by(call, operator) || self.callback(call).is_some() {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "operator {operator} did not take call {call}: only the operator who took a call classifies it"
        )))
    }
}
