//! tokio drivers around the pure cores: the only async code.
//!
//! - [`daemon`]: start and stop order.
//! - [`sip_driver`]: the loop that owns the call core.
//! - [`transport`]: UDP, TCP and TLS sockets.
//! - [`media`]: RTP legs, served by ticking workers.

// The drivers are where time and randomness are read (clippy.toml).
#![allow(clippy::disallowed_methods)]

pub mod alarm_leg;
pub mod daemon;
pub mod load;
pub mod media;
pub mod scaip_store;
pub mod sip_driver;
pub mod switchboard_setup;
pub mod transport;
