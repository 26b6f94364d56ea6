//! The daemon against SIPp (`tests/sipp/uac_*.xml`), one daemon per test.
//!
//! Each test asserts SIPp's verdict (exit 0, every call successful: the
//! scenario's checks on codes, SDP and headers passed) and, where the daemon
//! exports it, what `/metrics` says happened. Metric names come from the
//! library's `telemetry::metrics` so a rename cannot silently disable a check.

use crate::harness::{need_sipp, poll_until, Config, Daemon};
use alarmgate::telemetry::metrics as m;
use std::time::Duration;

/// Starts a daemon for `test` if SIPp is there and the daemon serves.
fn daemon(test: &str, cfg: Config) -> Option<Daemon> {
    if !need_sipp(test) {
        return None;
    }
    Daemon::start(test, &cfg)
}

fn assert_metric_at_least(d: &Daemon, name: &str, labels: &[(&str, &str)], min: f64) {
    assert!(
        d.wait_metric_at_least(name, labels, min, Duration::from_secs(5)),
        "{}: metric {name}{labels:?} never reached {min}; /metrics:\n{}",
        d.name,
        d.metrics()
    );
}

fn basic(test: &str, tcp: bool) {
    let Some(d) = daemon(test, Config::default()) else {
        return;
    };
    let mut run = d.sipp("uac_basic.xml").calls(3).rate(10, 2).hold_ms(500);
    if tcp {
        run = run.tcp();
    }
    run.run().assert_ok(3);
    assert_metric_at_least(&d, m::SIP_REQUESTS_IN, &[("method", "INVITE")], 3.0);
    assert_metric_at_least(&d, m::SIP_REQUESTS_IN, &[("method", "BYE")], 3.0);
    assert_metric_at_least(&d, m::CALLS_ANSWERED, &[], 3.0);
    assert!(
        poll_until(Duration::from_secs(5), || d.metric(m::CALLS_ACTIVE, &[])
            == Some(0.0)),
        "{test}: calls still active after every BYE:\n{}",
        d.metrics()
    );
}

/// Three calls over UDP: 100/180/200 with an SDP answer (PCMU/PCMA +
/// telephone-event), ACK, a held call, BYE/200; counters moved, no call left.
#[test]
fn basic_call_udp() {
    basic("basic_call_udp", false);
}

/// The same over TCP (one connection per SIPp, `-t t1`).
#[test]
fn basic_call_tcp() {
    basic("basic_call_tcp", true);
}

/// The caller's INVITE is retransmitted (same branch) while the daemon delays
/// its answer: one dialog, one answered call.
#[test]
fn invite_retransmissions_make_one_call() {
    let cfg = Config {
        answer_delay_ms: Some(2000),
        ..Config::default()
    };
    let Some(d) = daemon("invite_retransmissions_make_one_call", cfg) else {
        return;
    };
    d.sipp("uac_invite_retrans.xml")
        .hold_ms(200)
        .run()
        .assert_ok(1);
    assert_metric_at_least(&d, m::CALLS_ANSWERED, &[], 1.0);
    assert_eq!(
        d.metric(m::CALLS_ANSWERED, &[]),
        Some(1.0),
        "more than one call answered:\n{}",
        d.metrics()
    );
}

/// No ACK: the daemon retransmits its 200 at least twice, then the ACK and BYE complete the call.
#[test]
fn unacked_200_is_retransmitted() {
    let Some(d) = daemon("unacked_200_is_retransmitted", Config::default()) else {
        return;
    };
    d.sipp("uac_200_lost.xml")
        .hold_ms(200)
        .arg("-nr")
        .run()
        .assert_ok(1);
}

/// `max_duration_s = 2`: the daemon hangs up with BYE, SIPp answers 200.
#[test]
fn max_duration_bye_from_server() {
    let cfg = Config {
        max_duration_s: 2,
        ..Config::default()
    };
    let Some(d) = daemon("max_duration_bye_from_server", cfg) else {
        return;
    };
    d.sipp("uac_bye_from_server.xml").run().assert_ok(1);
    assert_metric_at_least(&d, m::CALLS_ENDED, &[("reason", "max_duration")], 1.0);
}

/// CANCEL during the ring: 200 for the CANCEL, 487 for the INVITE, ACK; nothing answered.
#[test]
fn cancel_before_answer() {
    let cfg = Config {
        answer_delay_ms: Some(2000),
        ..Config::default()
    };
    let Some(d) = daemon("cancel_before_answer", cfg) else {
        return;
    };
    d.sipp("uac_cancel.xml").run().assert_ok(1);
    assert_metric_at_least(&d, m::CALLS_ENDED, &[("reason", "cancelled")], 1.0);
    let answered = d.metric(m::CALLS_ANSWERED, &[]).unwrap_or(0.0);
    assert!(
        answered == 0.0,
        "a cancelled call was answered ({answered})"
    );
}

/// OPTIONS over UDP and TCP: 200 with Allow (INVITE ACK BYE CANCEL OPTIONS UPDATE), Accept, Supported.
#[test]
fn options_capabilities() {
    let Some(d) = daemon("options_capabilities", Config::default()) else {
        return;
    };
    d.sipp("uac_options.xml").run().assert_ok(1);
    d.sipp("uac_options.xml").tcp().run().assert_ok(1);
}

/// An INVITE to a number no tenant owns: 404, ACKed, no call.
#[test]
fn unknown_did_404() {
    let Some(d) = daemon("unknown_did_404", Config::default()) else {
        return;
    };
    d.sipp("uac_404.xml").service("999").run().assert_ok(1);
    d.sipp("uac_404.xml")
        .service("999")
        .tcp()
        .run()
        .assert_ok(1);
    assert_metric_at_least(&d, m::ADMISSION_REFUSALS, &[("reason", "unknown_did")], 2.0);
}

/// SIP over IPv6: an INVITE to [::1] is answered with an IPv6 Contact and
/// an `IN IP6` SDP address (the RTP socket is dual-stack), then BYE.
#[test]
fn basic_call_ipv6() {
    let cfg = Config {
        ipv6: true,
        ..Config::default()
    };
    let Some(d) = daemon("basic_call_ipv6", cfg) else {
        return;
    };
    d.sipp("uac_ipv6.xml").ipv6().calls(2).run().assert_ok(2);
    assert_metric_at_least(&d, m::CALLS_ENDED, &[("reason", "remote_bye")], 2.0);
}

/// An IP unit on no trusted trunk: 401 with an MD5 challenge first, the
/// INVITE again with SIPp's digest answer, then a normal call; a wrong
/// password gets 403 and no call.
#[test]
fn digest_authenticated_device_call() {
    let cfg = Config {
        auth_device: Some(("unit-9".into(), "s3cret".into())),
        ..Config::default()
    };
    let Some(d) = daemon("digest_authenticated_device_call", cfg) else {
        return;
    };
    d.sipp("uac_auth.xml")
        .arg("-au")
        .arg("unit-9")
        .arg("-ap")
        .arg("s3cret")
        .run()
        .assert_ok(1);
    assert_metric_at_least(&d, m::CALLS_ANSWERED, &[("tenant", "demo")], 1.0);
    assert_metric_at_least(
        &d,
        m::ADMISSION_REFUSALS,
        &[("reason", "auth_challenge")],
        1.0,
    );
    let wrong = d
        .sipp("uac_auth.xml")
        .arg("-au")
        .arg("unit-9")
        .arg("-ap")
        .arg("guess")
        .run();
    assert!(
        wrong.successful == 0 && wrong.failed == 1,
        "a wrong password must not give a call: {wrong:?}"
    );
    assert_metric_at_least(&d, m::ADMISSION_REFUSALS, &[("reason", "auth")], 1.0);
}

/// `max_concurrent = 1`: while one call is up, a second INVITE gets 503 with
/// Retry-After; the first call then ends normally.
#[test]
fn overload_503_with_retry_after() {
    let cfg = Config {
        max_concurrent: 1,
        ..Config::default()
    };
    let Some(d) = daemon("overload_503_with_retry_after", cfg) else {
        return;
    };
    let long = d.sipp("uac_basic.xml").hold_ms(4000).spawn();
    assert_metric_at_least(&d, m::CALLS_ACTIVE, &[], 1.0);
    d.sipp("uac_503.xml").run().assert_ok(1);
    long.wait().assert_ok(1);
    assert_metric_at_least(
        &d,
        m::ADMISSION_REFUSALS,
        &[("reason", "overload_concurrency")],
        1.0,
    );
}

/// SIGTERM: readiness drops, a new INVITE gets 503, the call in progress
/// stays up until its caller hangs up, then the daemon exits 0.
#[test]
fn sigterm_drains_calls() {
    let cfg = Config {
        shutdown_grace_s: 30,
        ..Config::default()
    };
    let Some(mut d) = daemon("sigterm_drains_calls", cfg) else {
        return;
    };
    let long = d.sipp("uac_basic.xml").hold_ms(4000).spawn();
    assert_metric_at_least(&d, m::CALLS_ACTIVE, &[], 1.0);
    d.sigterm();
    let http = d.http_port;
    assert!(
        poll_until(Duration::from_secs(5), || !matches!(
            crate::harness::http_get(http, "/readyz"),
            Some((200, _))
        )),
        "/readyz still 200 after SIGTERM"
    );
    d.sipp("uac_503.xml").run().assert_ok(1);
    assert!(d.alive(), "daemon exited while a call was still up");
    long.wait().assert_ok(1);
    let st = d.wait_exit(Duration::from_secs(15));
    assert!(
        st.is_some_and(|s| s.success()),
        "daemon did not exit 0 after draining: {st:?}"
    );
}

/// A bounded load smoke: 200 calls at 50 calls/s, at most 20 at once, none fails.
#[test]
fn load_smoke_200_calls() {
    let Some(d) = daemon("load_smoke_200_calls", Config::default()) else {
        return;
    };
    d.sipp("uac_load.xml")
        .calls(200)
        .rate(50, 20)
        .timeout_s(60)
        .run()
        .assert_ok(200);
    assert_metric_at_least(&d, m::CALLS_ANSWERED, &[], 200.0);
    assert!(
        poll_until(Duration::from_secs(5), || d.metric(m::CALLS_ACTIVE, &[])
            == Some(0.0)),
        "calls left active after load:\n{}",
        d.metrics()
    );
}
