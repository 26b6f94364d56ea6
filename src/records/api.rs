//! `GET /api/v1/reports/calls?tenant=&month=&format=` and
//! `GET /api/v1/callers/frequent?tenant=`: bearer-token protected; a token
//! scoped to tenants sees only those tenants (403 for another).

// Runtime layer: "now" for the frequent-caller windows is the wall clock (clippy.toml).
#![allow(clippy::disallowed_methods)]

use super::query::{self, QueryError, SharedSettings};
use super::report::{self, Format};
use crate::api::auth::{require_bearer_any, ApiTokens, Grant};
use crate::api::error::error_response;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Extension, Json, Router};
use serde::Deserialize;

/// The routes this module serves, for the OpenAPI check.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/reports/calls"),
    ("GET", "/api/v1/callers/frequent"),
];

/// The routes, to merge into the HTTP listener.
pub fn routes(settings: SharedSettings, tokens: ApiTokens) -> Router {
    Router::new()
        .route("/api/v1/reports/calls", get(calls_report))
        .route("/api/v1/callers/frequent", get(frequent))
        .route_layer(middleware::from_fn_with_state(tokens, require_bearer_any))
        .with_state(settings)
}

#[derive(Debug, Deserialize)]
struct ReportQuery {
    tenant: String,
    month: String,
    #[serde(default)]
    format: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TenantQuery {
    tenant: String,
}

fn refuse(grant: &Grant, tenant: &str) -> Option<Response> {
    (!grant.scope.sees(Some(tenant))).then(|| {
        let detail = format!("this token may not read tenant {tenant:?}");
        error_response(StatusCode::FORBIDDEN, "forbidden", &detail)
    })
}

fn failure(err: QueryError) -> Response {
    let (status, code) = match &err {
        QueryError::UnknownTenant(_) => (StatusCode::NOT_FOUND, "not_found"),
        QueryError::BadMonth(_) => (StatusCode::BAD_REQUEST, "bad_request"),
        QueryError::Records(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        QueryError::Report(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    error_response(status, code, &err.to_string())
}

async fn calls_report(
    State(settings): State<SharedSettings>,
    Extension(grant): Extension<Grant>,
    q: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "query parameters tenant and month (YYYY-MM) are required",
        );
    };
    if let Some(refused) = refuse(&grant, &q.tenant) {
        return refused;
    }
    let Some(format) = Format::parse(q.format.as_deref().unwrap_or("json")) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "format is csv, json or xlsx",
        );
    };
    let built = tokio::task::spawn_blocking(move || {
        let x = query::monthly(&settings.get(), &q.tenant, &q.month)?;
        let name = format!("calls-{}-{}.{}", x.tenant, x.month, format.extension());
        Ok::<_, QueryError>((report::render(&x, format)?, name))
    })
    .await;
    match built {
        Ok(Ok((bytes, name))) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
            response
        }
        Ok(Err(err)) => failure(err),
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the extract task failed",
        ),
    }
}

async fn frequent(
    State(settings): State<SharedSettings>,
    Extension(grant): Extension<Grant>,
    q: Result<Query<TenantQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "query parameter tenant is required",
        );
    };
    if let Some(refused) = refuse(&grant, &q.tenant) {
        return refused;
    }
    let now_ms = crate::clock::wall()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let tenant = q.tenant.clone();
    let found =
        tokio::task::spawn_blocking(move || query::frequent_now(&settings.get(), &tenant, now_ms))
            .await;
    match found {
        Ok(Ok(callers)) => {
            Json(serde_json::json!({"tenant": q.tenant, "callers": callers})).into_response()
        }
        Ok(Err(err)) => failure(err),
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the query task failed",
        ),
    }
}
