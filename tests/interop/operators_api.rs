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

// ---------------------------------------------------------------- recall

/// Recall end to end: op1 (a registered softphone) is rung, answers, and
/// the daemon then calls the citizen's unit (a softphone answering at the
/// recall trunk's proxy) as `sip:<number>@<proxy>`; op1 hears the unit's
/// 1000 Hz and the unit op1's 700 Hz; `GET /api/v1/calls` shows the recall
/// connected to op1 under the id the POST returned (op1's leg's Call-ID);
/// op1 hangs up and the unit's call ends, op1 is available again.
#[test]
fn operators_api_recall_rings_operator_then_unit_tones_both_ways() {
    let test = "operators_api_recall_rings_operator_then_unit_tones_both_ways";
    let unit_port = free_port();
    let cfg = recall_config(Plan::new(&["op1"], NOWHERE), unit_port);
    let Some(d) = daemon(test, &cfg) else {
        return;
    };
    let unit = Softphone::spawn(
        &d.dir.path,
        &PhoneOpts {
            sip_port: Some(unit_port),
            tone_hz: f64::from(UNIT_HZ),
            measure: vec![f64::from(UNIT_HZ), f64::from(OPERATOR_HZ)],
            ..PhoneOpts::new("unit")
        },
    );
    let mut op1 = operator_phone(&d, operator_opts("op1"));
    let (status, accepted) = recall(&d, "op1", CITIZEN);
    assert_eq!(status, 202, "POST /api/v1/calls: {accepted}");
    let id = accepted["id"].as_str().unwrap_or_default().to_string();
    assert!(!id.is_empty(), "no id in the 202: {accepted}");
    let inc = op1
        .wait_incoming(0, RING_WAIT)
        .expect("op1's phone never rang for the recall");
    assert!(
        op1.wait_state(inc, "CONFIRMED", SHORT).is_some(),
        "op1 did not connect: {:?}",
        op1.events()
    );
    let uinc = unit
        .wait_incoming(0, RING_WAIT)
        .expect("the daemon never called the unit through the recall trunk");
    let invite = unit
        .wait(SHORT, |e| e["ev"] == "incoming")
        .unwrap_or(Value::Null);
    let want_uri = format!("sip:{CITIZEN}@127.0.0.1:{unit_port}");
    assert_eq!(
        invite["request_uri"].as_str().unwrap_or_default(),
        want_uri,
        "the unit's INVITE: {invite}"
    );
    assert!(
        unit.wait_state(uinc, "CONFIRMED", SHORT).is_some(),
        "the unit did not connect: {:?}",
        unit.events()
    );
    let connected = wait_call(&d, SHORT, "recall connected to op1", |c| {
        c["state"] == "connected" && c["operator"] == "op1"
    });
    assert_eq!(connected["id"], id.as_str(), "{connected}");
    assert_eq!(connected["tenant"], "demo", "{connected}");
    assert_eq!(connected["class"], "recall", "{connected}");
    let op_leg = op1
        .wait(SHORT, |e| e["ev"] == "incoming")
        .unwrap_or(Value::Null);
    assert_eq!(
        op_leg["call_id"],
        id.as_str(),
        "the recall's id should be the Call-ID of op1's leg"
    );
    wait_operator_state(&d, "op1", "on_call", SHORT);
    let op = operator(&d, "op1");
    assert_eq!(op["current_call"], id.as_str(), "{op}");
    let (status, v) = recall(&d, "op1", CITIZEN);
    assert_eq!(status, 409, "a second recall to op1 on a call: {v}");
    assert_heard(&op1, inc, UNIT_HZ);
    assert_heard(&unit, uinc, OPERATOR_HZ);
    let body = json!({"disposition": "recall", "note": "Checked the unit after a silent alarm."});
    let (status, v) = disposition(&d, &id, &body);
    assert_eq!(status, 204, "disposition of the connected recall: {v}");
    let event = journalled_disposition(&d, &id, "recall");
    assert_eq!(event["data"]["tenant"], "demo", "{event}");
    op1.send(json!({"cmd": "hangup"}));
    assert!(
        unit.wait_state(uinc, "DISCONNECTED", SHORT).is_some(),
        "the unit's call did not end when op1 hung up: {:?}",
        unit.events()
    );
    assert!(
        poll_until(SHORT, || calls(&d).is_empty()),
        "calls left after the recall: {:?}",
        calls(&d)
    );
    wait_operator_state(&d, "op1", "available", SHORT);
}

/// Recalls the daemon must refuse: without a token 401; to op2 (configured,
/// never registered: logged out) 409; to op1 while paused 409; to an
/// unknown operator 404; a number that is not one 400. Nothing rings and
/// nothing is left in `GET /api/v1/calls`.
#[test]
fn operators_api_recall_refusals() {
    let test = "operators_api_recall_refusals";
    let unit_port = free_port();
    let cfg = recall_config(Plan::new(&["op1", "op2"], NOWHERE), unit_port);
    let Some(d) = daemon(test, &cfg) else {
        return;
    };
    let op1 = operator_phone(&d, operator_opts("op1"));
    let body = json!({"operator": "op1", "number": CITIZEN, "tenant": "demo"});
    assert_eq!(
        status_without_token(&d, "POST", "/api/v1/calls", Some(&body)),
        401
    );
    assert_eq!(operator(&d, "op2")["state"], "logged_out");
    let (status, v) = recall(&d, "op2", CITIZEN);
    assert_eq!(status, 409, "recall to a logged-out operator: {v}");
    set_state(&d, "op1", "paused", Some("meeting"));
    wait_operator_state(&d, "op1", "paused", SHORT);
    let (status, v) = recall(&d, "op1", CITIZEN);
    assert_eq!(status, 409, "recall to a paused operator: {v}");
    assert!(v["error"].is_string(), "error body: {v}");
    let (status, v) = recall(&d, "op9", CITIZEN);
    assert_eq!(status, 404, "recall to an unknown operator: {v}");
    set_state(&d, "op1", "available", None);
    let (status, v) = recall(&d, "op1", "12ab");
    assert_eq!(status, 400, "recall to a bad number: {v}");
    assert!(calls(&d).is_empty(), "{:?}", calls(&d));
    assert_eq!(op1.incoming_count(), 0, "a refused recall rang op1");
    assert_eq!(operator(&d, "op1")["state"], "available");
}

/// The citizen's unit as a softphone at the recall trunk's proxy port,
/// playing `UNIT_HZ`, with this answer policy.
fn unit_phone(d: &Daemon, port: u16, on_incoming: &str) -> Softphone {
    Softphone::spawn(
        &d.dir.path,
        &PhoneOpts {
            sip_port: Some(port),
            on_incoming: on_incoming.into(),
            tone_hz: f64::from(UNIT_HZ),
            measure: vec![f64::from(UNIT_HZ), f64::from(OPERATOR_HZ)],
            ..PhoneOpts::new("unit")
        },
    )
}

/// A recall to a busy unit: op1 answers, the unit answers the daemon's
/// INVITE with 486, and op1's call is ended by the daemon (not left in
/// silence); op1 is available again and no call is left.
#[test]
fn operators_api_recall_to_a_busy_unit_ends_the_operator_call() {
    let test = "operators_api_recall_to_a_busy_unit_ends_the_operator_call";
    let unit_port = free_port();
    let cfg = recall_config(Plan::new(&["op1"], NOWHERE), unit_port);
    let Some(d) = daemon(test, &cfg) else {
        return;
    };
    let unit = unit_phone(&d, unit_port, "busy");
    let op1 = operator_phone(&d, operator_opts("op1"));
    let (status, accepted) = recall(&d, "op1", CITIZEN);
    assert_eq!(status, 202, "POST /api/v1/calls: {accepted}");
    let inc = op1.wait_incoming(0, RING_WAIT).expect("op1 never rang");
    assert!(
        op1.wait_state(inc, "CONFIRMED", SHORT).is_some(),
        "op1 did not connect"
    );
    let uinc = unit
        .wait_incoming(0, RING_WAIT)
        .expect("the daemon never called the unit");
    let refused = unit.wait_state(uinc, "DISCONNECTED", SHORT);
    assert!(refused.is_some(), "the unit's 486 did not end its call");
    assert!(
        op1.wait_state(inc, "DISCONNECTED", SHORT).is_some(),
        "op1's call stayed up after the unit was busy: {:?}",
        op1.events()
    );
    assert!(
        poll_until(SHORT, || calls(&d).is_empty()),
        "calls left: {:?}",
        calls(&d)
    );
    wait_operator_state(&d, "op1", "available", SHORT);
}

/// A recall the unit ends: once connected (tones heard at op1), the unit
/// hangs up and op1's call ends; op1 is available again, and the recall
/// can still be given a disposition under the id the POST returned.
#[test]
fn operators_api_recall_unit_hangs_up_first() {
    let test = "operators_api_recall_unit_hangs_up_first";
    let unit_port = free_port();
    let cfg = recall_config(Plan::new(&["op1"], NOWHERE), unit_port);
    let Some(d) = daemon(test, &cfg) else {
        return;
    };
    let mut unit = unit_phone(&d, unit_port, "answer");
    let op1 = operator_phone(&d, operator_opts("op1"));
    let (status, accepted) = recall(&d, "op1", CITIZEN);
    assert_eq!(status, 202, "POST /api/v1/calls: {accepted}");
    let id = accepted["id"].as_str().unwrap_or_default().to_string();
    let inc = op1.wait_incoming(0, RING_WAIT).expect("op1 never rang");
    let uinc = unit
        .wait_incoming(0, RING_WAIT)
        .expect("the daemon never called the unit");
    assert!(
        unit.wait_state(uinc, "CONFIRMED", SHORT).is_some(),
        "the unit did not connect"
    );
    assert_heard(&op1, inc, UNIT_HZ);
    unit.send(json!({"cmd": "hangup"}));
    assert!(
        op1.wait_state(inc, "DISCONNECTED", SHORT).is_some(),
        "op1's call stayed up after the unit hung up: {:?}",
        op1.events()
    );
    assert!(
        poll_until(SHORT, || calls(&d).is_empty()),
        "calls left: {:?}",
        calls(&d)
    );
    wait_operator_state(&d, "op1", "available", SHORT);
    let body = json!({"disposition": "technical", "note": "Unit hung up."});
    let (status, v) = disposition(&d, &id, &body);
    assert_eq!(status, 204, "disposition of the ended recall: {v}");
    journalled_disposition(&d, &id, "technical");
}

/// A recall the operator declines (603): the recall is released at once,
/// the unit is never called, no call is left, and op1 holds no call.
#[test]
fn operators_api_recall_declined_by_the_operator_calls_nobody() {
    let test = "operators_api_recall_declined_by_the_operator_calls_nobody";
    let unit_port = free_port();
    let cfg = recall_config(Plan::new(&["op1"], NOWHERE), unit_port);
    let Some(d) = daemon(test, &cfg) else {
        return;
    };
    let unit = unit_phone(&d, unit_port, "answer");
    let op1 = phone_that(&d, "op1", "decline");
    let (status, accepted) = recall(&d, "op1", CITIZEN);
    assert_eq!(status, 202, "POST /api/v1/calls: {accepted}");
    let inc = op1.wait_incoming(0, RING_WAIT).expect("op1 never rang");
    let ended = op1
        .wait_state(inc, "DISCONNECTED", SHORT)
        .expect("op1's declined call did not end");
    assert_eq!(ended["code"], 603, "{ended}");
    assert!(
        poll_until(SHORT, || calls(&d).is_empty()),
        "the declined recall is still listed: {:?}",
        calls(&d)
    );
    let st = operator(&d, "op1");
    assert!(
        st["state"] != "ringing" && st["state"] != "on_call" && st["current_call"].is_null(),
        "{st}"
    );
    assert_eq!(
        unit.incoming_count(),
        0,
        "a declined recall called the unit"
    );
}

/// A recall whose trunk proxy does not answer (nothing listens there): op1
/// answers, the daemon's INVITE to the unit fails, and op1's call is ended
/// by the daemon (bounded: Timer B, 32 s, at most); no call is left.
#[test]
fn operators_api_recall_to_a_dead_trunk_ends_the_operator_call() {
    let test = "operators_api_recall_to_a_dead_trunk_ends_the_operator_call";
    let dead_port = free_port();
    let cfg = recall_config(Plan::new(&["op1"], NOWHERE), dead_port);
    let Some(d) = daemon(test, &cfg) else {
        return;
    };
    let op1 = operator_phone(&d, operator_opts("op1"));
    let (status, accepted) = recall(&d, "op1", CITIZEN);
    assert_eq!(status, 202, "POST /api/v1/calls: {accepted}");
    let inc = op1.wait_incoming(0, RING_WAIT).expect("op1 never rang");
    let connected = op1
        .wait_state(inc, "CONFIRMED", SHORT)
        .expect("op1 did not connect");
    let ended = op1
        .wait_state(inc, "DISCONNECTED", std::time::Duration::from_secs(40))
        .expect("op1's call stayed up with nobody to call");
    let took = ended["t"].as_f64().unwrap_or(0.0) - connected["t"].as_f64().unwrap_or(0.0);
    eprintln!("{test}: op1's call ended {took:.1} s after it connected");
    assert!(
        poll_until(SHORT, || calls(&d).is_empty()),
        "calls left: {:?}",
        calls(&d)
    );
    wait_operator_state(&d, "op1", "available", SHORT);
}

// ---------------------------------------------------------------- disposition

/// Disposition of a citizen's voice call (pjsua2, no Contact ID: queued at
/// once) while it is connected to op1 and again after it ended: 204 each,
/// and each an `alarmgate.call.disposition` event with the caller's SIP
/// Call-ID as subject, the tenant, the disposition, the note and the
/// token's name. An unknown call 404, no token 401, an unknown disposition 400.
#[test]
fn operators_api_disposition_is_journalled_during_and_after_the_call() {
    let test = "operators_api_disposition_is_journalled_during_and_after_the_call";
    let mut cfg = Plan::new(&["op1"], NOWHERE).config();
    cfg.alarm = Some(AlarmOpts {
        contact_id: false,
        settle_technical: true,
    });
    let Some(d) = daemon(test, &cfg) else {
        return;
    };
    let mut op1 = operator_phone(&d, operator_opts("op1"));
    let voice = voice_caller(&d, UNIT_B);
    let inc = op1
        .wait_incoming(0, RING_WAIT)
        .expect("op1 never rang for the voice call");
    assert!(
        op1.wait_state(inc, "CONFIRMED", SHORT).is_some(),
        "op1 did not connect"
    );
    let call = wait_call(&d, SHORT, "connected to op1", |c| {
        c["state"] == "connected" && c["operator"] == "op1"
    });
    assert_eq!(call["class"], "voice", "{call}");
    let id = call["id"].as_str().unwrap_or_default().to_string();
    let note = "Pendant pressed by mistake; citizen fine.";
    let body = json!({"disposition": "false_alarm", "note": note});
    let (status, v) = disposition(&d, &id, &body);
    assert_eq!(status, 204, "disposition while connected: {v}");
    let event = journalled_disposition(&d, &id, "false_alarm");
    assert_eq!(event["data"]["tenant"], "demo", "{event}");
    assert_eq!(event["data"]["note"], note, "{event}");
    assert_eq!(event["data"]["by"], "tests", "{event}");

    let path = format!("/api/v1/calls/{}/disposition", segment(&id));
    assert_eq!(status_without_token(&d, "POST", &path, Some(&body)), 401);
    let (status, v) = disposition(&d, "no-such-call@nowhere", &body);
    assert_eq!(status, 404, "disposition of an unknown call: {v}");
    let (status, v) = disposition(&d, &id, &json!({"disposition": "bogus"}));
    assert_eq!(status, 400, "an unknown disposition: {v}");

    op1.send(json!({"cmd": "hangup"}));
    let voice = voice.wait();
    assert_eq!(voice.json["ended_by_remote"], true, "{}", voice.json);
    assert_eq!(
        voice.json["call_id"],
        id.as_str(),
        "the API's call id is not the caller's SIP Call-ID"
    );
    assert!(
        poll_until(SHORT, || calls(&d).is_empty()),
        "{:?}",
        calls(&d)
    );
    let later = json!({"disposition": "reassurance", "note": "Called back, all well."});
    let (status, v) = disposition(&d, &id, &later);
    assert_eq!(status, 204, "disposition after the call ended: {v}");
    let event = journalled_disposition(&d, &id, "reassurance");
    assert_eq!(event["data"]["tenant"], "demo", "{event}");
    assert_eq!(event["data"]["note"], "Called back, all well.", "{event}");
}

// ---------------------------------------------------------------- queues and operators

/// While op1 is paused ("meeting"), a voice call (pjsua2) and then an
/// emergency (the spandsp unit's 101) wait: `GET /api/v1/queues` lists
/// the emergency at position 1 and the voice call at 2 under the ids `GET
/// /api/v1/calls` shows, no operator available of 1; `GET
/// /api/v1/operators` shows op1 paused with its reason, no call, one
/// contact. Then op1 is made available (its phone lets it ring): op1 is
/// ringing with the emergency, and the voice call is next in the queue.
#[test]
fn operators_api_queues_and_operators_show_a_wait() {
    let test = "operators_api_queues_and_operators_show_a_wait";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let op1 = phone_that(&d, "op1", "ring");
    let (_voice, _unit, voice, emergency) = voice_then_emergency_waiting(&d);
    let main = queue(&d, "main");
    assert_eq!(main["tenant"], "demo", "{main}");
    assert_eq!(main["waiting"], 2, "{main}");
    assert_eq!(main["operators_available"], 0, "{main}");
    assert_eq!(main["operators_total"], 1, "{main}");
    let first = &main["calls"][0];
    let second = &main["calls"][1];
    assert_eq!(first["position"], 1, "{main}");
    assert_eq!(first["id"], emergency["id"], "the emergency first: {main}");
    assert_eq!(first["class"], "emergency", "{main}");
    assert_eq!(first["state"], "waiting", "{main}");
    assert_eq!(second["position"], 2, "{main}");
    assert_eq!(second["id"], voice["id"], "the voice call second: {main}");
    assert_eq!(second["class"], "voice", "{main}");
    assert!(
        second["waited_s"].as_u64() >= first["waited_s"].as_u64(),
        "the voice call came first, so waited longer: {main}"
    );
    let (status, list) = api(&d, "GET", "/api/v1/operators", None);
    assert_eq!(status, 200, "{list}");
    let ops = list["operators"].as_array().cloned().unwrap_or_default();
    let op = ops
        .iter()
        .find(|o| o["id"] == "op1")
        .unwrap_or_else(|| panic!("op1 not listed: {list}"));
    assert_eq!(op["state"], "paused", "{op}");
    assert_eq!(op["reason"], "meeting", "{op}");
    assert!(op["current_call"].is_null(), "{op}");
    assert_eq!(op["contacts"], 1, "{op}");
    assert_eq!(op["name"], "Operator op1", "{op}");

    set_state(&d, "op1", "available", None);
    op1.wait_incoming(0, RING_WAIT)
        .expect("op1 never rang once available");
    let mut ringing = Value::Null;
    let ok = poll_until(SHORT, || {
        ringing = operator(&d, "op1");
        ringing["state"] == "ringing"
    });
    assert!(ok, "op1 not ringing: {ringing}");
    assert_eq!(
        ringing["current_call"], emergency["id"],
        "op1 should ring with the emergency: {ringing}"
    );
    let main = queue(&d, "main");
    let calls_now = main["calls"].as_array().cloned().unwrap_or_default();
    let next = calls_now
        .iter()
        .find(|c| c["state"] == "waiting")
        .unwrap_or_else(|| panic!("the voice call no longer waits: {main}"));
    assert_eq!(next["id"], voice["id"], "{main}");
    assert_eq!(
        next["position"],
        calls_now.iter().position(|c| c == next).unwrap_or(0) as u64 + 1,
        "{main}"
    );
}

/// `GET /api/v1/queues` lists a waiting alarm with its event code, as
/// `GET /api/v1/calls` does and the OpenAPI example of `/api/v1/queues`
/// shows (`"event_code": "101"` on a queued emergency).
#[test]
fn operators_api_queue_lists_the_event_code() {
    let test = "operators_api_queue_lists_the_event_code";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let _op1 = operator_phone(&d, operator_opts("op1"));
    set_state(&d, "op1", "paused", Some("meeting"));
    wait_operator_state(&d, "op1", "paused", SHORT);
    let _unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let waiting = wait_call(&d, RING_WAIT, "emergency waiting", |c| {
        c["class"] == "emergency" && c["state"] == "waiting"
    });
    assert_eq!(waiting["event_code"], "101", "GET /api/v1/calls: {waiting}");
    let main = queue(&d, "main");
    assert_eq!(main["calls"][0]["id"], waiting["id"], "{main}");
    assert_eq!(
        main["calls"][0]["event_code"], "101",
        "GET /api/v1/queues: {main}"
    );
}

/// `GET /api/v1/queues` lists "its waiting and ringing calls in the order
/// operators get them" and counts "calls waiting or ringing"
/// (docs/openapi.yaml): while op1 rings with the emergency, the queue shows
/// it (state ringing, position 1) ahead of the waiting voice call
/// (position 2), and `waiting` is 2.
#[test]
fn operators_api_queue_lists_a_ringing_call() {
    let test = "operators_api_queue_lists_a_ringing_call";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let op1 = phone_that(&d, "op1", "ring");
    let (_voice, _unit, voice, emergency) = voice_then_emergency_waiting(&d);
    set_state(&d, "op1", "available", None);
    op1.wait_incoming(0, RING_WAIT)
        .expect("op1 never rang once available");
    wait_call(&d, SHORT, "emergency ringing", |c| {
        c["id"] == emergency["id"] && c["state"] == "ringing"
    });
    let main = queue(&d, "main");
    assert_eq!(main["waiting"], 2, "waiting or ringing: {main}");
    assert_eq!(main["calls"][0]["id"], emergency["id"], "{main}");
    assert_eq!(main["calls"][0]["state"], "ringing", "{main}");
    assert_eq!(main["calls"][0]["position"], 1, "{main}");
    assert_eq!(main["calls"][1]["id"], voice["id"], "{main}");
    assert_eq!(main["calls"][1]["state"], "waiting", "{main}");
    assert_eq!(main["calls"][1]["position"], 2, "{main}");
}
