//! Event records as the rest of the centre will read them: CloudEvents 1.0
//! in JSON (`specversion`, `id`, `source`, `type`, `time`, `subject`, `data`).
//!
//! Written today: `alarmgate.alarm.received` (appended to the journal before
//! the kissoff), `alarmgate.alarm.acknowledged`, `alarmgate.call.started` and
//! `alarmgate.call.ended` (from the runtime, see `crate::bus::emit`). Every
//! event shares the envelope built by [`record`]; `schema/event.v1.schema.json`
//! is its JSON Schema, version [`SCHEMA_VERSION`], named in `dataschema`.
//!
//! Ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds first, so ids sort
//! by time, then random bits. Times are RFC 3339 UTC with milliseconds.

use crate::alarm::classify::AlarmClass;
use crate::alarm::contact_id::ContactIdMessage;
use crate::alarm::core::{DecodedAlarm, Report};
use crate::alarm::pipeline::MessageForensics;
use crate::alarm::report::Protocol;
use crate::labels::CallLabels;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The CloudEvents `type` of a decoded and stored alarm.
pub const ALARM_RECEIVED: &str = "alarmgate.alarm.received";
/// The kissoff of a stored alarm was sent to the unit.
pub const ALARM_ACKNOWLEDGED: &str = "alarmgate.alarm.acknowledged";
/// A call was answered (admitted, 200 OK sent, media open).
pub const CALL_STARTED: &str = "alarmgate.call.started";
/// A call ended, with the reason and its duration.
pub const CALL_ENDED: &str = "alarmgate.call.ended";
/// A unit reported without an alarm (a DC-09 `NULL` link test): supervision.
pub const UNIT_HEARTBEAT: &str = "alarmgate.unit.heartbeat";
/// The version of the event schema (`schema/`), in every event's `dataschema`.
pub const SCHEMA_VERSION: &str = "1";
/// The `dataschema` of every event: names `schema/event.v1.schema.json` (its `$id`).
pub const DATASCHEMA: &str = "urn:alarmgate:schema:event:v1";

/// A Contact ID message decoded in a call, for the alarm core: code,
/// qualifier, group and zone with their names, the digits as heard (`raw`)
/// and the call's forensics (kept in `alarmgate.alarm.received` only). The
/// call carries it to a person: never listed as data.
pub fn contact_id_alarm(
    labels: &CallLabels,
    message: &ContactIdMessage,
    raw: &str,
    class: AlarmClass,
    forensics: Value,
) -> DecodedAlarm {
    DecodedAlarm {
        protocol: Protocol::ContactId,
        report: Report::Alarm,
        labels: labels.clone(),
        account: message.account.to_string(),
        event_code: Some(message.event.clone()),
        class,
        fields: json!({
            "raw": raw,
            "qualifier": message.qualifier.to_string(),
            "qualifier_name": message.qualifier.name(),
            "group": message.group.to_string(),
            "zone": message.zone.to_string(),
        }),
        raw: json!({ "forensics": forensics }),
        recall: None,
        voice_follows: true,
    }
}

/// Forensics as JSON: durations in milliseconds, per-digit source and levels.
pub fn forensics_json(f: &MessageForensics) -> Value {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let digits: Vec<Value> = f
        .digits
        .iter()
        .map(|d| {
            json!({
                "digit": d.digit.to_string(),
                "source": format!("{:?}", d.source),
                "offset_ms": ms(d.offset),
                "duration_ms": d.duration_ms,
                "level_dbm0": d.level_dbm0,
                "twist_db": d.twist_db,
                "snr_db": d.snr_db,
            })
        })
        .collect();
    json!({
        "handshake_to_first_digit_ms": f.handshake_to_first_digit.map(ms),
        "message_duration_ms": ms(f.message_duration),
        "level_dbm0_min_max": f.level_dbm0.map(|(a, b)| [a, b]),
        "twist_db_min_max": f.twist_db.map(|(a, b)| [a, b]),
        "snr_db_min": f.snr_db,
        "packets_lost": f.packets_lost,
        "retries": f.retries,
        "checksum_failures": f.checksum_failures,
        "digits": digits,
    })
}

/// The JSON bytes of any event: the shared CloudEvents envelope around `data`.
/// `subject` is the call's Call-ID (or, for events about no call, what they are about).
pub fn record(
    node: &str,
    subject: &str,
    kind: &str,
    time: SystemTime,
    random: u128,
    data: Value,
) -> Vec<u8> {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let event = json!({
        "specversion": "1.0",
        "id": uuid_v7(since_epoch.as_millis() as u64, random),
        "source": format!("alarmgate/{node}"),
        "type": kind,
        "time": rfc3339(since_epoch),
        "subject": subject,
        "datacontenttype": "application/json",
        "dataschema": DATASCHEMA,
        "data": data,
    });
    serde_json::to_vec(&event).unwrap_or_default()
}

/// The name of a classification in events (`voice`, `technical`, `test`, `cancel`).
pub fn class_name(class: AlarmClass) -> &'static str {
    match class {
        AlarmClass::Voice => "voice",
        AlarmClass::Technical => "technical",
        AlarmClass::Test => "test",
        AlarmClass::Cancel => "cancel",
    }
}

/// A UUIDv7 string: `unix_ms` in the top 48 bits, version 7, variant 10,
/// the rest from `random`.
pub fn uuid_v7(unix_ms: u64, random: u128) -> String {
    let mut v: u128 = u128::from(unix_ms & 0xffff_ffff_ffff) << 80;
    v |= 0x7 << 76; // version
    v |= (random & 0x0fff) << 64; // rand_a, 12 bits
    v |= 0b10 << 62; // variant
    v |= (random >> 12) & ((1u128 << 62) - 1); // rand_b, 62 bits
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// RFC 3339 UTC with milliseconds, from a duration since the Unix epoch.
pub fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(Duration::from_millis(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(1_795_339_246)),
            "2026-11-22T09:20:46.000Z"
        );
    }

    #[test]
    fn uuid_v7_layout_and_order() {
        let a = uuid_v7(1_795_339_246_000, u128::MAX);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "7", "version nibble: {a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant: {a}");
        assert!(a.starts_with("01a2"), "time first: {a}");
        assert!(uuid_v7(1, 0) < uuid_v7(2, 0));
    }

    #[test]
    fn alarm_record_is_a_cloudevent_with_decoded_fields() {
        let message = crate::alarm::contact_id::parse("1234181602000002").unwrap();
        let labels = CallLabels::new(
            crate::sip::types::CallId::new("c1@unit"),
            "demo".into(),
            "4512345678".into(),
        );
        let forensics = MessageForensics {
            handshake_to_first_digit: Some(Duration::from_millis(270)),
            message_duration: Duration::from_millis(1700),
            digits: Vec::new(),
            level_dbm0: Some((-12.0, -10.5)),
            twist_db: None,
            snr_db: None,
            packets_lost: 1,
            retries: 0,
            checksum_failures: 0,
        };
        let alarm = contact_id_alarm(
            &labels,
            &message,
            "1234181602000002",
            AlarmClass::Test,
            forensics_json(&forensics),
        );
        let r = crate::alarm::core::store_record(&alarm);
        let time = UNIX_EPOCH + Duration::from_secs(1_795_339_246);
        let bytes = record("n1", &r.subject, r.kind, time, 42, r.data);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["type"], ALARM_RECEIVED);
        assert_eq!(v["source"], "alarmgate/n1");
        assert_eq!(v["subject"], "c1@unit");
        assert_eq!(v["time"], "2026-11-22T09:20:46.000Z");
        assert_eq!(v["data"]["event_code"], "602");
        assert_eq!(v["data"]["account"], "1234");
        assert_eq!(v["data"]["classification"], "test");
        assert_eq!(v["data"]["tenant"], "demo");
        assert_eq!(v["data"]["calling_number"], "4512345678");
        assert_eq!(v["data"]["protocol"], "contact_id");
        assert_eq!(v["data"]["raw"], "1234181602000002");
        assert_eq!(v["data"]["zone"], "000");
        assert_eq!(v["data"]["forensics"]["packets_lost"], 1);
        assert_eq!(v["data"]["forensics"]["handshake_to_first_digit_ms"], 270.0);
    }
}
