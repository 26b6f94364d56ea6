//! What the people who run alarmgate can see: metrics, logs, health.
//!
//! - [`metrics`]: every metric name as a constant, with its description.
//! - [`logging`]: tracing set-up, human or JSON.
//! - [`http`]: the HTTP listener serving `/metrics`, `/healthz`, `/readyz`.
//! - [`health`]: the shared readiness flags the HTTP listener reports.

pub mod health;
pub mod http;
pub mod logging;
pub mod metrics;
#[cfg(test)]
mod tests_privacy;
