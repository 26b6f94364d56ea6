//! SCAIP against the real daemon with a unit nobody here wrote the SIP of:
//! pjsua2 (`tests/peers/pj_scaip_unit.py`) sends the real device samples of
//! alarm-protocols.md §4.5 as SIP MESSAGE `application/scaip+xml`.
//!
//! - A heartbeat and an alarm get 200 each and their `<mrs>` (`snu=0`, the
//!   alarm with `mre`); the unit's voice call then rings a pjsua2 operator
//!   and `GET /api/v1/calls` shows it with the alarm's decoded fields.
//! - An alarm whose voice call never comes is listed as a data alarm (state
//!   `callback`, protocol `scaip`, the unit's number as recall).
//! - Both are in the journal as `alarmgate.alarm.received` (protocol
//!   `scaip`) and the heartbeat as `alarmgate.unit.heartbeat`.

use crate::harness::{free_port, free_udp_block};
use crate::harness::{journal_records, need_pjsua2, poll_until, Daemon, PyPeer};
use crate::operators::{
    calls, device_uri, operator_opts, operator_phone, wait_call, Plan, NOWHERE, RING_WAIT, SHORT,
};
use serde_json::{json, Value};
use std::time::Duration;

/// The Essence heartbeat and alarm of §4.5, the alarm from the number the
/// unit's calls show (its `crd`).
const PI: &str = "<mrq><ref>00001A85</ref><cha>0</cha><mty>PI</mty><cid>26317</cid><dty>02</dty><did>00</did><crd>no-voice:</crd><stc>102</stc></mrq>";
const ME: &str = "<mrq><ref>00001883</ref><cha>0</cha><mty>ME</mty><cid>26317</cid><dty>02</dty><did>00</did><crd>gsm:+4511111111</crd><stc>010</stc></mrq>";
/// The Possum alarm: no `mty` (an alarm), `crd` without a number.
const POSSUM_ME: &str =
    "<mrq><ref>1193308443</ref><cid>10149471</cid><dty>3</dty><stc>10</stc><crd>gsm:</crd></mrq>";
const UNIT: &str = "4511111111";
const WAIT: Duration = Duration::from_secs(40);

fn daemon(test: &str, scaip: &str) -> Option<Daemon> {
    if !need_pjsua2(test) {
        return None;
    }
    let mut config = Plan::new(&["op1"], NOWHERE).config();
    config.extra.push_str(scaip);
    Daemon::start(test, &config)
}

/// The pjsua2 unit: sends `bodies`, waits for `mrs` answers, maybe calls.
fn unit(d: &Daemon, bodies: &[&str], mrs: usize, call: bool) -> PyPeer {
    let mut args = vec![
        "--uri".to_string(),
        device_uri(d),
        "--caller".into(),
        UNIT.into(),
        "--local-port".into(),
        free_port().to_string(),
        "--rtp-port".into(),
        free_udp_block(20).to_string(),
        "--expect-mrs".into(),
        mrs.to_string(),
    ];
    for b in bodies {
        args.extend(["--body".to_string(), b.to_string()]);
    }
    if call {
        args.push("--call".into());
    }
    PyPeer::spawn(
        "pj_scaip_unit.py",
        &d.dir.path,
        &args,
        Duration::from_secs(90),
    )
}

fn journalled(d: &Daemon, kind: &str) -> Vec<Value> {
    let records = journal_records(&d.journal_dir).into_iter();
    records.filter(|r| r["type"] == kind).collect()
}

fn mrs_with<'a>(answers: &'a [Value], reference: &str) -> &'a str {
    let tag = format!("<ref>{reference}</ref>");
    answers
        .iter()
        .filter_map(Value::as_str)
        .find(|m| m.contains(&tag))
        .unwrap_or_else(|| panic!("no <mrs> for {reference}: {answers:?}"))
}

#[test]
fn scaip_unit_samples_get_mrs_and_the_voice_call_reaches_the_operator_with_its_alarm() {
    let test = "scaip_unit_samples_get_mrs_and_the_voice_call_reaches_the_operator_with_its_alarm";
    let Some(d) = daemon(test, "") else {
        return;
    };
    let mut op1 = operator_phone(&d, operator_opts("op1"));
    let peer = unit(&d, &[PI, ME], 2, true);
    let inc = op1
        .wait_incoming(0, RING_WAIT)
        .expect("op1's phone never rang for the unit's voice call");
    let call = wait_call(&d, SHORT, "with the SCAIP alarm", |c| {
        c["protocol"] == "scaip"
    });
    assert_eq!(call["account"], "26317", "{call}");
    assert_eq!(call["class"], "emergency", "{call}");
    assert_eq!(call["event_code"], "101", "{call}");
    assert_eq!(call["alarm"]["scaip"]["ref"], "00001883", "{call}");
    assert_eq!(call["alarm"]["scaip"]["stc_name"], "manual alarm", "{call}");
    assert_ne!(
        call["state"], "callback",
        "one call, not a data alarm: {call}"
    );
    assert!(
        op1.wait_state(inc, "CONFIRMED", SHORT).is_some(),
        "op1 did not connect"
    );
    op1.send(json!({"cmd": "hangup"}));
    let r = peer.wait();
    eprintln!("unit: {}", r.json);
    assert_eq!(r.code, Some(0), "unit: {}", r.output);
    assert_eq!(r.json["statuses"], json!([200, 200]), "{}", r.json);
    let answers = r.json["mrs"].as_array().cloned().unwrap_or_default();
    let hb = mrs_with(&answers, "00001A85");
    assert!(hb.contains("<snu>0</snu>"), "{hb}");
    let alarm = mrs_with(&answers, "00001883");
    assert!(
        alarm.contains("<snu>0</snu>") && alarm.contains("<mre>1</mre>"),
        "{alarm}"
    );
    assert!(
        r.json["ended_by_remote"].as_bool().unwrap_or(false),
        "{}",
        r.json
    );
    let received = journalled(&d, "alarmgate.alarm.received");
    let scaip: Vec<&Value> = received
        .iter()
        .filter(|r| r["data"]["protocol"] == "scaip")
        .collect();
    assert_eq!(scaip.len(), 1, "{received:?}");
    assert_eq!(scaip[0]["data"]["scaip"]["stc"], "010");
    assert_eq!(journalled(&d, "alarmgate.unit.heartbeat").len(), 1);
    assert_eq!(journalled(&d, "alarmgate.alarm.linked").len(), 1);
}

#[test]
fn scaip_alarm_without_its_voice_call_becomes_a_data_alarm() {
    let test = "scaip_alarm_without_its_voice_call_becomes_a_data_alarm";
    let Some(d) = daemon(test, "[scaip]\nlink_window_s = 2\n") else {
        return;
    };
    let r = unit(&d, &[POSSUM_ME], 1, false).wait();
    assert_eq!(r.code, Some(0), "unit: {}", r.output);
    let answers = r.json["mrs"].as_array().cloned().unwrap_or_default();
    assert!(mrs_with(&answers, "1193308443").contains("<snu>0</snu>"));
    let listed = wait_call(&d, WAIT, "listed as a data alarm", |c| {
        c["state"] == "callback" && c["protocol"] == "scaip"
    });
    assert_eq!(listed["account"], "10149471", "{listed}");
    assert_eq!(
        listed["recall"]["number"], UNIT,
        "the unit's number, one click away: {listed}"
    );
    assert!(poll_until(SHORT, || calls(&d).len() == 1));
}

/// The promise under a full disk, for SCAIP: the alarm is answered `snu=5`
/// (not treated), never `snu=0`, and nothing reaches the operators; once
/// the disk has room the unit's repeat is stored and answered `snu=0`, and
/// the journal holds it.
#[test]
fn scaip_full_disk_means_no_snu_0_and_nothing_lost() {
    let test = "scaip_full_disk_means_no_snu_0_and_nothing_lost";
    if !need_pjsua2(test) {
        return;
    }
    // 1 MiB: the call-records database sits beside the journal on this disk.
    let Some(tiny) = crate::storage::TinyFs::mount(1024) else {
        eprintln!("interop: SKIP {test}: cannot mount a tmpfs here");
        return;
    };
    let journal = tiny.path.join("journal");
    let mut config = Plan::new(&["op1"], NOWHERE).config();
    config.alarm = None;
    config.extra.push_str(&format!(
        "[alarm]\njournal_dir = \"{}\"\n[scaip]\nlink_window_s = 2\n",
        journal.display()
    ));
    let Some(d) = Daemon::start(test, &config) else {
        return;
    };
    tiny.fill();
    let r = unit(&d, &[POSSUM_ME], 1, false).wait();
    let answers = r.json["mrs"].as_array().cloned().unwrap_or_default();
    let refused = mrs_with(&answers, "1193308443");
    assert!(
        refused.contains("<snu>5</snu>"),
        "not stored, not acknowledged: {refused}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        calls(&d).is_empty(),
        "nothing listed for what is not stored"
    );
    tiny.empty();
    let ready = || {
        matches!(
            crate::harness::http_get(d.http_port, "/readyz"),
            Some((200, _))
        )
    };
    assert!(poll_until(WAIT, ready), "the journal did not heal");
    let r = unit(&d, &[POSSUM_ME], 1, false).wait();
    let answers = r.json["mrs"].as_array().cloned().unwrap_or_default();
    assert!(
        mrs_with(&answers, "1193308443").contains("<snu>0</snu>"),
        "{answers:?}"
    );
    let stored = || {
        journal_records(&journal)
            .iter()
            .any(|r| r["type"] == "alarmgate.alarm.received" && r["data"]["account"] == "10149471")
    };
    assert!(poll_until(SHORT, stored), "the repeat is in the journal");
}

/// `alarmgate simulate scaip` with `args` against the daemon: (exit code, JSON lines).
fn simulate(d: &Daemon, args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let target = format!("sip:112@127.0.0.1:{}", d.sip_port);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args(["simulate", "scaip", &target, "--json", "--timeout-s", "20"])
        .args(args)
        .current_dir(&d.dir.path)
        .output()
        .expect("run alarmgate simulate scaip");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out.status.code(), lines)
}

/// The commissioning tool against the daemon, over UDP and TCP: an alarm
/// and a heartbeat get 200 and `snu=0`, a burst of 20 gets 20, bad XML 400.
#[test]
fn scaip_simulator_modes_over_udp_and_tcp() {
    let test = "scaip_simulator_modes_over_udp_and_tcp";
    let Some(d) = Daemon::start(test, &Plan::new(&["op1"], NOWHERE).config()) else {
        return;
    };
    for tp in ["udp", "tcp"] {
        for (mode, n) in [("alarm", 1), ("heartbeat", 1), ("burst", 20)] {
            let (code, lines) = simulate(&d, &["--transport", tp, "--mode", mode, "--count", "20"]);
            assert_eq!((code, lines.len()), (Some(0), n), "{tp} {mode}: {lines:?}");
            assert!(
                lines.iter().all(|l| l["status"] == 200 && l["snu"] == 0),
                "{lines:?}"
            );
        }
        let (code, lines) = simulate(&d, &["--transport", tp, "--mode", "bad-xml"]);
        assert_eq!(code, Some(0), "{tp} bad-xml: {lines:?}");
        assert_eq!(lines[0]["status"], 400);
    }
    let stored = journalled(&d, "alarmgate.alarm.received").len();
    assert_eq!(stored, 2 * 21, "every alarm stored once");
}
