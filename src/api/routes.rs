//! The routes: each handler checks its input, sends one [`ApiCommand`] and
//! turns the switchboard's answer into JSON. Bearer auth runs first on every
//! route; a switchboard that does not answer within the timeout gives 503.
//!
//! An operator's session ([`Principal::Operator`]) sees only what its
//! [`OperatorScope`] allows and gets 403 for acting on anyone else: another
//! operator's state, a recall from another phone or through a tenant it
//! does not serve, a disposition of a call it did not take.

use super::auth::{require_bearer, ApiTokens, Caller, Principal};
use super::body::{self, DispositionBody, RecallBody, Refusal, UnitCommandBody, BODY_MAX};
use super::command::{ApiCommand, ApiError, Reply};
use super::scope::OperatorScope;
use super::views::{CallList, OperatorList, QueueList};
use crate::routing::OperatorId;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Extension, Json, Router};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long a request waits for the switchboard before answering 503.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Every route the API serves, as (method, path) in axum 0.8 syntax; the
/// OpenAPI file must document each.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/operators"),
    ("GET", "/api/v1/operators/{id}"),
    ("PUT", "/api/v1/operators/{id}/state"),
    ("POST", "/api/v1/operators/{id}/state"),
    ("GET", "/api/v1/calls"),
    ("POST", "/api/v1/calls"),
    ("POST", "/api/v1/calls/{id}/disposition"),
    ("POST", "/api/v1/calls/{id}/unit-command"),
    ("GET", "/api/v1/queues"),
    ("DELETE", "/api/v1/session"),
    ("POST", "/api/v1/session/renew"),
];

/// Routes served without a bearer token: the console's sign-in, and what
/// the page needs before it (`GET /api/v1/console/config`, served by
/// [`crate::console`]).
pub const PUBLIC_ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/session"),
    ("GET", "/api/v1/console/config"),
];

#[derive(Clone)]
pub(super) struct Api {
    pub(super) tx: mpsc::Sender<ApiCommand>,
    pub(super) timeout: Duration,
}

type Body = Result<Bytes, BytesRejection>;
type Id = Result<Path<String>, PathRejection>;

/// The API's routes, to merge into the HTTP listener
/// (`telemetry::http::bind_with`); commands go to `tx`.
pub fn router(tx: mpsc::Sender<ApiCommand>, tokens: ApiTokens) -> Router {
    router_with(tx, tokens, DEFAULT_TIMEOUT)
}

/// [`router`] with another switchboard timeout.
pub fn router_with(tx: mpsc::Sender<ApiCommand>, tokens: ApiTokens, timeout: Duration) -> Router {
    Router::new()
        .route("/api/v1/operators", get(list_operators))
        .route("/api/v1/operators/{id}", get(get_operator))
        .route(
            "/api/v1/operators/{id}/state",
            post(set_state).put(set_state),
        )
        .route("/api/v1/calls", get(list_calls).post(recall))
        .route("/api/v1/calls/{id}/disposition", post(disposition))
        .route("/api/v1/calls/{id}/unit-command", post(unit_command))
        .route("/api/v1/queues", get(list_queues))
        .layer(DefaultBodyLimit::max(BODY_MAX))
        .route_layer(middleware::from_fn_with_state(
            tokens.clone(),
            require_bearer,
        ))
        .with_state(Api {
            tx: tx.clone(),
            timeout,
        })
        .merge(super::session_routes::router(Api { tx, timeout }, tokens))
}

/// The session's scope, or `None` for an admin token.
fn operator_scope(principal: &Principal) -> Option<&OperatorScope> {
    match principal {
        Principal::Admin => None,
        Principal::Operator(scope) => Some(scope),
    }
}

/// 403 unless the principal may act for `operator`.
fn act_for(principal: &Principal, operator: &OperatorId) -> Result<(), ApiError> {
    match operator_scope(principal) {
        Some(scope) if !scope.is(operator) => Err(ApiError::forbidden(format!(
            "signed in as {}: may not act for operator {operator}",
            scope.operator
        ))),
        _ => Ok(()),
    }
}

/// Sends one command and waits for its answer, at most `api.timeout`.
pub(super) async fn ask<T>(
    api: &Api,
    make: impl FnOnce(Reply<T>) -> ApiCommand,
) -> Result<T, ApiError> {
    let (reply, answer) = oneshot::channel();
    let exchange = async {
        api.tx
            .send(make(reply))
            .await
            .map_err(|_| ApiError::unavailable("the switchboard is not running"))?;
        answer
            .await
            .map_err(|_| ApiError::unavailable("the switchboard dropped the request"))?
    };
    match tokio::time::timeout(api.timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::unavailable(format!(
            "the switchboard did not answer within {} ms",
            api.timeout.as_millis()
        ))),
    }
}

/// The path's id, checked with `check`.
fn path_id(id: Id, check: fn(&str) -> Result<(), ApiError>) -> Result<String, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    check(&id)?;
    Ok(id)
}

fn operator_id(id: Id) -> Result<OperatorId, ApiError> {
    path_id(id, |v| body::check_name("operator id", v)).map(OperatorId::new)
}

pub(super) type Answer = Result<Response, Refusal>;

pub(super) fn ok<T: serde::Serialize>(status: StatusCode, value: T) -> Answer {
    Ok((status, Json(value)).into_response())
}

async fn list_operators(State(api): State<Api>, Extension(who): Extension<Principal>) -> Answer {
    let mut operators = ask(&api, |reply| ApiCommand::ListOperators { reply }).await?;
    if let Some(scope) = operator_scope(&who) {
        operators = scope.filter_operators(operators);
    }
    ok(StatusCode::OK, OperatorList { operators })
}

async fn get_operator(
    State(api): State<Api>,
    Extension(who): Extension<Principal>,
    id: Id,
) -> Answer {
    let id = operator_id(id)?;
    if operator_scope(&who).is_some_and(|scope| !scope.sees_operator(&id)) {
        let detail = format!("operator {id} serves none of this session's queues");
        return Err(ApiError::forbidden(detail).into());
    }
    let all = ask(&api, |reply| ApiCommand::ListOperators { reply }).await?;
    let found = all.into_iter().find(|op| op.id == id);
    let view = found.ok_or_else(|| ApiError::not_found(format!("operator {id}")))?;
    ok(StatusCode::OK, view)
}

async fn set_state(
    State(api): State<Api>,
    Extension(Caller(by)): Extension<Caller>,
    Extension(who): Extension<Principal>,
    id: Id,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let id = operator_id(id)?;
    act_for(&who, &id)?;
    let state = body::state_body(&headers, body)?;
    tracing::info!(operator = %id, ?state, by = %by, "api: set operator state");
    let command = |reply| ApiCommand::SetOperatorState {
        id,
        state,
        by,
        reply,
    };
    ok(StatusCode::OK, ask(&api, command).await?)
}

async fn list_calls(State(api): State<Api>, Extension(who): Extension<Principal>) -> Answer {
    let mut calls = ask(&api, |reply| ApiCommand::ListCalls { reply }).await?;
    if let Some(scope) = operator_scope(&who) {
        calls.retain(|c| scope.sees_call(c));
    }
    ok(StatusCode::OK, CallList { calls })
}

async fn recall(
    State(api): State<Api>,
    Extension(Caller(by)): Extension<Caller>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let recall: RecallBody = body::parse_json(&headers, body)?;
    body::check_recall(&recall)?;
    act_for(&who, &OperatorId::new(recall.operator.as_str()))?;
    if operator_scope(&who).is_some_and(|scope| !scope.serves_tenant(&recall.tenant)) {
        let detail = format!("this operator does not serve tenant {:?}", recall.tenant);
        return Err(ApiError::forbidden(detail).into());
    }
    let RecallBody {
        operator,
        number,
        tenant,
    } = recall;
    tracing::info!(%operator, %number, %tenant, by = %by, "api: recall");
    let command = |reply| ApiCommand::Recall {
        operator: OperatorId::new(operator),
        number: number.into(),
        tenant: tenant.into(),
        by,
        reply,
    };
    ok(StatusCode::ACCEPTED, ask(&api, command).await?)
}

async fn disposition(
    State(api): State<Api>,
    Extension(Caller(by)): Extension<Caller>,
    Extension(who): Extension<Principal>,
    id: Id,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let call = path_id(id, body::check_call_id)?;
    let request: DispositionBody = body::parse_json(&headers, body)?;
    body::check_disposition(&request)?;
    let disposition = request.disposition.as_str();
    tracing::info!(call = %call, disposition, by = %by, "api: disposition");
    let command = |reply| ApiCommand::Disposition {
        call,
        disposition: request.disposition,
        note: request.note.filter(|n| !n.trim().is_empty()),
        by,
        taken_by: operator_scope(&who).map(|scope| scope.operator.clone()),
        reply,
    };
    ask(&api, command).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An operator's in-call command to a SCAIP unit (clear down, listen in,
/// talk, volume): scoped as a disposition (a session: only a call it took).
async fn unit_command(
    State(api): State<Api>,
    Extension(Caller(by)): Extension<Caller>,
    Extension(who): Extension<Principal>,
    id: Id,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let call = path_id(id, body::check_call_id)?;
    let UnitCommandBody { command } = body::parse_json(&headers, body)?;
    tracing::info!(call = %call, ?command, by = %by, "api: unit command");
    let request = |reply| ApiCommand::UnitCommand {
        call,
        command,
        by,
        taken_by: operator_scope(&who).map(|scope| scope.operator.clone()),
        reply,
    };
    ok(StatusCode::ACCEPTED, ask(&api, request).await?)
}

async fn list_queues(State(api): State<Api>, Extension(who): Extension<Principal>) -> Answer {
    let mut queues = ask(&api, |reply| ApiCommand::ListQueues { reply }).await?;
    if let Some(scope) = operator_scope(&who) {
        queues.retain(|q| scope.sees_queue(q));
    }
    ok(StatusCode::OK, QueueList { queues })
}
