//! Events out of the node: the journal forwarded to NATS JetStream, and the
//! journal read back by consumers without a bus.
//!
//! The journal ([`crate::journal`]) is the embedded default and the source of
//! truth: every event is appended and synced there first, with or without a
//! bus. With `[bus]` configured, a [`forwarder`] task follows the journal in
//! order from the last acknowledged record and publishes each to JetStream:
//!
//! - subject `alarmgate.<tenant>.<type without "alarmgate.">`, e.g.
//!   `alarmgate.demo.alarm.received` (events without a tenant use `_`);
//! - header `Nats-Msg-Id` = the event id (a UUIDv7), so a record sent twice
//!   (a retry after a lost ack, a restart before the position was saved) is
//!   stored once by the server's duplicate window; header
//!   `Alarmgate-Journal-Seq` = the record's journal seq;
//! - confirmed by the server's ack, up to `max_inflight` in flight; on any
//!   error the forwarder backs off (doubling to `retry_max_ms`) and resends
//!   from the first unacknowledged record, so the stream gets every record
//!   in journal order;
//! - the acknowledged position is kept in `bus-acked.json` beside the
//!   segments ([`ackfile`]) and forwarding resumes after it at start.
//!
//! The forwarder only reads the journal: a bus outage never delays an append,
//! a kissoff or a call. The backlog is the journal itself and drains when the
//! bus returns.
//!
//! Consumers without a bus: `GET /api/v1/events` ([`sse`], server-sent
//! events, live, `since=<id>` or `Last-Event-ID` to resume) and
//! `alarmgate events tail|replay` ([`cli`]).
//!
//! | file | role |
//! |---|---|
//! | `tail.rs` | a resumable, CRC-checking reader that follows the journal |
//! | `since.rs` | where `since=<id>` resumes: segments sought by their first event's time |
//! | `ackfile.rs` | the persisted acknowledged position |
//! | `nats.rs` | the JetStream link: connect, create or check the stream, publish |
//! | `emit.rs` | call events (`call.started`, `call.ended`) and `alarm.acknowledged` into the journal |
//! | `forwarder.rs` | the task: journal → JetStream, in order, with backoff and metrics |
//! | `schema.rs` | the event JSON Schema (`schema/event.v1.schema.json`) and a checker for it |
//! | `sse.rs` | `GET /api/v1/events` |
//! | `cli.rs` | `alarmgate events tail` and `alarmgate events replay` |

pub mod ackfile;
pub mod cli;
pub mod emit;
pub mod forwarder;
pub mod nats;
pub mod schema;
pub mod since;
pub mod sse;
pub mod tail;

pub use forwarder::Forwarder;
pub use since::seq_after_id;
pub use tail::Tail;

use serde::Deserialize;

/// The subject prefix of every event, and the stream's subject filter.
pub const SUBJECT_PREFIX: &str = "alarmgate";

/// What the forwarder and the readers need from a record: its id, type and tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// The CloudEvents `id` (a UUIDv7).
    pub id: String,
    /// The CloudEvents `type`, such as `alarmgate.alarm.received`.
    pub kind: String,
    /// `data.tenant`, when the event belongs to one.
    pub tenant: Option<String>,
    /// `data.operator`, when the event is about one (its state).
    pub operator: Option<String>,
}

#[derive(Deserialize)]
struct RawMeta<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    data: Option<RawData<'a>>,
}

#[derive(Deserialize)]
struct RawData<'a> {
    #[serde(default, borrow)]
    tenant: Option<std::borrow::Cow<'a, str>>,
    /// Any JSON: only a string is an operator (the envelope never fails on it).
    #[serde(default)]
    operator: Option<serde_json::Value>,
}

impl EventMeta {
    /// Reads the envelope of a journal record; None when it is not a CloudEvent.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let raw: RawMeta<'_> = serde_json::from_slice(payload).ok()?;
        if raw.id.is_empty() || raw.kind.is_empty() {
            return None;
        }
        Some(Self {
            id: raw.id.into_owned(),
            kind: raw.kind.into_owned(),
            tenant: raw
                .data
                .as_ref()
                .and_then(|d| d.tenant.clone())
                .map(|t| t.into_owned()),
            operator: raw
                .data
                .and_then(|d| d.operator)
                .and_then(|o| o.as_str().map(str::to_string)),
        })
    }

    /// The NATS subject: `alarmgate.<tenant>.<type without "alarmgate.">`.
    /// Characters that NATS subjects reserve (`.`, `*`, `>`, white space) in
    /// the tenant become `_`.
    pub fn subject(&self) -> String {
        let tenant = match self.tenant.as_deref() {
            Some(t) if !t.is_empty() => token(t),
            _ => "_".to_string(),
        };
        let kind = self
            .kind
            .strip_prefix("alarmgate.")
            .unwrap_or(&self.kind)
            .split('.')
            .map(token)
            .collect::<Vec<_>>()
            .join(".");
        format!("{SUBJECT_PREFIX}.{tenant}.{kind}")
    }

    /// The Unix milliseconds in the id (UUIDv7), when it is one.
    pub fn unix_ms(&self) -> Option<u64> {
        uuid_v7_millis(&self.id)
    }
}

fn token(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| match c {
            '.' | '*' | '>' => '_',
            c if c.is_whitespace() || c.is_control() => '_',
            c => c,
        })
        .collect();
    if t.is_empty() {
        "_".into()
    } else {
        t
    }
}

/// The 48-bit Unix millisecond timestamp at the front of a UUIDv7.
pub fn uuid_v7_millis(id: &str) -> Option<u64> {
    let hex: String = id.chars().filter(|c| *c != '-').take(12).collect();
    if hex.len() != 12 || id.as_bytes().get(14) != Some(&b'7') {
        return None;
    }
    u64::from_str_radix(&hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_subject_and_time() {
        let id = crate::events::uuid_v7(1_795_339_246_123, 99);
        let json = format!(
            r#"{{"specversion":"1.0","id":"{id}","type":"alarmgate.alarm.received","data":{{"tenant":"oslo.kommune *x"}}}}"#
        );
        let meta = EventMeta::parse(json.as_bytes()).unwrap();
        assert_eq!(meta.subject(), "alarmgate.oslo_kommune__x.alarm.received");
        assert_eq!(meta.unix_ms(), Some(1_795_339_246_123));
        let no_tenant = br#"{"id":"x","type":"alarmgate.operator.state","data":{}}"#;
        let meta = EventMeta::parse(no_tenant).unwrap();
        assert_eq!(meta.subject(), "alarmgate._.operator.state");
        assert_eq!(meta.unix_ms(), None);
        assert!(EventMeta::parse(b"not json").is_none());
        assert!(EventMeta::parse(br#"{"id":"","type":"t"}"#).is_none());
    }
}
