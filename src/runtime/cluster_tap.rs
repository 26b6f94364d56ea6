//! From the switchboard's events to the cluster's tickets, and from an
//! adopted ticket back to a data alarm.
//!
//! - `alarmgate.call.queued` / `alarmgate.call.callback`: a ticket is
//!   created (waiting) with what a survivor needs to list the alarm (tenant,
//!   caller, class, protocol, account, event code, decoded fields, recall);
//! - `alarmgate.call.offered` / `answered`: its phase (ringing, connected);
//! - `alarmgate.call.ended` / `callback_resolved`: it is deleted.
//!
//! An adopted ticket is listed here as a [`DataAlarm`] under its own id, so
//! the switchboard's `alarmgate.call.callback` for it finds the ticket
//! already owned and does not create it twice; its `alarm` fields carry
//! `cluster.adopted_from` (and `was_connected` when its audio was bridged to
//! an operator when the node died).

use std::time::Instant;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::cluster::TapEvent;
use super::sip_driver::Control;
use crate::alarm::report::{DataAlarm, Protocol};
use crate::alarm::EventCode;
use crate::cluster::records::{TicketPhase, TicketRecord, VERSION};
use crate::cluster::tickets::TicketEvent;
use crate::cluster::{ClusterNode, TicketId};
use crate::events::CALL_ENDED;
use crate::labels::{CallLabels, Caller, TenantId};
use crate::routing::{CallClass, OperatorId, CALL_ANSWERED, CALL_OFFERED, CALL_QUEUED};
use crate::sip::types::CallId;
use crate::switchboard::callbacks::{CALL_CALLBACK, CALL_CALLBACK_RESOLVED};

/// Whether the cluster needs events of `kind`.
pub fn tracked(kind: &str) -> bool {
    [
        CALL_QUEUED,
        CALL_OFFERED,
        CALL_ANSWERED,
        CALL_ENDED,
        CALL_CALLBACK,
        CALL_CALLBACK_RESOLVED,
    ]
    .contains(&kind)
}

/// The tap's bookkeeping.
#[derive(Debug, Default)]
pub struct TapState {
    /// Tickets adopted from dead nodes since start.
    adopted: u64,
}

impl TapState {
    /// One switchboard event.
    pub fn apply(&mut self, core: &mut ClusterNode, event: TapEvent, _now: Instant) {
        let ticket = TicketId::new(event.subject.clone());
        let operator = || event.data["operator"].as_str().map(OperatorId::new);
        match event.kind {
            k if k == CALL_QUEUED || k == CALL_CALLBACK => {
                if !core.owns(&ticket) {
                    core.open_ticket(record(ticket, &event.data, core));
                }
            }
            k if k == CALL_OFFERED => {
                if let Some(operator) = operator() {
                    core.set_ticket_phase(&ticket, TicketPhase::Ringing { operator });
                }
            }
            k if k == CALL_ANSWERED => {
                if let Some(operator) = operator() {
                    core.set_ticket_phase(&ticket, TicketPhase::Connected { operator });
                }
            }
            _ => core.close_ticket(&ticket),
        }
    }

    /// A ticket event from the core.
    pub async fn on_ticket(
        &mut self,
        _core: &mut ClusterNode,
        event: TicketEvent,
        control: &mpsc::Sender<Control>,
    ) {
        match event {
            TicketEvent::Adopted(record) => {
                self.adopted += 1;
                tracing::warn!(ticket = %record.ticket, phase = ?record.phase, adopted = self.adopted, "cluster: alarm of a dead node adopted, listed as a data alarm");
                let _ = control
                    .send(Control::DataAlarm(Box::new(data_alarm(*record))))
                    .await;
            }
            TicketEvent::TakenOver(ticket) => {
                tracing::warn!(%ticket, "cluster: this node's alarm was adopted by another node while this one was cut off");
            }
        }
    }
}

fn text(data: &Value, key: &str) -> String {
    data[key].as_str().unwrap_or_default().to_owned()
}

fn record(ticket: TicketId, data: &Value, core: &ClusterNode) -> TicketRecord {
    let caller = data["caller"]
        .as_str()
        .or(data["calling_number"].as_str())
        .unwrap_or_default()
        .to_owned();
    let class =
        serde_json::from_value::<CallClass>(data["class"].clone()).unwrap_or(CallClass::Emergency);
    TicketRecord {
        v: VERSION,
        ticket,
        holder: core.me().clone(),
        tenant: text(data, "tenant"),
        caller,
        class,
        protocol: serde_json::from_value::<Protocol>(data["protocol"].clone()).ok(),
        account: text(data, "account"),
        event_code: data["event_code"].as_str().map(str::to_owned),
        fields: data["alarm"].clone(),
        recall: data["recall"].as_str().map(str::to_owned),
        enqueued_ms: crate::clock::wall()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        phase: TicketPhase::Waiting,
    }
}

/// The data alarm a survivor lists for an adopted ticket.
pub fn data_alarm(record: TicketRecord) -> DataAlarm {
    let mut fields = match record.fields {
        Value::Object(map) => Value::Object(map),
        _ => json!({}),
    };
    if let TicketPhase::Adopted {
        from,
        was_connected,
    } = &record.phase
    {
        fields["cluster"] = json!({"adopted_from": from, "was_connected": was_connected});
    }
    let labels = CallLabels::new(
        CallId::new(record.ticket.as_str()),
        TenantId::new(record.tenant),
        Caller::new(record.caller.clone()),
    );
    DataAlarm {
        labels,
        protocol: record.protocol.unwrap_or(Protocol::ContactId),
        account: record.account,
        class: record.class,
        event_code: record.event_code.and_then(|c| EventCode::new(&c).ok()),
        fields,
        recall: record
            .recall
            .or(Some(record.caller))
            .filter(|c| !c.is_empty())
            .map(Caller::new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::NodeId;

    fn adopted() -> TicketRecord {
        TicketRecord {
            v: VERSION,
            ticket: TicketId::new("call-1@unit"),
            holder: NodeId::new("b"),
            tenant: "acme".into(),
            caller: "+4511223344".into(),
            class: CallClass::Emergency,
            protocol: Some(Protocol::ContactId),
            account: "1234".into(),
            event_code: Some("101".into()),
            fields: json!({"event": "Medical"}),
            recall: None,
            enqueued_ms: 0,
            phase: TicketPhase::Adopted {
                from: NodeId::new("a"),
                was_connected: true,
            },
        }
    }

    #[test]
    fn an_adopted_ticket_becomes_a_data_alarm_with_its_fields_and_a_recall_to_the_unit() {
        let alarm = data_alarm(adopted());
        assert_eq!(alarm.labels.call_id.as_str(), "call-1@unit");
        assert_eq!(alarm.labels.tenant.as_str(), "acme");
        assert_eq!(alarm.protocol, Protocol::ContactId);
        assert_eq!(
            alarm.event_code.map(|c| c.as_str().to_owned()),
            Some("101".into())
        );
        assert_eq!(alarm.fields["event"], "Medical");
        assert_eq!(alarm.fields["cluster"]["adopted_from"], "a");
        assert_eq!(alarm.fields["cluster"]["was_connected"], true);
        assert_eq!(
            alarm.recall.map(|c| c.as_str().to_owned()),
            Some("+4511223344".into())
        );
    }

    #[test]
    fn only_the_events_of_waiting_and_ringing_alarms_are_copied() {
        assert!(tracked(CALL_QUEUED) && tracked(CALL_ENDED) && tracked(CALL_CALLBACK_RESOLVED));
        assert!(!tracked("alarmgate.operator.state") && !tracked("alarmgate.call.started"));
    }
}
