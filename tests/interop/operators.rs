//! Operators and routing through real processes (issue 5, "How it must be
//! shown"): pjsua2 softphones (`tests/peers/pj_operator.py`, driven through
//! [`crate::softphone`]) register as operators, a spandsp-driven alarm unit
//! (`tests/peers/cid_peer.py device` with its voice phase) sends a Contact
//! ID 101, and the daemon must queue, ring, bridge, overflow and fail over.
//!
//! The first tests (`peers_*`) prove the peers themselves without the
//! daemon: two softphones call each other and hear each other's tones, a
//! softphone registers with digest at a SIPp stand-in registrar that checks
//! its credentials, it answers OPTIONS keep-alives, the
//! answer/decline/busy/ring policies give the expected SIP outcomes, and the
//! alarm unit's voice phase works against spandsp's receiver. A failure
//! there means the tooling is broken, not the daemon. And every dialplan
//! the daemon tests use passes `alarmgate check` today.
//!
//! The daemon tests (`operators_*`) drive the integrated operator side
//! (registrar, routing, outgoing legs, media bridge, API, SIGHUP): the end
//! to end path, ring-no-answer, decline, a softphone killed while ringing,
//! unregistering while a call waits, overflow by time and by nobody logged
//! in, the last resort, priority overtaking, wrap-up, reload during a call,
//! and in-call digits.
//! Tones: the unit plays 1000 Hz, operators play 700 Hz, both at -10 dBm0;
//! "heard" means a 500 ms Goertzel window at or above -30 dBm0 (a bridge
//! through A-law/µ-law loses well under 1 dB).

use crate::harness::{
    free_port, free_udp_block, http_get, http_request, journal_records, need_pjsua2, need_sipp,
    need_spandsp, poll_until, port_bound, AlarmOpts, Config, Daemon, PeerResult, PyPeer, Sipp,
    TestDir,
};
use crate::softphone::{is, PhoneOpts, Softphone};
use alarmgate::routing::{
    CALL_ANSWERED, CALL_OFFERED, CALL_OVERFLOWED, CALL_QUEUED, OPERATOR_STATE,
};
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// The unit's tone (Hz) and the operator's.
pub(crate) const UNIT_HZ: u32 = 1000;
pub(crate) const OPERATOR_HZ: u32 = 700;
/// A tone at or above this level in a window counts as heard.
pub(crate) const HEARD_DBM0: f64 = -30.0;
pub(crate) const SHORT: Duration = Duration::from_secs(10);

pub(crate) fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A softphone that plays `OPERATOR_HZ` and measures both tones.
pub(crate) fn operator_opts(id: &str) -> PhoneOpts {
    PhoneOpts {
        tone_hz: f64::from(OPERATOR_HZ),
        measure: vec![f64::from(UNIT_HZ), f64::from(OPERATOR_HZ)],
        ..PhoneOpts::new(id)
    }
}

/// Asserts that `phone` heard `hz` on `call` in at least 3 windows.
pub(crate) fn assert_heard(phone: &Softphone, call: u64, hz: u32) {
    let (ok, levels) = phone.wait_heard(call, hz, HEARD_DBM0, 3, SHORT);
    assert!(
        ok,
        "{} did not hear {hz} Hz on call {call} (levels {levels:?})",
        phone.id
    );
}

// ---------------------------------------------------------------- the peers alone

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

/// The in-call digits the unit heard in its voice phase: RFC 4733 if any
/// came that way, else those spandsp's detector found in the audio.
fn unit_digits(unit: &PeerResult) -> String {
    let voice = &unit.json["voice"];
    let rfc4733 = voice["digits_rfc4733"].as_str().unwrap_or_default();
    let inband = voice["digits_inband"].as_str().unwrap_or_default();
    if rfc4733.is_empty() { inband } else { rfc4733 }.to_string()
}

/// Starts the spandsp unit (a 101 from `caller`, then the voice phase:
/// plays `UNIT_HZ`, measures `OPERATOR_HZ`) against `uri`, with `extra` flags.
pub(crate) fn spawn_unit(dir: &Path, uri: &str, caller: &str, extra: &[&str]) -> PyPeer {
    let (port, rtp) = (free_port().to_string(), free_udp_block(20).to_string());
    let mut a = strings(&[
        "device",
        "--uri",
        uri,
        "--local-port",
        &port,
        "--rtp-port",
        &rtp,
    ]);
    a.extend(strings(&["--caller", caller, "-m", "1234 18 1 101 01 002"]));
    a.extend(strings(&["--timeout", "90", "--events"]));
    a.extend(strings(&[
        "--voice-tone",
        &UNIT_HZ.to_string(),
        "--voice-measure",
        &OPERATOR_HZ.to_string(),
    ]));
    a.extend(strings(extra));
    PyPeer::spawn("cid_peer.py", dir, &a, Duration::from_secs(120))
}

/// [`spawn_unit`] from the default caller, waited for.
fn alarm_unit(dir: &Path, uri: &str, extra: &[&str]) -> PeerResult {
    let r = spawn_unit(dir, uri, UNIT_A, extra).wait();
    eprintln!("alarm unit: {}", r.json);
    r
}

/// The unix time of the unit's progress line `ev` (answered, handshake, kissoff, ended).
pub(crate) fn unit_progress(output: &str, ev: &str) -> Option<f64> {
    output
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["ev"] == ev)
        .and_then(|v| v["t"].as_f64())
}

/// The unit got its kissoff, heard the operator's tone, and (when
/// `ended_by_far_end`) its call was ended by the far end.
pub(crate) fn assert_unit_voice(unit: &PeerResult, ended_by_far_end: bool) {
    assert_eq!(
        unit.json["acknowledged"], 1,
        "no kissoff: {}\n{}",
        unit.json, unit.output
    );
    let heard: &Value = &unit.json["voice"]["heard"][OPERATOR_HZ.to_string()];
    assert!(
        heard["windows_above"].as_u64().unwrap_or(0) >= 3,
        "the unit did not hear {OPERATOR_HZ} Hz: {}",
        unit.json["voice"]
    );
    if ended_by_far_end {
        assert_unit_ended_by_far_end(unit);
    }
}

/// The unit got its kissoff and the far end (operator or target) ended its call.
pub(crate) fn assert_unit_ended_by_far_end(unit: &PeerResult) {
    assert_eq!(
        unit.json["acknowledged"], 1,
        "no kissoff: {}\n{}",
        unit.json, unit.output
    );
    assert_eq!(
        unit.json["ended_by_remote"], true,
        "the unit's call was not ended by the far end: {}",
        unit.json
    );
    assert_eq!(unit.code, Some(0), "{}\n{}", unit.json, unit.output);
}

// ---------------------------------------------------------------- the daemon with operators

/// The bearer token of the tests' `[[api.tokens]]`.
pub(crate) const TOKEN: &str = "operators-interop-token";
pub(crate) const REALM: &str = "alarmgate";
/// Callers (From user) of the alarm units.
pub(crate) const UNIT_A: &str = "4511111111";
pub(crate) const UNIT_B: &str = "4522222222";
/// From kissoff to the operator's phone ringing, and similar waits.
pub(crate) const RING_WAIT: Duration = Duration::from_secs(30);

/// What a test's dialplan holds besides the harness's demo tenant and loopback trunk.
pub(crate) struct Plan {
    /// Operators serving queue `main` (login_on_register = true).
    pub(crate) operators: Vec<&'static str>,
    /// Keys and `[[queues.overflow]]` tables of queue `main` (tenant demo).
    pub(crate) queue: String,
    /// `[[targets]]` (id, uri), over the loopback trunk.
    pub(crate) targets: Vec<(&'static str, String)>,
    /// Keys of the demo tenant (default_queue, last_resort).
    pub(crate) tenant_keys: String,
}

impl Plan {
    /// `operators` serving `main` (ring 5 s, no wrap-up, no aging), last
    /// resort `partner` at `partner_uri`.
    pub(crate) fn new(operators: &[&'static str], partner_uri: &str) -> Self {
        Plan {
            operators: operators.to_vec(),
            queue: queue_keys(5, 0),
            targets: vec![("partner", partner_uri.to_string())],
            tenant_keys: "default_queue = \"main\"\nlast_resort = \"partner\"\n".into(),
        }
    }

    pub(crate) fn config(&self) -> Config {
        let mut extra = format!(
            "[registrar]\nrealm = \"{REALM}\"\nkeepalive_interval_s = 2\n\n[api]\n[[api.tokens]]\nname = \"tests\"\n{}\n",
            alarmgate::config::token_sha256_line(TOKEN)
        );
        extra.push_str(&format!(
            "[[queues]]\nid = \"main\"\ntenant = \"demo\"\n{}\n",
            self.queue
        ));
        for id in &self.operators {
            extra.push_str(&operator_table(id));
        }
        for (id, uri) in &self.targets {
            extra.push_str(&format!(
                "[[targets]]\nid = \"{id}\"\nuri = \"{uri}\"\ntrunk = \"loopback\"\n\n"
            ));
        }
        Config {
            alarm: Some(AlarmOpts::default()),
            tenant_keys: self.tenant_keys.clone(),
            extra,
            ..Config::default()
        }
    }
}

/// Queue `main`'s keys: ring timeout and wrap-up in seconds, no aging.
pub(crate) fn queue_keys(ring_timeout_s: u64, wrap_up_s: u64) -> String {
    format!("ring_timeout_s = {ring_timeout_s}\nwrap_up_s = {wrap_up_s}\naging_per_s = 0\n")
}

/// A target nobody answers at (the last resort the tests never reach).
pub(crate) const NOWHERE: &str = "sip:partner@127.0.0.1:9";

/// `operators` serving `main` with this ring timeout (no wrap-up).
fn plan_ring_timeout(operators: &[&'static str], ring_timeout_s: u64) -> Plan {
    let mut plan = Plan::new(operators, NOWHERE);
    plan.queue = queue_keys(ring_timeout_s, 0);
    plan
}

/// op1 alone, with wrap-up.
fn plan_wrap_up(wrap_up_s: u64) -> Plan {
    let mut plan = Plan::new(&["op1"], NOWHERE);
    plan.queue = queue_keys(10, wrap_up_s);
    plan
}

/// op1 serving `main`, whose one overflow rule (`condition`, a TOML line)
/// forwards to `to`; the partner is the last resort.
fn plan_overflow(condition: &str, to: &str, partner_uri: &str) -> Plan {
    let mut plan = Plan::new(&["op1"], partner_uri);
    plan.queue.push_str(&format!(
        "\n[[queues.overflow]]\n{condition}\nto_target = \"{to}\"\n"
    ));
    plan
}

/// Nobody logged in goes to target `closed`; the partner is the last resort.
fn plan_refusing_target(partner_uri: &str, closed_uri: &str) -> Plan {
    let mut plan = plan_overflow("no_operator_logged_in = true", "closed", partner_uri);
    plan.targets.push(("closed", closed_uri.to_string()));
    plan
}

/// An `[[operators]]` table serving `main`, password `secret-<id>` (as [`PhoneOpts::new`]).
pub(crate) fn operator_table(id: &str) -> String {
    format!(
        "[[operators]]\nid = \"{id}\"\nname = \"Operator {id}\"\n{}queues = [\"main\"]\nlogin_on_register = true\n\n",
        alarmgate::config::device_ha1_lines(id, REALM, &format!("secret-{id}"))
    )
}

/// A daemon running `plan`, when spandsp and pjsua2 are there.
pub(crate) fn centre(test: &str, plan: &Plan) -> Option<Daemon> {
    if !need_spandsp(test) {
        return None;
    }
    Daemon::start(test, &plan.config())
}

pub(crate) fn device_uri(d: &Daemon) -> String {
    format!("sip:112@127.0.0.1:{}", d.sip_port)
}

/// `method path` on the API with the tests' token; (status, JSON body or Null).
pub(crate) fn api(d: &Daemon, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let (status, text) = http_request(d.http_port, method, path, Some(TOKEN), body.as_deref())
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer"));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `GET /api/v1/operators/{id}`.
pub(crate) fn operator(d: &Daemon, id: &str) -> Value {
    let (status, v) = api(d, "GET", &format!("/api/v1/operators/{id}"), None);
    assert_eq!(status, 200, "GET /api/v1/operators/{id}: {v}");
    v
}

/// Polls until operator `id` is in `state`; panics with what it was.
pub(crate) fn wait_operator_state(d: &Daemon, id: &str, state: &str, timeout: Duration) {
    let mut last = Value::Null;
    let ok = poll_until(timeout, || {
        last = operator(d, id);
        last["state"] == state
    });
    assert!(ok, "operator {id} never {state}: {last}");
}

/// `PUT /api/v1/operators/{id}/state` with `{"state": state[, "reason"]}`.
pub(crate) fn set_state(d: &Daemon, id: &str, state: &str, reason: Option<&str>) {
    let mut body = json!({"state": state});
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    let (status, v) = api(
        d,
        "PUT",
        &format!("/api/v1/operators/{id}/state"),
        Some(body),
    );
    assert!(
        (200..300).contains(&status),
        "PUT state {state} for {id}: {status} {v}"
    );
}

/// `GET /api/v1/calls`: the calls array.
pub(crate) fn calls(d: &Daemon) -> Vec<Value> {
    let (status, v) = api(d, "GET", "/api/v1/calls", None);
    assert_eq!(status, 200, "GET /api/v1/calls: {v}");
    v["calls"].as_array().cloned().unwrap_or_default()
}

/// Polls `GET /api/v1/calls` until some call matches `pred`; returns it.
pub(crate) fn wait_call(
    d: &Daemon,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Vec::new();
    let mut found = None;
    poll_until(timeout, || {
        last = calls(d);
        found = last.iter().find(|c| pred(c)).cloned();
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no call {what} in GET /api/v1/calls: {last:?}"))
}

/// `GET /api/v1/queues`: queue `id`.
pub(crate) fn queue(d: &Daemon, id: &str) -> Value {
    let (status, v) = api(d, "GET", "/api/v1/queues", None);
    assert_eq!(status, 200, "GET /api/v1/queues: {v}");
    let queues = v["queues"].as_array().cloned().unwrap_or_default();
    queues
        .into_iter()
        .find(|q| q["id"] == id)
        .unwrap_or(Value::Null)
}

/// A softphone registered with the daemon as `opts.id`; waits for the 200
/// and (login_on_register) for the operator to be available.
pub(crate) fn operator_phone(d: &Daemon, opts: PhoneOpts) -> Softphone {
    let opts = PhoneOpts {
        registrar: Some(format!("sip:127.0.0.1:{}", d.sip_port)),
        ..opts
    };
    let mut phone = Softphone::spawn(&d.dir.path, &opts);
    phone.register();
    assert_eq!(
        phone.wait_reg(0, SHORT),
        Some(200),
        "{}: REGISTER: {:?}",
        opts.id,
        phone.events()
    );
    wait_operator_state(d, &opts.id, "available", SHORT);
    phone
}

/// A softphone outside the daemon (a partner centre) on a port chosen now,
/// so that the config can name it: (uri, opts to spawn it with).
pub(crate) fn target_phone(id: &str) -> (String, PhoneOpts) {
    let port = free_port();
    let opts = PhoneOpts {
        sip_port: Some(port),
        hangup_after_ms: Some(4000),
        ..operator_opts(id)
    };
    (format!("sip:{id}@127.0.0.1:{port}"), opts)
}

/// The `from` of incoming call `n` (1-based) of `phone`.
pub(crate) fn incoming_from(phone: &Softphone, n: u64) -> String {
    let e = phone
        .wait(SHORT, |e| is(e, "incoming", &[("call", json!(n))]))
        .unwrap_or(Value::Null);
    e["from"].as_str().unwrap_or_default().to_string()
}
/// `id`'s phone, doing `on_incoming` with every call ("ring": ring until
/// cancelled, "decline": 603).
pub(crate) fn phone_that(d: &Daemon, id: &str, on_incoming: &str) -> Softphone {
    let opts = PhoneOpts {
        on_incoming: on_incoming.into(),
        ..operator_opts(id)
    };
    operator_phone(d, opts)
}

/// `id`'s phone, answering every call and hanging up `ms` after.
pub(crate) fn phone_hanging_up_after(d: &Daemon, id: &str, ms: u64) -> Softphone {
    let opts = PhoneOpts {
        hangup_after_ms: Some(ms),
        ..operator_opts(id)
    };
    operator_phone(d, opts)
}

/// op1 paused ("meeting") while a voice call from `UNIT_B` (pjsua2) and
/// then an emergency from the unit at `UNIT_A` (101) come in and wait:
/// (the voice caller, the unit, their `GET /api/v1/calls` entries).
pub(crate) fn voice_then_emergency_waiting(d: &Daemon) -> (PyPeer, PyPeer, Value, Value) {
    set_state(d, "op1", "paused", Some("meeting"));
    wait_operator_state(d, "op1", "paused", SHORT);
    let voice = voice_caller(d, UNIT_B);
    let voice_call = wait_call(d, RING_WAIT, "voice waiting", |c| {
        c["class"] == "voice" && c["state"] == "waiting"
    });
    let unit = spawn_unit(&d.dir.path, &device_uri(d), UNIT_A, &["--wait-bye"]);
    let emergency = wait_call(d, RING_WAIT, "emergency waiting", |c| {
        c["class"] == "emergency" && c["state"] == "waiting"
    });
    (voice, unit, voice_call, emergency)
}

pub(crate) fn event_time(e: &Value) -> f64 {
    e["t"].as_f64().unwrap_or(0.0)
}

/// Every dialplan the daemon tests below run on passes `alarmgate check`
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

/// What the reload test writes to be refused: an operator without name or credentials.
const BROKEN_OPERATOR: &str = "\n[[operators]]\nid = \"op3\"\n";

/// The config a daemon started on `plan` runs on (fixed ports: never started).
pub(crate) fn render_plan(plan: &Plan) -> String {
    plan.config().render(5060, 9060, (20000, 20199), "")
}

/// Writes `text` as `<name>.toml` and asserts `alarmgate check` exits `want`.
pub(crate) fn check_dialplan(dir: &Path, name: &str, text: &str, want: i32) {
    let path = dir.join(format!("{name}.toml"));
    fs::write(&path, text).expect("write dialplan");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .arg("check")
        .arg(&path)
        .output()
        .expect("run alarmgate check");
    assert_eq!(
        out.status.code(),
        Some(want),
        "alarmgate check {name}: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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

/// A citizen's voice call (pjsua2 sending silence, no Contact ID), from `caller`.
pub(crate) fn voice_caller(d: &Daemon, caller: &str) -> PyPeer {
    let (port, rtp) = (free_port().to_string(), free_udp_block(20).to_string());
    let mut a = strings(&["call", "--uri", &device_uri(d), "--caller", caller]);
    a.extend(strings(&[
        "--local-port",
        &port,
        "--rtp-port",
        &rtp,
        "--wait-bye",
        "--timeout",
        "90",
    ]));
    PyPeer::spawn("pj_call.py", &d.dir.path, &a, Duration::from_secs(110))
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
