//! `GET /api/v1/units`: the supervised units, their last report and state.
//!
//! Any valid token may ask; a token scoped to tenants sees only its
//! tenants' units (and gets 403 when it names another tenant in
//! `?tenant=`). `?state=overdue` (or `ok`, `waiting`) filters by state.
//! The list comes from the supervision task; 503 while it is rebuilding
//! from the journal or when supervision is not running.

use super::auth::{require_bearer_any, ApiTokens, Grant};
use super::error::error_response;
use crate::config::TokenScope;
use crate::runtime::supervision::UnitsHandle;
use crate::supervision::{UnitState, UnitView};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Extension, Json, Router};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// The route's path.
pub const PATH: &str = "/api/v1/units";

/// The query string.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitsParams {
    /// Only this tenant's units.
    pub tenant: Option<String>,
    /// Only units in this state: `ok`, `waiting`, `overdue`.
    pub state: Option<String>,
}

/// One unit as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitRow {
    /// The tenant.
    pub tenant: String,
    /// `contact_id`, `scaip` or `dc09`.
    pub protocol: String,
    /// The account (SCAIP `cid`).
    pub account: String,
    /// `ok`, `waiting` (listed, not heard since supervision started) or `overdue`.
    pub state: String,
    /// The last report, RFC 3339, or null.
    pub last_report: Option<String>,
    /// When the unit becomes overdue, or the deadline it missed.
    pub deadline: String,
    /// Expected reporting interval, seconds.
    pub interval_s: u64,
    /// Grace after it, seconds.
    pub grace_s: u64,
}

fn rfc3339(t: SystemTime) -> String {
    crate::events::rfc3339(t.duration_since(UNIX_EPOCH).unwrap_or_default())
}

impl From<UnitView> for UnitRow {
    fn from(u: UnitView) -> Self {
        Self {
            tenant: u.key.tenant.to_string(),
            protocol: u.key.protocol.as_str().to_string(),
            account: u.key.account.to_string(),
            state: u.state.as_str().to_string(),
            last_report: u.last_report.map(rfc3339),
            deadline: rfc3339(u.deadline),
            interval_s: u.policy.interval.as_secs(),
            grace_s: u.policy.grace.as_secs(),
        }
    }
}

/// The route, behind any valid token; `units`: none when supervision is off.
pub fn routes(units: Option<UnitsHandle>, tokens: ApiTokens) -> Router {
    Router::new()
        .route(PATH, get(list_units))
        .route_layer(middleware::from_fn_with_state(tokens, require_bearer_any))
        .with_state(units)
}

/// The state named by `?state=`: `Ok(None)` without one, `Err` for an unknown name.
fn parse_state(state: Option<&str>) -> Result<Option<UnitState>, ()> {
    let states = [UnitState::Ok, UnitState::Waiting, UnitState::Overdue];
    let Some(name) = state else { return Ok(None) };
    match states.into_iter().find(|s| s.as_str() == name) {
        Some(s) => Ok(Some(s)),
        None => Err(()),
    }
}

async fn list_units(
    State(units): State<Option<UnitsHandle>>,
    Extension(grant): Extension<Grant>,
    Query(params): Query<UnitsParams>,
) -> Response {
    let state = match parse_state(params.state.as_deref()) {
        Ok(state) => state,
        Err(()) => {
            let detail = "state must be ok, waiting or overdue";
            return error_response(StatusCode::BAD_REQUEST, "bad_request", detail);
        }
    };
    if let Some(t) = &params.tenant {
        if !grant.scope.sees(Some(t)) {
            let detail = "this token may not read that tenant's units";
            return error_response(StatusCode::FORBIDDEN, "forbidden", detail);
        }
    }
    let scope: TokenScope = grant.scope.clone();
    let tenant = params.tenant.clone();
    let filter = move |u: &UnitView| {
        let t = u.key.tenant.as_str();
        scope.sees(Some(t))
            && tenant.as_deref().is_none_or(|want| want == t)
            && state.is_none_or(|s| s == u.state)
    };
    let listed = match units {
        Some(handle) => handle.list(Box::new(filter)).await,
        None => None,
    };
    match listed {
        Some(list) => {
            let rows: Vec<UnitRow> = list.into_iter().map(UnitRow::from).collect();
            (StatusCode::OK, Json(rows)).into_response()
        }
        None => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "supervision is not running, or is still rebuilding from the journal",
        ),
    }
}
