//! `docs/openapi.yaml` against the code: it parses (it is JSON, which is
//! YAML, behind `#` comment lines), documents every route the router serves
//! and no other, every `$ref` resolves, the documented errors cover what the
//! handlers answer, and the examples deserialise into the Rust types.

use super::body::{self, DispositionBody, RecallBody, StateBody};
use super::*;
use serde::de::DeserializeOwned;
use serde_json::Value;

const DOC: &str = include_str!("../../docs/openapi.yaml");

fn document() -> Value {
    let json: String = DOC
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();
    match serde_json::from_str(&json) {
        Ok(doc) => doc,
        Err(e) => panic!("docs/openapi.yaml is not JSON-compatible YAML: {e}"),
    }
}

/// A JSON pointer from plain segments (escaping `~` and `/`).
fn pointer(segments: &[&str]) -> String {
    let escape = |s: &&str| s.replace('~', "~0").replace('/', "~1");
    segments.iter().map(|s| format!("/{}", escape(s))).collect()
}

fn at<'a>(doc: &'a Value, segments: &[&str]) -> &'a Value {
    doc.pointer(&pointer(segments)).unwrap_or(&Value::Null)
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    at(doc, &["paths", path, &method.to_ascii_lowercase()])
}

fn decode<T: DeserializeOwned>(value: &Value, what: &str) -> T {
    match serde_json::from_value(value.clone()) {
        Ok(decoded) => decoded,
        Err(e) => panic!("{what}: {e}: {value}"),
    }
}

#[test]
fn it_is_openapi_3_1_with_bearer_auth() {
    let doc = document();
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1.")));
    let scheme = at(&doc, &["components", "securitySchemes", "bearerAuth"]);
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&"http".into(), &"bearer".into())
    );
    assert_eq!(doc["security"][0]["bearerAuth"], Value::Array(vec![]));
}

#[test]
fn it_documents_every_route_and_no_other() {
    let doc = document();
    for (method, path) in ROUTES.iter().chain(super::RECORDING_ROUTES) {
        let op = operation(&doc, method, path);
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(
            op["operationId"].is_string(),
            "{method} {path}: operationId"
        );
        assert!(
            op.get("security").is_none(),
            "{method} {path} must use the bearer token"
        );
        let mut codes = vec!["401", "403", "503"];
        if *method != "GET" {
            codes.extend(["400", "413", "415"]);
        }
        for code in codes {
            assert!(op["responses"][code].is_object(), "{method} {path}: {code}");
        }
    }
    for (method, path) in PUBLIC_ROUTES {
        let op = operation(&doc, method, path);
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(
            op["operationId"].is_string(),
            "{method} {path}: operationId"
        );
        assert_eq!(
            op["security"],
            Value::Array(vec![]),
            "{method} {path} needs no token"
        );
    }
    let outside = [
        "/api/v1/events",
        "/api/v1/units",
        "/metrics",
        "/healthz",
        "/readyz",
    ];
    let Some(paths) = doc["paths"].as_object() else {
        panic!("no paths");
    };
    for (path, item) in paths {
        let methods = item
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>());
        for method in methods.unwrap_or_default() {
            let upper = method.to_ascii_uppercase();
            let served = ROUTES
                .iter()
                .chain(PUBLIC_ROUTES)
                .chain(super::RECORDING_ROUTES)
                .chain(crate::records::api::ROUTES)
                .any(|(m, p)| *m == upper && p == path);
            assert!(served || outside.contains(&path.as_str()), "{upper} {path}");
        }
    }
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(
            operation(&doc, "get", path)["security"],
            Value::Array(vec![])
        );
    }
    for (method, path) in crate::records::api::ROUTES {
        let op = operation(&doc, method, path);
        for code in ["200", "400", "401", "403", "404", "503"] {
            assert!(op["responses"][code].is_object(), "{method} {path}: {code}");
        }
    }
    let events = operation(&doc, "get", "/api/v1/events");
    assert!(events.get("security").is_none(), "events need the token");
    assert!(events["responses"]["401"].is_object());
}

fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let doc = document();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 20, "{} refs", found.len());
    for target in found {
        let local = target.strip_prefix('#');
        assert!(local.and_then(|p| doc.pointer(p)).is_some(), "{target}");
    }
}

fn response_example(doc: &Value, method: &str, path: &str, code: &str) -> Value {
    let op = operation(doc, method, path);
    at(
        op,
        &["responses", code, "content", "application/json", "example"],
    )
    .clone()
}

fn request_examples(doc: &Value, method: &str, path: &str) -> Vec<Value> {
    let media = at(
        operation(doc, method, path),
        &["requestBody", "content", "application/json"],
    );
    let mut all = Vec::new();
    if media["example"].is_object() {
        all.push(media["example"].clone());
    }
    if let Some(named) = media["examples"].as_object() {
        all.extend(named.values().map(|e| e["value"].clone()));
    }
    assert!(!all.is_empty(), "{method} {path}: no request example");
    all
}

#[test]
fn response_examples_are_what_the_api_sends() {
    let doc = document();
    let ops: OperatorList = decode(
        &response_example(&doc, "GET", "/api/v1/operators", "200"),
        "operators",
    );
    assert!(ops.operators.len() >= 2);
    let one = "/api/v1/operators/{id}";
    let _: OperatorView = decode(&response_example(&doc, "GET", one, "200"), "operator");
    let state = "/api/v1/operators/{id}/state";
    let _: OperatorView = decode(&response_example(&doc, "PUT", state, "200"), "state");
    let calls: CallList = decode(
        &response_example(&doc, "GET", "/api/v1/calls", "200"),
        "calls",
    );
    assert!(calls.calls.iter().any(|c| c.event_code.is_some()));
    let _: RecallAccepted = decode(
        &response_example(&doc, "POST", "/api/v1/calls", "202"),
        "recall",
    );
    let command = "/api/v1/calls/{id}/unit-command";
    let sent: UnitCommandSent = decode(&response_example(&doc, "POST", command, "202"), "sent");
    assert_eq!(sent.digit, sent.command.digit().to_string());
    let queues: QueueList = decode(
        &response_example(&doc, "GET", "/api/v1/queues", "200"),
        "queues",
    );
    assert!(!queues.queues.is_empty());
    for (method, path, code) in [
        ("POST", "/api/v1/session", "201"),
        ("POST", "/api/v1/session/renew", "200"),
    ] {
        let session: SessionView = decode(&response_example(&doc, method, path, code), path);
        assert!(session.token.starts_with(super::session::TOKEN_PREFIX));
    }
    let config = response_example(&doc, "GET", "/api/v1/console/config", "200");
    let _: crate::console::ConsoleConfig = decode(&config, "console config");
    let Some(errors) = at(&doc, &["components", "responses"]).as_object() else {
        panic!("no error responses");
    };
    for (name, response) in errors {
        let example = at(response, &["content", "application/json", "example"]);
        let body: ErrorBody = decode(example, name);
        assert!(!body.detail.is_empty(), "{name}");
    }
}

#[test]
fn request_examples_are_accepted() {
    let doc = document();
    let states = request_examples(&doc, "PUT", "/api/v1/operators/{id}/state");
    assert!(states.len() >= 3);
    for example in states {
        let state: StateBody = decode(&example, "state request");
        assert!(body::requested_state(state).is_ok(), "{example}");
    }
    for example in request_examples(&doc, "POST", "/api/v1/calls") {
        let recall: RecallBody = decode(&example, "recall request");
        assert_eq!(body::check_recall(&recall), Ok(()));
    }
    for example in request_examples(&doc, "POST", "/api/v1/session") {
        let _: super::session_routes::SignInBody = decode(&example, "sign-in request");
    }
    let disposition = "/api/v1/calls/{id}/disposition";
    for example in request_examples(&doc, "POST", disposition) {
        let request: DispositionBody = decode(&example, "disposition request");
        assert_eq!(body::check_disposition(&request), Ok(()));
    }
    let command = "/api/v1/calls/{id}/unit-command";
    for example in request_examples(&doc, "POST", command) {
        let _: body::UnitCommandBody = decode(&example, "unit command request");
    }
}
