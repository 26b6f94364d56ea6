//! The operator-facing HTTP API (`/api/v1/operators`, `/api/v1/calls`,
//! `/api/v1/queues`), merged into the HTTP listener.
//!
//! The API keeps no state: each request is authenticated with a bearer token
//! ([`auth`]), validated ([`body`]), and sent as one [`ApiCommand`] on a
//! channel to the switchboard, which answers through the command's oneshot
//! reply with a view ([`views`]) or an [`ApiError`]. A switchboard that does
//! not answer within [`DEFAULT_TIMEOUT`] gives 503. `docs/openapi.yaml`
//! documents every route ([`ROUTES`]).
//!
//! ```no_run
//! # use alarmgate::api::{self, ApiTokens};
//! let (tx, _commands) = tokio::sync::mpsc::channel(64);
//! let routes = api::router(tx, ApiTokens::default());
//! // telemetry::http::bind_with(addr, prometheus, health, routes.merge(events), shutdown)
//! # drop(routes);
//! ```

pub mod auth;
pub mod body;
pub mod command;
pub mod error;
pub mod recordings;
pub mod routes;
pub mod scope;
pub mod session;
pub mod session_routes;
pub mod units;
pub mod views;

#[cfg(test)]
mod openapi_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_routes;
#[cfg(test)]
mod tests_sessions;
#[cfg(test)]
mod tests_unit_command;
#[cfg(test)]
mod tests_units;

pub use auth::{ApiTokens, Caller, Entropy, Grant, Principal};
pub use command::{
    ApiCommand, ApiError, ApiReply, ApiRequest, Disposition, InCallCommand, Password, Reply,
    ReplyTo, RequestedState, UnitCommandSent, NOTE_MAX,
};
pub use error::ErrorBody;
pub use recordings::{recordings_router, RECORDING_ROUTES};
pub use routes::{router, router_with, DEFAULT_TIMEOUT, PUBLIC_ROUTES, ROUTES};
pub use scope::OperatorScope;
pub use session_routes::SessionView;
pub use views::{
    CallList, CallState, CallView, OperatorList, OperatorState, OperatorView, QueueList, QueueView,
    QueuedCall, RecallAccepted, RecallTarget,
};
