//! The console without a phone call: sign-in, state, expiry, the queue
//! view's live updates, the node restarting under an open page.

use super::*;
use crate::harness::need_spandsp;
use crate::operators::{api, device_uri, operator, spawn_unit, wait_call, RING_WAIT, UNIT_A};

const SHORT: Duration = Duration::from_secs(10);

fn start(test: &str, ttl_s: u64) -> Option<Daemon> {
    if !need_browser(test) {
        return None;
    }
    Daemon::start(test, &console_config(ttl_s, ws_port()))
}

/// Polls the API until operator `id` is in `state` (with `reason`).
fn wait_api_state(d: &Daemon, id: &str, state: &str, reason: Option<&str>) {
    let mut last = Value::Null;
    let ok = poll_until(SHORT, || {
        last = operator(d, id);
        last["state"] == state && reason.is_none_or(|r| last["reason"] == r)
    });
    assert!(
        ok,
        "GET /api/v1/operators/{id}: never {state} {reason:?}: {last}"
    );
}

#[test]
fn console_sign_in_wrong_password_and_state_buttons_reach_the_api() {
    let test = "console_sign_in_wrong_password_and_state_buttons_reach_the_api";
    let Some(d) = start(test, 3600) else { return };
    let mut b = Browser::start(&d.dir.path);
    b.open(&console_url(&d));
    b.type_in("#signin-id", "op1");
    b.type_in("#signin-password", "not-the-password");
    b.click("#signin-submit");
    let said = b.wait_js(
        "document.getElementById('signin-message').textContent.length > 0 && !document.getElementById('signin-message').textContent.startsWith('Signing')",
        SHORT,
    );
    assert!(said, "no message after a wrong password");
    assert_eq!(b.text("#signin-message"), "Wrong operator id or password.");
    assert_eq!(b.state()["signedIn"], false);

    sign_in(&mut b, &d, "op1");
    assert_eq!(b.text("#who"), "Operator op1 (op1)");
    b.click("#btn-pause");
    wait_api_state(&d, "op1", "paused", Some("break"));
    assert!(b.wait_js(
        "document.getElementById('state-text').textContent === 'Paused: break'",
        SHORT
    ));
    b.keys("F9");
    wait_api_state(&d, "op1", "available", None);
    b.click("#btn-logout");
    wait_api_state(&d, "op1", "logged_out", None);
    let others = b.text("#operators");
    assert!(
        others.contains("Operator op2"),
        "colleagues listed: {others}"
    );

    b.click("#btn-available");
    wait_api_state(&d, "op1", "available", None);
    b.click("#signout");
    assert!(b.wait_js("!window.alarmgateConsole.state().signedIn", SHORT));
    assert_eq!(b.text("#signin-message"), "You signed out.");
    wait_api_state(&d, "op1", "logged_out", None);
}

#[test]
fn console_session_expiry_returns_to_sign_in() {
    let test = "console_session_expiry_returns_to_sign_in";
    let Some(d) = start(test, 6) else { return };
    let mut b = Browser::start(&d.dir.path);
    sign_in(&mut b, &d, "op2");
    let back = b.wait_js(
        "!window.alarmgateConsole.state().signedIn",
        Duration::from_secs(20),
    );
    assert!(
        back,
        "still signed in after the session's 6 s: {}",
        b.state()
    );
    let message = b.text("#signin-message");
    assert!(message.contains("session has expired"), "{message}");
    assert!(b.wait_js("!document.getElementById('signin-view').hidden", SHORT));
    let (status, _) = api(&d, "GET", "/api/v1/operators/op2", None);
    assert_eq!(status, 200, "the admin token is untouched");
}

#[test]
fn console_shows_a_waiting_alarm_live_from_the_event_stream() {
    let test = "console_shows_a_waiting_alarm_live_from_the_event_stream";
    if !need_spandsp(test) {
        return;
    }
    let Some(d) = start(test, 3600) else { return };
    let mut b = Browser::start(&d.dir.path);
    sign_in(&mut b, &d, "op1");
    b.click("#btn-pause");
    wait_api_state(&d, "op1", "paused", Some("break"));
    let queue_before = b.text("#queues");
    assert!(queue_before.contains("No call waiting"), "{queue_before}");
    let _unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let waiting = wait_call(&d, RING_WAIT, "emergency waiting", |c| {
        c["class"] == "emergency" && c["state"] == "waiting"
    });
    let shown = b.wait_js(
        "document.querySelector('[data-queue=\"main\"] td') !== null && document.getElementById('queues').textContent.includes('101')",
        SHORT,
    );
    let queues = b.text("#queues");
    assert!(
        shown,
        "the waiting alarm {waiting} is not in the queue view: {queues}"
    );
    assert!(
        queues.contains("EMERGENCY") && queues.contains(UNIT_A),
        "{queues}"
    );
    assert!(
        b.state()["alarmsSeen"].as_u64().unwrap_or(0) >= 1,
        "the decoded alarm came over the event stream: {}",
        b.state()
    );
}

#[test]
fn console_says_reconnecting_while_the_node_restarts_then_recovers() {
    let test = "console_says_reconnecting_while_the_node_restarts_then_recovers";
    let Some(mut d) = start(test, 3600) else {
        return;
    };
    let mut b = Browser::start(&d.dir.path);
    sign_in(&mut b, &d, "op1");
    let down = Duration::from_secs(6);
    let restart = thread::scope(|s| {
        let handle = s.spawn(|| d.restart(down));
        let seen = b.wait_js(
            "['reconnecting', 'down'].includes(window.alarmgateConsole.state().link) && document.getElementById('banner').textContent.includes('Reconnecting')",
            Duration::from_secs(20),
        );
        let banner = b.text("#banner");
        (handle.join(), seen, banner)
    });
    let (joined, seen, banner) = restart;
    assert!(joined.is_ok(), "the daemon did not restart");
    assert!(seen, "the page never said it was reconnecting: {banner:?}");
    let live = b.wait_js(
        "window.alarmgateConsole.state().link === 'live' && window.alarmgateConsole.state().signedIn",
        Duration::from_secs(30),
    );
    assert!(live, "not live again after the restart: {}", b.state());
    assert!(b.wait_js("document.getElementById('banner').hidden", SHORT));
    b.click("#btn-pause");
    wait_api_state(&d, "op1", "paused", Some("break"));
}

/// `POST /api/v1/session` for `id` with its right password, sent from
/// `source` (a loopback address of its own): the status.
fn sign_in_from(d: &Daemon, source: &str, id: &str) -> u16 {
    use socket2::{Domain, Socket, Type};
    use std::io::{Read, Write};
    use std::net::SocketAddr;
    let body = json!({"operator": id, "password": format!("secret-{id}")}).to_string();
    let request = format!(
        "POST /api/v1/session HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let from: SocketAddr = format!("{source}:0").parse().expect("source");
    socket.bind(&from.into()).expect("bind the source address");
    let to = SocketAddr::from(([127, 0, 0, 1], d.http_port));
    socket.connect(&to.into()).expect("connect");
    let mut stream: std::net::TcpStream = socket.into();
    stream.set_read_timeout(Some(SHORT)).expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok());
    status.unwrap_or(0)
}

#[test]
fn console_a_guessing_browser_is_blocked_with_a_clear_message_and_no_one_else() {
    let test = "console_a_guessing_browser_is_blocked_with_a_clear_message_and_no_one_else";
    if !need_browser(test) {
        return;
    }
    let mut cfg = console_config(3600, ws_port());
    cfg.extra = cfg.extra.replace(
        "keepalive_interval_s = 2\n",
        "keepalive_interval_s = 2\nauth_fail_limit = 3\nauth_block_s = 120\n",
    );
    let Some(d) = Daemon::start(test, &cfg) else {
        return;
    };
    let mut b = Browser::start(&d.dir.path);
    b.open(&console_url(&d));
    b.type_in("#signin-id", "op1");
    let message_is = |b: &mut Browser, start: &str| {
        let script =
            format!("document.getElementById('signin-message').textContent.startsWith({start:?})");
        b.wait_js(&script, SHORT)
    };
    for _ in 0..2 {
        b.type_in("#signin-password", "guess");
        b.click("#signin-submit");
        assert!(
            message_is(&mut b, "Wrong operator id or password."),
            "{}",
            b.text("#signin-message")
        );
        b.cmd(json!({"cmd": "js", "script": "document.getElementById('signin-message').textContent = ''; return true;"}));
    }
    b.type_in("#signin-password", "guess");
    b.click("#signin-submit");
    assert!(
        message_is(
            &mut b,
            "Too many failed sign-ins from this computer. Try again in 1"
        ),
        "{}",
        b.text("#signin-message")
    );
    b.type_in("#signin-password", "secret-op1");
    b.click("#signin-submit");
    assert!(
        message_is(&mut b, "Too many failed sign-ins"),
        "the right password is refused while blocked"
    );
    assert_eq!(b.state()["signedIn"], false);
    assert_eq!(
        sign_in_from(&d, "127.0.0.2", "op1"),
        201,
        "another address is not locked out"
    );
    let (status, _) = api(&d, "GET", "/api/v1/operators/op1", None);
    assert_eq!(status, 200, "the admin token is not locked out");
}
