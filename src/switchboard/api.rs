//! The HTTP API's commands, answered from the router's snapshot, the
//! registrar and the calls the switchboard knows.

use super::callbacks::{Callback, Detail, Resolution};
use super::{EventRecord, Output, Switchboard};
use crate::api::{
    ApiError, ApiReply, ApiRequest, CallState, CallView, Disposition, OperatorState as ApiOpState,
    OperatorView, QueueView, QueuedCall, RecallAccepted, RecallTarget, RequestedState,
};
use crate::labels::{Caller, TenantId};
use crate::routing::{
    self, CallPhase, CallRef, OperatorCommand, OperatorId, OperatorState, RoutingError,
};
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;

/// The CloudEvents type of a disposition.
pub const CALL_DISPOSITION: &str = "alarmgate.call.disposition";

impl Switchboard {
    /// Answers one API request; the caller (the SIP driver) sends the
    /// reply to whoever asked.
    pub fn handle_api(&mut self, now: Instant, request: ApiRequest) -> ApiReply {
        metrics::counter!(crate::telemetry::metrics::API_COMMANDS, "command" => label(&request))
            .increment(1);
        match request {
            ApiRequest::ListOperators => ApiReply::Operators(self.operator_views(now)),
            ApiRequest::SetOperatorState { id, state, by } => {
                ApiReply::Operator(self.set_state(now, &id, state, &by))
            }
            ApiRequest::ListCalls => ApiReply::Calls(self.call_views(now)),
            ApiRequest::ListQueues => ApiReply::Queues(self.queue_views(now)),
            ApiRequest::Recall {
                operator,
                number,
                tenant,
                by,
            } => {
                tracing::info!(%operator, %number, %tenant, %by, "recall");
                let result = self.recall(now, operator, number.clone(), tenant.clone());
                if let Ok(accepted) = &result {
                    self.recalled(&tenant, &number, &accepted.id, &by);
                }
                ApiReply::Recall(result)
            }
            ApiRequest::Disposition {
                call,
                disposition,
                note,
                by,
                taken_by,
            } => ApiReply::Disposition(
                taken_by
                    .map_or(Ok(()), |op| self.may_classify(&call, &op))
                    .and_then(|()| self.disposition(&call, disposition, note, &by)),
            ),
            ApiRequest::SignIn {
                operator,
                password,
                source,
            } => ApiReply::SignIn(self.sign_in(now, &operator, &password, source)),
            ApiRequest::UnitCommand {
                call,
                command,
                by,
                taken_by,
            } => ApiReply::UnitCommand(self.api_unit_command(&call, command, &by, taken_by)),
        }
    }

    fn router_view(&self, now: Instant) -> Result<routing::RouterView, ApiError> {
        self.router
            .as_ref()
            .map(|r| r.snapshot(now))
            .ok_or_else(|| ApiError::unavailable("no operators or queues are configured"))
    }

    fn operator_views(&self, now: Instant) -> Result<Vec<OperatorView>, ApiError> {
        let view = self.router_view(now)?;
        Ok(view
            .operators
            .iter()
            .map(|o| self.operator_view(o))
            .collect())
    }

    fn operator_view(&self, o: &routing::OperatorView) -> OperatorView {
        let (state, reason) = match &o.state {
            OperatorState::LoggedOut => (ApiOpState::LoggedOut, None),
            OperatorState::Available => (ApiOpState::Available, None),
            OperatorState::Ringing { .. } => (ApiOpState::Ringing, None),
            OperatorState::OnCall { .. } => (ApiOpState::OnCall, None),
            OperatorState::WrapUp => (ApiOpState::WrapUp, None),
            OperatorState::Paused { reason } => (ApiOpState::Paused, Some(reason.clone())),
        };
        let contacts = self
            .registrar
            .as_ref()
            .map_or(0, |r| r.contacts(&o.id).len() as u32);
        OperatorView {
            id: o.id.clone(),
            name: self
                .config
                .operator_names
                .get(&o.id)
                .cloned()
                .unwrap_or_else(|| o.id.to_string()),
            state,
            in_state_s: o.in_state_ms / 1000,
            reason,
            current_call: o.call.map(|c| self.public_id(c)),
            contacts,
        }
    }

    fn set_state(
        &mut self,
        now: Instant,
        id: &OperatorId,
        state: RequestedState,
        by: &str,
    ) -> Result<OperatorView, ApiError> {
        let command = match state {
            RequestedState::Available => OperatorCommand::Available,
            RequestedState::LoggedIn => OperatorCommand::Login,
            RequestedState::LoggedOut => OperatorCommand::Logout,
            RequestedState::Paused { reason } => OperatorCommand::Pause { reason },
        };
        tracing::info!(operator = %id, ?command, %by, "operator state by the API");
        let router = self
            .router
            .as_mut()
            .ok_or_else(|| ApiError::unavailable("no operators are configured"))?;
        router.command(now, id, command).map_err(api_error)?;
        self.pump(now);
        let view = self.router_view(now)?;
        view.operators
            .iter()
            .find(|o| &o.id == id)
            .map(|o| self.operator_view(o))
            .ok_or_else(|| ApiError::not_found(format!("operator {id}")))
    }

    fn call_views(&self, now: Instant) -> Result<Vec<CallView>, ApiError> {
        let view = self.router_view(now)?;
        let calls = view.calls.iter().map(|c| self.call_view(c));
        let callbacks = self.callbacks.iter().map(|c| callback_view(now, c));
        Ok(calls.chain(callbacks).collect())
    }

    fn call_view(&self, c: &routing::CallView) -> CallView {
        // The router files a recall under its operator's first queue's
        // tenant, with no caller: the recall's own tenant and number count.
        let (recall, device) = match c.call {
            CallRef::Recall(id) => (self.recalls.get(&id), None),
            CallRef::Device(handle) => (None, self.devices.get(&handle)),
        };
        let (tenant, caller) = match recall {
            Some(r) => (r.tenant.clone(), r.number.clone()),
            None => (c.tenant.clone(), c.caller.clone()),
        };
        CallView {
            id: self.public_id(c.call),
            tenant,
            caller,
            class: c.class,
            event_code: c.event_code.clone(),
            state: phase(c.state),
            queue: c.queue.clone(),
            operator: c.operator.clone(),
            target: c.target.clone(),
            waited_s: c.waited_ms / 1000,
            heard: device
                .and_then(|d| d.unconfirmed.as_ref())
                .map(|u| u.heard.summary()),
            protocol: device.and_then(|d| d.alarm.as_ref()).map(|a| a.protocol),
            account: device
                .and_then(|d| d.alarm.as_ref())
                .map(|a| a.account.clone()),
            alarm: device
                .and_then(|d| d.alarm.as_ref())
                .map(|a| a.fields.clone()),
            recall: None,
        }
    }

    fn queue_views(&self, now: Instant) -> Result<Vec<QueueView>, ApiError> {
        let view = self.router_view(now)?;
        let index = CallIndex::new(&view);
        let plan = self.router.as_ref().map(|r| r.plan());
        let total = |q: &routing::QueueView| {
            plan.map_or(0, |p| {
                p.operators
                    .iter()
                    .filter(|o| o.queues.contains(&q.id))
                    .count()
            })
        };
        Ok(view
            .queues
            .iter()
            .map(|q| {
                let calls = self.queued_calls(now, &index, q);
                QueueView {
                    id: q.id.clone(),
                    tenant: q.tenant.clone(),
                    waiting: calls
                        .iter()
                        .filter(|c| c.state != CallState::Callback)
                        .count() as u32,
                    calls,
                    operators_available: q.operators_available as u32,
                    operators_total: total(q) as u32,
                }
            })
            .collect())
    }

    /// A queue's calls: those ringing at an operator first (they are being
    /// served), then the waiting ones in the order they will be offered,
    /// then its callbacks, oldest first.
    fn queued_calls(
        &self,
        now: Instant,
        index: &CallIndex<'_>,
        q: &routing::QueueView,
    ) -> Vec<QueuedCall> {
        let ringing = index.ringing.get(&q.id).into_iter().flatten().copied();
        let waiting = q
            .waiting
            .iter()
            .filter_map(|w| index.by_call.get(&w.call).copied());
        let calls = ringing.chain(waiting).map(|c| QueuedCall {
            position: 0,
            id: self.public_id(c.call),
            class: c.class,
            event_code: c.event_code.clone(),
            state: phase(c.state),
            waited_s: c.waited_ms / 1000,
        });
        let callbacks = self
            .callbacks
            .iter()
            .filter(|c| c.queue.as_ref() == Some(&q.id))
            .map(|c| {
                let v = callback_view(now, c);
                QueuedCall {
                    position: 0,
                    id: v.id,
                    class: v.class,
                    event_code: v.event_code,
                    state: v.state,
                    waited_s: v.waited_s,
                }
            });
        calls
            .chain(callbacks)
            .enumerate()
            .map(|(i, c)| QueuedCall {
                position: i as u32 + 1,
                ..c
            })
            .collect()
    }

    fn recall(
        &mut self,
        now: Instant,
        operator: OperatorId,
        number: Caller,
        tenant: TenantId,
    ) -> Result<RecallAccepted, ApiError> {
        if !self.config.recall_trunks.contains_key(&tenant) {
            return Err(ApiError::bad_request(format!(
                "tenant {:?} has no trunk for recalls",
                tenant.as_str()
            )));
        }
        let recall = self
            .start_recall(now, operator, number, tenant)
            .map_err(api_error)?;
        // The operator's leg could not start (draining, no RTP port): the
        // router released the recall at once, and no phone is ringing.
        if !self.recalls.contains_key(&recall) {
            return Err(ApiError::unavailable(
                "the operator's phone could not be called",
            ));
        }
        Ok(RecallAccepted {
            id: self.public_id(CallRef::Recall(recall)),
        })
    }

    fn disposition(
        &mut self,
        call: &str,
        disposition: Disposition,
        note: Option<String>,
        by: &str,
    ) -> Result<(), ApiError> {
        let device = self.device_by_call_id(call);
        let tenant = device
            .and_then(|h| self.devices.get(&h))
            .map(|d| d.labels.tenant.clone())
            .or_else(|| self.live_recall_tenant(call))
            .or_else(|| self.callback(call).map(|c| c.labels.tenant.clone()))
            .or_else(|| self.recent.tenant(call).cloned())
            .ok_or_else(|| ApiError::not_found(format!("call {call}")))?;
        let data = json!({
            "tenant": tenant,
            "disposition": disposition.as_str(),
            "note": note,
            "by": by,
        });
        self.out.push_back(Output::Event(EventRecord {
            kind: CALL_DISPOSITION,
            subject: call.to_string(),
            data,
        }));
        // A verdict on a live unconfirmed alarm: no callback when it ends.
        if let Some(d) = device.and_then(|h| self.devices.get_mut(&h)) {
            d.served = true;
        }
        let disposition = disposition.as_str();
        self.resolve_callback(call, Resolution::Disposition { disposition }, by);
        Ok(())
    }

    /// The device call whose SIP Call-ID is `call_id` (an index lookup).
    pub(crate) fn device_by_call_id(&self, call_id: &str) -> Option<crate::call::CallHandle> {
        let handle = self.device_ids.get(call_id)?;
        let device = self.devices.get(handle)?;
        (device.labels.call_id.as_str() == call_id).then_some(*handle)
    }

    /// The tenant of the recall in progress whose public id is `call`.
    fn live_recall_tenant(&self, call: &str) -> Option<TenantId> {
        let mut live = self.recalls.iter();
        live.find(|(r, _)| self.public_id(CallRef::Recall(**r)) == call)
            .map(|(_, r)| r.tenant.clone())
    }

    /// A call's public id: its SIP Call-ID (a recall's: its operator leg's).
    pub(crate) fn public_id(&self, call: CallRef) -> String {
        let leg = match call {
            CallRef::Device(handle) => match self.devices.get(&handle) {
                Some(d) => return d.labels.call_id.to_string(),
                None => None,
            },
            CallRef::Recall(id) => self.recalls.get(&id).and_then(|r| r.operator_leg),
        };
        leg.and_then(|l| self.legs.get(&l))
            .and_then(|l| l.call_id.clone())
            .unwrap_or_else(|| call.to_string())
    }
}

/// A callback as a call entry: state `callback`; class `unconfirmed` with
/// what was heard, or a data alarm's class, protocol and fields.
fn callback_view(now: Instant, c: &Callback) -> CallView {
    let (heard, protocol, account, alarm) = match &c.detail {
        Detail::Heard(heard) => (Some(heard.clone()), None, None, None),
        Detail::Data(data) => (
            None,
            Some(data.protocol),
            Some(data.account.clone()),
            Some(data.fields.clone()),
        ),
    };
    CallView {
        id: c.labels.call_id.to_string(),
        tenant: c.labels.tenant.clone(),
        caller: c.labels.caller.clone(),
        class: c.class,
        event_code: c.event_code.clone(),
        state: CallState::Callback,
        queue: c.queue.clone(),
        operator: None,
        target: None,
        waited_s: now.saturating_duration_since(c.since).as_secs(),
        heard,
        protocol,
        account,
        alarm,
        recall: c.recall_number().map(|number| RecallTarget {
            number: number.clone(),
            tenant: c.labels.tenant.clone(),
        }),
    }
}

fn label(request: &ApiRequest) -> &'static str {
    match request {
        ApiRequest::ListOperators => "list_operators",
        ApiRequest::SetOperatorState { .. } => "set_operator_state",
        ApiRequest::ListCalls => "list_calls",
        ApiRequest::ListQueues => "list_queues",
        ApiRequest::Recall { .. } => "recall",
        ApiRequest::Disposition { .. } => "disposition",
        ApiRequest::SignIn { .. } => "sign_in",
        ApiRequest::UnitCommand { .. } => "unit_command",
    }
}

fn phase(p: CallPhase) -> CallState {
    match p {
        CallPhase::Waiting => CallState::Waiting,
        CallPhase::Ringing => CallState::Ringing,
        CallPhase::Connected => CallState::Connected,
        CallPhase::Forwarding => CallState::Forwarding,
    }
}

fn api_error(err: RoutingError) -> ApiError {
    match err {
        RoutingError::UnknownOperator { operator } => {
            ApiError::not_found(format!("operator {operator}"))
        }
        RoutingError::UnknownCall { call } => ApiError::not_found(format!("call {call}")),
        other => ApiError::conflict(other.to_string()),
    }
}

/// The router view's calls indexed once per request: by call, and the
/// ringing ones by queue (each queue's list was a scan of every call).
struct CallIndex<'a> {
    by_call: HashMap<CallRef, &'a routing::CallView>,
    ringing: HashMap<&'a routing::QueueId, Vec<&'a routing::CallView>>,
}

impl<'a> CallIndex<'a> {
    fn new(view: &'a routing::RouterView) -> Self {
        let by_call = view.calls.iter().map(|c| (c.call, c)).collect();
        let mut ringing: HashMap<_, Vec<_>> = HashMap::new();
        for c in view.calls.iter().filter(|c| c.state == CallPhase::Ringing) {
            if let Some(q) = c.queue.as_ref() {
                ringing.entry(q).or_default().push(c);
            }
        }
        Self { by_call, ringing }
    }
}

#[cfg(test)]
#[path = "api_index_tests.rs"]
mod index_tests;
