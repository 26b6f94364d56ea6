//! Missing RTP is time, and a lost packet is not a lost digit, against peers
//! nobody here wrote (issue 9, items 5 and 10):
//!
//! - **our simulator → a receiver that sends no RTP while it listens.**
//!   `cid_peer.py refarc --vad`: spandsp's Contact ID receiver behind pjsua2
//!   with voice activity detection on (pjmedia's silence detector on G.711),
//!   so RTP stops while it waits for the digits and resumes with its kissoff.
//!   The simulator must complete every exchange on its first attempt, and its
//!   report must show that the RTP really stopped (`rx_longest_silence_ms`).
//!   pjmedia stops sending only after 400 ms of silence (`silencedet.c`,
//!   `DEF_BEFORE_SILENCE`), so the stop starts mid-pause; the case of no RTP
//!   at all right after the handshake is proven in simulated time
//!   (`simulate::silence_tests`).
//! - **spandsp's sender with VAD → the daemon.** `cid_peer.py device --vad`:
//!   the unit's RTP stops after its last digit until our kissoff comes; the
//!   daemon decodes and acknowledges every message on the first attempt.
//!   (For the same 400 ms reason pjsua2 keeps sending between digits; a unit
//!   silent between its digits is proven in simulated time,
//!   `alarm::pipeline::silence_tests`.)
//! - **a lossy line → the daemon.** The simulator loses 3 % of the RTP it
//!   sends (`--loss 3`, fixed seeds), six calls of eleven messages: at least
//!   90 % are acknowledged on their first attempt. (spandsp's sender on a
//!   lossy line, `cid_peer.py device --tx-drop-pct 2`, was tried too: on this
//!   shared 2-core machine under load its Python media callbacks fall behind
//!   and the unit misses kissoffs and repeats for reasons that are not the
//!   loss, so the number would measure the machine, not the receiver.)

use crate::harness::{
    journal_records, need_spandsp, poll_until, port_bound, AlarmOpts, Config, Daemon, PyPeer,
    TestDir,
};
use alarmgate::events::ALARM_RECEIVED;
use alarmgate::telemetry::metrics as m;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn daemon(test: &str) -> Option<Daemon> {
    if !need_spandsp(test) {
        return None;
    }
    let config = Config {
        alarm: Some(AlarmOpts::default()),
        ..Config::default()
    };
    Daemon::start(test, &config)
}

/// spandsp's sender (a unit) dialling the daemon with `messages`.
fn unit(d: &Daemon, messages: &[&str], extra: &[&str], timeout_s: u64) -> PyPeer {
    let uri = format!("sip:112@127.0.0.1:{}", d.sip_port);
    let port = crate::harness::free_port().to_string();
    let rtp = crate::harness::free_udp_block(20).to_string();
    let timeout = timeout_s.to_string();
    let mut a = strings(&["device", "--uri", &uri, "--local-port", &port]);
    a.extend(strings(&["--rtp-port", &rtp, "--timeout", &timeout]));
    for msg in messages {
        a.extend(strings(&["-m", msg]));
    }
    a.extend(strings(extra));
    let limit = Duration::from_secs(timeout_s + 25);
    PyPeer::spawn("cid_peer.py", &d.dir.path, &a, limit)
}

/// The daemon's `alarm.received` records.
fn received(d: &Daemon) -> Vec<Value> {
    let records = journal_records(&d.journal_dir).into_iter();
    records.filter(|r| r["type"] == ALARM_RECEIVED).collect()
}

/// spandsp's receiver with VAD, answering one call; waits until it listens.
fn vad_receiver(dir: &Path) -> (u16, PyPeer) {
    let port = crate::harness::free_port();
    let rtp = crate::harness::free_udp_block(20).to_string();
    let mut a = strings(&["refarc", "--vad", "--local-port", &port.to_string()]);
    a.extend(strings(&[
        "--rtp-port",
        &rtp,
        "--calls",
        "1",
        "--timeout",
        "60",
    ]));
    let peer = PyPeer::spawn("cid_peer.py", dir, &a, Duration::from_secs(75));
    let bound = poll_until(Duration::from_secs(20), || port_bound(port, false));
    assert!(bound, "receiver never bound {port}:\n{}", peer.output());
    (port, peer)
}

/// The simulator completes its exchanges with a receiver whose RTP stops
/// between its handshake and its kissoff, each on the first attempt.
#[test]
fn simulator_completes_with_a_receiver_that_stops_sending() {
    let test = "simulator_completes_with_a_receiver_that_stops_sending";
    if !need_spandsp(test) {
        return;
    }
    let dir = TestDir::new(test);
    let (port, arc) = vad_receiver(&dir.path);
    let messages = ["1234 18 1 602 00 000", "1234 18 1 101 01 001"];
    let out = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args(["simulate", "device", &format!("sip:112@127.0.0.1:{port}")])
        .args(["--json", "--dtmf", "inband", "--call-timeout-s", "40"])
        .args(["-m", messages[0], "-m", messages[1]])
        .current_dir(&dir.path)
        .output()
        .expect("run alarmgate simulate device");
    let sim: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let arc = arc.wait();
    eprintln!("{test}: simulator: {sim}\n{test}: receiver: {}", arc.json);
    let call = &sim["calls"][0];
    assert_eq!(call["success"], true, "{sim}");
    for msg in call["messages"].as_array().into_iter().flatten() {
        assert_eq!(msg["outcome"], "acknowledged", "{sim}");
        assert_eq!(msg["attempts"], 1, "first attempt: {sim}");
    }
    let silence = call["rx_longest_silence_ms"].as_f64().unwrap_or(0.0);
    assert!(silence >= 500.0, "the receiver's RTP never stopped: {sim}");
    let reports = arc.json["calls"][0]["reports"].clone();
    assert_eq!(reports, serde_json::json!(messages), "{}", arc.json);
}

/// A unit whose RTP stops after its digits (pjsua2 with VAD in front of
/// spandsp's sender) is decoded and acknowledged on every first attempt.
#[test]
fn daemon_decodes_a_unit_that_stops_sending() {
    let test = "daemon_decodes_a_unit_that_stops_sending";
    let Some(d) = daemon(test) else { return };
    let messages = ["1234 18 1 602 00 000", "1234 18 1 101 01 001"];
    let r = unit(&d, &messages, &["--vad"], 45).wait();
    eprintln!("{test}: unit: {}", r.json);
    assert_eq!(r.json["acknowledged"], 2, "{}\n{}", r.json, r.output);
    let records = received(&d);
    assert_eq!(records.len(), 2, "{records:#?}");
    for rec in &records {
        let retries = &rec["data"]["forensics"]["retries"];
        assert_eq!(retries, 0, "first attempt: {rec}");
    }
    let dup = d.metric(m::ALARMS_ACKNOWLEDGED, &[]).unwrap_or(0.0);
    assert_eq!(dup, 2.0, "no repeated message:\n{}", d.metrics());
}

/// Units on a line losing 3 % of their RTP (the simulator, `--loss 3`, in-band
/// DTMF, fixed seeds): at least 90 % of 66 messages are acknowledged on their
/// first attempt, and every one within the unit's four.
#[test]
fn first_attempts_hold_under_three_percent_loss() {
    let test = "first_attempts_hold_under_three_percent_loss";
    let Some(d) = daemon(test) else { return };
    const CALLS: usize = 6;
    const PER_CALL: usize = 11;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_alarmgate"));
    cmd.args([
        "simulate",
        "device",
        &format!("sip:112@127.0.0.1:{}", d.sip_port),
    ])
    .args([
        "--json", "--dtmf", "inband", "--loss", "3", "--seed", "9009",
    ])
    .args(["--calls", "6", "--concurrency", "6", "--rate", "10"])
    .args(["--call-timeout-s", "120"])
    .current_dir(&d.dir.path);
    for i in 0..PER_CALL {
        cmd.args(["-m", &format!("12{i:02} 18 1 602 00 000")]);
    }
    let out = cmd.output().expect("run alarmgate simulate device");
    let sim: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let calls = sim["calls"].as_array().cloned().unwrap_or_default();
    let messages: Vec<Value> = calls
        .iter()
        .flat_map(|c| c["messages"].as_array().cloned().unwrap_or_default())
        .collect();
    let attempts: Vec<u64> = messages
        .iter()
        .map(|m| m["attempts"].as_u64().unwrap_or(0))
        .collect();
    let acked = messages
        .iter()
        .filter(|m| m["outcome"] == "acknowledged")
        .count();
    let first = messages
        .iter()
        .filter(|m| m["outcome"] == "acknowledged" && m["attempts"] == 1)
        .count();
    let (sent, dropped): (u64, u64) = calls.iter().fold((0, 0), |(s, l), c| {
        let get = |k: &str| c[k].as_u64().unwrap_or(0);
        (s + get("rtp_packets"), l + get("rtp_dropped"))
    });
    let total = CALLS * PER_CALL;
    eprintln!(
        "{test}: {first} of {total} messages acknowledged on the first attempt, {acked} in the \
         end; attempts {attempts:?}; {dropped} of {sent} packets dropped ({:.1} %)",
        100.0 * dropped as f64 / sent.max(1) as f64
    );
    assert_eq!(messages.len(), total, "{test}: {sim}");
    assert!(dropped > 0, "{test}: no packet was dropped: {sim}");
    assert_eq!(
        acked, total,
        "{test}: every message within four attempts: {sim}"
    );
    assert!(
        first as f64 >= 0.9 * total as f64,
        "{test}: only {first} of {total} on the first attempt"
    );
    let records = received(&d);
    assert_eq!(
        records.len(),
        total,
        "{test}: one journal record per message"
    );
    let dup = d.metric(m::ALARMS_ACKNOWLEDGED, &[]).unwrap_or(0.0);
    eprintln!("{test}: daemon acknowledged {dup} (repeats of stored messages included)");
}
