//! Dispositions journalled during and after a call, and
//! `GET /api/v1/queues` and `/api/v1/operators` while calls wait.

use super::*;

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
