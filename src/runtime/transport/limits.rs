//! [`TransportLimits`]: every bound on what peers can make the transports
//! hold, with the defaults and the mapping from `[sip.connections]`.

use std::time::Duration;

use super::SourcePolicy;
use crate::config::{self, Config};
use crate::sip::framing::FramingLimits;

/// Bounds on what peers can make the transports hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportLimits {
    /// Open stream connections (TCP, TLS, WS and WSS, inbound and outbound together);
    /// beyond it, new connections are refused with a reset.
    pub max_connections: usize,
    /// Open inbound stream connections per source; a connection over its
    /// source's limit is reset at once without taking a global permit.
    pub sources: SourcePolicy,
    /// An inbound connection that has not delivered one complete SIP
    /// message this long after its accept (TLS handshake included) is closed.
    pub first_message_timeout: Duration,
    /// A stream connection that receives nothing (keep-alives count) for
    /// this long, once it has sent a message, is closed.
    pub idle_timeout: Duration,
    /// Once part of a message has arrived on a stream, the rest must follow
    /// within this time (slowloris guard); keep-alives do not reset it.
    pub message_timeout: Duration,
    /// Largest SIP message, header block plus body, on any transport.
    pub max_message: usize,
    /// Largest header block on a stream.
    pub max_header: usize,
    /// Time allowed for a TLS handshake after the TCP accept.
    pub tls_handshake_timeout: Duration,
    /// Time allowed for an outbound TCP connect.
    pub connect_timeout: Duration,
    /// Time allowed for one batch of writes; a peer that does not read is dropped.
    pub write_timeout: Duration,
    /// Messages queued per connection before sends fail with "queue full".
    pub writer_queue: usize,
    /// How long a connection with a framing error stays writable for a 400.
    pub error_linger: Duration,
    /// A WebSocket flow silent this long is pinged; silent for as long again
    /// after the ping, it is closed (and its bindings go with it).
    pub ws_ping_interval: Duration,
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            max_connections: config::DEFAULT_MAX_CONNECTIONS,
            sources: SourcePolicy::default(),
            first_message_timeout: Duration::from_secs(config::DEFAULT_FIRST_MESSAGE_S),
            idle_timeout: Duration::from_secs(config::DEFAULT_IDLE_S),
            message_timeout: Duration::from_secs(30),
            max_message: crate::sip::framing::DEFAULT_MAX_MESSAGE,
            max_header: crate::sip::framing::DEFAULT_MAX_HEADER,
            tls_handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            writer_queue: 256,
            error_linger: Duration::from_secs(2),
            ws_ping_interval: Duration::from_secs(30),
        }
    }
}

impl TransportLimits {
    /// The limits `[sip.connections]` asks for; the `[[trunks]]` networks
    /// get `trunk_per_source`. The rest keep their defaults.
    pub fn from_config(config: &Config) -> Self {
        let c = &config.sip.connections;
        let trusted = config.trunks.iter().flat_map(|t| t.allow.iter().copied());
        Self {
            max_connections: c.max,
            sources: SourcePolicy {
                per_source: c.per_source,
                trusted: trusted.collect(),
                trusted_per_source: c.trunk_per_source,
            },
            first_message_timeout: c.first_message(),
            idle_timeout: c.idle(),
            ..Self::default()
        }
    }

    /// The framer's share of the limits.
    pub fn framing(&self) -> FramingLimits {
        FramingLimits {
            max_header: self.max_header.min(self.max_message),
            max_message: self.max_message,
        }
    }
}
