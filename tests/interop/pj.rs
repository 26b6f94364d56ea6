//! The daemon against pjsua2, a full SIP UA with a media stack
//! (`tests/peers/pj_call.py`): the call connects, G.711 is negotiated with
//! telephone-event, the daemon's hold stream (RTP silence) reaches the caller
//! at about 50 packets a second, and the call ends cleanly whichever side
//! hangs up.

use crate::harness::{free_port, free_udp_block, need_pjsua2, pj_call, Config, Daemon};
use alarmgate::telemetry::metrics as m;
use std::time::Duration;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn daemon(test: &str, cfg: Config) -> Option<Daemon> {
    if !need_pjsua2(test) {
        return None;
    }
    Daemon::start(test, &cfg)
}

/// A 3 s call from pjsua2: PCMA or PCMU, telephone-event negotiated, at least
/// 100 RTP packets received (150 expected at 20 ms), caller's BYE answered 200.
#[test]
fn pjsua2_call_gets_media_and_hangs_up() {
    let Some(d) = daemon("pjsua2_call_gets_media_and_hangs_up", Config::default()) else {
        return;
    };
    let uri = format!("sip:112@127.0.0.1:{}", d.sip_port);
    let (port, rtp) = (free_port().to_string(), free_udp_block(20).to_string());
    let a = args(&[
        "call",
        "--uri",
        &uri,
        "--local-port",
        &port,
        "--rtp-port",
        &rtp,
        "--hold",
        "3",
    ]);
    let (code, json, out) = pj_call(&d.dir.path, &a, Duration::from_secs(40));
    assert_eq!(code, Some(0), "pj_call.py failed: {json}\n{out}");
    let codec = json["codec"].as_str().unwrap_or("");
    assert!(
        codec == "PCMA" || codec == "PCMU",
        "codec {codec:?}: {json}"
    );
    assert!(
        json["telephone_event"].as_u64().is_some(),
        "no telephone-event negotiated: {json}"
    );
    let rx = json["rx_packets"].as_u64().unwrap_or(0);
    assert!(
        rx >= 100,
        "only {rx} RTP packets from the daemon in 3 s: {json}"
    );
    assert!(
        d.wait_metric_at_least(m::RTP_PACKETS_IN, &[], 100.0, Duration::from_secs(5)),
        "daemon counted fewer than 100 RTP packets from pjsua2:\n{}",
        d.metrics()
    );
}

/// `max_duration_s = 2`: pjsua2 waits, the daemon sends BYE, pjsua2 answers 200.
#[test]
fn pjsua2_call_ended_by_daemon() {
    let cfg = Config {
        max_duration_s: 2,
        ..Config::default()
    };
    let Some(d) = daemon("pjsua2_call_ended_by_daemon", cfg) else {
        return;
    };
    let uri = format!("sip:112@127.0.0.1:{}", d.sip_port);
    let (port, rtp) = (free_port().to_string(), free_udp_block(20).to_string());
    let a = args(&[
        "call",
        "--uri",
        &uri,
        "--local-port",
        &port,
        "--rtp-port",
        &rtp,
        "--wait-bye",
        "--timeout",
        "20",
    ]);
    let (code, json, out) = pj_call(&d.dir.path, &a, Duration::from_secs(40));
    assert_eq!(code, Some(0), "pj_call.py --wait-bye failed: {json}\n{out}");
    assert_eq!(json["ended_by_remote"], true, "{json}");
    assert!(
        d.wait_metric_at_least(
            m::CALLS_ENDED,
            &[("reason", "max_duration")],
            1.0,
            Duration::from_secs(5)
        ),
        "{}",
        d.metrics()
    );
}

/// pjsua2 over SIP/TLS (TLS 1.2, our dev certificate from `alarmgate certs
/// dev`): the call connects, G.711 media flows, and it ends cleanly.
#[test]
fn pjsua2_call_over_tls() {
    let cfg = Config {
        tls: true,
        ..Config::default()
    };
    let Some(d) = daemon("pjsua2_call_over_tls", cfg) else {
        return;
    };
    let tls_port = d.tls_port.expect("TLS listener");
    let uri = format!("sip:112@127.0.0.1:{tls_port};transport=tls");
    let (port, rtp) = (free_port().to_string(), free_udp_block(20).to_string());
    let a = args(&[
        "call",
        "--transport",
        "tls",
        "--uri",
        &uri,
        "--local-port",
        &port,
        "--rtp-port",
        &rtp,
        "--hold",
        "2",
    ]);
    let (code, json, out) = pj_call(&d.dir.path, &a, Duration::from_secs(40));
    assert_eq!(code, Some(0), "pj_call.py over TLS failed: {json}\n{out}");
    // A call the daemon ended early (media_failed...) is not a media
    // shortage: say so, with the daemon's reason.
    assert_eq!(
        json["ended_by_remote"],
        serde_json::Value::Bool(false),
        "the daemon ended the call before the caller's 2 s hold: {json}\n{}",
        d.metrics()
    );
    assert!(
        json["rx_packets"].as_u64().unwrap_or(0) >= 50,
        "little media in the 2 s after the answer: {json}"
    );
    assert_eq!(
        json["disconnected_cleanly"],
        serde_json::Value::Bool(true),
        "{json}"
    );
    let log = std::fs::read_to_string(&d.log).unwrap_or_default();
    assert!(
        log.contains("transport=TLS"),
        "the call did not arrive over TLS:\n{log}"
    );
}
