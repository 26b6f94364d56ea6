//! Contact ID against implementations nobody here wrote, through real SIP and
//! RTP, so that neither side only proves itself:
//!
//! - **spandsp's sender → the daemon.** `tests/peers/cid_peer.py device`:
//!   pjsua2 with a media port feeding Debian libspandsp's Ademco Contact ID
//!   sender. It hears our handshake, sends DTMF in-band, and judges our
//!   kissoff with its own rules (400-1500 ms of 1400 Hz, in time). Checked:
//!   the unit's verdict, the daemon's metrics, and the journal read back with
//!   `alarmgate::journal::JournalReader`: one `alarmgate.alarm.received`
//!   CloudEvent per message, no more.
//! - **our simulator → spandsp's receiver.** `cid_peer.py refarc` answers with
//!   spandsp's receiver (handshake, decode, kissoff); `alarmgate simulate
//!   device` must hear a kissoff and spandsp must decode the same fields.
//!   RFC 4733: spandsp's receiver takes audio only (no digit input), and
//!   pjsua2 hands telephone-events over as callbacks, so the peer regenerates
//!   them as tones with spandsp's DTMF generator, as a media gateway would.
//! - **SIPp replaying captures.** Debian sip-tester's RFC 2833 digit captures
//!   (`tests/sipp/rfc2833_cid.xml`), and our own in-band capture
//!   (`tests/vectors/rtp/cid_inband_1234181602000002.pcap`,
//!   `tests/sipp/rfc2833_cid_inband.xml`); checked on metrics and the journal,
//!   including which digit path (in-band or RFC 4733) carried the digits.
//!
//! About the sip-tester captures: each `dtmf_2833_N.pcap` is ten packets of
//! one event (SSRC 0x0e05384e in all of them, a fixed sequence number and
//! event timestamp per digit). Replayed byte for byte they cannot carry a
//! Contact ID message: a repeated digit is the same packets again (dropped as
//! duplicates by RTP, and as the same event by RFC 4733), and their event
//! timestamps rise only in the order 1 0 2 3 … 9, so most later digits are
//! older events, which the daemon's telephone-event receiver rightly ignores
//! (`media::telephone_event`: nothing at or before a reported event's
//! timestamp). Measured: `1234181602000002` replayed as shipped gave
//! "rejected … raw=1234 reason=Partial", then "raw=8", then no message. So the
//! test renumbers the RTP headers (payloads and timing untouched) into what a
//! gateway sends: one stream, or a new SSRC per digit (refused by strict
//! media after the first digit: see that test).

use crate::harness::{
    journal_records, need_sipp, need_spandsp, poll_until, port_bound, python, repo, AlarmOpts,
    Config, Daemon, PeerResult, PyPeer, TestDir,
};
use alarmgate::events::ALARM_RECEIVED;
use alarmgate::telemetry::metrics as m;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

pub(crate) fn config() -> Config {
    Config {
        alarm: Some(AlarmOpts::default()),
        ..Config::default()
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A daemon with the Contact ID receiver on, when spandsp and pjsua2 are there.
fn spandsp_daemon(test: &str) -> Option<Daemon> {
    if !need_spandsp(test) {
        return None;
    }
    Daemon::start(test, &config())
}

/// spandsp's sender dials the daemon and sends `messages` in one call.
fn spandsp_unit(d: &Daemon, messages: &[&str], extra: &[&str]) -> PeerResult {
    let uri = format!("sip:112@127.0.0.1:{}", d.sip_port);
    let (port, rtp) = (
        crate::harness::free_port().to_string(),
        crate::harness::free_udp_block(20).to_string(),
    );
    let mut a = strings(&["device", "--uri", &uri, "--local-port", &port]);
    a.extend(strings(&["--rtp-port", &rtp, "--timeout", "45"]));
    for msg in messages {
        a.extend(strings(&["-m", msg]));
    }
    a.extend(strings(extra));
    let r = PyPeer::spawn("cid_peer.py", &d.dir.path, &a, Duration::from_secs(70)).wait();
    eprintln!("{}: spandsp unit: {}", d.name, r.json);
    r
}

pub(crate) fn metric_eq(d: &Daemon, name: &str, labels: &[(&str, &str)], want: f64) {
    let ok = poll_until(WAIT, || d.metric(name, labels) == Some(want));
    assert!(
        ok,
        "{}: {name}{labels:?} is {:?}, wanted {want}:\n{}",
        d.name,
        d.metric(name, labels),
        d.metrics()
    );
}

pub(crate) fn metric_at_least(d: &Daemon, name: &str, labels: &[(&str, &str)], min: f64) {
    assert!(
        d.wait_metric_at_least(name, labels, min, WAIT),
        "{}: {name}{labels:?} never reached {min}:\n{}",
        d.name,
        d.metrics()
    );
}

/// Prints the daemon's kissoff delay (last digit → kissoff start) for the record.
fn report_kissoff_delay(d: &Daemon) {
    let text = d.metrics();
    let sum = crate::harness::metric_sum(&text, &format!("{}_sum", m::KISSOFF_DELAY), &[]);
    let count = crate::harness::metric_sum(&text, &format!("{}_count", m::KISSOFF_DELAY), &[]);
    if let (Some(s), Some(c)) = (sum, count) {
        if c > 0.0 {
            eprintln!(
                "{}: daemon kissoff delay: {c} kissoffs, mean {:.1} ms",
                d.name,
                s / c * 1000.0
            );
        }
    }
}

/// The journal holds exactly these alarms, in order: (account, event, raw digits).
/// (Its call and acknowledgement events are not counted.)
pub(crate) fn assert_journal(d: &Daemon, want: &[(&str, &str, &str)]) -> Vec<Value> {
    let records: Vec<Value> = journal_records(&d.journal_dir)
        .into_iter()
        .filter(|r| r["type"] == ALARM_RECEIVED)
        .collect();
    assert_eq!(
        records.len(),
        want.len(),
        "{}: wanted exactly {} journal records, found {}: {records:#?}",
        d.name,
        want.len(),
        records.len()
    );
    for (rec, (account, event, raw)) in records.iter().zip(want) {
        assert_eq!(rec["type"], ALARM_RECEIVED, "{rec}");
        assert_eq!(rec["specversion"], "1.0", "{rec}");
        assert_eq!(rec["data"]["account"], *account, "{rec}");
        assert_eq!(rec["data"]["event_code"], *event, "{rec}");
        assert_eq!(rec["data"]["raw"], *raw, "{rec}");
        assert_eq!(rec["data"]["tenant"], "demo", "{rec}");
    }
    records
}

/// Every digit of `record` came by `source` ("InBand" or "Rfc4733").
fn assert_digit_source(record: &Value, source: &str) {
    let digits = record["data"]["forensics"]["digits"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(digits.len(), 16, "16 digits in the forensics: {record}");
    assert!(
        digits.iter().all(|d| d["source"] == source),
        "every digit should have come {source}: {record}"
    );
}

fn unit_acknowledged(r: &PeerResult, n: u64) {
    assert_eq!(
        r.code,
        Some(0),
        "spandsp unit failed: {}\n{}",
        r.json,
        r.output
    );
    assert_eq!(r.json["answered"], true, "{}", r.json);
    assert!(
        r.json["handshake_ms"].as_f64().is_some(),
        "spandsp heard no handshake: {}",
        r.json
    );
    assert_eq!(r.json["acknowledged"].as_u64(), Some(n), "{}", r.json);
}

// ---------------------------------------------------------------- spandsp's sender → alarmgate

/// A 602 periodic test from spandsp's sender: spandsp accepts our kissoff,
/// the record is stored once, and the daemon settles the call with BYE.
#[test]
fn spandsp_sender_602_is_stored_acknowledged_and_settled() {
    let Some(d) = spandsp_daemon("spandsp_sender_602_is_stored_acknowledged_and_settled") else {
        return;
    };
    let r = spandsp_unit(&d, &["1234 18 1 602 00 000"], &["--wait-bye"]);
    unit_acknowledged(&r, 1);
    assert_eq!(r.json["messages"][0]["digits"], "1234181602000002");
    assert_eq!(
        r.json["ended_by_remote"], true,
        "the daemon should hang up: {}",
        r.json
    );
    metric_at_least(&d, m::CALLS_ENDED, &[("reason", "settled")], 1.0);
    metric_eq(&d, m::ALARMS_DECODED, &[("class", "test")], 1.0);
    metric_eq(&d, m::ALARMS_ACKNOWLEDGED, &[], 1.0);
    let records = assert_journal(&d, &[("1234", "602", "1234181602000002")]);
    assert_eq!(records[0]["data"]["classification"], "test");
    assert_digit_source(&records[0], "InBand");
    report_kissoff_delay(&d);
}

/// A pendant alarm (101, zone 002): spandsp writes its check digit 10 as 'D'
/// (alarm-protocols.md P1) and we accept it; a voice alarm keeps the call up
/// after the kissoff until the unit hangs up.
#[test]
fn spandsp_sender_101_with_check_digit_d_keeps_the_call_for_voice() {
    let test = "spandsp_sender_101_with_check_digit_d_keeps_the_call_for_voice";
    let Some(d) = spandsp_daemon(test) else {
        return;
    };
    let r = spandsp_unit(&d, &["1234 18 1 101 01 002"], &["--hold-after", "3"]);
    unit_acknowledged(&r, 1);
    assert_eq!(
        r.json["messages"][0]["digits"], "123418110101002D",
        "spandsp should send check digit 10 as D: {}",
        r.json
    );
    assert_eq!(
        r.json["ended_by_remote"], false,
        "a voice alarm must not be hung up by the daemon: {}",
        r.json
    );
    let kissoff = r.json["messages"][0]["kissoff_end_ms"]
        .as_f64()
        .unwrap_or(0.0);
    let ended = r.json["call_ms"].as_f64().unwrap_or(0.0);
    assert!(
        ended - kissoff >= 2500.0,
        "the call should stay up until the unit hangs up (3 s after the kissoff): {}",
        r.json
    );
    metric_at_least(&d, m::CALLS_ENDED, &[("reason", "remote_bye")], 1.0);
    assert_eq!(d.metric(m::CALLS_ENDED, &[("reason", "settled")]), None);
    metric_eq(&d, m::ALARMS_DECODED, &[("class", "voice")], 1.0);
    metric_eq(&d, m::ALARMS_ACKNOWLEDGED, &[], 1.0);
    let records = assert_journal(&d, &[("1234", "101", "123418110101002D")]);
    assert_eq!(records[0]["data"]["zone"], "002");
    assert_eq!(records[0]["data"]["group"], "01");
    assert_eq!(records[0]["data"]["classification"], "voice");
    report_kissoff_delay(&d);
}

/// Two messages in one call (low battery, then a periodic test): spandsp puts
/// the second right after our first kissoff, without a new handshake; both
/// are stored once each, in order, and the technical call is settled.
#[test]
fn spandsp_sender_two_messages_in_one_call() {
    let Some(d) = spandsp_daemon("spandsp_sender_two_messages_in_one_call") else {
        return;
    };
    let msgs = ["1234 18 1 302 00 001", "1234 18 1 602 00 000"];
    let r = spandsp_unit(&d, &msgs, &["--wait-bye"]);
    unit_acknowledged(&r, 2);
    assert_eq!(r.json["ended_by_remote"], true, "{}", r.json);
    metric_at_least(&d, m::CALLS_ENDED, &[("reason", "settled")], 1.0);
    metric_eq(&d, m::ALARMS_DECODED, &[("class", "technical")], 1.0);
    metric_eq(&d, m::ALARMS_DECODED, &[("class", "test")], 1.0);
    metric_eq(&d, m::ALARMS_ACKNOWLEDGED, &[], 2.0);
    let raw_302 = r.json["messages"][0]["digits"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert_journal(
        &d,
        &[
            ("1234", "302", raw_302.as_str()),
            ("1234", "602", "1234181602000002"),
        ],
    );
    report_kissoff_delay(&d);
}

// ---------------------------------------------------------------- alarmgate's simulator → spandsp's receiver

/// spandsp's receiver answering on a free port; waits until it listens.
fn spandsp_arc(dir: &Path) -> (u16, PyPeer) {
    let port = crate::harness::free_port();
    let rtp = crate::harness::free_udp_block(20).to_string();
    let a = strings(&[
        "refarc",
        "--local-port",
        &port.to_string(),
        "--rtp-port",
        &rtp,
    ]);
    let mut a = a;
    a.extend(strings(&["--calls", "1", "--timeout", "60"]));
    let peer = PyPeer::spawn("cid_peer.py", dir, &a, Duration::from_secs(75));
    assert!(
        poll_until(Duration::from_secs(20), || port_bound(port, false)),
        "spandsp receiver never bound {port}:\n{}",
        peer.output()
    );
    (port, peer)
}

fn simulate(dir: &Path, port: u16, messages: &[&str], dtmf: &str) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_alarmgate"));
    cmd.args(["simulate", "device", &format!("sip:112@127.0.0.1:{port}")])
        .args(["--json", "--dtmf", dtmf, "--call-timeout-s", "40"])
        .current_dir(dir);
    for msg in messages {
        cmd.args(["-m", msg]);
    }
    let out = cmd.output().expect("run alarmgate simulate device");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(
        out.status.code(),
        Some(0),
        "simulator failed against spandsp: {json}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json
}

fn simulator_to_spandsp(test: &str, dtmf: &str, messages: &[&str], digits: &[&str]) {
    if !need_spandsp(test) {
        return;
    }
    let dir = TestDir::new(test);
    let (port, arc) = spandsp_arc(&dir.path);
    let sim = simulate(&dir.path, port, messages, dtmf);
    let arc = arc.wait();
    eprintln!(
        "{test}: simulator: {sim}\n{test}: spandsp receiver: {}",
        arc.json
    );
    let call = &sim["calls"][0];
    assert_eq!(call["success"], true, "{sim}");
    assert_eq!(call["dtmf"], dtmf, "{sim}");
    for (i, want) in digits.iter().enumerate() {
        let msg = &call["messages"][i];
        assert_eq!(msg["digits"], *want, "{sim}");
        assert_eq!(msg["outcome"], "acknowledged", "spandsp's kissoff: {sim}");
        assert!(msg["last_digit_to_kissoff_ms"].as_f64().is_some(), "{sim}");
    }
    assert_eq!(
        arc.code,
        Some(0),
        "spandsp receiver: {}\n{}",
        arc.json,
        arc.output
    );
    let got = &arc.json["calls"][0];
    let reports: Vec<&str> = got["reports"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        reports, messages,
        "spandsp decoded something else: {}",
        arc.json
    );
    let events = if dtmf == "rfc4733" {
        digits.concat()
    } else {
        String::new()
    };
    assert_eq!(
        got["rfc4733_digits"], events,
        "telephone-events seen by pjsua2: {}",
        arc.json
    );
}

/// In-band: spandsp's receiver hears our DTMF and decodes the same fields;
/// the simulator hears spandsp's handshake and kissoff.
#[test]
fn simulator_inband_to_spandsp_receiver() {
    simulator_to_spandsp(
        "simulator_inband_to_spandsp_receiver",
        "inband",
        &["1234 18 1 602 00 000"],
        &["1234181602000002"],
    );
}

/// RFC 4733 only, two messages in one call: every digit reaches pjsua2 as a
/// telephone-event (no tones in the audio), spandsp decodes both messages
/// from the regenerated tones, and its kissoffs reach the simulator.
#[test]
fn simulator_rfc4733_to_spandsp_receiver() {
    simulator_to_spandsp(
        "simulator_rfc4733_to_spandsp_receiver",
        "rfc4733",
        &["1234 18 1 602 00 000", "5678 18 1 100 00 001"],
        &["1234181602000002", "5678181100000017"],
    );
}

// ---------------------------------------------------------------- SIPp replaying captures

/// A copy of `tests/sipp/<name>` in `dir` whose `play_pcap_audio` paths
/// starting with `prefix` point into `to` (SIPp wants them literal).
pub(crate) fn scenario_copy(name: &str, dir: &Path, prefix: &str, to: &Path) -> PathBuf {
    let text = fs::read_to_string(crate::harness::scenario(name)).expect("read scenario");
    let from = format!("play_pcap_audio=\"{prefix}");
    assert!(text.contains(&from), "{name} has no {from}");
    let text = text.replace(&from, &format!("play_pcap_audio=\"{}/", to.display()));
    let path = dir.join(name);
    fs::write(&path, text).expect("write scenario copy");
    path
}

/// The 16 per-digit captures, renumbered (`stream` or `ssrc`), in `dir/rfc2833/`.
pub(crate) fn rfc2833_captures(dir: &Path, digits: &str, renumber: &str) -> PathBuf {
    let out = dir.join("rfc2833");
    let py = python().unwrap_or_else(|| PathBuf::from("python3"));
    let o = Command::new(py)
        .arg(repo().join("tests/peers/cid_peer.py"))
        .args([
            "rfc2833",
            "--digits",
            digits,
            "--renumber",
            renumber,
            "--out-dir",
        ])
        .arg(&out)
        .output()
        .expect("run cid_peer.py rfc2833");
    assert!(
        o.status.success(),
        "cid_peer.py rfc2833: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    dir.to_path_buf()
}

fn sipp_replay(d: &Daemon, scenario: PathBuf, source: &str) {
    let mut run = d.sipp("rfc2833_cid.xml").timeout_s(40);
    run.scenario = scenario;
    run.run().assert_ok(1);
    metric_eq(d, m::ALARMS_DECODED, &[("class", "test")], 1.0);
    metric_eq(d, m::ALARMS_ACKNOWLEDGED, &[], 1.0);
    metric_at_least(d, m::CALLS_ENDED, &[("reason", "settled")], 1.0);
    let records = assert_journal(d, &[("1234", "602", "1234181602000002")]);
    assert_digit_source(&records[0], source);
    report_kissoff_delay(d);
}

fn sipp_rfc2833(test: &str, renumber: &str) {
    if !need_sipp(test) {
        return;
    }
    assert!(
        Path::new("/usr/share/sip-tester/dtmf_2833_0.pcap").exists(),
        "{test}: sip-tester's RFC 2833 captures are missing"
    );
    let Some(d) = Daemon::start(test, &config()) else {
        return;
    };
    let root = rfc2833_captures(&d.dir.path, "1234181602000002", renumber);
    let sc = scenario_copy(
        "rfc2833_cid.xml",
        &d.dir.path,
        "rfc2833/",
        &root.join("rfc2833"),
    );
    sipp_replay(&d, sc, "Rfc4733");
}

/// sip-tester's RFC 2833 digit captures as one gateway stream (one SSRC,
/// sequence numbers and event timestamps continuing), 160 ms per digit: the
/// message 1234181602000002 (five 0s in a row) is decoded from the
/// telephone-events alone, stored, acknowledged, and the call settled.
#[test]
fn sipp_rfc2833_captures_as_one_stream() {
    sipp_rfc2833("sipp_rfc2833_captures_as_one_stream", "stream");
}

/// The same captures with a new SSRC for every digit and their own sequence
/// numbers and timestamps, with no pause between digits. Strict media
/// (issue 9) keeps a leg's first SSRC unless a re-INVITE or
/// `media.ssrc_change_gap_ms` of silence comes first (a third party's SSRC
/// must not take over the stream), so, unlike before, only the first digit
/// is heard: the other digits' packets are dropped and counted
/// (`reason="ssrc"`), nothing is stored or acknowledged, and SIPp waits for
/// the settling BYE in vain.
#[test]
fn sipp_rfc2833_captures_with_a_new_ssrc_per_digit() {
    let test = "sipp_rfc2833_captures_with_a_new_ssrc_per_digit";
    if !need_sipp(test) {
        return;
    }
    let Some(d) = Daemon::start(test, &config()) else {
        return;
    };
    let root = rfc2833_captures(&d.dir.path, "1234181602000002", "ssrc");
    let sc = scenario_copy(
        "rfc2833_cid.xml",
        &d.dir.path,
        "rfc2833/",
        &root.join("rfc2833"),
    );
    let mut run = d.sipp("rfc2833_cid.xml").timeout_s(25);
    run.scenario = sc;
    let result = run.run();
    assert_eq!(
        result.successful, 0,
        "no kissoff, no BYE: {}",
        result.report
    );
    metric_at_least(&d, m::RTP_DROPPED, &[("reason", "ssrc")], 100.0);
    assert!(
        d.metric(m::ALARMS_DECODED, &[]).is_none(),
        "{}",
        d.metrics()
    );
    assert_journal(&d, &[]);
}

/// Our own in-band capture (G.711 A-law, spandsp DTMF at 55/55 ms) replayed by
/// SIPp: decoded by the in-band detector, stored, acknowledged, settled.
#[test]
fn sipp_inband_capture_replay() {
    let test = "sipp_inband_capture_replay";
    if !need_sipp(test) {
        return;
    }
    let Some(d) = Daemon::start(test, &config()) else {
        return;
    };
    let vectors = repo().join("tests/vectors");
    let sc = scenario_copy(
        "rfc2833_cid_inband.xml",
        &d.dir.path,
        "tests/vectors/",
        &vectors,
    );
    sipp_replay(&d, sc, "InBand");
}
