//! tokio drivers around the pure cores.

pub mod transport;
