//! `GET /api/v1/events`: the journal's events as server-sent events, for
//! consumers without a bus.
//!
//! - No parameter: live, from the next event on.
//! - `?since=<id>`, or the standard `Last-Event-ID` header that browsers and
//!   SSE clients send when they reconnect: the events after that one (when
//!   the id is no longer in the journal, the first event whose id sorts
//!   after it; ids are UUIDv7, time first), then live.
//!
//! Each message is `id: <event id>`, `event: <type>`, `data: <the CloudEvent
//! JSON>`. Only durable records are sent. A comment line every 15 s keeps
//! idle connections open through proxies.
//!
//! Behind the API's bearer tokens (`[[api.tokens]]`): 401 without a valid
//! one. A token scoped to tenants sees only events whose `data.tenant` is one
//! of its tenants; events without a tenant (operator state) go to all-tenant
//! tokens only. A stream ends when its token is revoked or rescoped by a
//! reload (checked at each wake-up, at least every 500 ms).
//!
//! An operator's session token (the console's) sees its tenants' events and
//! the changes of its own state; its stream ends when the session lapses or
//! is signed out.

use super::since::seq_after_id;
use super::tail::Tail;
use super::EventMeta;
use crate::api::auth::require_bearer_any;
use crate::api::{ApiTokens, Grant};
use crate::journal::JournalHandle;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// The path of the route.
pub const PATH: &str = "/api/v1/events";
/// How long a live connection waits when no group commit wakes it (a
/// safety net: the journal wakes it on every commit).
const FALLBACK_POLL: Duration = Duration::from_millis(500);
/// Records sent per wake-up before yielding.
const CHUNK: usize = 256;

#[derive(Debug, Deserialize)]
struct Params {
    since: Option<String>,
}

#[derive(Clone)]
struct Stream {
    journal: Option<JournalHandle>,
    tokens: ApiTokens,
}

/// The route, behind `tokens`; without a journal (only in tests) it answers
/// 503 to an authenticated request.
pub fn routes(journal: Option<JournalHandle>, tokens: ApiTokens) -> Router {
    Router::new()
        .route(PATH, get(events_handler))
        .route_layer(middleware::from_fn_with_state(
            tokens.clone(),
            require_bearer_any,
        ))
        .with_state(Stream { journal, tokens })
}

async fn events_handler(
    State(Stream { journal, tokens }): State<Stream>,
    Extension(grant): Extension<Grant>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let Some(journal) = journal else {
        let msg = "no event journal on this node\n";
        return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
    };
    let since = params.since.or_else(|| {
        headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    let start = match since.filter(|s| !s.is_empty()) {
        None => journal.last_durable_seq() + 1,
        Some(id) => {
            let dir = journal.dir().to_path_buf();
            match tokio::task::spawn_blocking(move || seq_after_id(&dir, &id)).await {
                Ok(Ok(seq)) => seq,
                Ok(Err(err)) => {
                    let body = format!("cannot read the journal: {err}\n");
                    return (StatusCode::INTERNAL_SERVER_ERROR, body).into_response();
                }
                Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
    };
    let (tx, rx) = mpsc::channel(CHUNK);
    let reader = Reader { tokens, grant };
    tokio::spawn(follow(journal, start, reader, tx));
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// Who reads a stream: the token's grant, checked again at each wake-up.
struct Reader {
    tokens: ApiTokens,
    grant: Grant,
}

/// Sends every durable record from `start` that the reader may see, until
/// the client goes away or the token is no longer accepted.
async fn follow(
    journal: JournalHandle,
    start: u64,
    reader: Reader,
    tx: mpsc::Sender<Result<Event, Infallible>>,
) {
    let mut tail = Tail::new(journal.dir(), start);
    let mut durable = journal.subscribe();
    loop {
        durable.borrow_and_update();
        if !reader
            .tokens
            .still_grants(crate::clock::now(), &reader.grant)
        {
            let _ = tx.send(Ok(Event::default().comment("token revoked"))).await;
            return;
        }
        for _ in 0..CHUNK {
            match tail.next_record(Some(journal.last_durable_seq())) {
                Ok(Some(record)) => {
                    let Some(event) = sse_event(&record.payload, &reader.grant) else {
                        continue;
                    };
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::error!(%err, "events stream: journal read failed");
                    let _ = tx
                        .send(Ok(Event::default().comment(format!("error: {err}"))))
                        .await;
                    return;
                }
            }
        }
        tokio::select! {
            _ = durable.changed() => {}
            _ = tokio::time::sleep(FALLBACK_POLL) => {}
            _ = tx.closed() => return,
        }
    }
}

/// The record as an SSE message, if it is an event the grant may see.
fn sse_event(payload: &[u8], grant: &Grant) -> Option<Event> {
    let meta = EventMeta::parse(payload)?;
    if !grant.sees(meta.tenant.as_deref(), meta.operator.as_deref()) {
        return None;
    }
    let data = std::str::from_utf8(payload).ok()?;
    if meta.id.contains(['\n', '\r']) || meta.kind.contains(['\n', '\r']) {
        return None;
    }
    Some(Event::default().id(meta.id).event(meta.kind).data(data))
}

#[cfg(test)]
#[path = "tests_sse.rs"]
mod tests;
