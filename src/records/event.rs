//! One journal record as the projection reads it: the CloudEvents envelope
//! fields it needs (type, subject, time) and the `data` object.

use serde_json::Value;

/// A parsed journal event.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEvent {
    /// The journal sequence number.
    pub seq: u64,
    /// The CloudEvents `type` (`alarmgate.call.started`, ...).
    pub kind: String,
    /// The CloudEvents `subject`: the call's id for call events.
    pub subject: String,
    /// The event time, Unix milliseconds.
    pub time_ms: i64,
    /// The CloudEvents `data`.
    pub data: Value,
}

impl JournalEvent {
    /// Parses a journal payload; `None` for a record that is not an event
    /// with a type, a subject and an RFC 3339 time (it is skipped).
    pub fn parse(seq: u64, payload: &[u8]) -> Option<Self> {
        let mut v: Value = serde_json::from_slice(payload).ok()?;
        let kind = v.get("type")?.as_str()?.to_string();
        let subject = v.get("subject")?.as_str()?.to_string();
        let time: jiff::Timestamp = v.get("time")?.as_str()?.parse().ok()?;
        let data = v.get_mut("data").map(Value::take).unwrap_or(Value::Null);
        Some(Self {
            seq,
            kind,
            subject,
            time_ms: time.as_millisecond(),
            data,
        })
    }

    /// A string field of `data`, if present and not empty.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.data
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A string field of `data` as an owned string ("" when absent).
    pub fn string(&self, key: &str) -> String {
        self.str(key).unwrap_or_default().to_string()
    }

    /// True when the event is about a recall (`data.call` = `recall-N`).
    pub fn is_recall(&self) -> bool {
        self.data
            .get("call")
            .and_then(Value::as_str)
            .is_some_and(|c| c.starts_with("recall-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_envelope_and_skips_what_is_not_an_event() {
        let ok = br#"{"type":"alarmgate.call.started","subject":"c1","time":"2026-11-22T09:20:46.250Z","data":{"tenant":"demo"}}"#;
        let e = JournalEvent::parse(7, ok).expect("an event");
        assert_eq!(
            (e.seq, e.kind.as_str(), e.subject.as_str()),
            (7, "alarmgate.call.started", "c1")
        );
        assert_eq!(e.time_ms, 1_795_339_246_250);
        assert_eq!(e.str("tenant"), Some("demo"));
        assert!(JournalEvent::parse(1, b"not json").is_none());
        assert!(
            JournalEvent::parse(1, br#"{"type":"x","subject":"c","time":"yesterday"}"#).is_none()
        );
    }
}
