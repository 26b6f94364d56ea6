//! SIA DC-09 against peers nobody here wrote, and against bad input.
//!
//! - my-dc09-spt (PyPI) sends ADM-CID, SIA-DCS and NULL, plain, AES-128 and
//!   AES-256, over TCP and over UDP, and accepts our ACK with its own
//!   checker; every message is in the journal once (alarm.received with
//!   protocol dc09, unit.heartbeat for NULL).
//! - Garbage, wrong CRC, wrong length, an unknown account, a wrong key, a
//!   stale timestamp and a TCP peer that never finishes a frame: silence
//!   where the standard says so, NAK/DUH where it has an answer, the
//!   connection closed at its deadline, and the node keeps serving.

use crate::harness::{free_port, journal_records, need_pjsua2, poll_until, Config, Daemon, PyPeer};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

const KEY128: &str = "0123456789abcdef";
const KEY256: &str = "0123456789abcdef0123456789ABCDEF";

/// `[dc09]` on `port` (TCP and UDP) with three accounts: plain, AES-128,
/// AES-256; the journal in the daemon's dir, or at `journal` when given.
pub fn dc09_config(port: u16, journal: Option<&std::path::Path>) -> Config {
    let extra = dc09_tables(port);
    match journal {
        Some(j) => Config {
            extra: format!("[alarm]\njournal_dir = \"{}\"\n{extra}", j.display()),
            ..Config::default()
        },
        None => Config {
            extra,
            alarm: Some(Default::default()),
            ..Config::default()
        },
    }
}

/// The `[dc09]` tables of [`dc09_config`].
pub fn dc09_tables(port: u16) -> String {
    format!(
        r#"[dc09]
first_frame_s = 2
[[dc09.listen]]
address = "127.0.0.1:{port}"
transport = "tcp"
[[dc09.listen]]
address = "127.0.0.1:{port}"
transport = "udp"
[[dc09.accounts]]
account = "1001"
tenant = "demo"
[[dc09.accounts]]
account = "1002"
tenant = "demo"
key = "{KEY128}"
key_format = "ascii"
[[dc09.accounts]]
account = "1003"
tenant = "demo"
key = "{KEY256}"
key_format = "ascii"
"#
    )
}

fn cases() -> Vec<Value> {
    let mut cases = Vec::new();
    let mut seq = 0;
    for transport in ["tcp", "udp"] {
        for (account, key) in [
            ("1001", Value::Null),
            ("1002", json!(KEY128)),
            ("1003", json!(KEY256)),
        ] {
            for (kind, params) in [
                (
                    "ADM-CID",
                    json!({"code": "101", "q": "1", "area": "01", "zone": "005"}),
                ),
                ("SIA-DCS", json!({"code": "MA", "area": "1", "zone": "7"})),
                ("NULL", json!({})),
            ] {
                seq += 1;
                cases.push(json!({
                    "name": format!("{transport}-{account}-{kind}"),
                    "transport": transport, "account": account, "key": key,
                    "receiver": 1, "line": 2, "type": kind, "seq": seq, "params": params,
                }));
            }
        }
    }
    cases
}

#[test]
fn dc09_spt_sends_every_type_plain_and_encrypted_over_tcp_and_udp() {
    const TEST: &str = "dc09_spt_sends_every_type_plain_and_encrypted_over_tcp_and_udp";
    if !need_pjsua2(TEST) {
        return;
    }
    let port = free_port();
    let Some(d) = Daemon::start(TEST, &dc09_config(port, None)) else {
        return;
    };
    let cases = cases();
    let args = vec![
        "127.0.0.1".into(),
        port.to_string(),
        Value::Array(cases.clone()).to_string(),
    ];
    let peer = PyPeer::spawn(
        "dc09_spt_peer.py",
        &d.dir.path,
        &args,
        Duration::from_secs(120),
    )
    .wait();
    let answers: Vec<Value> = peer
        .output
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(answers.len(), cases.len(), "peer output:\n{}", peer.output);
    for a in &answers {
        assert_eq!(a["answer"], "ACK", "{a}");
        assert_eq!(a["error"], Value::Null, "{a}");
        let encrypted = !a["name"].as_str().unwrap_or_default().contains("-1001-");
        assert_eq!(
            a["raw"].as_str().unwrap_or_default().contains("\"*ACK\""),
            encrypted,
            "{a}"
        );
    }
    let records = journal_records(&d.journal_dir);
    let dc09 = |kind: &str| {
        records
            .iter()
            .filter(|r| r["type"] == kind && r["data"]["protocol"] == "dc09")
            .cloned()
            .collect::<Vec<_>>()
    };
    let alarms = dc09("alarmgate.alarm.received");
    assert_eq!(alarms.len(), 12, "{alarms:#?}");
    assert_eq!(dc09("alarmgate.unit.heartbeat").len(), 6);
    for a in &alarms {
        assert_eq!(
            a["data"]["event_code"],
            a["data"]["event_code"]
                .as_str()
                .map(|_| {
                    if a["data"]["sia_code"] == "MA" {
                        "100"
                    } else {
                        "101"
                    }
                })
                .unwrap_or("?"),
            "{a}"
        );
        assert_eq!(a["data"]["classification"], "voice");
        assert_eq!(a["data"]["tenant"], "demo");
        let enc = a["data"]["dc09"]["encrypted"] == true;
        assert_eq!(enc, a["data"]["account"] != "1001", "{a}");
        assert!(
            a["subject"]
                .as_str()
                .unwrap_or_default()
                .starts_with("dc09-100"),
            "{a}"
        );
    }
}

/// Sends `frame` over a fresh TCP connection; the reply, or None after `wait`.
pub fn tcp_exchange(port: u16, frame: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    s.write_all(frame).ok()?;
    let mut buf = [0u8; 1024];
    match s.read(&mut buf) {
        Ok(n) if n > 0 => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// A frame around `region` (hex CRC).
pub fn frame(region: &str) -> Vec<u8> {
    alarmgate::dc09::frame::seal(region.as_bytes(), alarmgate::dc09::crc::CrcForm::Hex)
}

/// Our clock as a DC-09 timestamp.
pub fn now_ts() -> String {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    alarmgate::dc09::timestamp::Timestamp::from_unix(unix).to_string()
}

/// A reply as text (empty for none).
pub fn text(reply: &Option<Vec<u8>>) -> String {
    reply
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default()
        .into_owned()
}

#[test]
fn dc09_bad_input_gets_silence_nak_or_duh_and_the_node_stays_up() {
    const TEST: &str = "dc09_bad_input_gets_silence_nak_or_duh_and_the_node_stays_up";
    let port = free_port();
    let Some(mut d) = Daemon::start(TEST, &dc09_config(port, None)) else {
        return;
    };
    let quiet = Duration::from_millis(1500);
    let good = frame(&format!("\"NULL\"0001L1#1001[]_{}", now_ts()));
    // Garbage: nothing back, the connection is not answered.
    assert_eq!(tcp_exchange(port, b"GET / HTTP/1.1\r\n\r\n", quiet), None);
    // Wrong CRC and wrong length: silence (the unit retries). A wrong length
    // mis-frames the stream: the bytes are skipped as garbage.
    let mut bad_crc = good.clone();
    bad_crc[1] = if bad_crc[1] == b'0' { b'1' } else { b'0' };
    assert_eq!(tcp_exchange(port, &bad_crc, quiet), None);
    let mut bad_len = good.clone();
    bad_len[8] = if bad_len[8] == b'0' { b'1' } else { b'0' };
    assert_eq!(tcp_exchange(port, &bad_len, quiet), None);
    // Unknown account: NAK with our time; stale timestamp: NAK.
    let unknown = tcp_exchange(
        port,
        &frame(&format!("\"NULL\"0002L1#9999[]_{}", now_ts())),
        quiet,
    );
    assert!(
        text(&unknown).contains("\"NAK\"0000R0L0A0[]_"),
        "{}",
        text(&unknown)
    );
    let stale = tcp_exchange(
        port,
        &frame("\"ADM-CID\"0003L1#1001[#1001|1101 01 001]_10:00:00,01-01-2020"),
        quiet,
    );
    assert!(text(&stale).contains("\"NAK\""), "{}", text(&stale));
    // Encrypted with a key the account does not have: DUH.
    let key = alarmgate::dc09::crypto::Key::parse(
        "fedcba9876543210",
        alarmgate::dc09::crypto::KeyFormat::Ascii,
    )
    .unwrap();
    let sealed =
        alarmgate::dc09::crypto::seal(&key, &format!("#1002|1101 01 001]_{}", now_ts()), [5; 16])
            .unwrap();
    let region = format!(
        "\"*ADM-CID\"0004L1#1002[{}",
        alarmgate::dc09::crypto::to_hex(&sealed)
    );
    let wrong_key = tcp_exchange(port, &frame(&region), quiet);
    assert!(
        text(&wrong_key).contains("\"DUH\"0004L1#1002[]"),
        "{}",
        text(&wrong_key)
    );
    // Garbage over UDP: silence.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(quiet)).unwrap();
    udp.send_to(&[0xff; 700], ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 512];
    assert!(
        udp.recv_from(&mut buf).is_err(),
        "garbage over UDP must get no answer"
    );
    // A peer that never finishes a frame is closed at first_frame_s (2 s).
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(&good[..20]).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let closed_at = std::time::Instant::now();
    let n = slow.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "no answer to half a frame");
    assert!(
        closed_at.elapsed() < Duration::from_secs(9),
        "closed by the deadline"
    );
    // Nothing of that was stored; the node is up and a good frame is ACKed.
    assert!(d.alive());
    let ok = tcp_exchange(port, &good, Duration::from_secs(10));
    assert!(text(&ok).contains("\"ACK\"0001L1#1001[]"), "{}", text(&ok));
    let stored = journal_records(&d.journal_dir)
        .iter()
        .filter(|r| r["data"]["protocol"] == "dc09")
        .count();
    assert_eq!(stored, 1);
    assert!(poll_until(Duration::from_secs(5), || d
        .metric("alarmgate_dc09_frames_total", &[("outcome", "silent")])
        .unwrap_or(0.0)
        >= 1.0));
}

/// pysiaalarm reads our ACK, *ACK and NAK (see tests/peers/dc09_pysia_check.py).
#[test]
fn dc09_pysiaalarm_reads_our_ack_and_nak() {
    const TEST: &str = "dc09_pysiaalarm_reads_our_ack_and_nak";
    if !need_pjsua2(TEST) {
        return;
    }
    let port = free_port();
    let Some(d) = Daemon::start(TEST, &dc09_config(port, None)) else {
        return;
    };
    let key =
        alarmgate::dc09::crypto::Key::parse(KEY128, alarmgate::dc09::crypto::KeyFormat::Ascii)
            .unwrap();
    let sealed =
        alarmgate::dc09::crypto::seal(&key, &format!("#1002|1101 01 001]_{}", now_ts()), [9; 16])
            .unwrap();
    let requests = [
        (
            "1001",
            Value::Null,
            frame(&format!(
                "\"ADM-CID\"0011R1L1#1001[#1001|1101 01 001]_{}",
                now_ts()
            )),
        ),
        (
            "1001",
            Value::Null,
            // With R: pysiaalarm writes "None" for a missing receiver in its own ACK.
            frame(&format!(
                "\"SIA-DCS\"0012R2L1#1001[#1001|Nri1/MA001]_{}",
                now_ts()
            )),
        ),
        (
            "1002",
            json!(KEY128),
            frame(&format!(
                "\"*ADM-CID\"0013R1L1#1002[{}",
                alarmgate::dc09::crypto::to_hex(&sealed)
            )),
        ),
        (
            "1001",
            Value::Null,
            frame("\"ADM-CID\"0014R1L1#1001[#1001|1101 01 001]_10:00:00,01-01-2020"),
        ),
    ];
    let cases: Vec<Value> = requests
        .iter()
        .map(|(account, key, request)| {
            let reply = tcp_exchange(port, request, Duration::from_secs(10));
            json!({"account": account, "key": key, "request": String::from_utf8_lossy(request), "reply": text(&reply)})
        })
        .collect();
    let args = vec![Value::Array(cases).to_string()];
    let peer = PyPeer::spawn(
        "dc09_pysia_check.py",
        &d.dir.path,
        &args,
        Duration::from_secs(60),
    )
    .wait();
    let out: Vec<Value> = peer
        .output
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(out.len(), 4, "{}", peer.output);
    for o in &out {
        assert_eq!(
            (
                o["request_crc_ok"].as_bool(),
                o["crc_ok"].as_bool(),
                o["length_ok"].as_bool()
            ),
            (Some(true), Some(true), Some(true)),
            "{o}"
        );
    }
    assert_eq!(
        (out[0]["type"].as_str(), out[0]["same_as_pysia"].as_bool()),
        (Some("ACK"), Some(true)),
        "{}",
        out[0]
    );
    assert_eq!(
        (out[1]["type"].as_str(), out[1]["same_as_pysia"].as_bool()),
        (Some("ACK"), Some(true)),
        "{}",
        out[1]
    );
    assert_eq!(out[2]["type"], "*ACK", "{}", out[2]);
    assert!(
        out[2]["decrypted"]
            .as_str()
            .unwrap_or_default()
            .contains("]_"),
        "{}",
        out[2]
    );
    assert_eq!(out[2]["time_ok"], true);
    assert_eq!(
        (out[3]["type"].as_str(), out[3]["pysia_type"].as_str()),
        (Some("NAK"), Some("NAK")),
        "{}",
        out[3]
    );
    assert_eq!(out[3]["time_ok"], true);
}

/// `alarmgate simulate dc09` commissions a line: every scenario, over TCP
/// and UDP, plain and AES-128, gets the answer it expects (exit 0).
#[test]
fn dc09_simulate_every_scenario_against_the_daemon() {
    const TEST: &str = "dc09_simulate_every_scenario_against_the_daemon";
    let port = free_port();
    let Some(d) = Daemon::start(TEST, &dc09_config(port, None)) else {
        return;
    };
    let to = format!("127.0.0.1:{port}");
    let mut seq = 100;
    for udp in [false, true] {
        for (scenario, account, key) in [
            ("alarm", "1001", None),
            ("alarm", "1002", Some(KEY128)),
            ("heartbeat", "1003", Some(KEY256)),
            ("burst", "1002", Some(KEY128)),
            ("bad-crc", "1001", None),
            ("wrong-key", "1002", Some(KEY128)),
            ("stale", "1001", None),
        ] {
            seq += 10;
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_alarmgate"));
            cmd.args(["simulate", "dc09", "--to", &to, "--scenario", scenario])
                .args(["--account", account, "--count", "5", "--timeout-ms", "3000"])
                .args(["--seq", &seq.to_string()]);
            if let Some(k) = key {
                cmd.args(["--key", k]);
            }
            if udp {
                cmd.arg("--udp");
            }
            let out = cmd.output().expect("run simulate dc09");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{scenario} udp={udp}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert!(
        d.metric("alarmgate_dc09_frames_total", &[("outcome", "stored")])
            .unwrap_or(0.0)
            >= 16.0
    );
}
