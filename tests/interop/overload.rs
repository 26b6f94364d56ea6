//! Overload control that keeps alarms first (issue 9, item 4), against real
//! peers: SIPp storms a daemon with plain calls from a normal-priority trunk
//! (127.0.0.3) at several times what it can serve, while spandsp's Contact ID
//! sender, on the alarm trunk (the rest of loopback), sends an alarm.
//!
//! The saturation rate is measured first, in the same test, on the same
//! daemon and machine: SIPp closed-loop (a bounded number of calls in flight,
//! so nothing is shed), completed calls per second read from the daemon's own
//! `alarmgate_calls_ended_total{reason="remote_bye"}`. The storm then runs
//! open-loop at four times that rate and the completed calls per second are
//! read the same way over its middle. The assertions are relative to that
//! measurement, so a slow or loaded CI machine moves both sides alike.

use crate::harness::{
    need_sipp, need_spandsp, AlarmOpts, Config, Daemon, PeerResult, PyPeer, Sipp,
};
use alarmgate::telemetry::metrics as m;
use std::thread;
use std::time::{Duration, Instant};

/// Plain calls come from here, a trunk of normal priority.
const STORM_IP: &str = "127.0.0.3";

const TRUNKS: &str = r#"[[trunks]]
name = "plain-calls"
allow = ["127.0.0.3/32"]
priority = "normal"

[[trunks]]
name = "alarm-units"
allow = ["127.0.0.0/8", "::1/128"]
"#;

/// Completed calls so far (the caller hung up a call we took).
fn completed(d: &Daemon) -> f64 {
    d.metric(m::CALLS_ENDED, &[("reason", "remote_bye")])
        .unwrap_or(0.0)
}

/// Completed calls per second between `from` and `to` after `start`.
fn goodput(d: &Daemon, start: Instant, from: Duration, to: Duration) -> f64 {
    let wait = |at: Duration| thread::sleep((start + at).saturating_duration_since(Instant::now()));
    wait(from);
    let (c0, t0) = (completed(d), Instant::now());
    wait(to);
    let (c1, t1) = (completed(d), Instant::now());
    (c1 - c0) / (t1 - t0).as_secs_f64()
}

/// A bounded SIPp run of plain calls from [`STORM_IP`]: `rate` a second,
/// at most `in_flight` at once, stopped by SIPp itself after `secs`.
fn plain_calls(d: &Daemon, rate: u32, in_flight: u32, secs: u64) -> Sipp {
    d.sipp("uac_storm.xml")
        .calls(rate.saturating_mul(secs as u32))
        .rate(rate, in_flight)
        .timeout_s(secs)
        .arg("-i")
        .arg(STORM_IP)
}

/// spandsp's sender on the alarm trunk sends one burglary alarm.
fn alarm_unit(d: &Daemon) -> PyPeer {
    let s = |v: &str| v.to_string();
    let uri = format!("sip:112@127.0.0.1:{}", d.sip_port);
    let args = vec![
        s("device"),
        s("--uri"),
        uri,
        s("--local-port"),
        crate::harness::free_port().to_string(),
        s("--rtp-port"),
        crate::harness::free_udp_block(20).to_string(),
        s("--timeout"),
        s("40"),
        s("-m"),
        s("1234 18 1 130 01 015"),
    ];
    PyPeer::spawn("cid_peer.py", &d.dir.path, &args, Duration::from_secs(60))
}

fn assert_first_attempt(d: &Daemon, unit: &PeerResult) {
    assert_eq!(
        unit.json["answered"], true,
        "the alarm call was refused: {}",
        unit.json
    );
    assert!(
        unit.json["handshake_ms"].as_f64().is_some(),
        "no handshake heard: {}",
        unit.json
    );
    assert_eq!(
        unit.json["acknowledged"].as_u64(),
        Some(1),
        "{}\n{}",
        unit.json,
        unit.output
    );
    let retries = d.metric(m::MESSAGE_RETRIES, &[]).unwrap_or(0.0);
    let rejected = d.metric(m::ALARMS_REJECTED, &[]).unwrap_or(0.0);
    assert_eq!(
        (retries, rejected),
        (0.0, 0.0),
        "the alarm needed a repeat: {}",
        unit.json
    );
}

/// A storm of plain calls at four times the saturation rate, from a normal
/// trunk, while a spandsp unit on the alarm trunk sends an alarm: the alarm
/// is acknowledged on its first attempt and never shed, plain calls are
/// shed, and the node keeps serving plain calls through the storm: at least
/// a fifth of the saturation rate completes (the adaptive rate used to
/// ratchet down to 1 call/s when the lag stayed hot whatever was admitted;
/// its floor at half the rate served before the storm now stops that).
///
/// How much of the saturation rate holds (the issue's 80 %) is a speed
/// figure, measured with a release build in BENCHMARKS.md ("Overload"), not
/// here: on a 2-core machine shared with the rest of the suite the debug
/// daemon's per-message cost outside the screen and SIPp's own
/// retransmissions make that share a measure of the machine.
#[test]
fn storm_of_plain_calls_alarm_first_and_plain_calls_still_served() {
    let test = "storm_of_plain_calls_alarm_first_and_plain_calls_still_served";
    if !need_sipp(test) || !need_spandsp(test) {
        return;
    }
    let cfg = Config {
        alarm: Some(AlarmOpts::default()),
        trunks: Some(TRUNKS.into()),
        ..Config::default()
    };
    let Some(d) = Daemon::start(test, &cfg) else {
        return;
    };
    // Saturation: closed loop, 40 calls in flight, 12 s; measured over 4-11 s.
    let run = plain_calls(&d, 5000, 40, 12).spawn();
    let saturation = goodput(
        &d,
        Instant::now(),
        Duration::from_secs(4),
        Duration::from_secs(11),
    );
    run.wait();
    eprintln!("{test}: saturation {saturation:.0} completed calls/s");
    let text = d.metrics();
    for line in text
        .lines()
        .filter(|l| l.contains("overload") || l.contains("lag_seconds"))
    {
        eprintln!("{test}: {line}");
    }
    assert!(
        saturation >= 20.0,
        "the daemon served only {saturation:.1} calls/s"
    );
    thread::sleep(Duration::from_secs(3)); // the gates reopen

    // The storm: open loop at 4x, 26 s; the alarm goes at 6 s.
    let storm_rate = ((saturation * 4.0) as u32).clamp(100, 4000);
    let start = Instant::now();
    let storm = plain_calls(&d, storm_rate, storm_rate * 10, 26).spawn();
    thread::sleep(Duration::from_secs(6));
    let unit = alarm_unit(&d);
    let during = goodput(&d, start, Duration::from_secs(8), Duration::from_secs(24));
    let unit = unit.wait();
    storm.wait();
    let text = d.metrics();
    for line in text
        .lines()
        .filter(|l| l.contains("overload") || l.contains("lag_seconds"))
    {
        eprintln!("{test}: {line}");
    }
    let shed = crate::harness::metric_sum(&text, m::OVERLOAD_REFUSALS, &[("priority", "normal")]);
    eprintln!(
        "{test}: storm at {storm_rate}/s: {during:.0} completed calls/s ({:.0} % of saturation), {shed:?} plain calls shed; unit {}",
        during / saturation * 100.0,
        unit.json
    );
    assert_first_attempt(&d, &unit);
    assert!(
        d.metric(m::OVERLOAD_REFUSALS, &[("priority", "alarm")])
            .is_none(),
        "an alarm call was shed"
    );
    assert!(
        shed.unwrap_or(0.0) > 0.0,
        "nothing was shed: was it a storm?"
    );
    assert!(
        during >= 0.2 * saturation,
        "goodput collapsed: {during:.0}/s under the storm, {saturation:.0}/s at saturation"
    );
}
