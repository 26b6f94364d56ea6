//! The cluster's invariants, checked over the journals of every node
//! (issue 13): no operator with two calls, no call offered to two operators
//! at once, no queued alarm forgotten. Pure: it reads journal records
//! (CloudEvents JSON as `harness::journal_records` returns them), merged by
//! time (the nodes of a test share one clock).
//!
//! Calls are named `(node, call)`: call numbers are per node. An operator is
//! busy from an offer until its state leaves `ringing`/`on_call`; a call is
//! settled by an answer, an overflow, or (`settled_elsewhere`) a takeover
//! the test knows of (the failover of a dead node's tickets).

use alarmgate::routing::{
    CALL_ANSWERED, CALL_OFFERED, CALL_OVERFLOWED, CALL_QUEUED, OPERATOR_STATE,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One node's journal.
pub(crate) struct NodeJournal<'a> {
    pub(crate) node: &'a str,
    pub(crate) records: &'a [Value],
}

/// A call on a node.
type CallKey = (String, String);

/// Every violation found (empty: the invariants hold).
pub(crate) fn violations(
    journals: &[NodeJournal<'_>],
    settled_elsewhere: &BTreeSet<CallKey>,
) -> Vec<String> {
    let mut events: Vec<(&str, &str, &Value)> = journals
        .iter()
        .flat_map(|j| {
            j.records
                .iter()
                .map(move |r| (r["time"].as_str().unwrap_or(""), j.node, r))
        })
        .collect();
    events.sort_by(|a, b| a.0.cmp(b.0));
    let mut state = Checker::default();
    for (time, node, record) in events {
        state.step(time, node, record);
    }
    state.finish(settled_elsewhere)
}

#[derive(Default)]
struct Checker {
    /// Operator → the call it holds (offered or connected).
    holding: BTreeMap<String, CallKey>,
    /// Call → the operator it is offered to.
    offered: BTreeMap<CallKey, String>,
    /// Calls queued and not yet answered or overflowed.
    waiting: BTreeSet<CallKey>,
    found: Vec<String>,
}

impl Checker {
    fn step(&mut self, time: &str, node: &str, r: &Value) {
        let data = &r["data"];
        let call = (
            node.to_owned(),
            data["call"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| data["call"].to_string()),
        );
        match r["type"].as_str().unwrap_or("") {
            t if t == CALL_QUEUED => {
                self.waiting.insert(call);
            }
            t if t == CALL_OFFERED => {
                self.offer(time, call, data["operator"].as_str().unwrap_or(""))
            }
            t if t == CALL_ANSWERED || t == CALL_OVERFLOWED => {
                self.waiting.remove(&call);
            }
            t if t == OPERATOR_STATE => self.operator_state(data),
            _ => {}
        }
    }

    fn offer(&mut self, time: &str, call: CallKey, op: &str) {
        if let Some(held) = self.holding.get(op).filter(|held| **held != call) {
            self.found.push(format!(
                "{time}: operator {op} offered {call:?} while holding {held:?}"
            ));
        }
        if let Some(other) = self.offered.get(&call).filter(|other| *other != op) {
            self.found.push(format!(
                "{time}: {call:?} offered to {op} while offered to {other}"
            ));
        }
        self.holding.insert(op.to_owned(), call.clone());
        self.offered.insert(call, op.to_owned());
    }

    /// An operator leaving `ringing`/`on_call` frees it and its call.
    fn operator_state(&mut self, data: &Value) {
        let op = data["operator"].as_str().unwrap_or("");
        let to = data["to"]["state"].as_str().unwrap_or("");
        let busy = to == "ringing" || to == "on_call";
        if !busy {
            if let Some(call) = self.holding.remove(op) {
                self.offered.remove(&call);
            }
        }
    }

    fn finish(mut self, settled_elsewhere: &BTreeSet<CallKey>) -> Vec<String> {
        for call in self.waiting.difference(settled_elsewhere) {
            self.found.push(format!(
                "{call:?} queued and never answered, overflowed or taken over"
            ));
        }
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(time: &str, kind: &str, data: Value) -> Value {
        json!({"time": time, "type": kind, "data": data})
    }

    fn busy(op: &str, call: &str, time: &str) -> Value {
        ev(
            time,
            OPERATOR_STATE,
            json!({"operator": op, "from": {"state": "available"}, "to": {"state": "ringing", "call": call}}),
        )
    }

    #[test]
    fn cluster_invariants_catch_an_operator_offered_by_two_nodes() {
        let a = [
            ev("2026-01-01T00:00:01Z", CALL_QUEUED, json!({"call": "1"})),
            ev(
                "2026-01-01T00:00:02Z",
                CALL_OFFERED,
                json!({"call": "1", "operator": "op1"}),
            ),
            busy("op1", "1", "2026-01-01T00:00:02Z"),
            ev(
                "2026-01-01T00:00:04Z",
                CALL_ANSWERED,
                json!({"call": "1", "operator": "op1"}),
            ),
        ];
        let b = [
            ev("2026-01-01T00:00:01Z", CALL_QUEUED, json!({"call": "1"})),
            ev(
                "2026-01-01T00:00:03Z",
                CALL_OFFERED,
                json!({"call": "1", "operator": "op1"}),
            ),
        ];
        let v = violations(
            &[
                NodeJournal {
                    node: "a",
                    records: &a,
                },
                NodeJournal {
                    node: "b",
                    records: &b,
                },
            ],
            &BTreeSet::new(),
        );
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].contains("operator op1 offered"), "{v:?}");
        assert!(v[1].contains("never answered"), "{v:?}");
    }

    #[test]
    fn cluster_invariants_hold_for_sequential_offers_and_a_takeover() {
        let a = [
            ev("2026-01-01T00:00:01Z", CALL_QUEUED, json!({"call": "1"})),
            ev(
                "2026-01-01T00:00:02Z",
                CALL_OFFERED,
                json!({"call": "1", "operator": "op1"}),
            ),
            busy("op1", "1", "2026-01-01T00:00:02Z"),
            ev(
                "2026-01-01T00:00:07Z",
                OPERATOR_STATE,
                json!({"operator": "op1", "to": {"state": "available"}}),
            ),
            ev(
                "2026-01-01T00:00:07Z",
                CALL_OFFERED,
                json!({"call": "1", "operator": "op2"}),
            ),
            ev(
                "2026-01-01T00:00:08Z",
                CALL_ANSWERED,
                json!({"call": "1", "operator": "op2"}),
            ),
        ];
        let b = [
            ev("2026-01-01T00:00:03Z", CALL_QUEUED, json!({"call": "1"})),
            ev(
                "2026-01-01T00:00:09Z",
                CALL_OFFERED,
                json!({"call": "1", "operator": "op1"}),
            ),
        ];
        let taken = BTreeSet::from([("b".to_owned(), "1".to_owned())]);
        let v = violations(
            &[
                NodeJournal {
                    node: "a",
                    records: &a,
                },
                NodeJournal {
                    node: "b",
                    records: &b,
                },
            ],
            &taken,
        );
        assert_eq!(v, Vec::<String>::new());
    }
}
