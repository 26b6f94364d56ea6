//! Events without a bus: `GET /api/v1/events?since=<id>` replays the events
//! after that id in journal order and an open stream gets new events live;
//! with the Contact ID receiver off, call events are still journalled.
//! The stream is read with a bearer token (`tests/interop/events_auth.rs`
//! tests the refusals and tenant scopes).

use super::{acknowledged, count, simulate};
use crate::harness::{journal_records, poll_until, Config, Daemon, TestDir};
use std::time::Duration;

/// The bearer token of these tests' `[[api.tokens]]`.
pub(crate) const TOKEN: &str = "events-interop-token";

/// `[[api.tokens]]` entries: `(name, token, tenants)`; `None` = all tenants.
pub(crate) fn api_tokens(tokens: &[(&str, &str, Option<&[&str]>)]) -> String {
    let mut out = String::from("[api]\n");
    for (name, token, tenants) in tokens {
        out.push_str(&format!("[[api.tokens]]\nname = \"{name}\"\n"));
        out.push_str(&alarmgate::config::token_sha256_line(token));
        if let Some(list) = tenants {
            out.push_str(&format!("tenants = {list:?}\n"));
        }
    }
    out
}

/// An open `GET path` as server-sent events with `token`, past its response
/// headers (so the server is already following the journal).
pub(crate) fn sse_open_with(
    port: u16,
    path: &str,
    token: &str,
) -> std::io::BufReader<std::net::TcpStream> {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .expect("send");
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    let mut first = true;
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim_end() != "" {
        assert!(!first || line.starts_with("HTTP/1.1 200"), "{line}");
        first = false;
        line.clear();
    }
    reader
}

fn sse_open(port: u16, path: &str) -> std::io::BufReader<std::net::TcpStream> {
    sse_open_with(port, path, TOKEN)
}

/// Reads events until `want` arrived (or 20 s): the (event type, id) of each.
pub(crate) fn sse_read(
    reader: std::io::BufReader<std::net::TcpStream>,
    want: usize,
) -> Vec<(String, String)> {
    use std::io::BufRead;
    let mut out = Vec::new();
    let (mut kind, mut id) = (String::new(), String::new());
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if let Some(v) = line.strip_prefix("event:") {
            kind = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().to_string();
        } else if line.starts_with("data:") {
            out.push((std::mem::take(&mut kind), std::mem::take(&mut id)));
            if out.len() == want {
                break;
            }
        }
    }
    out
}

#[test]
fn events_api_replays_since_an_id_without_a_bus() {
    let test = "events_api_replays_since_an_id_without_a_bus";
    let dir = TestDir::new(test);
    let journal = dir.path.join("journal");
    let cfg = Config {
        extra: format!(
            "[alarm]\njournal_dir = \"{}\"\n\n{}",
            journal.display(),
            api_tokens(&[("events", TOKEN, None)])
        ),
        ..Config::default()
    };
    let Some(d) = Daemon::start(test, &cfg) else {
        return;
    };
    let out = simulate(&d, 1, 1.0, &["1234 18 1 602 00 000"])
        .output()
        .expect("simulate");
    assert_eq!(acknowledged(&out), 1);
    assert!(poll_until(Duration::from_secs(20), || count(
        &journal,
        "call.ended"
    ) == 1));
    let records = journal_records(&journal);
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        records.len(),
        4,
        "call.started, alarm.received, alarm.acknowledged, call.ended"
    );
    let since = sse_open(d.http_port, &format!("/api/v1/events?since={}", ids[0]));
    let got = sse_read(since, 3);
    let got_ids: Vec<&str> = got.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(
        got_ids,
        &ids[1..],
        "the events after `since`, in journal order"
    );
    assert_eq!(got[0].0, "alarmgate.alarm.received");
    // live: a new call's events arrive on an open stream
    let stream = sse_open(d.http_port, "/api/v1/events");
    let live = std::thread::spawn(move || sse_read(stream, 2));
    let out = simulate(&d, 1, 1.0, &["1234 18 1 602 00 000"])
        .output()
        .expect("simulate");
    assert_eq!(acknowledged(&out), 1);
    let live = live.join().expect("live reader");
    let kinds: Vec<&str> = live.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["alarmgate.call.started", "alarmgate.alarm.received"]
    );
}

#[test]
fn call_events_are_journalled_with_contact_id_off() {
    let test = "call_events_are_journalled_with_contact_id_off";
    let dir = TestDir::new(test);
    let journal = dir.path.join("journal");
    let cfg = Config {
        extra: format!(
            "[alarm]\ncontact_id = false\njournal_dir = \"{}\"\n\n{}",
            journal.display(),
            api_tokens(&[("events", TOKEN, None)])
        ),
        ..Config::default()
    };
    let Some(d) = Daemon::start(test, &cfg) else {
        return;
    };
    // The unit hears no handshake and gives up: the call was answered and ended.
    let out = simulate(&d, 1, 1.0, &["1234 18 1 602 00 000"])
        .args(["--attempts", "1", "--handshake-timeout-ms", "1500"])
        .output()
        .expect("simulate");
    assert_eq!(acknowledged(&out), 0, "no receiver, no kissoff");
    assert!(
        poll_until(Duration::from_secs(20), || count(&journal, "call.ended")
            == 1),
        "call.ended is journalled without the Contact ID receiver"
    );
    assert_eq!(count(&journal, "call.started"), 1);
    assert_eq!(count(&journal, "alarm.received"), 0);
    let records = journal_records(&journal);
    let first = records[0]["id"].as_str().unwrap_or("");
    let got = sse_read(
        sse_open(d.http_port, &format!("/api/v1/events?since={first}")),
        1,
    );
    assert_eq!(
        got.first().map(|(k, _)| k.as_str()),
        Some("alarmgate.call.ended")
    );
}
