//! The harness proven without the daemon: every `tests/sipp/uac_*.xml`
//! scenario runs through the same [`Sipp`] runner against a SIPp stand-in UAS
//! (`tests/sipp/standin/`), and `tests/peers/pj_call.py` calls a second
//! pjsua2 in answer mode. A failure here means the scenario, the runner or
//! the peer script is broken, not the daemon.

use crate::harness::{
    free_port, free_udp_block, need_pjsua2, need_sipp, pj_call, poll_until, port_bound, Sipp,
    SippRun, TestDir,
};
use std::path::Path;
use std::time::Duration;

/// A SIPp UAS stand-in on a free port, serving `calls` calls.
fn standin(dir: &Path, uas: &str, calls: u32, extra: &[&str]) -> (u16, SippRun) {
    let port = free_port();
    let mut s = Sipp::new(&format!("standin/{uas}"), 0, dir)
        .calls(calls)
        .timeout_s(40);
    for a in extra {
        s = s.arg(a);
    }
    s.port = port;
    (port, s.spawn_uas())
}

fn pair(
    test: &str,
    uas: &str,
    uas_extra: &[&str],
    uac: impl FnOnce(Sipp) -> Sipp,
    uac_file: &str,
    calls: u32,
) {
    if !need_sipp(test) {
        return;
    }
    let dir = TestDir::new(test);
    let (port, server) = standin(&dir.path, uas, calls, uas_extra);
    let client = uac(Sipp::new(uac_file, port, &dir.path).calls(calls));
    assert!(
        poll_until(Duration::from_secs(10), || port_bound(port, client.tcp)),
        "stand-in {uas} never bound port {port}"
    );
    client.run().assert_ok(calls);
    let srv = server.wait();
    assert_eq!(
        srv.successful,
        u64::from(calls),
        "stand-in did not complete its calls:\n{}",
        srv.report
    );
}

#[test]
fn standin_basic_udp() {
    pair(
        "standin_basic_udp",
        "uas_answer.xml",
        &[],
        |s| s.hold_ms(200).rate(10, 2),
        "uac_basic.xml",
        3,
    );
}

#[test]
fn standin_basic_tcp() {
    if !need_sipp("standin_basic_tcp") {
        return;
    }
    // over TCP SIPp's UAS counts the caller's close during its time-wait as a
    // failed call, so only the client's verdict is asserted; and the client
    // must not connect before the stand-in listens
    let dir = TestDir::new("standin_basic_tcp");
    let (port, server) = standin(&dir.path, "uas_answer.xml", 1, &["-t", "t1"]);
    assert!(
        poll_until(Duration::from_secs(10), || port_bound(port, true)),
        "TCP stand-in never listened"
    );
    Sipp::new("uac_basic.xml", port, &dir.path)
        .tcp()
        .hold_ms(200)
        .run()
        .assert_ok(1);
    let _ = server.wait();
}

#[test]
fn standin_invite_retrans() {
    pair(
        "standin_invite_retrans",
        "uas_answer_delayed.xml",
        &[],
        |s| s.hold_ms(200),
        "uac_invite_retrans.xml",
        1,
    );
}

#[test]
fn standin_200_lost() {
    pair(
        "standin_200_lost",
        "uas_answer.xml",
        &[],
        |s| s.hold_ms(200).arg("-nr"),
        "uac_200_lost.xml",
        1,
    );
}

#[test]
fn standin_bye_from_server() {
    pair(
        "standin_bye_from_server",
        "uas_bye.xml",
        &["-d", "1500"],
        |s| s,
        "uac_bye_from_server.xml",
        1,
    );
}

#[test]
fn standin_cancel() {
    pair(
        "standin_cancel",
        "uas_ringing.xml",
        &[],
        |s| s,
        "uac_cancel.xml",
        1,
    );
}

#[test]
fn standin_options() {
    pair(
        "standin_options",
        "uas_options.xml",
        &[],
        |s| s,
        "uac_options.xml",
        1,
    );
}

#[test]
fn standin_404() {
    pair(
        "standin_404",
        "uas_404.xml",
        &[],
        |s| s.service("999"),
        "uac_404.xml",
        1,
    );
}

#[test]
fn standin_503() {
    pair("standin_503", "uas_503.xml", &[], |s| s, "uac_503.xml", 1);
}

#[test]
fn standin_load() {
    pair(
        "standin_load",
        "uas_answer.xml",
        &[],
        |s| s.rate(50, 20),
        "uac_load.xml",
        100,
    );
}

/// pj_call.py places a call to a second pjsua2 (answer mode), counts RTP, hangs up cleanly.
#[test]
fn standin_pj_call() {
    if !need_pjsua2("standin_pj_call") {
        return;
    }
    let dir = TestDir::new("standin_pj_call");
    let (srv_port, cli_port) = (free_port(), free_port());
    let (srv_rtp, cli_rtp) = (free_udp_block(20), free_udp_block(20));
    let d = dir.path.clone();
    let answer_args: Vec<String> = [
        "answer",
        "--local-port",
        &srv_port.to_string(),
        "--rtp-port",
        &srv_rtp.to_string(),
        "--timeout",
        "30",
        "--calls",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let answerer = std::thread::spawn(move || pj_call(&d, &answer_args, Duration::from_secs(40)));
    let uri = format!("sip:112@127.0.0.1:{srv_port}");
    assert!(
        poll_until(Duration::from_secs(20), || port_bound(srv_port, false)),
        "pjsua2 answerer never bound port {srv_port}"
    );
    let args: Vec<String> = [
        "call",
        "--uri",
        &uri,
        "--local-port",
        &cli_port.to_string(),
        "--rtp-port",
        &cli_rtp.to_string(),
        "--hold",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, json, out) = pj_call(&dir.path, &args, Duration::from_secs(30));
    assert_eq!(code, Some(0), "pj_call.py call failed: {json}\n{out}");
    assert_eq!(json["connected"], true, "{out}");
    assert!(
        json["rx_packets"].as_u64().unwrap_or(0) > 20,
        "too few RTP packets: {json}"
    );
    assert_eq!(json["disconnected_cleanly"], true, "{json}");
    // second call: the answerer hangs up after 2 s, the caller waits for the BYE
    let args2: Vec<String> = [
        "call",
        "--uri",
        &format!("{uri};hangup=2"),
        "--local-port",
        &cli_port.to_string(),
        "--rtp-port",
        &cli_rtp.to_string(),
        "--wait-bye",
        "--timeout",
        "15",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, json, out) = pj_call(&dir.path, &args2, Duration::from_secs(30));
    assert_eq!(code, Some(0), "pj_call.py --wait-bye failed: {json}\n{out}");
    assert_eq!(json["ended_by_remote"], true, "{json}");
    let (acode, ajson, aout) = answerer.join().expect("answerer thread");
    assert_eq!(acode, Some(0), "answerer: {ajson}\n{aout}");
}
