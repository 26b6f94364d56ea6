//! Domain newtypes shared by the SIP layers.
//!
//! No bare `String` crosses a module boundary for these: a Call-ID, a Via
//! branch and a dialog tag are different things and the compiler keeps them apart.

use std::fmt;
use std::net::SocketAddr;

use crate::newtype::string_newtype;

string_newtype!(
    /// The Call-ID header value (RFC 3261 §8.1.1.4).
    CallId
);
string_newtype!(
    /// A Via `branch` parameter (RFC 3261 §8.1.1.7), the transaction key's core.
    Branch
);
string_newtype!(
    /// A From/To `tag` parameter (RFC 3261 §19.3).
    Tag
);

/// The transport a message arrived on or leaves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// Datagrams: the transaction layer retransmits (Timers A, E, G).
    Udp,
    /// A TCP stream with Content-Length framing.
    Tcp,
    /// TLS over TCP (`sips:` and `;transport=tls`).
    Tls,
    /// SIP over WebSocket (RFC 7118), one message per frame.
    Ws,
    /// SIP over secure WebSocket (RFC 7118, WebSocket over TLS).
    Wss,
}

impl Transport {
    /// True for stream transports, where the transaction layer does not
    /// retransmit and timers that absorb retransmissions are zero.
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }
    /// The token used in a Via header (`SIP/2.0/UDP`).
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }
    /// True when the peer can be reached only over the connection it opened
    /// (a browser: its Contact is a `.invalid` host, RFC 7118 §5): when that
    /// flow closes, what depends on it (bindings, transactions) is gone too.
    pub fn flow_only(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }
    /// The `transport` URI parameter value (`tcp`, `ws`...), lower case.
    pub fn uri_param(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }
    /// Parses a Via transport token, case-insensitively.
    pub fn from_token(token: &str) -> Option<Self> {
        match token.to_ascii_uppercase().as_str() {
            "UDP" => Some(Transport::Udp),
            "TCP" => Some(Transport::Tcp),
            "TLS" => Some(Transport::Tls),
            "WS" => Some(Transport::Ws),
            "WSS" => Some(Transport::Wss),
            _ => None,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// Identifies one stream connection (TCP, TLS, WS or WSS) inside the transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Where a message came from, or where it goes: the transport, the remote
/// socket address and, for streams, the connection it travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// UDP, TCP or TLS.
    pub transport: Transport,
    /// The remote address (source of a request; target of a response).
    pub addr: SocketAddr,
    /// The stream connection, when there is one.
    pub conn: Option<ConnId>,
}

impl Peer {
    /// A UDP peer.
    pub fn udp(addr: SocketAddr) -> Self {
        Self {
            transport: Transport::Udp,
            addr,
            conn: None,
        }
    }
}

/// A message ready for the wire: the bytes and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub peer: Peer,
    /// The serialised SIP message.
    pub data: bytes::Bytes,
}
