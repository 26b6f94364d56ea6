//! Merging two rows of one call: a SCAIP alarm (its own row, keyed by the
//! alarm's id, from `alarmgate.alarm.received`) and the voice call it was
//! linked to (`alarmgate.alarm.linked`, keyed by the voice call's
//! Call-ID) are one citizen call, so one row. Pure: the store loads both,
//! calls [`absorb`], deletes the alias's row and remembers the alias.

use super::CallRecord;

/// Merges `alias` (the data alarm's row) into `row` (the voice call's).
/// The alarm came first: its time, protocol, account and decoded events
/// lead; what the voice call already knows (answer, operators, end) stays.
pub fn absorb(row: &mut CallRecord, alias: CallRecord) {
    row.received_ms = min_some(row.received_ms, alias.received_ms);
    row.first_seq = match (row.first_seq, alias.first_seq) {
        (0, b) => b,
        (a, 0) => a,
        (a, b) => a.min(b),
    };
    row.last_seq = row.last_seq.max(alias.last_seq);
    if let Some(answered) = row.answered_ms {
        row.wait_ms = row.received_ms.map(|r| (answered - r).max(0));
    }
    if row.tenant.is_empty() {
        row.tenant = alias.tenant;
    }
    if row.caller.is_empty() {
        row.caller = alias.caller;
    }
    if row.protocol != "recall" && !alias.protocol.is_empty() {
        row.protocol = alias.protocol;
    }
    row.account = row.account.take().or(alias.account);
    let mut events = alias.events;
    events.append(&mut row.events);
    row.events = events;
    row.class = row.class.take().or(alias.class);
    row.disposition = row.disposition.take().or(alias.disposition);
    row.note = row.note.take().or(alias.note);
    row.disposition_by = row.disposition_by.take().or(alias.disposition_by);
    row.callback |= alias.callback;
}

fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
