//! The peers alone, without the daemon: softphones, digest, OPTIONS,
//! answer policies and the alarm unit's voice phase.

use super::*;

/// Two softphones on loopback: op1 calls op2 (answers after 300 ms); each
/// hears the other's tone (op1's switched on by command) and not its own; op2's RFC 4733 digits arrive at
/// op1; op1 hangs up and op2's call ends.
#[test]
fn peers_softphones_call_each_other_tones_both_ways() {
    let test = "peers_softphones_call_each_other_tones_both_ways";
    if !need_pjsua2(test) {
        return;
    }
    let dir = TestDir::new(test);
    // op1 starts silent and switches its tone on once connected
    let mut op1 = Softphone::spawn(
        &dir.path,
        &PhoneOpts {
            tone_hz: 0.0,
            ..operator_opts("op1")
        },
    );
    let mut op2 = Softphone::spawn(&dir.path, &operator_opts("op2"));
    op1.send(json!({"cmd": "call", "uri": format!("sip:op2@127.0.0.1:{}", op2.sip_port)}));
    let inc = op2.wait_incoming(0, SHORT).expect("op2: no incoming call");
    let ring = op2.wait(SHORT, |e| is(e, "state", &[("state", json!("EARLY"))]));
    assert!(ring.is_some(), "op2 did not ring: {:?}", op2.events());
    let out = 1;
    assert!(
        op1.wait_state(out, "CONFIRMED", SHORT).is_some(),
        "op1: not connected"
    );
    assert!(
        op2.wait_state(inc, "CONFIRMED", SHORT).is_some(),
        "op2: not connected"
    );
    assert_heard(&op1, out, OPERATOR_HZ);
    op1.tone(UNIT_HZ);
    assert_heard(&op2, inc, UNIT_HZ);
    let (_, own) = op1.wait_heard(out, UNIT_HZ, HEARD_DBM0, 0, Duration::ZERO);
    assert!(
        own.iter().all(|l| *l < HEARD_DBM0),
        "op1 hears its own tone: {own:?}"
    );
    let media = op2
        .wait(SHORT, |e| e["ev"] == "media")
        .expect("op2: no media event");
    assert!(
        media["codec"] == "PCMA" || media["codec"] == "PCMU",
        "{media}"
    );
    op2.send(json!({"cmd": "dtmf", "digits": "5#"}));
    let digits = || -> String {
        op1.events()
            .iter()
            .filter(|e| e["ev"] == "dtmf_in")
            .filter_map(|e| e["digit"].as_str().map(String::from))
            .collect()
    };
    assert!(
        poll_until(SHORT, || digits() == "5#"),
        "op1 got digits {:?}",
        digits()
    );
    op1.send(json!({"cmd": "hangup"}));
    assert!(
        op2.wait_state(inc, "DISCONNECTED", SHORT).is_some(),
        "op2's call did not end"
    );
    assert!(
        op1.quit() && op2.quit(),
        "a softphone did not exit on stdin EOF"
    );
    let bye = op1.wait(SHORT, |e| e["ev"] == "bye").expect("no bye line");
    assert_eq!(bye["reason"], "stdin closed");
}

/// REGISTER with digest at a SIPp registrar that verifies the response
/// (`tests/sipp/standin/uas_register_auth.xml`), then the unregister.
#[test]
fn peers_softphone_registers_with_digest() {
    let test = "peers_softphone_registers_with_digest";
    if !need_pjsua2(test) || !need_sipp(test) {
        return;
    }
    let dir = TestDir::new(test);
    let port = free_port();
    let mut registrar = Sipp::new("standin/uas_register_auth.xml", 0, &dir.path).timeout_s(30);
    registrar.port = port;
    let registrar = registrar.spawn_uas();
    assert!(
        poll_until(SHORT, || port_bound(port, false)),
        "stand-in registrar never bound {port}"
    );
    let opts = PhoneOpts {
        registrar: Some(format!("sip:127.0.0.1:{port}")),
        realm: "alarmgate".into(),
        ..PhoneOpts::new("op1")
    };
    let mut op1 = Softphone::spawn(&dir.path, &opts);
    op1.register();
    let reg = op1
        .wait(SHORT, |e| e["ev"] == "reg")
        .expect("no REGISTER outcome");
    assert_eq!(reg["code"], 200, "{reg}");
    assert_eq!(reg["active"], true, "{reg}");
    let mark = op1.mark();
    op1.unregister();
    let unreg = op1
        .wait_after(mark, SHORT, |e| e["ev"] == "reg")
        .expect("no unregister outcome");
    assert_eq!(unreg["active"], false, "{unreg}");
    let srv = registrar.wait();
    assert_eq!(
        srv.successful, 1,
        "the stand-in registrar did not verify the digest:\n{}",
        srv.report
    );
}

/// The daemon's keep-alive probes get answers: three OPTIONS (SIPp's
/// `uac_options.xml`) to a softphone each get a 200 with Allow, Accept and
/// Supported.
#[test]
fn peers_softphone_answers_options_keepalives() {
    let test = "peers_softphone_answers_options_keepalives";
    if !need_pjsua2(test) || !need_sipp(test) {
        return;
    }
    let dir = TestDir::new(test);
    let op1 = Softphone::spawn(&dir.path, &PhoneOpts::new("op1"));
    Sipp::new("uac_options.xml", op1.sip_port, &dir.path)
        .service("op1")
        .calls(3)
        .run()
        .assert_ok(3);
}

/// op1 calls op2 under each policy: decline → 603, busy → 486, ring →
/// 180 until op1 cancels (op2 sees the call end unanswered).
#[test]
fn peers_softphone_policies_decline_busy_ring() {
    let test = "peers_softphone_policies_decline_busy_ring";
    if !need_pjsua2(test) {
        return;
    }
    let dir = TestDir::new(test);
    let mut op1 = Softphone::spawn(&dir.path, &PhoneOpts::new("op1"));
    let mut op2 = Softphone::spawn(&dir.path, &PhoneOpts::new("op2"));
    let uri = format!("sip:op2@127.0.0.1:{}", op2.sip_port);
    for (n, (policy, code)) in [("decline", 603), ("busy", 486)].into_iter().enumerate() {
        op2.policy(policy, 0);
        op1.send(json!({"cmd": "call", "uri": uri}));
        let end = op1
            .wait_state(n as u64 + 1, "DISCONNECTED", SHORT)
            .expect("call did not end");
        assert_eq!(end["code"], code, "{policy}: {end}");
    }
    op2.policy("ring", 0);
    op1.send(json!({"cmd": "call", "uri": uri}));
    let ringing = op1.wait(SHORT, |e| {
        is(e, "state", &[("call", json!(3)), ("code", json!(180))])
    });
    assert!(ringing.is_some(), "no 180: {:?}", op1.events());
    assert!(
        poll_until(SHORT, || op2.incoming_count() == 3),
        "op2 saw {} calls",
        op2.incoming_count()
    );
    op1.send(json!({"cmd": "hangup", "call": 3}));
    let end = op2
        .wait_state(3, "DISCONNECTED", SHORT)
        .expect("op2's ringing call did not end");
    assert_eq!(end["code"], 487, "a CANCELled call ends with 487: {end}");
    let confirmed = op2
        .events()
        .iter()
        .filter(|e| is(e, "state", &[("state", json!("CONFIRMED"))]))
        .count();
    assert_eq!(
        confirmed,
        0,
        "op2 answered under decline/busy/ring: {:?}",
        op2.events()
    );
}

/// The alarm unit with its voice phase against spandsp's receiver turned
/// person: 101 decoded and kissed off, then 1000 Hz heard by the receiver,
/// 700 Hz and the digits "1#" (RFC 4733) heard by the unit, and the
/// receiver's BYE ends the unit's call.
#[test]
fn peers_alarm_unit_voice_phase_against_spandsp_receiver() {
    let test = "peers_alarm_unit_voice_phase_against_spandsp_receiver";
    if !need_spandsp(test) {
        return;
    }
    let dir = TestDir::new(test);
    let port = free_port();
    let mut a = strings(&["refarc", "--local-port", &port.to_string()]);
    a.extend(strings(&[
        "--rtp-port",
        &free_udp_block(20).to_string(),
        "--timeout",
        "40",
    ]));
    a.extend(strings(&[
        "--voice-tone",
        &OPERATOR_HZ.to_string(),
        "--voice-measure",
        &UNIT_HZ.to_string(),
    ]));
    a.extend(strings(&[
        "--voice-dtmf",
        "1#",
        "--voice-hangup-ms",
        "3000",
    ]));
    let arc = PyPeer::spawn("cid_peer.py", &dir.path, &a, Duration::from_secs(60));
    assert!(
        poll_until(Duration::from_secs(20), || port_bound(port, false)),
        "refarc never bound {port}"
    );
    let unit = alarm_unit(
        &dir.path,
        &format!("sip:112@127.0.0.1:{port}"),
        &["--wait-bye"],
    );
    let arc = arc.wait();
    assert_unit_voice(&unit, true);
    let call = &arc.json["calls"][0];
    assert_eq!(call["reports"][0], "1234 18 1 101 01 002", "{}", arc.json);
    let heard = &call["voice"]["heard"][UNIT_HZ.to_string()];
    assert!(
        heard["windows_above"].as_u64().unwrap_or(0) >= 3,
        "the receiver did not hear the unit: {}",
        arc.json
    );
    assert_eq!(
        unit_digits(&unit),
        "1#",
        "in-call digits: {}",
        unit.json["voice"]
    );
}
