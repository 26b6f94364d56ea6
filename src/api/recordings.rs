//! Call recordings through the API: `GET /api/v1/recordings/{id}` downloads
//! the WAV file, `POST /api/v1/recordings/{id}/hold` puts a legal hold on it
//! (retention then never deletes it). Each is journalled with the token's
//! name and the time (`alarmgate.recording.accessed`,
//! `alarmgate.recording.held`): who listened to a citizen's call is on record.
//!
//! These routes read the recordings directory and never the switchboard, so
//! they answer while calls are busy. Like the switchboard's routes they need
//! an all-tenant token (a tenant-scoped token gets 403).

use super::auth::{require_bearer, ApiTokens, Caller};
use super::error::error_response;
use crate::recording::store::{Store, StoredFile};
use crate::recording::writer::EventSink;
use crate::recording::RecordingId;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Extension, Router};
use serde_json::json;
use std::sync::{Arc, Mutex, PoisonError};

/// The recording routes, as (method, path); `docs/openapi.yaml` documents them.
pub const RECORDING_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/recordings/{id}"),
    ("POST", "/api/v1/recordings/{id}/hold"),
];

#[derive(Clone)]
struct Recordings {
    store: Store,
    sink: Arc<Mutex<EventSink>>,
}

/// The recording routes over `store`; access events go to `sink`.
pub fn recordings_router(store: Store, sink: EventSink, tokens: ApiTokens) -> Router {
    let state = Recordings {
        store,
        sink: Arc::new(Mutex::new(sink)),
    };
    Router::new()
        .route("/api/v1/recordings/{id}", get(download))
        .route("/api/v1/recordings/{id}/hold", post(hold))
        .route_layer(middleware::from_fn_with_state(tokens, require_bearer))
        .with_state(state)
}

impl Recordings {
    /// The recording `id` names, or the answer to give instead.
    async fn find(&self, id: &str) -> Result<StoredFile, Response> {
        let Some(id) = RecordingId::parse(id) else {
            let detail = "a recording id is 32 lowercase hex digits";
            return Err(error_response(
                StatusCode::BAD_REQUEST,
                "bad_request",
                detail,
            ));
        };
        let store = self.store.clone();
        let found = tokio::task::spawn_blocking(move || store.find(&id))
            .await
            .ok()
            .flatten();
        found.ok_or_else(|| error_response(StatusCode::NOT_FOUND, "not_found", "no such recording"))
    }

    fn journal(&self, kind: &'static str, file: &StoredFile, by: &str) {
        let data = json!({"tenant": file.tenant, "recording_id": file.id.as_str(), "by": by});
        let sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        sink(kind, file.id.as_str(), data);
    }
}

async fn download(
    State(rec): State<Recordings>,
    Extension(Caller(by)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let file = match rec.find(&id).await {
        Ok(file) => file,
        Err(answer) => return answer,
    };
    let bytes = match tokio::fs::read(&file.path).await {
        Ok(bytes) => bytes,
        Err(err) => {
            let detail = format!("cannot read the recording: {err}");
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", &detail);
        }
    };
    tracing::info!(recording = %file.id, token = %by, "api: recording downloaded");
    rec.journal("alarmgate.recording.accessed", &file, &by);
    let disposition = format!("attachment; filename=\"{}.wav\"", file.id);
    let headers = [
        (header::CONTENT_TYPE, "audio/wav".to_string()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    (StatusCode::OK, headers, bytes).into_response()
}

async fn hold(
    State(rec): State<Recordings>,
    Extension(Caller(by)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let file = match rec.find(&id).await {
        Ok(file) => file,
        Err(answer) => return answer,
    };
    let note = format!("legal hold by {by} at {:?}\n", crate::clock::wall());
    if let Err(err) = rec.store.hold(&file, &note) {
        let detail = format!("cannot write the hold: {err}");
        return error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", &detail);
    }
    tracing::info!(recording = %file.id, token = %by, "api: recording put on legal hold");
    rec.journal("alarmgate.recording.held", &file, &by);
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
#[path = "recordings_tests.rs"]
mod tests;
