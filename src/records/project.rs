//! The projection, pure: a journal event becomes [`Change`]s (which row,
//! what to do), and [`apply`] does one to a row. No SQLite here: the store
//! loads the rows, applies, and writes them back in one transaction.

pub use super::apply::apply;
use super::event::JournalEvent;
pub use super::record::CallRecord;
use serde_json::Value;

/// One change to one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The row's call id.
    pub call_id: String,
    /// The event's time, Unix milliseconds.
    pub at: i64,
    /// The event's journal seq.
    pub seq: u64,
    /// What to do.
    pub op: Op,
}

/// What an event does to a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The call was answered by the daemon (media open).
    Started { tenant: String, caller: String },
    /// An alarm decoded on the call.
    Alarm {
        tenant: String,
        caller: String,
        account: Option<String>,
        protocol: String,
        event: String,
        class: &'static str,
    },
    /// An alarm was attempted but never decoded.
    Unconfirmed { tenant: String, caller: String },
    /// The call entered a queue.
    Queued {
        tenant: String,
        caller: String,
        class: String,
        queue: String,
    },
    /// An operator answered (a recall: the operator's phone answered).
    Answered {
        tenant: String,
        caller: String,
        operator: String,
        recall: bool,
    },
    /// A recall's operator phone was offered the recall.
    RecallOffered { tenant: String, caller: String },
    /// A recall's unit answered: the talk time starts.
    RecallConnected { tenant: String, caller: String },
    /// The call overflowed.
    Overflowed {
        from: String,
        to: String,
        target: Option<String>,
        reason: String,
    },
    /// The call ended.
    Ended {
        tenant: String,
        caller: String,
        reason: String,
    },
    /// A disposition was given.
    Disposition {
        tenant: String,
        disposition: String,
        note: Option<String>,
        by: String,
    },
    /// The call was kept as a callback, or a data alarm listed for the
    /// operators (its `class`: `unconfirmed`, or the data alarm's).
    Callback {
        tenant: String,
        caller: String,
        class: String,
        /// A data alarm's protocol, account and event name (`supervision`: a unit's fail to report).
        data: Option<(String, Option<String>, Option<String>)>,
    },
    /// The unit withdrew its alarm (SCAIP `mty=RE`).
    Withdrawn,
    /// This callback was resolved by the recall `recall_id`.
    RecalledBy { recall_id: String },
    /// This recall resolved the callback `call_id`.
    RecallOf {
        call_id: String,
        tenant: String,
        caller: String,
    },
    /// A recording of the call was stored.
    Recording {
        path: String,
        sha256: Option<String>,
        duration_ms: Option<i64>,
    },
    /// The row named `alias` (a SCAIP alarm) belongs to this call (its voice
    /// call): the store merges it into this one with [`absorb`] and sends
    /// the alias's later events here.
    Absorb { alias: String },
}

/// The row changes one event means; empty for events that are not about a call.
pub fn changes(e: &JournalEvent) -> Vec<Change> {
    let change = |call_id: &str, op| Change {
        call_id: call_id.to_string(),
        at: e.time_ms,
        seq: e.seq,
        op,
    };
    let one = |op| vec![change(&e.subject, op)];
    let (tenant, caller) = (e.string("tenant"), e.string("calling_number"));
    match e.kind.as_str() {
        "alarmgate.call.started" => one(Op::Started { tenant, caller }),
        "alarmgate.alarm.received" => one(alarm(e, tenant, caller)),
        "alarmgate.alarm.unconfirmed" => one(Op::Unconfirmed { tenant, caller }),
        "alarmgate.call.queued" => one(Op::Queued {
            tenant,
            caller: e.string("caller"),
            class: e.string("class"),
            queue: e.string("queue"),
        }),
        "alarmgate.call.offered" if e.is_recall() => one(Op::RecallOffered {
            tenant,
            caller: e.string("calling_number"),
        }),
        "alarmgate.call.answered" => one(Op::Answered {
            tenant,
            caller,
            operator: e.string("operator"),
            recall: e.is_recall(),
        }),
        "alarmgate.call.overflowed" => one(overflowed(e)),
        "alarmgate.recall.connected" => one(Op::RecallConnected { tenant, caller }),
        "alarmgate.call.ended" | "alarmgate.recall.ended" => one(Op::Ended {
            tenant,
            caller,
            reason: e.string("reason"),
        }),
        "alarmgate.call.disposition" => one(Op::Disposition {
            tenant,
            disposition: e.string("disposition"),
            note: e.str("note").map(str::to_string),
            by: e.string("by"),
        }),
        "alarmgate.call.callback" => one(Op::Callback {
            tenant,
            caller,
            class: e.str("class").unwrap_or("unconfirmed").to_string(),
            data: listed_data_alarm(e),
        }),
        "alarmgate.alarm.withdrawn" => one(Op::Withdrawn),
        "alarmgate.call.callback_resolved" => resolved(e, &change, tenant, caller),
        "alarmgate.recording.stored" => match e.str("path") {
            Some(path) => one(Op::Recording {
                path: path.to_string(),
                sha256: e.str("sha256").map(str::to_string),
                duration_ms: e
                    .data
                    .get("duration_s")
                    .and_then(Value::as_f64)
                    .map(|s| (s * 1000.0).round() as i64),
            }),
            None => Vec::new(),
        },
        "alarmgate.alarm.linked" => match e.str("call_id") {
            Some(call) if call != e.subject => vec![change(
                call,
                Op::Absorb {
                    alias: e.subject.clone(),
                },
            )],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A listed data alarm's protocol, account and event name (`None` for an
/// unconfirmed call's callback, which has no protocol).
fn listed_data_alarm(e: &JournalEvent) -> Option<(String, Option<String>, Option<String>)> {
    let protocol = e.str("protocol")?.to_string();
    let event = e
        .data
        .get("alarm")
        .and_then(|a| a.get("event_name"))
        .and_then(Value::as_str);
    Some((
        protocol,
        e.str("account").map(str::to_string),
        event.map(str::to_string),
    ))
}

fn alarm(e: &JournalEvent, tenant: String, caller: String) -> Op {
    let code = [
        e.str("qualifier").unwrap_or(""),
        e.str("event_code").unwrap_or(""),
    ]
    .concat();
    // A DC-09 SIA-DCS event without a Contact ID twin: its SIA code.
    let code = match (code.is_empty(), e.str("sia_code")) {
        (true, Some(sia)) => format!("SIA {sia}"),
        _ => code,
    };
    let event = match e.str("event_name").or_else(|| e.str("text")) {
        Some(name) => format!("{code} {name}").trim().to_string(),
        None => code,
    };
    let class = match e.str("classification") {
        Some("technical" | "test" | "cancel") => "technical",
        _ => "voice",
    };
    let protocol = e.str("protocol").unwrap_or("contact_id").to_string();
    Op::Alarm {
        tenant,
        caller,
        account: e.str("account").map(str::to_string),
        protocol,
        event,
        class,
    }
}

fn place(v: Option<&Value>) -> (String, Option<String>) {
    let kind = v
        .and_then(|v| v.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let id = v
        .and_then(|v| v.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    (
        format!("{kind}:{id}"),
        (kind == "target").then(|| id.to_string()),
    )
}

fn overflowed(e: &JournalEvent) -> Op {
    let (from, _) = place(e.data.get("from"));
    let (to, target) = place(e.data.get("to"));
    Op::Overflowed {
        from,
        to,
        target,
        reason: e.string("reason"),
    }
}

fn resolved(
    e: &JournalEvent,
    change: &dyn Fn(&str, Op) -> Change,
    tenant: String,
    caller: String,
) -> Vec<Change> {
    match e.str("recall_id") {
        Some(recall) if e.str("resolution") == Some("recalled") => vec![
            change(
                &e.subject,
                Op::RecalledBy {
                    recall_id: recall.to_string(),
                },
            ),
            change(
                recall,
                Op::RecallOf {
                    call_id: e.subject.clone(),
                    tenant,
                    caller,
                },
            ),
        ],
        _ => Vec::new(),
    }
}
