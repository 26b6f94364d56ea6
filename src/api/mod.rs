//! The operator-facing HTTP API (`/api/v1/operators`, `/api/v1/calls`,
//! `/api/v1/queues`), merged into the HTTP listener.
//!
//! The API keeps no state: each request is validated, authenticated with a
//! bearer token, and sent as one [`ApiCommand`] on a channel to the
//! switchboard, which answers through the command's oneshot reply. A
//! switchboard that does not answer in time gives 503. `docs/openapi.yaml`
//! documents every route.

pub mod command;
pub mod views;

pub use command::{ApiCommand, ApiError, Disposition, Reply, RequestedState, NOTE_MAX};
pub use views::{
    CallState, CallView, OperatorState, OperatorView, QueueView, QueuedCall, RecallAccepted,
};
