//! Synthetic call traffic as journal payloads, for tests and benchmarks:
//! a deterministic mix of alarm calls (answered, given a disposition or
//! not), settled test alarms and voice calls, spread over a time range.
//! Each planned call is returned too, so a test can count independently.

use crate::events;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One planned call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Its call id.
    pub id: String,
    /// Its caller.
    pub caller: String,
    /// When it arrives (Unix ms).
    pub at_ms: i64,
    /// Its disposition, if one is given.
    pub disposition: Option<&'static str>,
    /// A periodic test alarm the daemon settles (no person).
    pub settled_test: bool,
}

/// A small deterministic generator (xorshift), so runs repeat.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded (0 is replaced).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next value below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

const DISPOSITIONS: [Option<&str>; 6] = [
    Some("emergency"),
    Some("reassurance"),
    Some("false_alarm"),
    Some("technical"),
    Some("reassurance"),
    None,
];

/// `n` calls of `tenant` spread evenly over `[from_ms, to_ms)`, callers from
/// a pool of `callers` (caller 0 makes a tenth of all calls).
pub fn plan(
    tenant: &str,
    n: u64,
    from_ms: i64,
    to_ms: i64,
    callers: u64,
    seed: u64,
) -> Vec<Planned> {
    let mut rng = Rng::new(seed);
    let step = ((to_ms - from_ms).max(1) as u64 / n.max(1)).max(1);
    (0..n)
        .map(|i| {
            let caller = if rng.below(10) == 0 {
                0
            } else {
                rng.below(callers.max(1))
            };
            let settled_test = rng.below(5) == 0;
            let disposition = if settled_test {
                None
            } else {
                DISPOSITIONS[rng.below(6) as usize]
            };
            Planned {
                id: format!("{tenant}-{i}@synth"),
                caller: format!("45{:08}", caller),
                at_ms: from_ms + (i * step + rng.below(step)) as i64,
                disposition,
                settled_test,
            }
        })
        .collect()
}

fn at(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// The journal payloads of one planned call, in order.
pub fn payloads(tenant: &str, c: &Planned, rng: &mut Rng) -> Vec<Vec<u8>> {
    let who = json!({"tenant": tenant, "calling_number": c.caller});
    let ev = |kind: &str, ms: i64, data: serde_json::Value, rng: &mut Rng| {
        events::record(
            "synth",
            &c.id,
            kind,
            at(ms),
            u128::from(rng.below(u64::MAX)),
            data,
        )
    };
    let (code, class) = if c.settled_test {
        ("602", "test")
    } else {
        ("101", "voice")
    };
    let mut out = vec![
        ev(events::CALL_STARTED, c.at_ms, who.clone(), rng),
        ev(
            events::ALARM_RECEIVED,
            c.at_ms + 3000,
            json!({"tenant": tenant, "calling_number": c.caller, "protocol": "contact_id", "account": "1234", "qualifier": "1", "event_code": code, "event_name": "synthetic", "classification": class}),
            rng,
        ),
    ];
    if c.settled_test {
        out.push(ev(events::CALL_ENDED, c.at_ms + 5000, json!({"reason": "settled", "duration_ms": 5000, "answered": true, "tenant": tenant, "calling_number": c.caller}), rng));
        return out;
    }
    let wait = 4000 + rng.below(60_000) as i64;
    let talk = 10_000 + rng.below(300_000) as i64;
    out.push(ev("alarmgate.call.queued", c.at_ms + 3500, json!({"call": 1, "tenant": tenant, "queue": "q", "class": "emergency", "caller": c.caller, "priority": 1}), rng));
    out.push(ev(
        "alarmgate.call.answered",
        c.at_ms + wait,
        json!({"call": 1, "operator": "op-1", "queue": "q", "waited_ms": wait, "tenant": tenant}),
        rng,
    ));
    out.push(ev(events::CALL_ENDED, c.at_ms + wait + talk, json!({"reason": "remote_bye", "duration_ms": wait + talk, "answered": true, "tenant": tenant, "calling_number": c.caller}), rng));
    if let Some(d) = c.disposition {
        out.push(ev(
            "alarmgate.call.disposition",
            c.at_ms + wait + talk + 30_000,
            json!({"tenant": tenant, "disposition": d, "note": "synthetic; note", "by": "console"}),
            rng,
        ));
    }
    out
}
