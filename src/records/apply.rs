//! Applying one [`Change`] to its row: pure, the other half of the
//! projection ([`super::project`] turns events into changes).

use super::project::{Change, Op};
use super::CallRecord;

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
