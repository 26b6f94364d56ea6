//! Recall (`POST /api/v1/calls`): the operator's phone rings, then the
//! citizen's unit over the recall trunk; tones both ways; busy, hang-up,
//! decline, a dead trunk; refusals (401, 404, 409, 400).

use super::*;

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
