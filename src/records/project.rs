//! The projection, pure: a journal event becomes [`Change`]s (which row,
//! what to do), and [`apply`] does one to a row. No SQLite here: the store
//! loads the rows, applies, and writes them back in one transaction.

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

/// Applies one change to its row (`row.call_id` is the change's).
pub fn apply(row: &mut CallRecord, change: &Change) {
    let at = change.at;
    row.received_ms = Some(row.received_ms.map_or(at, |r| r.min(at)));
    if row.first_seq == 0 {
        row.first_seq = change.seq;
    }
    row.last_seq = row.last_seq.max(change.seq);
    match &change.op {
        Op::Started { tenant, caller } => {
            names(row, tenant, caller);
            set_if_empty(&mut row.protocol, "voice");
        }
        Op::Alarm {
            tenant,
            caller,
            account,
            protocol,
            event,
            class,
        } => {
            names(row, tenant, caller);
            if row.protocol != "recall" {
                row.protocol.clone_from(protocol);
            }
            row.account = row.account.take().or_else(|| account.clone());
            row.events.push(event.clone());
            row.class.get_or_insert_with(|| class.to_string());
        }
        Op::Unconfirmed { tenant, caller } => {
            names(row, tenant, caller);
            row.class = Some("unconfirmed".into());
        }
        Op::Callback {
            tenant,
            caller,
            class,
            data,
        } => {
            names(row, tenant, caller);
            row.class = Some(class.clone());
            row.callback = true;
            if let Some((protocol, account, event)) = data {
                set_if_empty(&mut row.protocol, protocol);
                row.account = row.account.take().or_else(|| account.clone());
                if row.events.is_empty() {
                    row.events.extend(event.clone());
                }
            }
        }
        Op::Withdrawn => {
            row.ended_ms.get_or_insert(at);
            row.end_reason = Some("withdrawn".into());
        }
        Op::Queued {
            tenant,
            caller,
            class,
            queue,
        } => {
            names(row, tenant, caller);
            row.class = Some(class.clone())
                .filter(|c| !c.is_empty())
                .or(row.class.take());
            row.queue = Some(queue.clone()).filter(|q| !q.is_empty());
        }
        Op::Answered {
            tenant,
            caller,
            operator,
            recall,
        } => answered(row, at, tenant, caller, operator, *recall),
        Op::RecallOffered { tenant, caller } => recall_row(row, tenant, caller),
        Op::RecallConnected { tenant, caller } => {
            recall_row(row, tenant, caller);
            answered_at(row, at);
        }
        Op::Overflowed {
            from,
            to,
            target,
            reason,
        } => {
            row.overflows.push(format!("{from} -> {to} ({reason})"));
            if target.is_some() {
                row.forwarded_to.clone_from(target);
            }
        }
        Op::Ended {
            tenant,
            caller,
            reason,
        } => {
            names(row, tenant, caller);
            row.ended_ms = Some(at);
            row.end_reason = Some(reason.clone());
            row.talk_ms = row.answered_ms.map(|a| (at - a).max(0));
        }
        Op::Disposition {
            tenant,
            disposition,
            note,
            by,
        } => {
            names(row, tenant, "");
            row.disposition = Some(disposition.clone());
            row.note.clone_from(note);
            row.disposition_by = Some(by.clone());
        }
        Op::RecalledBy { recall_id } => row.recalled_by = Some(recall_id.clone()),
        Op::RecallOf {
            call_id,
            tenant,
            caller,
        } => {
            recall_row(row, tenant, caller);
            row.recall_of = Some(call_id.clone());
        }
        Op::Recording {
            path,
            sha256,
            duration_ms,
        } => {
            row.recording = Some(path.clone());
            row.recording_sha256.clone_from(sha256);
            row.recording_duration_ms = *duration_ms;
        }
        // The store merges the alias's row (it needs both rows).
        Op::Absorb { .. } => {}
    }
}

fn answered(
    row: &mut CallRecord,
    at: i64,
    tenant: &str,
    caller: &str,
    operator: &str,
    recall: bool,
) {
    names(row, tenant, caller);
    if recall {
        // The operator took their own call: the recall is answered when its unit is.
        recall_row(row, tenant, caller);
    } else {
        answered_at(row, at);
    }
    if !operator.is_empty() && !row.operators.iter().any(|o| o == operator) {
        row.operators.push(operator.to_string());
    }
}

/// The call was answered at `at` (the first answer counts).
fn answered_at(row: &mut CallRecord, at: i64) {
    if row.answered_ms.is_none() {
        row.answered_ms = Some(at);
        row.wait_ms = row.received_ms.map(|r| (at - r).max(0));
    }
}

fn recall_row(row: &mut CallRecord, tenant: &str, caller: &str) {
    names(row, tenant, caller);
    row.protocol = "recall".into();
    row.class = Some("recall".into());
}

fn names(row: &mut CallRecord, tenant: &str, caller: &str) {
    set_if_empty(&mut row.tenant, tenant);
    set_if_empty(&mut row.caller, caller);
}

fn set_if_empty(field: &mut String, value: &str) {
    if field.is_empty() && !value.is_empty() {
        *field = value.to_string();
    }
}
