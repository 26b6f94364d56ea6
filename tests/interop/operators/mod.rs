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
//!
//! Files: `mod.rs` (this one) holds the tones, the alarm unit's helpers and
//! the dialplan builders; [`centre`] the daemon side (start, API queries,
//! phones registered at it); [`peers`] the peers alone; [`routing`]
//! ring-no-answer, decline, a killed softphone, unregister, log-in;
//! [`overflow`] overflow, the last resort, priority, wrap-up; [`e2e`] the
//! end to end path, the dialplans' check, reload and in-call digits.

mod centre;
mod e2e;
mod overflow;
mod peers;
mod routing;

pub(crate) use centre::*;

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
