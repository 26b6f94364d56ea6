//! Operator sessions over a loopback listener with the fake switchboard of
//! `tests`: sign-in, what a session may see and do, renewal, sign-out.

use super::tests::{api, json, last, send, TOKEN};
use super::*;
use crate::labels::TenantId;
use crate::routing::{OperatorId, QueueId};

/// The fake switchboard's password check: op-1 / s3cret; `blocked` is a
/// source the registrar blocks.
pub(super) fn check(operator: &OperatorId, password: &Password) -> Result<OperatorScope, ApiError> {
    match (operator.as_str(), password.0.as_str()) {
        (_, "blocked") => Err(ApiError::Blocked { retry_after_s: 42 }),
        ("op-1", "s3cret") => Ok(OperatorScope {
            operator: operator.clone(),
            name: "Operator op-1".into(),
            tenants: vec![TenantId::new("aarhus")],
            queues: vec![QueueId::new("aarhus-main")],
            colleagues: vec![operator.clone()],
            wrap_up_s: 30,
        }),
        _ => Err(ApiError::unauthorized("wrong operator id or password")),
    }
}

async fn sign_in(addr: std::net::SocketAddr) -> String {
    let body = json(r#"{"operator":"op-1","password":"s3cret"}"#);
    let answer = send(addr, "POST", "/api/v1/session", None, body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let view: SessionView = serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(view.scope.operator, OperatorId::new("op-1"));
    assert!(view.expires_in_s > 3500 && view.expires_in_s <= 3600);
    view.token
}

#[tokio::test]
async fn the_softphone_password_opens_a_session_and_a_wrong_one_says_so() {
    let (addr, log) = api().await;
    let token = sign_in(addr).await;
    assert!(token.starts_with("ags_"));
    assert_eq!(last(&log), "sign-in op-1 from 127.0.0.1");
    let wrong = json(r#"{"operator":"op-1","password":"guess"}"#);
    let answer = send(addr, "POST", "/api/v1/session", None, wrong).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (401, "unauthorized")
    );
    assert_eq!(answer.json()["detail"], "wrong operator id or password");
    let blocked = json(r#"{"operator":"op-1","password":"blocked"}"#);
    let answer = send(addr, "POST", "/api/v1/session", None, blocked).await;
    assert_eq!(
        (answer.status, answer.header("retry-after")),
        (429, Some("42"))
    );
    let bad = json(r#"{"operator":"op 1","password":"x"}"#);
    assert_eq!(
        send(addr, "POST", "/api/v1/session", None, bad)
            .await
            .status,
        400
    );
    let extra = json(r#"{"operator":"op-1","password":"s3cret","admin":true}"#);
    assert_eq!(
        send(addr, "POST", "/api/v1/session", None, extra)
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn a_session_sees_its_own_and_acts_only_for_itself() {
    let (addr, log) = api().await;
    let token = sign_in(addr).await;
    let t = Some(token.as_str());
    let ops = send(addr, "GET", "/api/v1/operators", t, None).await;
    assert_eq!(ops.status, 200);
    let ids: Vec<_> = ops.json()["operators"]
        .as_array()
        .map(|a| a.iter().map(|o| o["id"].to_string()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["\"op-1\""], "op-busy serves none of its queues");
    let other = send(addr, "GET", "/api/v1/operators/op-busy", t, None).await;
    assert_eq!(other.status, 403);
    let pause = json(r#"{"state":"paused","reason":"break"}"#);
    let own = send(addr, "PUT", "/api/v1/operators/op-1/state", t, pause).await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert!(last(&log).contains("by op-1"), "{}", last(&log));
    let theirs = send(addr, "PUT", "/api/v1/operators/op-busy/state", t, pause).await;
    assert_eq!(
        (theirs.status, theirs.error_code().as_str()),
        (403, "forbidden")
    );
    let recall = json(r#"{"operator":"op-busy","number":"4512345678","tenant":"aarhus"}"#);
    assert_eq!(
        send(addr, "POST", "/api/v1/calls", t, recall).await.status,
        403
    );
    let elsewhere = json(r#"{"operator":"op-1","number":"4512345678","tenant":"oslo"}"#);
    assert_eq!(
        send(addr, "POST", "/api/v1/calls", t, elsewhere)
            .await
            .status,
        403
    );
    let mine = json(r#"{"operator":"op-1","number":"4512345678","tenant":"aarhus"}"#);
    assert_eq!(
        send(addr, "POST", "/api/v1/calls", t, mine).await.status,
        202
    );
    let path = "/api/v1/calls/call-1@192.0.2.10/disposition";
    let verdict = json(r#"{"disposition":"false_alarm"}"#);
    assert_eq!(send(addr, "POST", path, t, verdict).await.status, 204);
    assert!(last(&log).ends_with("taken_by op-1"), "{}", last(&log));
    assert_eq!(
        send(addr, "POST", path, Some(TOKEN), verdict).await.status,
        204
    );
    assert!(
        !last(&log).contains("taken_by"),
        "an admin token classifies any call"
    );
    let queues = send(addr, "GET", "/api/v1/queues", t, None).await;
    assert_eq!(queues.json()["queues"][0]["id"], "aarhus-main");
    let calls = send(addr, "GET", "/api/v1/calls", t, None).await;
    assert_eq!(calls.json()["calls"][0]["tenant"], "aarhus");
}

#[tokio::test]
async fn renewal_and_sign_out() {
    let (addr, _log) = api().await;
    let token = sign_in(addr).await;
    let t = Some(token.as_str());
    let renewed = send(addr, "POST", "/api/v1/session/renew", t, None).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_eq!(renewed.json()["token"], token.as_str());
    let admin = send(addr, "POST", "/api/v1/session/renew", Some(TOKEN), None).await;
    assert_eq!(admin.status, 401, "an admin token is no session");
    assert_eq!(
        send(addr, "DELETE", "/api/v1/session", t, None)
            .await
            .status,
        204
    );
    let after = send(addr, "GET", "/api/v1/operators", t, None).await;
    assert_eq!(after.status, 401);
    assert!(after
        .header("www-authenticate")
        .is_some_and(|c| c.contains("invalid_token")));
    assert_eq!(
        send(addr, "DELETE", "/api/v1/session", t, None)
            .await
            .status,
        401
    );
    assert_eq!(
        send(addr, "POST", "/api/v1/session/renew", t, None)
            .await
            .status,
        401
    );
}

#[test]
fn a_session_grant_streams_its_tenants_and_its_own_state_until_it_ends() {
    let tokens = super::tests::tokens();
    let t = crate::clock::epoch();
    let scope =
        check(&OperatorId::new("op-1"), &Password("s3cret".into())).expect("right password");
    let opened = tokens.open_session(t, scope).expect("sessions enabled");
    let (token, _) = opened.expect("room");
    let (name, principal, grant) = tokens.authenticate(t, token.as_str()).expect("valid");
    assert_eq!(name, "op-1");
    assert!(matches!(principal, Principal::Operator(_)));
    assert!(grant.sees(Some("aarhus"), None));
    assert!(grant.sees(None, Some("op-1")), "its own state changes");
    assert!(!grant.sees(None, Some("op-2")));
    assert!(!grant.sees(Some("oslo"), Some("op-2")));
    assert!(tokens.still_grants(t, &grant));
    let ttl = tokens.session_ttl().expect("enabled");
    assert!(!tokens.still_grants(t + ttl, &grant), "lapsed");
    assert!(tokens.close_session(token.as_str()));
    assert!(!tokens.still_grants(t, &grant), "signed out");
    let (_, admin, _) = tokens.authenticate(t, TOKEN).expect("admin token");
    assert_eq!(admin, Principal::Admin);
    assert!(tokens.authenticate(t, "ags_0000").is_none());
}
