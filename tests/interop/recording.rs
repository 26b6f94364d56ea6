//! Call recording end to end (issue 12): a spandsp alarm unit's call is
//! bridged to a pjsua2 operator in a tenant with `recording = true`; after
//! the call the journal has `alarmgate.recording.stored` whose file is a
//! stereo WAV with the unit's 1000 Hz tone on the left channel and the
//! operator's 700 Hz on the right (Goertzel on each channel), and whose
//! SHA-256 is the file's; the call's record names its path, hash and
//! duration. With an unwritable recordings directory the call
//! still connects and carries voice both ways, and the failure is journalled.

use crate::harness::{journal_records, poll_until, Config, Daemon};
use crate::operators::{
    assert_heard, assert_unit_voice, centre_with, device_uri, operator_opts, operator_phone,
    spawn_unit, Plan, NOWHERE, OPERATOR_HZ, RING_WAIT, SHORT, UNIT_A, UNIT_HZ,
};
use alarmgate::dsp::goertzel::Goertzel;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// A recording event of `kind`, once the journal has it.
fn recording_event(d: &Daemon, kind: &str) -> Value {
    let mut found = None;
    let seen = poll_until(Duration::from_secs(20), || {
        found = journal_records(&d.journal_dir)
            .into_iter()
            .find(|e| e["type"] == kind);
        found.is_some()
    });
    assert!(seen, "no {kind} in the journal");
    found.unwrap_or(Value::Null)
}

/// A bridged call: op1 answers the unit, both tones are heard, op1 hangs up.
fn bridged_call(d: &Daemon) {
    let mut op1 = operator_phone(d, operator_opts("op1"));
    let unit = spawn_unit(&d.dir.path, &device_uri(d), UNIT_A, &["--wait-bye"]);
    let inc = op1
        .wait_incoming(0, RING_WAIT)
        .expect("op1's phone never rang");
    assert!(
        op1.wait_state(inc, "CONFIRMED", SHORT).is_some(),
        "op1 did not connect"
    );
    assert_heard(&op1, inc, UNIT_HZ);
    let (ok, levels) = op1.wait_heard(inc, UNIT_HZ, -30.0, 6, SHORT);
    assert!(ok, "the unit's tone did not last: {levels:?}");
    op1.send(json!({"cmd": "hangup"}));
    assert_unit_voice(&unit.wait(), true);
}

fn power(samples: &[i16], hz: u32) -> f32 {
    let mut g = Goertzel::new(hz as f32, 8000.0);
    g.push_pcm(samples);
    g.power()
}

fn recording_plan(dir_key: &str) -> Config {
    let mut plan = Plan::new(&["op1"], NOWHERE);
    plan.tenant_keys
        .push_str("recording = true\nrecording_retention_days = 30\n");
    let mut config = plan.config();
    config
        .extra
        .push_str(&format!("[recording]\ndir = {dir_key:?}\n\n"));
    config
}

#[test]
fn recording_a_bridged_call_leaves_the_unit_left_and_the_operator_right() {
    let test = "recording_a_bridged_call_leaves_the_unit_left_and_the_operator_right";
    let Some(d) = centre_with(test, &recording_plan("var/recordings")) else {
        return;
    };
    bridged_call(&d);
    let stored = recording_event(&d, "alarmgate.recording.stored");
    let data = &stored["data"];
    assert_eq!(data["tenant"], "demo", "{stored}");
    let path = d.dir.path.join(data["path"].as_str().unwrap_or_default());
    let (sha, _) = alarmgate::recording::writer::digest(&path).expect("the file is there");
    assert_eq!(data["sha256"].as_str(), Some(sha.as_str()));
    let mut wav = hound::WavReader::open(&path).expect("a WAV file");
    let spec = wav.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = wav.samples::<i16>().map_while(Result::ok).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let seconds = left.len() as f64 / 8000.0;
    assert!(seconds > 1.0, "only {seconds} s recorded");
    let duration = data["duration_s"].as_f64().unwrap_or_default();
    assert!((duration - seconds).abs() < 0.05, "{duration} vs {seconds}");
    let (l_unit, l_op) = (power(&left, UNIT_HZ), power(&left, OPERATOR_HZ));
    let (r_unit, r_op) = (power(&right, UNIT_HZ), power(&right, OPERATOR_HZ));
    eprintln!("{test}: {seconds:.1} s; left unit/op {l_unit:.3e}/{l_op:.3e}, right {r_unit:.3e}/{r_op:.3e}");
    assert!(l_unit > 10.0 * l_op, "left should carry the unit's tone");
    assert!(
        r_op > 10.0 * r_unit,
        "right should carry the operator's tone"
    );
    assert_call_record_names(&d, data);
}

/// The call's record (the month's extract) carries the recording's path,
/// SHA-256 and duration, as journalled.
fn assert_call_record_names(d: &Daemon, stored: &Value) {
    let month = crate::records::this_month();
    let path = format!("/api/v1/reports/calls?tenant=demo&month={month}&format=json");
    let mut row = Value::Null;
    let found = poll_until(Duration::from_secs(20), || {
        let x = crate::operators::api(d, "GET", &path, None).1;
        let calls = x["calls"].as_array().cloned().unwrap_or_default();
        row = calls
            .into_iter()
            .find(|c| c["recording"] == stored["path"])
            .unwrap_or(Value::Null);
        !row.is_null()
    });
    assert!(found, "no call record names the recording {stored}");
    assert_eq!(row["recording_sha256"], stored["sha256"], "{row}");
    let ms = (stored["duration_s"].as_f64().unwrap_or_default() * 1000.0).round();
    assert_eq!(row["recording_duration_ms"].as_f64(), Some(ms), "{row}");
    assert_eq!(row["protocol"], "contact_id", "{row}");
}

#[test]
fn recording_into_an_unwritable_directory_keeps_the_call_up() {
    let test = "recording_into_an_unwritable_directory_keeps_the_call_up";
    // a file where the recordings directory should be: every create fails
    let Some(d) = centre_with(test, &recording_plan("not-a-dir")) else {
        return;
    };
    std::fs::write(Path::new(&d.dir.path).join("not-a-dir"), b"x").expect("file");
    bridged_call(&d);
    let failed = recording_event(&d, "alarmgate.recording.failed");
    assert!(
        failed["data"]["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("create"),
        "{failed}"
    );
    let ended = journal_records(&d.journal_dir)
        .into_iter()
        .filter(|e| e["type"] == "alarmgate.call.ended")
        .count();
    assert!(ended >= 1, "the call ended normally");
}
