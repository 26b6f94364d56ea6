//! The event schema (`schema/event.v1.schema.json`, compiled in) and a small
//! checker for the JSON Schema keywords it uses: `type`, `required`,
//! `properties`, `const`, `enum`, `minLength`, `format` (`uuid` as a UUIDv7,
//! `date-time` as our RFC 3339 form), `allOf`, `if`/`then` and local `$ref`.
//! Any other keyword in the file is an error, so the checker cannot silently
//! skip a rule someone adds. The tests hold every event the daemon writes to it.

use serde_json::Value;

/// The schema text, version 1.
pub const EVENT_SCHEMA_V1: &str = include_str!("../../schema/event.v1.schema.json");

const ANNOTATIONS: &[&str] = &["$schema", "$id", "title", "description", "$defs"];

/// Every way `event` breaks the v1 schema, as `path: problem` lines.
pub fn validate(event: &Value) -> Vec<String> {
    let schema: Value = match serde_json::from_str(EVENT_SCHEMA_V1) {
        Ok(s) => s,
        Err(e) => return vec![format!("schema: {e}")],
    };
    let mut errors = Vec::new();
    check(&schema, &schema, event, "$", &mut errors);
    errors
}

fn check(root: &Value, schema: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
    let Some(rules) = schema.as_object() else {
        return out.push(format!("{path}: schema is not an object"));
    };
    for (key, rule) in rules {
        match key.as_str() {
            "type" => check_type(rule, v, path, out),
            "required" => {
                for name in rule.as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap_or_default();
                    if v.is_object() && v.get(name).is_none() {
                        out.push(format!("{path}: missing {name}"));
                    }
                }
            }
            "properties" => {
                for (name, sub) in rule.as_object().into_iter().flatten() {
                    if let Some(field) = v.get(name) {
                        check(root, sub, field, &format!("{path}.{name}"), out);
                    }
                }
            }
            "const" if v != rule => out.push(format!("{path}: {v} is not {rule}")),
            "enum" if !rule.as_array().is_some_and(|a| a.contains(v)) => {
                out.push(format!("{path}: {v} is not one of {rule}"))
            }
            "minLength" => {
                let min = rule.as_u64().unwrap_or(0) as usize;
                if v.as_str().is_some_and(|s| s.chars().count() < min) {
                    out.push(format!("{path}: shorter than {min}"));
                }
            }
            "format" => check_format(rule.as_str().unwrap_or_default(), v, path, out),
            "allOf" => {
                for sub in rule.as_array().into_iter().flatten() {
                    check(root, sub, v, path, out);
                }
            }
            "if" => {
                let mut probe = Vec::new();
                check(root, rule, v, path, &mut probe);
                if let (true, Some(then)) = (probe.is_empty(), rules.get("then")) {
                    check(root, then, v, path, out);
                }
            }
            "$ref" => match resolve(root, rule.as_str().unwrap_or_default()) {
                Some(sub) => check(root, sub, v, path, out),
                None => out.push(format!("{path}: unresolved $ref {rule}")),
            },
            "then" | "const" | "enum" => {}
            k if ANNOTATIONS.contains(&k) => {}
            k => out.push(format!(
                "{path}: schema keyword {k} is not supported by the checker"
            )),
        }
    }
}

fn check_type(rule: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
    let ok = |t: &str| match t {
        "object" => v.is_object(),
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "array" => v.is_array(),
        _ => false,
    };
    let fine = match rule {
        Value::String(t) => ok(t),
        Value::Array(ts) => ts.iter().any(|t| ok(t.as_str().unwrap_or_default())),
        _ => false,
    };
    if !fine {
        out.push(format!("{path}: {v} is not of type {rule}"));
    }
}

fn check_format(format: &str, v: &Value, path: &str, out: &mut Vec<String>) {
    let Some(s) = v.as_str() else { return };
    let fine = match format {
        "uuid" => super::uuid_v7_millis(s).is_some() && is_uuid(s),
        "date-time" => is_rfc3339_ms(s),
        _ => false,
    };
    if !fine {
        out.push(format!("{path}: {s:?} is not a {format}"));
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn is_rfc3339_ms(s: &str) -> bool {
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    s.len() == shape.len()
        && s.bytes().zip(shape.bytes()).all(|(c, p)| match p {
            b'd' => c.is_ascii_digit(),
            p => c == p,
        })
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::classify::AlarmClass;
    use crate::alarm::pipeline::MessageForensics;
    use crate::events;
    use serde_json::json;
    use std::time::{Duration, UNIX_EPOCH};

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn every_event_the_daemon_writes_is_valid() {
        let message = crate::alarm::contact_id::parse("1234181602000002").unwrap();
        let labels = crate::labels::CallLabels::new(
            crate::sip::types::CallId::new("c1@unit"),
            "demo".into(),
            "4512345678".into(),
        );
        let forensics = MessageForensics {
            handshake_to_first_digit: None,
            message_duration: Duration::from_millis(1700),
            digits: Vec::new(),
            level_dbm0: None,
            twist_db: None,
            snr_db: None,
            packets_lost: 0,
            retries: 0,
            checksum_failures: 0,
        };
        let alarm = events::contact_id_alarm(
            &labels,
            &message,
            "1234181602000002",
            AlarmClass::Test,
            events::forensics_json(&forensics),
        );
        let r = crate::alarm::core::store_record(&alarm);
        let time = UNIX_EPOCH + Duration::from_secs(1_795_339_246);
        let received = parse(&events::record("n1", &r.subject, r.kind, time, 42, r.data));
        let acked = parse(&super::super::emit::alarm_acknowledged(
            "n1",
            "c1@unit",
            "demo",
            "4512345678",
            received["id"].as_str(),
            false,
            120,
        ));
        let now = crate::clock::wall();
        let started = parse(&events::record(
            "n1",
            "c1@unit",
            events::CALL_STARTED,
            now,
            7,
            json!({"tenant": "demo", "calling_number": "45", "codec": "Pcma", "telephone_event": true}),
        ));
        let ended = parse(&events::record(
            "n1",
            "c1@unit",
            events::CALL_ENDED,
            now,
            8,
            json!({"reason": "settled", "duration_ms": 5200, "answered": false}),
        ));
        for event in [received, acked, started, ended] {
            assert_eq!(validate(&event), Vec::<String>::new(), "{event}");
        }
    }

    #[test]
    fn broken_events_are_caught() {
        let good = parse(&events::record(
            "n1",
            "c1",
            events::CALL_ENDED,
            crate::clock::wall(),
            1,
            json!({"reason": "remote_bye", "duration_ms": 1, "answered": true, "tenant": "demo", "calling_number": "1"}),
        ));
        assert!(validate(&good).is_empty());
        let mut bad = good.clone();
        bad["data"]["reason"] = json!("hung");
        bad["id"] = json!("not-a-uuid");
        bad["time"] = json!("2026-11-22 09:20:46");
        bad.as_object_mut().unwrap().remove("subject");
        let errors = validate(&bad);
        for want in ["$.data.reason", "$.id", "$.time", "missing subject"] {
            assert!(
                errors.iter().any(|e| e.contains(want)),
                "{want}: {errors:?}"
            );
        }
        let mut no_tenant = parse(&super::super::emit::alarm_acknowledged(
            "n1", "c", "demo", "1", None, true, 1,
        ));
        let mut unknown = good.clone();
        unknown["type"] = json!("alarmgate.call.exploded");
        assert!(validate(&unknown).iter().any(|e| e.starts_with("$.type")));
        no_tenant["data"].as_object_mut().unwrap().remove("tenant");
        assert!(validate(&no_tenant)
            .iter()
            .any(|e| e.contains("missing tenant")));
    }
}
