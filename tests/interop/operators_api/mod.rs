//! The operator API (`docs/openapi.yaml`) against the real daemon, with
//! real peers on loopback: pjsua2 softphones (`tests/peers/pj_operator.py`
//! through [`crate::softphone`]) as operators and as the citizen's unit a
//! recall calls, pjsua2 voice callers (`tests/peers/pj_call.py`) and the
//! spandsp alarm unit (`tests/peers/cid_peer.py`) as calls that wait.
//!
//! - Recall (`POST /api/v1/calls`): the operator's phone rings and answers,
//!   then the daemon calls `sip:<number>@<the tenant's recall trunk proxy>`,
//!   where a second softphone answers as the unit; tones are heard both
//!   ways (Goertzel on each side), `GET /api/v1/calls` shows the recall
//!   connected under the id the POST returned, a disposition of it is
//!   journalled, and the operator's hang-up ends the unit's call. Also: the
//!   unit busy (486), the unit hanging up first, the operator declining,
//!   and a trunk proxy where nothing answers (the operator's call ends at
//!   Timer B). Refusals: no token 401, an operator logged out, paused or
//!   on a call 409, an unknown operator 404, a bad number 400.
//! - Disposition (`POST /api/v1/calls/{id}/disposition`): on a voice call
//!   (alarm.contact_id off, so it queues at once) connected to an operator,
//!   and again after it ended: 204 and an `alarmgate.call.disposition`
//!   event in the journal whose subject is the caller's own SIP Call-ID;
//!   unknown call 404, no token 401, unknown disposition 400.
//! - `GET /api/v1/queues` and `/api/v1/operators` while calls wait: the
//!   operator paused with its reason, the emergency at position 1 and the
//!   voice call at 2, then the operator ringing with the emergency; the
//!   queue lists a waiting alarm's event code, and a call ringing at an
//!   operator first, as docs/openapi.yaml says.
//!
//! The shared helpers (dialplan, API calls, phones, the unit) are those of
//! [`crate::operators`].
//!
//! Files: `mod.rs` (this one) holds the recall dialplan and the API
//! helpers; [`recall`] the recall tests; [`queues`] the disposition and the
//! queues and operators shown during a wait.

mod queues;
mod recall;
mod recall_record;
mod recall_tls;

use crate::harness::{
    free_port, http_request, journal_records, need_pjsua2, poll_until, AlarmOpts, Config, Daemon,
};
use crate::operators::{
    api, assert_heard, calls, centre, device_uri, operator, operator_opts, operator_phone,
    phone_that, queue, set_state, spawn_unit, voice_caller, voice_then_emergency_waiting,
    wait_call, wait_operator_state, Plan, NOWHERE, OPERATOR_HZ, RING_WAIT, SHORT, UNIT_A, UNIT_B,
    UNIT_HZ,
};
use crate::softphone::{PhoneOpts, Softphone};
use alarmgate::switchboard::api::CALL_DISPOSITION;
use serde_json::{json, Value};

/// The citizen's number a recall dials.
const CITIZEN: &str = "4533333333";
/// The tenant recall trunk's name.
const RECALL_TRUNK: &str = "pstn";

/// `plan` with the demo tenant recalling over trunk `pstn`, whose proxy is
/// `127.0.0.1:<unit_port>` (where the citizen's unit listens).
fn recall_config(mut plan: Plan, unit_port: u16) -> Config {
    plan.tenant_keys
        .push_str(&format!("recall_trunk = \"{RECALL_TRUNK}\"\n"));
    let mut cfg = plan.config();
    cfg.extra.push_str(&format!(
        "[[trunks]]\nname = \"{RECALL_TRUNK}\"\nallow = [\"192.0.2.0/24\"]\nproxy = \"127.0.0.1:{unit_port}\"\n\n"
    ));
    cfg
}

/// A daemon on `cfg` when pjsua2 is there.
fn daemon(test: &str, cfg: &Config) -> Option<Daemon> {
    if !need_pjsua2(test) {
        return None;
    }
    Daemon::start(test, cfg)
}

/// `POST /api/v1/calls` (a recall) with the tests' token.
fn recall(d: &Daemon, operator: &str, number: &str) -> (u16, Value) {
    let body = json!({"operator": operator, "number": number, "tenant": "demo"});
    api(d, "POST", "/api/v1/calls", Some(body))
}

/// `method path` without a token: the status.
fn status_without_token(d: &Daemon, method: &str, path: &str, body: Option<&Value>) -> u16 {
    let body = body.map(|b| b.to_string());
    http_request(d.http_port, method, path, None, body.as_deref())
        .map(|(s, _)| s)
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer"))
}

/// A call id as one path segment: everything but unreserved characters and
/// `@` percent-encoded.
fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `POST /api/v1/calls/{id}/disposition`.
fn disposition(d: &Daemon, id: &str, body: &Value) -> (u16, Value) {
    let path = format!("/api/v1/calls/{}/disposition", segment(id));
    api(d, "POST", &path, Some(body.clone()))
}

/// Waits for an `alarmgate.call.disposition` event for `id` with
/// `disposition` in the journal; returns it.
fn journalled_disposition(d: &Daemon, id: &str, disposition: &str) -> Value {
    let find = || {
        journal_records(&d.journal_dir).into_iter().find(|r| {
            r["type"] == CALL_DISPOSITION
                && r["subject"] == id
                && r["data"]["disposition"] == disposition
        })
    };
    let mut found = None;
    poll_until(SHORT, || {
        found = find();
        found.is_some()
    });
    found.unwrap_or_else(|| {
        let all: Vec<Value> = journal_records(&d.journal_dir)
            .into_iter()
            .filter(|r| r["type"] == CALL_DISPOSITION)
            .collect();
        panic!("no {CALL_DISPOSITION} {disposition} for {id} in the journal: {all:?}")
    })
}
