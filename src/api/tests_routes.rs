//! Each endpoint's happy path and its error mapping, bad bodies, and a
//! switchboard that is too slow or gone.

use super::tests::{api, json, last, send, serve, tokens, TOKEN};
use super::*;
use std::time::Duration;

const STATE: &str = "/api/v1/operators/op-1/state";

#[tokio::test]
async fn state_changes_by_put_and_post() {
    let (addr, log) = api().await;
    let paused = r#"{"state": "paused", "reason": "lunch"}"#;
    for method in ["PUT", "POST"] {
        let answer = send(addr, method, STATE, Some(TOKEN), json(paused)).await;
        assert_eq!(answer.status, 200, "{method}: {}", answer.body);
        assert_eq!(answer.json()["state"], "paused");
        assert_eq!(answer.json()["reason"], "lunch");
        let expected = r#"state op-1 Paused { reason: "lunch" } by console"#;
        assert_eq!(last(&log), expected);
    }
    let body = json(r#"{"state":"logged_out"}"#);
    let answer = send(addr, "PUT", STATE, Some(TOKEN), body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(last(&log), "state op-1 LoggedOut by console");
}

#[tokio::test]
async fn state_errors_map_to_404_409() {
    let (addr, _log) = api().await;
    let body = json(r#"{"state":"available"}"#);
    let path = "/api/v1/operators/op-busy/state";
    let busy = send(addr, "PUT", path, Some(TOKEN), body).await;
    assert_eq!((busy.status, busy.error_code().as_str()), (409, "conflict"));
    assert_eq!(busy.json()["detail"], "operator op-busy is on a call");
    let path = "/api/v1/operators/op-9/state";
    let missing = send(addr, "PUT", path, Some(TOKEN), body).await;
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (404, "not_found")
    );
}

#[tokio::test]
async fn bad_state_bodies_are_refused() {
    let (addr, log) = api().await;
    let cases = [
        (json("not json"), 400, "bad_request"),
        (json(r#"{"state":"paused"}"#), 400, "bad_request"),
        (json(r#"{"state":"on_call"}"#), 400, "bad_request"),
        (json(r#"{"state":"available","x":1}"#), 400, "bad_request"),
        (
            json(r#"{"state":"available","reason":"why"}"#),
            400,
            "bad_request",
        ),
        (
            Some(("text/plain", r#"{"state":"available"}"#)),
            415,
            "unsupported_media_type",
        ),
        (None, 415, "unsupported_media_type"),
    ];
    for (body, status, code) in cases {
        let answer = send(addr, "PUT", STATE, Some(TOKEN), body).await;
        assert_eq!(
            (answer.status, answer.error_code().as_str()),
            (status, code),
            "{body:?}"
        );
    }
    let huge = format!(
        r#"{{"state":"paused","reason":"{}"}}"#,
        "x".repeat(body::BODY_MAX)
    );
    let answer = send(addr, "PUT", STATE, Some(TOKEN), json(&huge)).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (413, "payload_too_large")
    );
    assert_eq!(last(&log), "", "no refused body reaches the switchboard");
}

#[tokio::test]
async fn calls_are_listed() {
    let (addr, _log) = api().await;
    let answer = send(addr, "GET", "/api/v1/calls", Some(TOKEN), None).await;
    assert_eq!(answer.status, 200);
    let list: Option<CallList> = serde_json::from_str(&answer.body).ok();
    assert_eq!(list.map(|l| l.calls), Some(vec![super::tests::call()]));
    assert_eq!(answer.json()["calls"][0]["event_code"], "101");
}

#[tokio::test]
async fn recall_is_accepted_or_refused() {
    let (addr, log) = api().await;
    let recall = r#"{"operator":"op-1","number":"+4512345678","tenant":"aarhus"}"#;
    let answer = send(addr, "POST", "/api/v1/calls", Some(TOKEN), json(recall)).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.json()["id"], "recall-1@gw");
    assert_eq!(last(&log), "recall op-1 +4512345678 aarhus by console");
    let other = recall.replace("op-1", "op-2");
    let refused = send(addr, "POST", "/api/v1/calls", Some(TOKEN), json(&other)).await;
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (409, "conflict")
    );
    for bad in [
        recall.replace("+4512345678", "12ab"),
        recall.replace("op-1", ""),
        recall.replace(r#""tenant""#, r#""tenants""#),
        r#"{"operator":"op-1","number":"1"}"#.to_string(),
        recall.replace('}', r#","priority":1}"#),
    ] {
        let answer = send(addr, "POST", "/api/v1/calls", Some(TOKEN), json(&bad)).await;
        assert_eq!(
            (answer.status, answer.error_code().as_str()),
            (400, "bad_request"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn disposition_is_recorded_or_404() {
    let (addr, log) = api().await;
    let path = "/api/v1/calls/call-1@192.0.2.10/disposition";
    let body = r#"{"disposition":"false_alarm","note":"pressed by mistake"}"#;
    let answer = send(addr, "POST", path, Some(TOKEN), json(body)).await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    let expected =
        r#"disposition call-1@192.0.2.10 FalseAlarm Some("pressed by mistake") by console"#;
    assert_eq!(last(&log), expected);
    let blank = r#"{"disposition":"reassurance","note":"  "}"#;
    let answer = send(addr, "POST", path, Some(TOKEN), json(blank)).await;
    assert_eq!(answer.status, 204);
    assert!(last(&log).ends_with("Reassurance None by console"));
    let gone = "/api/v1/calls/call-2@192.0.2.10/disposition";
    let missing = send(addr, "POST", gone, Some(TOKEN), json(body)).await;
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (404, "not_found")
    );
}

#[tokio::test]
async fn bad_dispositions_are_refused() {
    let (addr, _log) = api().await;
    let path = "/api/v1/calls/call-1@192.0.2.10/disposition";
    let long_note = format!(
        r#"{{"disposition":"technical","note":"{}"}}"#,
        "x".repeat(NOTE_MAX + 1)
    );
    for bad in [
        r#"{"disposition":"prank"}"#.to_string(),
        r#"{"note":"no category"}"#.to_string(),
        r#"{"disposition":"technical","by":"me"}"#.to_string(),
        long_note,
    ] {
        let answer = send(addr, "POST", path, Some(TOKEN), json(&bad)).await;
        assert_eq!(
            (answer.status, answer.error_code().as_str()),
            (400, "bad_request")
        );
    }
}

#[tokio::test]
async fn queues_are_listed() {
    let (addr, _log) = api().await;
    let answer = send(addr, "GET", "/api/v1/queues", Some(TOKEN), None).await;
    assert_eq!(answer.status, 200);
    let list: Option<QueueList> = serde_json::from_str(&answer.body).ok();
    let queues = list.map(|l| l.queues).unwrap_or_default();
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0].calls[0].position, 1);
    assert_eq!(answer.json()["queues"][0]["operators_available"], 1);
}

#[tokio::test]
async fn a_silent_switchboard_gives_503() {
    let (addr, rx) = serve(Duration::from_millis(50)).await;
    let answer = send(addr, "GET", "/api/v1/queues", Some(TOKEN), None).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (503, "unavailable")
    );
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert!(answer.json()["detail"]
        .as_str()
        .is_some_and(|d| d.contains("within 50 ms")));
    drop(rx);
    let answer = send(addr, "GET", "/api/v1/calls", Some(TOKEN), None).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (503, "unavailable")
    );
    assert_eq!(answer.json()["detail"], "the switchboard is not running");
}

#[tokio::test]
async fn a_dropped_reply_gives_503() {
    let (addr, mut rx) = serve(DEFAULT_TIMEOUT).await;
    tokio::spawn(async move {
        while let Some(command) = rx.recv().await {
            drop(command);
        }
    });
    let answer = send(addr, "GET", "/api/v1/operators", Some(TOKEN), None).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (503, "unavailable")
    );
    assert_eq!(
        answer.json()["detail"],
        "the switchboard dropped the request"
    );
}

#[tokio::test]
async fn call_ids_are_percent_decoded() {
    let (addr, log) = api().await;
    let path = "/api/v1/calls/a%2Fb%40host/disposition";
    let body = json(r#"{"disposition":"technical"}"#);
    let answer = send(addr, "POST", path, Some(TOKEN), body).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["detail"], "call a/b@host not found");
    assert_eq!(last(&log), "disposition a/b@host Technical None by console");
    let spaced = "/api/v1/calls/a%20b/disposition";
    let answer = send(addr, "POST", spaced, Some(TOKEN), body).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (400, "bad_request")
    );
}

#[tokio::test]
async fn merged_with_the_event_stream_each_keeps_its_own_rules() {
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let app = router(tx, tokens()).merge(crate::bus::sse::routes(None, tokens()));
    let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
        panic!("cannot bind a loopback port");
    };
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let events = send(addr, "GET", "/api/v1/events", None, None).await;
    assert_eq!(events.status, 401, "the events need a token too");
    let events = send(addr, "GET", "/api/v1/events", Some(TOKEN), None).await;
    assert_eq!(
        events.status, 503,
        "no journal: the events route answers itself"
    );
    let unknown = send(addr, "GET", "/api/v1/nothing", Some(TOKEN), None).await;
    assert_eq!(unknown.status, 404);
}
