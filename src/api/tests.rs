//! The API over a loopback listener, with a fake switchboard answering the
//! command channel.

use super::*;
use crate::alarm::types::EventCode;
use crate::routing::{CallClass, OperatorId, QueueId};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub(super) const TOKEN: &str = "console-token-0123456789";

/// One HTTP exchange: status, headers (lower-case names), body.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: String,
}

impl Answer {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub(super) fn error_code(&self) -> String {
        let body: Option<ErrorBody> = serde_json::from_str(&self.body).ok();
        body.map(|b| b.error).unwrap_or_default()
    }
}

/// A request over a fresh connection; `body` is (content type, text).
pub(super) async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &str)>,
) -> Answer {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let (kind, text) = body.unwrap_or(("", ""));
    if !kind.is_empty() {
        head.push_str(&format!("Content-Type: {kind}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{text}", text.len()));
    let mut raw = Vec::new();
    if let Ok(mut stream) = TcpStream::connect(addr).await {
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.read_to_end(&mut raw).await;
    }
    parse_answer(&String::from_utf8_lossy(&raw))
}

pub(super) fn parse_answer(raw: &str) -> Answer {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = body.to_string();
    Answer {
        status,
        headers,
        body,
    }
}

pub(super) fn json(text: &str) -> Option<(&'static str, &str)> {
    Some(("application/json", text))
}

/// The one token, as a loaded config gives it.
pub(super) fn tokens() -> ApiTokens {
    let entry = crate::config::ApiToken {
        name: "console".into(),
        sha256: crate::config::token_sha256_hex(TOKEN),
        tenants: None,
    };
    let section = crate::config::ApiSection {
        tokens: vec![entry],
        ..Default::default()
    };
    let counter = std::sync::atomic::AtomicU32::new(1);
    let entropy = Entropy::new(move || {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        bytes
    });
    ApiTokens::from_hashes(section.token_hashes()).with_sessions(Duration::from_secs(3600), entropy)
}

/// Serves the API on a loopback port; returns its address and the far end
/// of the command channel.
pub(super) async fn serve(timeout: Duration) -> (SocketAddr, mpsc::Receiver<ApiCommand>) {
    let (tx, rx) = mpsc::channel(8);
    let app = router_with(tx, tokens(), timeout);
    let listener = TcpListener::bind("127.0.0.1:0").await;
    let Ok(listener) = listener else {
        panic!("cannot bind a loopback port");
    };
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

pub(super) fn operator(id: &str, state: OperatorState, reason: Option<&str>) -> OperatorView {
    OperatorView {
        id: OperatorId::new(id),
        name: format!("Operator {id}"),
        state,
        in_state_s: 12,
        reason: reason.map(str::to_string),
        current_call: None,
        contacts: 1,
    }
}

pub(super) fn call() -> CallView {
    CallView {
        id: "call-1@192.0.2.10".into(),
        tenant: "aarhus".into(),
        caller: "4512345678".into(),
        class: CallClass::Emergency,
        event_code: EventCode::new("101").ok(),
        state: CallState::Waiting,
        queue: Some(QueueId::new("aarhus-main")),
        operator: None,
        target: None,
        waited_s: 4,
        heard: None,
        protocol: None,
        account: None,
        alarm: None,
        recall: None,
    }
}

fn queue() -> QueueView {
    let first = QueuedCall {
        position: 1,
        id: call().id,
        class: CallClass::Emergency,
        event_code: EventCode::new("101").ok(),
        state: CallState::Waiting,
        waited_s: 4,
    };
    QueueView {
        id: QueueId::new("aarhus-main"),
        tenant: "aarhus".into(),
        waiting: 1,
        calls: vec![first],
        operators_available: 1,
        operators_total: 2,
    }
}

pub(super) type Log = Arc<Mutex<Vec<String>>>;

fn record(log: &Log, line: String) {
    if let Ok(mut log) = log.lock() {
        log.push(line);
    }
}

pub(super) fn last(log: &Log) -> String {
    let lines = log.lock().map(|l| l.clone()).unwrap_or_default();
    lines.last().cloned().unwrap_or_default()
}

/// The fake switchboard: op-1 exists, op-busy is on a call; call-1 exists.
pub(super) fn fulfil(mut rx: mpsc::Receiver<ApiCommand>) -> Log {
    let log = Log::default();
    let kept = log.clone();
    tokio::spawn(async move {
        while let Some(command) = rx.recv().await {
            answer(command, &kept);
        }
    });
    log
}

fn answer(command: ApiCommand, log: &Log) {
    match command {
        ApiCommand::ListOperators { reply } => {
            let all = vec![
                operator("op-1", OperatorState::Available, None),
                operator("op-busy", OperatorState::OnCall, None),
            ];
            let _ = reply.send(Ok(all));
        }
        ApiCommand::SetOperatorState {
            id,
            state,
            by,
            reply,
        } => {
            record(log, format!("state {id} {state:?} by {by}"));
            let result = match id.as_str() {
                "op-1" => Ok(operator("op-1", OperatorState::Paused, Some("lunch"))),
                "op-busy" => Err(ApiError::conflict("operator op-busy is on a call")),
                _ => Err(ApiError::not_found(format!("operator {id}"))),
            };
            let _ = reply.send(result);
        }
        ApiCommand::ListCalls { reply } => {
            let _ = reply.send(Ok(vec![call()]));
        }
        ApiCommand::Recall {
            operator,
            number,
            tenant,
            by,
            reply,
        } => {
            record(log, format!("recall {operator} {number} {tenant} by {by}"));
            let result = match operator.as_str() {
                "op-1" => Ok(RecallAccepted {
                    id: "recall-1@gw".into(),
                }),
                _ => Err(ApiError::conflict(format!(
                    "operator {operator} is not available"
                ))),
            };
            let _ = reply.send(result);
        }
        ApiCommand::Disposition {
            call: id,
            disposition,
            note,
            by,
            taken_by,
            reply,
        } => {
            let line = format!("disposition {id} {disposition:?} {note:?} by {by}");
            match taken_by {
                Some(op) => record(log, format!("{line} taken_by {op}")),
                None => record(log, line),
            }
            let result = match id == call().id {
                true => Ok(()),
                false => Err(ApiError::not_found(format!("call {id}"))),
            };
            let _ = reply.send(result);
        }
        ApiCommand::ListQueues { reply } => {
            let _ = reply.send(Ok(vec![queue()]));
        }
        ApiCommand::UnitCommand {
            call: id,
            command,
            by,
            taken_by,
            reply,
        } => {
            record(
                log,
                format!("unit-command {id} {command:?} by {by} {taken_by:?}"),
            );
            let result = match id == call().id {
                true => Ok(UnitCommandSent {
                    digit: command.digit().to_string(),
                    call: id,
                    command,
                }),
                false => Err(ApiError::not_found(format!("device call {id}"))),
            };
            let _ = reply.send(result);
        }
        ApiCommand::SignIn {
            operator,
            password,
            source,
            reply,
        } => {
            record(log, format!("sign-in {operator} from {source}"));
            let _ = reply.send(super::tests_sessions::check(&operator, &password));
        }
    }
}

pub(super) async fn api() -> (SocketAddr, Log) {
    let (addr, rx) = serve(DEFAULT_TIMEOUT).await;
    (addr, fulfil(rx))
}

/// A route's path with its `{id}` filled in.
pub(super) fn concrete(path: &str) -> String {
    path.replace("{id}", "op-1")
}

#[tokio::test]
async fn every_route_wants_a_bearer_token() {
    let (addr, _log) = api().await;
    for (method, path) in ROUTES {
        let body = json("{}");
        let answer = send(addr, method, &concrete(path), None, body).await;
        assert_eq!(answer.status, 401, "{method} {path}");
        assert_eq!(
            answer.header("www-authenticate"),
            Some(r#"Bearer realm="alarmgate""#)
        );
        assert_eq!(answer.error_code(), "unauthorized");
        let wrong = send(addr, method, &concrete(path), Some("guess"), body).await;
        assert_eq!(wrong.status, 401, "{method} {path}");
        let challenge = wrong.header("www-authenticate").unwrap_or_default();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    let basic = "Basic Y29uc29sZTpzM2NyZXQ=";
    let head = format!("GET /api/v1/calls HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: {basic}\r\n\r\n");
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.write_all(head.as_bytes()).await;
    let mut raw = String::new();
    let _ = stream.read_to_string(&mut raw).await;
    assert_eq!(parse_answer(&raw).status, 401);
}

#[tokio::test]
async fn the_right_token_lists_operators() {
    let (addr, _log) = api().await;
    let answer = send(addr, "GET", "/api/v1/operators", Some(TOKEN), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer
        .header("content-type")
        .is_some_and(|v| v.starts_with("application/json")));
    let list: Option<OperatorList> = serde_json::from_str(&answer.body).ok();
    let list = list.map(|l| l.operators).unwrap_or_default();
    assert_eq!(list.len(), 2);
    assert_eq!(answer.json()["operators"][0]["state"], "available");
}

#[tokio::test]
async fn one_operator_or_404() {
    let (addr, _log) = api().await;
    let found = send(addr, "GET", "/api/v1/operators/op-1", Some(TOKEN), None).await;
    assert_eq!(found.status, 200);
    assert_eq!(found.json()["id"], "op-1");
    let missing = send(addr, "GET", "/api/v1/operators/op-9", Some(TOKEN), None).await;
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (404, "not_found")
    );
    assert_eq!(missing.json()["detail"], "operator op-9 not found");
    let long = format!("/api/v1/operators/{}", "x".repeat(65));
    let refused = send(addr, "GET", &long, Some(TOKEN), None).await;
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (400, "bad_request")
    );
}
