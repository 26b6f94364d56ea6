//! The operator side's routing engine, sans-IO: queues per tenant, operator
//! state, priorities with aging, offers, overflow. See `types` for the names.

pub mod types;

pub use types::{CallClass, OperatorId, QueueId, TargetId};
