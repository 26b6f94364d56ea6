//! Routing among operators: ring-no-answer, decline, a softphone killed
//! while ringing, unregistering while calls wait, log-in by registration.

use super::*;

/// Ring-no-answer: op1 (longest idle) lets it ring; after the 5 s ring
/// timeout op1 is paused (ring-no-answer), its INVITE cancelled, and op2
/// gets the call and answers.
#[test]
fn operators_ring_no_answer_pauses_and_offers_the_next() {
    let test = "operators_ring_no_answer_pauses_and_offers_the_next";
    let Some(d) = centre(test, &plan_ring_timeout(&["op1", "op2"], 5)) else {
        return;
    };
    let op1 = phone_that(&d, "op1", "ring");
    let op2 = phone_hanging_up_after(&d, "op2", 3000);
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let first = op1
        .wait(RING_WAIT, |e| e["ev"] == "incoming")
        .expect("op1 (longest idle) never rang");
    let second = op2
        .wait(RING_WAIT, |e| e["ev"] == "incoming")
        .expect("op2 never rang");
    let gap = event_time(&second) - event_time(&first);
    assert!(
        (4.0..10.0).contains(&gap),
        "op2 rang {gap:.1} s after op1 (ring timeout 5 s)"
    );
    let ended = op1
        .wait_state(1, "DISCONNECTED", SHORT)
        .expect("op1's INVITE was not cancelled");
    assert_eq!(ended["code"], 487, "{ended}");
    let paused = operator(&d, "op1");
    assert_eq!(paused["state"], "paused", "{paused}");
    assert!(
        paused["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no-answer"),
        "{paused}"
    );
    assert_unit_voice(&unit.wait(), true);
    assert_eq!(
        op1.incoming_count(),
        1,
        "a paused operator was offered a call"
    );
}

/// Decline: op1's 603 sends the call to op2 at once (long before the ring timeout).
#[test]
fn operators_decline_offers_the_next_at_once() {
    let test = "operators_decline_offers_the_next_at_once";
    let Some(d) = centre(test, &plan_ring_timeout(&["op1", "op2"], 20)) else {
        return;
    };
    let op1 = phone_that(&d, "op1", "decline");
    let op2 = phone_hanging_up_after(&d, "op2", 3000);
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let first = op1
        .wait(RING_WAIT, |e| e["ev"] == "incoming")
        .expect("op1 (longest idle) never rang");
    let second = op2
        .wait(RING_WAIT, |e| e["ev"] == "incoming")
        .expect("op2 never rang");
    let gap = event_time(&second) - event_time(&first);
    assert!(
        gap < 3.0,
        "op2 rang {gap:.1} s after op1 declined (ring timeout 20 s)"
    );
    assert!(
        op2.wait_state(1, "CONFIRMED", SHORT).is_some(),
        "op2 did not connect"
    );
    assert_unit_voice(&unit.wait(), true);
}

/// A softphone process killed (SIGKILL) while ringing: within two
/// keep-alive intervals (2 s each) op1 leaves the rotation, the call goes
/// to op2 (long before the 30 s ring timeout), and op1 shows no contact
/// and no call.
#[test]
fn operators_softphone_killed_while_ringing_fails_over() {
    let test = "operators_softphone_killed_while_ringing_fails_over";
    let Some(d) = centre(test, &plan_ring_timeout(&["op1", "op2"], 30)) else {
        return;
    };
    let mut op1 = phone_that(&d, "op1", "ring");
    let op2 = phone_hanging_up_after(&d, "op2", 3000);
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    op1.wait(RING_WAIT, |e| e["ev"] == "incoming")
        .expect("op1 (longest idle) never rang");
    op1.kill();
    let killed = std::time::Instant::now();
    op2.wait(Duration::from_secs(15), |e| e["ev"] == "incoming")
        .expect("the call never reached op2");
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "failover took {took:?} (keep-alive 2 s, ring timeout 30 s)"
    );
    assert!(
        poll_until(SHORT, || operator(&d, "op1")["contacts"] == 0),
        "op1 still has a contact: {}",
        operator(&d, "op1")
    );
    let st = operator(&d, "op1");
    assert!(
        st["state"] != "ringing" && st["current_call"].is_null(),
        "{st}"
    );
    assert_unit_voice(&unit.wait(), true);
}

/// An operator unregistering while a call waits for them: op1's ringing
/// INVITE is cancelled, op1 has no contact left and is offered nothing
/// more, the call keeps waiting (op2 is paused), and when op2 becomes
/// available it gets the call. (That op1 is then also *logged out*, as
/// `login_on_register` documents, is the next test.)
#[test]
fn operators_unregister_while_calls_wait() {
    let test = "operators_unregister_while_calls_wait";
    let Some(d) = centre(test, &plan_ring_timeout(&["op1", "op2"], 30)) else {
        return;
    };
    let mut op1 = phone_that(&d, "op1", "ring");
    let op2 = phone_hanging_up_after(&d, "op2", 3000);
    set_state(&d, "op2", "paused", Some("break"));
    wait_operator_state(&d, "op2", "paused", SHORT);
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    op1.wait(RING_WAIT, |e| e["ev"] == "incoming")
        .expect("op1 never rang");
    let mark = op1.mark();
    op1.unregister();
    assert!(
        op1.wait_reg(mark, SHORT).is_some(),
        "no answer to the unregister"
    );
    assert!(
        op1.wait_state(1, "DISCONNECTED", SHORT).is_some(),
        "op1's ringing call was not cancelled"
    );
    assert!(
        poll_until(SHORT, || operator(&d, "op1")["contacts"] == 0),
        "op1 still has a contact: {}",
        operator(&d, "op1")
    );
    let waiting = wait_call(&d, SHORT, "waiting", |c| c["state"] == "waiting");
    assert_eq!(waiting["queue"], "main", "{waiting}");
    assert_eq!(
        op2.incoming_count(),
        0,
        "a paused operator was offered the call"
    );
    set_state(&d, "op2", "available", None);
    op2.wait(RING_WAIT, |e| e["ev"] == "incoming")
        .expect("the waiting call never reached op2");
    assert_unit_voice(&unit.wait(), true);
    assert_eq!(
        op1.incoming_count(),
        1,
        "an unregistered operator was offered a call"
    );
}

/// `login_on_register = true` (docs/configuration.md): "a softphone
/// registering logs the operator in (available) and losing the last
/// registration logs them out". op1 registers (available), unregisters,
/// and must be logged out, both when the REGISTER says so and when its
/// phone dies (keep-alives, 2 s).
#[test]
fn operators_login_on_register_logs_out_with_the_last_binding() {
    let test = "operators_login_on_register_logs_out_with_the_last_binding";
    let Some(d) = centre(test, &Plan::new(&["op1", "op2"], NOWHERE)) else {
        return;
    };
    let mut op1 = operator_phone(&d, operator_opts("op1"));
    let mut op2 = operator_phone(&d, operator_opts("op2"));
    op1.unregister();
    wait_operator_state(&d, "op1", "logged_out", SHORT);
    op2.kill();
    wait_operator_state(&d, "op2", "logged_out", SHORT);
}
