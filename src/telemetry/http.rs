//! The HTTP listener for operations: `/metrics`, `/healthz`, `/readyz`, and
//! the routes merged in through [`bind_with`] (`/api/v1/events`).
//!
//! It runs on its own address (config `http.listen`), apart from SIP, so a
//! SIP flood cannot starve the scrape and vice versa.

use super::health::Health;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

/// Why the HTTP listener could not start.
#[derive(Debug, Error)]
pub enum HttpError {
    /// The metrics recorder was already installed in this process.
    #[error("cannot install the metrics recorder: {0}")]
    Recorder(String),
    /// The listen address could not be bound.
    #[error("cannot bind the HTTP listener on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

#[derive(Clone)]
struct AppState {
    prometheus: PrometheusHandle,
    health: Health,
}

/// Installs the Prometheus recorder for this process and returns its handle.
///
/// Histograms are rendered with buckets (not summaries) so they aggregate
/// across nodes.
pub fn install_recorder() -> Result<PrometheusHandle, HttpError> {
    const BUCKETS: [f64; 12] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0, 60.0, 600.0, 3600.0,
    ];
    let mut builder = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .map_err(|e| HttpError::Recorder(e.to_string()))?;
    for (name, buckets) in super::metrics::signal_buckets() {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.to_string()), buckets)
            .map_err(|e| HttpError::Recorder(e.to_string()))?;
    }
    let handle = builder
        .install_recorder()
        .map_err(|e| HttpError::Recorder(e.to_string()))?;
    super::metrics::describe();
    crate::registrar::metrics::describe();
    metrics::gauge!(super::metrics::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// Binds the listener; returns the bound address and the serving future.
pub async fn bind(
    addr: SocketAddr,
    prometheus: PrometheusHandle,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = ()>), HttpError> {
    bind_with(addr, prometheus, health, Router::new(), shutdown).await
}

/// [`bind`], with more routes merged in (such as `GET /api/v1/events`).
pub async fn bind_with(
    addr: SocketAddr,
    prometheus: PrometheusHandle,
    health: Health,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = ()>), HttpError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| HttpError::Bind { addr, source })?;
    let upkeep = prometheus.clone();
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready_handler))
        .with_state(AppState { prometheus, health })
        .merge(extra);
    let serve = async move {
        let upkeep_task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
        // The peer address reaches handlers that count per source (the
        // console's sign-in and the registrar's blocking).
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        upkeep_task.abort();
        if let Err(e) = result {
            tracing::error!(error = %e, "HTTP listener failed");
        }
    };
    Ok((bound, serve))
}

async fn metrics_handler(State(state): State<AppState>) -> String {
    state.health.publish();
    state.prometheus.render()
}

async fn ready_handler(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.health.is_ready() {
        (StatusCode::OK, state.health.ready_detail())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, state.health.reason())
    }
}
