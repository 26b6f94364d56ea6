//! `POST /api/v1/session` (sign in with the operator's id and softphone
//! password), `POST /api/v1/session/renew` and `DELETE /api/v1/session`
//! (sign out). The password goes to the switchboard's registrar, which
//! checks it against the operator's HA1 and counts failures per source
//! (a guessing address is blocked: 429; nobody else is). The session table
//! is [`ApiTokens`]'s; the clock is read here and passed in.

use super::auth::{bearer_token, unauthorized, ApiTokens};
use super::body::{self, BODY_MAX};
use super::command::{ApiCommand, ApiError, Password};
use super::routes::{ask, ok, Answer, Api};
use super::scope::OperatorScope;
use super::session::{Session, SessionError, TOKEN_PREFIX};
use crate::routing::OperatorId;
use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

/// The longest password accepted, in characters.
pub const PASSWORD_MAX: usize = 256;

/// `POST /api/v1/session`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignInBody {
    pub(super) operator: String,
    pub(super) password: String,
}

/// A session as the console gets it (201 on sign-in, 200 on renewal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionView {
    /// The bearer token for the API and the event stream.
    pub token: String,
    /// Seconds until it lapses unless renewed.
    pub expires_in_s: u64,
    /// Who signed in and what the session may see.
    pub scope: OperatorScope,
}

#[derive(Clone)]
struct SessionApi {
    api: Api,
    tokens: ApiTokens,
}

/// The session routes (merged into [`super::router`]).
pub(super) fn router(api: Api, tokens: ApiTokens) -> Router {
    Router::new()
        .route("/api/v1/session", post(sign_in).delete(sign_out))
        .route("/api/v1/session/renew", post(renew))
        .layer(DefaultBodyLimit::max(BODY_MAX))
        .with_state(SessionApi { api, tokens })
}

fn view(token: String, now: Instant, session: Session) -> SessionView {
    SessionView {
        token,
        expires_in_s: session.expires.saturating_duration_since(now).as_secs(),
        scope: session.scope,
    }
}

async fn sign_in(
    State(s): State<SessionApi>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: SignInBody = body::parse_json(&headers, body)?;
    body::check_name("operator", &request.operator)?;
    let length = request.password.chars().count();
    if length == 0 || length > PASSWORD_MAX {
        let detail = format!("password must be 1 to {PASSWORD_MAX} characters");
        return Err(ApiError::bad_request(detail).into());
    }
    // Without a peer address (only in tests) failures count for 0.0.0.0.
    let source = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |Extension(c)| c.0.ip());
    let operator = OperatorId::new(request.operator);
    let password = Password(request.password);
    let scope = ask(&s.api, |reply| ApiCommand::SignIn {
        operator,
        password,
        source,
        reply,
    })
    .await?;
    let now = crate::clock::now();
    let Some(opened) = s.tokens.open_session(now, scope) else {
        return Err(ApiError::unavailable("operator sessions are not enabled on this node").into());
    };
    let (token, session) = opened.map_err(|SessionError::Full { .. }| {
        ApiError::unavailable("this node holds too many sessions; try again later")
    })?;
    ok(
        StatusCode::CREATED,
        view(token.as_str().to_string(), now, session),
    )
}

/// The request's session token; `None` for none (or an admin token).
fn session_token(headers: &HeaderMap) -> Option<String> {
    bearer_token(headers)
        .filter(|token| token.starts_with(TOKEN_PREFIX))
        .map(str::to_string)
}

/// The 401 (with its challenge) for a request without a live session.
fn no_session(headers: &HeaderMap) -> Response {
    unauthorized(headers.contains_key(header::AUTHORIZATION))
}

async fn renew(State(s): State<SessionApi>, headers: HeaderMap) -> Response {
    let Some(token) = session_token(&headers) else {
        return no_session(&headers);
    };
    let now = crate::clock::now();
    match s.tokens.renew_session(now, &token) {
        Some(session) => (StatusCode::OK, Json(view(token, now, session))).into_response(),
        None => unauthorized(true),
    }
}

async fn sign_out(State(s): State<SessionApi>, headers: HeaderMap) -> Response {
    let Some(token) = session_token(&headers) else {
        return no_session(&headers);
    };
    match s.tokens.close_session(&token) {
        true => StatusCode::NO_CONTENT.into_response(),
        false => unauthorized(true),
    }
}
