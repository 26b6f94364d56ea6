//! The end to end path, every test dialplan through `alarmgate check`,
//! in-call digits and reload during a call.

use super::*;

/// Every dialplan the daemon tests (`operators_*`) run on passes `alarmgate check`
/// (a renamed or missing key shows here first, without any peer), the
/// reload test's second file is valid and its broken one is refused (64).
#[test]
fn operators_test_dialplans_pass_alarmgate_check() {
    let dir = TestDir::new("operators_test_dialplans_pass_alarmgate_check");
    let closed = "sip:closed@127.0.0.1:9";
    let plans = [
        ("one-operator", Plan::new(&["op1"], NOWHERE)),
        ("ring-timeout", plan_ring_timeout(&["op1", "op2"], 5)),
        ("wrap-up", plan_wrap_up(8)),
        (
            "overflow-after",
            plan_overflow("after_s = 4", "partner", NOWHERE),
        ),
        (
            "overflow-nobody",
            plan_overflow("no_operator_logged_in = true", "partner", NOWHERE),
        ),
        ("refusing-target", plan_refusing_target(NOWHERE, closed)),
    ];
    for (name, plan) in &plans {
        check_dialplan(&dir.path, name, &render_plan(plan), 0);
    }
    let base = render_plan(&plans[0].1);
    check_dialplan(
        &dir.path,
        "reloaded",
        &format!("{base}\n{}", operator_table("op2")),
        0,
    );
    check_dialplan(&dir.path, "broken", &format!("{base}{BROKEN_OPERATOR}"), 64);
}

/// The end-to-end path of the issue: a softphone registers as op1; a
/// spandsp unit sends a 101 and gets its kissoff; op1's phone rings (the
/// API shows the call ringing at op1, class emergency, code 101); op1
/// answers; op1 hears the unit's 1000 Hz and the unit hears op1's 700 Hz;
/// op1 hangs up and the unit's call ends. Prints kissoff → ringing.
#[test]
fn operators_e2e_alarm_reaches_operator_tones_both_ways() {
    let test = "operators_e2e_alarm_reaches_operator_tones_both_ways";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let mut op1 = operator_phone(&d, operator_opts("op1"));
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let inc = op1
        .wait_incoming(0, RING_WAIT)
        .expect("op1's phone never rang");
    assert!(
        incoming_from(&op1, inc).contains(UNIT_A),
        "the operator should see the unit's number: {:?}",
        op1.events()
    );
    let ringing = wait_call(&d, SHORT, "ringing at op1", |c| c["operator"] == "op1");
    assert_eq!(ringing["class"], "emergency", "{ringing}");
    assert_eq!(ringing["event_code"], "101", "{ringing}");
    assert_eq!(ringing["tenant"], "demo", "{ringing}");
    assert!(
        op1.wait_state(inc, "CONFIRMED", SHORT).is_some(),
        "op1 did not connect: {:?}",
        op1.events()
    );
    wait_call(&d, SHORT, "connected to op1", |c| {
        c["state"] == "connected" && c["operator"] == "op1"
    });
    wait_operator_state(&d, "op1", "on_call", SHORT);
    assert_heard(&op1, inc, UNIT_HZ);
    let (ok, levels) = op1.wait_heard(inc, UNIT_HZ, HEARD_DBM0, 6, SHORT);
    assert!(ok, "the unit's tone did not last: {levels:?}");
    op1.send(json!({"cmd": "hangup"}));
    let unit = unit.wait();
    assert_unit_voice(&unit, true);
    let rang = op1
        .wait(SHORT, |e| e["ev"] == "incoming")
        .map(|e| event_time(&e));
    if let (Some(k), Some(r)) = (unit_progress(&unit.output, "kissoff"), rang) {
        eprintln!(
            "{test}: kissoff end -> operator ringing: {:.0} ms",
            (r - k) * 1000.0
        );
    }
    assert_journal_has(
        &d,
        &[CALL_QUEUED, CALL_OFFERED, CALL_ANSWERED, OPERATOR_STATE],
    );
    assert!(
        poll_until(SHORT, || calls(&d).is_empty()),
        "calls left: {:?}",
        calls(&d)
    );
}

/// In-call commands: op1 answers and sends "1#" as RFC 4733; the bridge
/// passes them to the unit (as RFC 4733, the unit offered telephone-event,
/// or in-band), which reports them; op1 hangs up.
#[test]
fn operators_operator_digits_reach_the_unit() {
    let test = "operators_operator_digits_reach_the_unit";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let mut op1 = operator_phone(&d, operator_opts("op1"));
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let inc = op1
        .wait_incoming(0, RING_WAIT)
        .expect("op1's phone never rang");
    assert_heard(&op1, inc, UNIT_HZ);
    op1.send(json!({"cmd": "dtmf", "digits": "1#"}));
    op1.wait(SHORT, |e| e["ev"] == "dtmf_sent")
        .expect("op1 could not send the digits");
    let (ok, _) = op1.wait_heard(inc, UNIT_HZ, HEARD_DBM0, 8, SHORT);
    assert!(ok, "the call did not stay up after the digits");
    op1.send(json!({"cmd": "hangup"}));
    let unit = unit.wait();
    assert_unit_voice(&unit, true);
    assert_eq!(
        unit_digits(&unit),
        "1#",
        "the unit's in-call digits: {}",
        unit.json["voice"]
    );
}

/// SIGHUP during a bridged call: a new operator (op2) is added and can
/// register at once, the call's audio never stops, then an invalid file is
/// refused (the daemon keeps serving, the call still up), and the call ends
/// normally when op1 hangs up.
#[test]
fn operators_reload_during_a_call_keeps_it() {
    let test = "operators_reload_during_a_call_keeps_it";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let mut op1 = operator_phone(&d, operator_opts("op1"));
    let unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let inc = op1.wait_incoming(0, RING_WAIT).expect("op1 never rang");
    assert_heard(&op1, inc, UNIT_HZ);
    let original = fs::read_to_string(d.config_path()).expect("read config");
    fs::write(
        d.config_path(),
        format!("{original}\n{}", operator_table("op2")),
    )
    .expect("write config");
    let mark = op1.mark();
    d.sighup();
    let known = poll_until(SHORT, || {
        api(&d, "GET", "/api/v1/operators/op2", None).0 == 200
    });
    assert!(known, "op2 unknown after the reload:\n{}", d.log_text());
    let op2 = operator_phone(&d, operator_opts("op2"));
    fs::write(d.config_path(), format!("{original}{BROKEN_OPERATOR}")).expect("write bad config");
    d.sighup();
    assert!(
        poll_until(SHORT, || d.log_text().contains("operators[1]")),
        "the invalid reload was not reported:\n{}",
        d.log_text()
    );
    assert!(
        matches!(http_get(d.http_port, "/readyz"), Some((200, _))),
        "not ready after a refused reload"
    );
    assert_eq!(
        operator(&d, "op2")["contacts"],
        1,
        "the refused file replaced the good one"
    );
    assert_audio_unbroken(&op1, inc, mark);
    assert!(
        op1.wait_after(mark, Duration::ZERO, |e| is(
            e,
            "state",
            &[("call", json!(inc))]
        ))
        .is_none(),
        "the call changed state across the reloads: {:?}",
        op1.events()
    );
    op1.send(json!({"cmd": "hangup"}));
    assert_unit_voice(&unit.wait(), true);
    drop(op2);
}

/// Every level window of `call` after `mark` heard the unit (no gap), and
/// there were at least 6 of them (3 s).
fn assert_audio_unbroken(phone: &Softphone, call: u64, mark: usize) {
    let enough = poll_until(SHORT, || {
        phone
            .events()
            .iter()
            .skip(mark)
            .filter(|e| is(e, "levels", &[("call", json!(call))]))
            .count()
            >= 6
    });
    let levels: Vec<f64> = phone
        .events()
        .iter()
        .skip(mark)
        .filter(|e| is(e, "levels", &[("call", json!(call))]))
        .filter_map(|e| e["levels"][UNIT_HZ.to_string()].as_f64())
        .collect();
    assert!(enough, "the call's audio stopped: {levels:?}");
    assert!(
        levels.iter().all(|l| *l >= HEARD_DBM0),
        "the unit's tone dropped out across the reload: {levels:?}"
    );
}

/// The journal holds at least one event of each of `types`.
fn assert_journal_has(d: &Daemon, types: &[&str]) {
    let seen = || -> Vec<String> {
        journal_records(&d.journal_dir)
            .iter()
            .filter_map(|r| r["type"].as_str().map(String::from))
            .collect()
    };
    let all = poll_until(SHORT, || {
        types.iter().all(|t| seen().iter().any(|s| s == t))
    });
    assert!(all, "wanted {types:?} in the journal, found {:?}", seen());
}
