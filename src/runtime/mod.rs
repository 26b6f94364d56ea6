//! tokio drivers around the pure cores: the only async code.
//!
//! - [`daemon`]: start and stop order.
//! - [`sip_driver`]: the loop that owns the call core.
//! - [`dc09`]: SIA DC-09 receiver sockets (TCP, UDP).
//! - [`transport`]: UDP, TCP and TLS sockets.
//! - [`media`]: RTP legs, served by ticking workers.
//! - [`supervision`]: follows the journal for unit reports and raises `fail_to_report`.
//! - [`cluster_kv`]: the cluster's shared state in JetStream KV buckets (CAS, bounded, watched).

// The drivers are where time and randomness are read (clippy.toml).
#![allow(clippy::disallowed_methods)]

pub mod alarm_leg;
pub mod cluster;
pub mod cluster_kv;
mod cluster_kv_ops;
mod cluster_kv_resume;
pub mod cluster_kv_watch;
mod cluster_tap;
pub mod daemon;
pub mod dc09;
pub mod load;
pub mod media;
pub mod recording;
pub mod restore;
pub mod scaip_store;
pub mod sip_driver;
pub mod supervision;
#[cfg(test)]
mod supervision_tests;
pub mod switchboard_setup;
pub mod tls_routes;
pub mod transport;
