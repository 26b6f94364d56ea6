//! Overflow by time and by nobody logged in, the last resort, priority
//! overtaking and wrap-up.

use super::*;

/// Overflow by time: op1 is paused, so the call waits; after `after_s = 4`
/// it is forwarded to the partner centre (a softphone), which hears the
/// unit and is heard by it, then hangs up, ending the unit's call.
#[test]
fn operators_overflow_after_waiting_to_partner() {
    let test = "operators_overflow_after_waiting_to_partner";
    let (uri, partner_opts) = target_phone("partner");
    let Some(d) = centre(test, &plan_overflow("after_s = 4", "partner", &uri)) else {
        return;
    };
    let partner = Softphone::spawn(&d.dir.path, &partner_opts);
    let op1 = operator_phone(&d, operator_opts("op1"));
    set_state(&d, "op1", "paused", Some("meeting"));
    wait_operator_state(&d, "op1", "paused", SHORT);
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    wait_call(&d, RING_WAIT, "waiting in main", |c| {
        c["state"] == "waiting" && c["queue"] == "main"
    });
    let inc = partner
        .wait_incoming(0, RING_WAIT)
        .expect("the call never overflowed to the partner");
    assert!(
        partner.wait_state(inc, "CONFIRMED", SHORT).is_some(),
        "partner did not connect"
    );
    assert_heard(&partner, inc, UNIT_HZ);
    let unit = unit.wait();
    assert_unit_voice(&unit, true);
    let kissoff = unit_progress(&unit.output, "kissoff").unwrap_or(0.0);
    let rang = partner
        .wait(SHORT, |e| e["ev"] == "incoming")
        .map(|e| event_time(&e))
        .unwrap_or(0.0);
    assert!(
        rang - kissoff >= 2.0,
        "overflowed {:.1} s after the kissoff end, too early for after_s = 4 (queued at the kissoff)",
        rang - kissoff
    );
    assert_eq!(
        op1.incoming_count(),
        0,
        "a paused operator was offered the call"
    );
    assert_move_journalled(&d, "after_waiting", "partner");
}

/// Overflow when nobody is logged in: op1 never registers, so the call is
/// forwarded to the partner at once.
#[test]
fn operators_overflow_when_no_operator_logged_in() {
    let test = "operators_overflow_when_no_operator_logged_in";
    let (uri, partner_opts) = target_phone("partner");
    let plan = plan_overflow("no_operator_logged_in = true", "partner", &uri);
    let Some(d) = centre(test, &plan) else {
        return;
    };
    let partner = Softphone::spawn(&d.dir.path, &partner_opts);
    assert_eq!(operator(&d, "op1")["state"], "logged_out");
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let inc = partner
        .wait_incoming(0, RING_WAIT)
        .expect("the call never overflowed to the partner");
    assert_heard(&partner, inc, UNIT_HZ);
    let unit = unit.wait();
    assert_unit_voice(&unit, true);
    let kissoff = unit_progress(&unit.output, "kissoff").unwrap_or(0.0);
    let rang = partner
        .wait(SHORT, |e| e["ev"] == "incoming")
        .map(|e| event_time(&e))
        .unwrap_or(0.0);
    assert!(
        rang - kissoff < 3.0,
        "forwarding took {:.1} s with nobody logged in",
        rang - kissoff
    );
    assert_move_journalled(&d, "no_operators_logged_in", "partner");
}

/// The last-resort target: the overflow target refuses (486), so the call
/// goes to the tenant's `last_resort` (the partner), never rejected.
#[test]
fn operators_last_resort_when_the_overflow_target_refuses() {
    let test = "operators_last_resort_when_the_overflow_target_refuses";
    let (uri, partner_opts) = target_phone("partner");
    let (closed_uri, closed_opts) = target_phone("closed");
    let Some(d) = centre(test, &plan_refusing_target(&uri, &closed_uri)) else {
        return;
    };
    let partner = Softphone::spawn(&d.dir.path, &partner_opts);
    let closed = Softphone::spawn(
        &d.dir.path,
        &PhoneOpts {
            on_incoming: "busy".into(),
            ..closed_opts
        },
    );
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    closed
        .wait_incoming(0, RING_WAIT)
        .expect("the overflow target was never tried");
    let inc = partner
        .wait_incoming(0, RING_WAIT)
        .expect("the call never reached the last resort");
    assert_heard(&partner, inc, UNIT_HZ);
    assert_unit_voice(&unit.wait(), true);
    assert_move_journalled(&d, "forward_failed", "partner");
}

/// Priority: a voice call without an alarm (pjsua2, silence) waits first;
/// then a 101 (emergency) arrives. The queue lists the emergency first, and
/// when op1 becomes available it rings with the emergency, then the voice call.
#[test]
fn operators_emergency_overtakes_a_waiting_voice_call() {
    let test = "operators_emergency_overtakes_a_waiting_voice_call";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let op1 = phone_hanging_up_after(&d, "op1", 1500);
    let (voice, unit, _, _) = voice_then_emergency_waiting(&d);
    let main = queue(&d, "main");
    assert_eq!(main["waiting"], 2, "{main}");
    assert_eq!(
        main["calls"][0]["class"], "emergency",
        "the emergency should be first: {main}"
    );
    assert_eq!(main["calls"][0]["position"], 1, "{main}");
    set_state(&d, "op1", "available", None);
    op1.wait_incoming(0, RING_WAIT).expect("op1 never rang");
    assert!(
        incoming_from(&op1, 1).contains(UNIT_A),
        "the emergency should ring first: {:?}",
        op1.events()
    );
    assert_unit_ended_by_far_end(&unit.wait());
    assert!(
        op1.wait(RING_WAIT, |e| is(e, "incoming", &[("call", json!(2))]))
            .is_some(),
        "the voice call never came"
    );
    assert!(
        incoming_from(&op1, 2).contains(UNIT_B),
        "{:?}",
        op1.events()
    );
    let voice = voice.wait();
    assert_eq!(voice.json["ended_by_remote"], true, "{}", voice.json);
}

/// Wrap-up: after op1 hangs up call A it stays in wrap-up (8 s) while B
/// waits; B rings only once wrap-up is over.
#[test]
fn operators_no_offer_during_wrap_up() {
    let test = "operators_no_offer_during_wrap_up";
    let Some(d) = centre(test, &plan_wrap_up(8)) else {
        return;
    };
    let op1 = phone_hanging_up_after(&d, "op1", 1000);
    let unit_a = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    op1.wait_incoming(0, RING_WAIT)
        .expect("op1 never rang for A");
    let unit_b = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_B, &["--wait-bye"]);
    let ended = op1
        .wait_state(1, "DISCONNECTED", RING_WAIT)
        .expect("call A did not end");
    let both = poll_until(SHORT, || {
        operator(&d, "op1")["state"] == "wrap_up"
            && calls(&d).iter().any(|c| c["state"] == "waiting")
    });
    assert!(
        both,
        "B should wait while op1 wraps up: {} {:?}",
        operator(&d, "op1"),
        calls(&d)
    );
    let second = op1
        .wait(RING_WAIT, |e| is(e, "incoming", &[("call", json!(2))]))
        .expect("B never rang");
    let gap = event_time(&second) - event_time(&ended);
    assert!(
        gap >= 7.5,
        "B rang {gap:.1} s after A ended, inside the 8 s wrap-up"
    );
    assert!(
        incoming_from(&op1, 2).contains(UNIT_B),
        "{:?}",
        op1.events()
    );
    assert_unit_ended_by_far_end(&unit_a.wait());
    assert_unit_ended_by_far_end(&unit_b.wait());
}

/// The journal holds an `alarmgate.call.overflowed` event moving a call
/// to target `to` for `reason` (after_waiting, no_operators_logged_in,
/// forward_failed, ...).
fn assert_move_journalled(d: &Daemon, reason: &str, to: &str) {
    let matches = |r: &Value| {
        r["type"] == CALL_OVERFLOWED && r["data"]["reason"] == reason && r["data"]["to"]["id"] == to
    };
    let moved = poll_until(SHORT, || {
        journal_records(&d.journal_dir).iter().any(matches)
    });
    let moves: Vec<Value> = journal_records(&d.journal_dir)
        .into_iter()
        .filter(|r| r["type"] == CALL_OVERFLOWED)
        .collect();
    assert!(
        moved,
        "no {CALL_OVERFLOWED} ({reason} to {to}) in the journal: {moves:?}"
    );
}
