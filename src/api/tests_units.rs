//! `GET /api/v1/units` over a loopback listener, with a fake supervision
//! task answering: token scope, filters, and the OpenAPI example.

use super::tests::{send, TOKEN};
use super::units::{routes, UnitRow};
use super::ApiTokens;
use crate::alarm::report::Protocol;
use crate::config::{TokenEntry, TokenScope};
use crate::routing::CallClass;
use crate::runtime::supervision::{UnitsHandle, UnitsQuery};
use crate::supervision::core::UnitView;
use crate::supervision::types::Policy;
use crate::supervision::{UnitKey, UnitState};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const AARHUS: &str = "aarhus-token-0123456789";

fn tokens() -> ApiTokens {
    let entry = |name: &str, token: &str, scope| TokenEntry {
        name: name.into(),
        sha256: Sha256::digest(token.as_bytes()).into(),
        scope,
    };
    let aarhus = TokenScope::Tenants(["aarhus".to_string()].into());
    ApiTokens::from_hashes([
        entry("console", TOKEN, TokenScope::AllTenants),
        entry("aarhus", AARHUS, aarhus),
    ])
}

fn view(tenant: &str, account: &str, state: UnitState) -> UnitView {
    let policy = Policy {
        interval: Duration::from_secs(86_400),
        grace: Duration::from_secs(3_600),
        tests_only: false,
        class: CallClass::Technical,
    };
    UnitView {
        key: UnitKey::new(tenant, Protocol::ContactId, account),
        state,
        last_report: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        deadline: UNIX_EPOCH + Duration::from_secs(1_800_090_000),
        policy,
    }
}

/// A fake task: answers every query from three units.
async fn answer(mut rx: mpsc::Receiver<UnitsQuery>) {
    let all = [
        view("aarhus", "1111", UnitState::Ok),
        view("aarhus", "2222", UnitState::Overdue),
        view("odense", "3333", UnitState::Overdue),
    ];
    while let Some(q) = rx.recv().await {
        let kept = all.iter().filter(|u| (q.filter)(u)).cloned().collect();
        let _ = q.reply.send(kept);
    }
}

async fn serve(task: bool) -> SocketAddr {
    let (handle, rx) = UnitsHandle::channel();
    if task {
        tokio::spawn(answer(rx));
    }
    let app = routes(task.then_some(handle), tokens());
    let Ok(listener) = TcpListener::bind("127.0.0.1:0").await else {
        panic!("cannot bind a loopback port");
    };
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn accounts(addr: SocketAddr, path: &str, token: &str) -> (u16, Vec<String>) {
    let answer = send(addr, "GET", path, Some(token), None).await;
    let rows: Vec<UnitRow> = serde_json::from_str(&answer.body).unwrap_or_default();
    (answer.status, rows.into_iter().map(|r| r.account).collect())
}

#[tokio::test]
async fn units_are_listed_and_filtered_by_tenant_and_state() {
    let addr = serve(true).await;
    assert_eq!(
        send(addr, "GET", "/api/v1/units", None, None).await.status,
        401
    );
    let (status, all) = accounts(addr, "/api/v1/units", TOKEN).await;
    assert_eq!((status, all.len()), (200, 3));
    let overdue = accounts(addr, "/api/v1/units?state=overdue", TOKEN).await;
    assert_eq!(overdue.1, ["2222", "3333"]);
    let odense = accounts(addr, "/api/v1/units?tenant=odense&state=overdue", TOKEN).await;
    assert_eq!(odense.1, ["3333"]);
    let bad = send(addr, "GET", "/api/v1/units?state=late", Some(TOKEN), None).await;
    assert_eq!(
        (bad.status, bad.error_code().as_str()),
        (400, "bad_request")
    );
}

#[tokio::test]
async fn a_tenant_scoped_token_sees_only_its_tenants_units() {
    let addr = serve(true).await;
    let (status, mine) = accounts(addr, "/api/v1/units", AARHUS).await;
    assert_eq!(
        (status, mine),
        (200, vec!["1111".to_string(), "2222".to_string()])
    );
    let other = send(
        addr,
        "GET",
        "/api/v1/units?tenant=odense",
        Some(AARHUS),
        None,
    )
    .await;
    assert_eq!(other.status, 403);
}

#[tokio::test]
async fn without_supervision_the_route_answers_503() {
    let addr = serve(false).await;
    let answer = send(addr, "GET", "/api/v1/units", Some(TOKEN), None).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (503, "unavailable")
    );
}

#[test]
fn the_openapi_example_is_what_the_route_sends() {
    let doc: String = include_str!("../../docs/openapi.yaml")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap_or_default();
    let op = &doc["paths"]["/api/v1/units"]["get"];
    for code in ["200", "400", "401", "403", "503"] {
        assert!(op["responses"][code].is_object(), "{code}");
    }
    let example = op["responses"]["200"]["content"]["application/json"]["example"].clone();
    let rows: Vec<UnitRow> = serde_json::from_value(example).unwrap_or_default();
    assert_eq!(rows.len(), 2);
    let row = UnitRow::from(view("aarhus", "2222", UnitState::Overdue));
    let schema = &doc["components"]["schemas"]["Unit"]["properties"];
    let sent = serde_json::to_value(row).unwrap_or_default();
    let keys = sent.as_object().map(|o| o.len()).unwrap_or_default();
    assert_eq!(schema.as_object().map(|o| o.len()), Some(keys));
}
