//! `GET /api/v1/events` is behind the API's bearer tokens: no token or a
//! wrong one is 401; a token scoped to one tenant (`tenants = ["aarhus"]`)
//! sees only that tenant's events on the stream and gets 403 on the
//! switchboard's routes; an all-tenant token sees every tenant. Two tenants'
//! alarm units call (the simulator, one per tenant's DID).

use crate::bus::events_api::{api_tokens, sse_open_with};
use crate::harness::{http_request, journal_records, poll_until, Config, Daemon, TestDir};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

const ADMIN: &str = "events-admin-token";
const AARHUS: &str = "events-aarhus-token";
/// The units' calling number: personal data, never a metric label.
const CALLER: &str = "4599887766";

/// The `demo` tenant (DID 112) comes from the harness; `aarhus` answers 113.
fn config(journal: &std::path::Path) -> Config {
    let tokens = api_tokens(&[
        ("admin", ADMIN, None),
        ("aarhus-viewer", AARHUS, Some(&["aarhus"])),
    ]);
    Config {
        extra: format!(
            "[alarm]\njournal_dir = \"{}\"\n\n[[tenants]]\nid = \"aarhus\"\nname = \"Aarhus Kommune\"\ndids = [\"113\"]\ncodecs = [\"PCMA\", \"PCMU\"]\n\n{tokens}",
            journal.display()
        ),
        ..Config::default()
    }
}

/// One alarm call to `did` from account `account`; true when acknowledged.
fn alarm(d: &Daemon, did: &str, account: &str) -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_alarmgate"))
        .args([
            "simulate",
            "device",
            &format!("sip:{did}@127.0.0.1:{}", d.sip_port),
        ])
        .args(["-m", &format!("{account} 18 1 602 00 000")])
        .args(["--attempts", "3", "--json", "--seed", account])
        .args(["--from-user", CALLER])
        .current_dir(&d.dir.path)
        .stdin(Stdio::null())
        .output()
        .expect("run alarmgate simulate device");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    json["summary"]["messages_acknowledged"].as_u64() == Some(1)
}

/// Reads `want` events (or until 20 s pass): the tenant of each (`""` when none).
fn tenants_of(reader: std::io::BufReader<std::net::TcpStream>, want: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let event: serde_json::Value = serde_json::from_str(data.trim()).unwrap_or_default();
        out.push(event["data"]["tenant"].as_str().unwrap_or("").to_string());
        if out.len() == want {
            break;
        }
    }
    out
}

/// Label values in a `/metrics` text that are citizens' data: the known
/// caller and accounts, or anything shaped like a phone number or account
/// (4 or more digits, maybe after a `+`; status codes have 3). `le` and
/// `quantile` hold numbers by design.
fn personal_labels(text: &str, known: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((_, rest)) = line.split_once('{') else {
            continue;
        };
        let labels = rest.split('}').next().unwrap_or("");
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once("=\"").unwrap_or((pair, ""));
            let value = value.trim_end_matches('"');
            let digits = value.strip_prefix('+').unwrap_or(value);
            let numeric = digits.len() >= 4 && digits.bytes().all(|b| b.is_ascii_digit());
            let by_design = key == "le" || key == "quantile";
            if !by_design && (numeric || known.iter().any(|k| value.contains(k))) {
                found.push(line.to_string());
            }
        }
    }
    found
}

fn status(d: &Daemon, path: &str, token: Option<&str>) -> Option<u16> {
    http_request(d.http_port, "GET", path, token, None).map(|(s, _)| s)
}

#[test]
fn events_need_a_token_and_a_scoped_token_sees_only_its_tenant() {
    let test = "events_need_a_token_and_a_scoped_token_sees_only_its_tenant";
    let dir = TestDir::new(test);
    let journal = dir.path.join("journal");
    let Some(d) = Daemon::start(test, &config(&journal)) else {
        return;
    };
    assert_eq!(status(&d, "/api/v1/events", None), Some(401), "no token");
    assert_eq!(status(&d, "/api/v1/events", Some("wrong")), Some(401));
    assert_eq!(
        status(&d, "/api/v1/calls", Some(AARHUS)),
        Some(403),
        "a tenant-scoped token may not see every tenant's calls"
    );
    // The all-tenant token passes (no queues here, so the switchboard says 503).
    let admin = http_request(d.http_port, "GET", "/api/v1/calls", Some(ADMIN), None);
    let admin_status = admin.as_ref().map(|a| a.0);
    assert!(
        admin_status.is_some_and(|s| s != 401 && s != 403),
        "{admin:?}"
    );
    assert_eq!(status(&d, "/readyz", None), Some(200), "health stays open");
    // demo, aarhus, demo: at least 4 events each (call.started,
    // alarm.received, alarm.acknowledged, call.ended)
    for (did, account) in [("112", "1111"), ("113", "2222"), ("112", "3333")] {
        assert!(alarm(&d, did, account), "{account} acknowledged");
    }
    assert!(
        poll_until(Duration::from_secs(20), || journal_records(&journal).len()
            >= 12),
        "12 events journalled"
    );
    let scoped = sse_open_with(d.http_port, "/api/v1/events?since=0", AARHUS);
    let seen = tenants_of(scoped, 4);
    assert_eq!(
        seen, ["aarhus"; 4],
        "the scoped stream skips demo's events before and after aarhus's"
    );
    let all = sse_open_with(d.http_port, "/api/v1/events?since=0", ADMIN);
    let seen = tenants_of(all, 12);
    assert_eq!(seen.len(), 12, "{seen:?}");
    assert_eq!(seen.first().map(String::as_str), Some("demo"), "{seen:?}");
    assert!(seen.iter().any(|t| t == "aarhus"), "{seen:?}");
}

#[test]
fn metrics_carry_no_callers_or_accounts() {
    let test = "metrics_carry_no_callers_or_accounts";
    let dir = TestDir::new(test);
    let journal = dir.path.join("journal");
    let Some(d) = Daemon::start(test, &config(&journal)) else {
        return;
    };
    assert!(alarm(&d, "113", "4321"), "acknowledged");
    let text = d.metrics();
    assert!(
        text.contains("alarmgate_alarms_acknowledged_total"),
        "{text}"
    );
    let known = [CALLER, "4321"];
    assert_eq!(personal_labels(&text, &known), Vec::<String>::new());
    let planted =
        "x_total{caller=\"+4599887766\",le=\"1000\"} 1\nx{tenant=\"aarhus\",code=\"200\"} 1";
    assert_eq!(
        personal_labels(planted, &known).len(),
        1,
        "the check finds a number"
    );
}
