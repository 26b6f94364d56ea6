//! A recall's own events, for its call record (issue 12): the routing
//! events say when the operator's phone rang and answered, these say when
//! the citizen's unit answered (`alarmgate.recall.connected`, the start of
//! the talk time) and when and why the recall ended
//! (`alarmgate.recall.ended`, also for a recall the operator never answered
//! or whose unit never answered). Both name the recall by its public id,
//! the operator leg's Call-ID, as dispositions and the callback list do.

use super::legs::Recall;
use super::{EventRecord, Output, Switchboard};
use crate::routing::{CallRef, RecallId};
use serde_json::json;

/// The journal type of a recall whose unit answered.
pub const RECALL_CONNECTED: &str = "alarmgate.recall.connected";
/// The journal type of a recall that ended.
pub const RECALL_ENDED: &str = "alarmgate.recall.ended";

/// How a recall ended, in `alarmgate.recall.ended`'s `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecallEnd {
    /// The operator's leg ended (the operator hung up, or it failed).
    OperatorLeg,
    /// The unit's leg ended (the citizen hung up, or never answered: see `connected`).
    UnitLeg,
    /// The router released it: the operator's phone did not answer.
    Released,
}

impl RecallEnd {
    /// Its name in the event.
    pub fn as_str(self) -> &'static str {
        match self {
            RecallEnd::OperatorLeg => "operator_leg_ended",
            RecallEnd::UnitLeg => "unit_leg_ended",
            RecallEnd::Released => "operator_not_answering",
        }
    }
}

impl Switchboard {
    /// The recall's unit answered: its talk time starts.
    pub(crate) fn recall_connected(&mut self, recall: RecallId) {
        let subject = self.public_id(CallRef::Recall(recall));
        let Some(r) = self.recalls.get_mut(&recall) else {
            return;
        };
        r.connected = true;
        let data = json!({
            "tenant": r.tenant.as_str(),
            "calling_number": r.number.as_str(),
            "call": CallRef::Recall(recall).to_string(),
        });
        self.out.push_back(Output::Event(EventRecord {
            kind: RECALL_CONNECTED,
            subject,
            data,
        }));
    }

    /// The recall `r` (public id `subject`) ended.
    pub(crate) fn recall_ended(
        &mut self,
        recall: RecallId,
        subject: String,
        r: &Recall,
        end: RecallEnd,
    ) {
        let data = json!({
            "tenant": r.tenant.as_str(),
            "calling_number": r.number.as_str(),
            "call": CallRef::Recall(recall).to_string(),
            "reason": end.as_str(),
            "connected": r.connected,
        });
        self.out.push_back(Output::Event(EventRecord {
            kind: RECALL_ENDED,
            subject,
            data,
        }));
    }
}
