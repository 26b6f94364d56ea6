//! The WebRTC transport of an operator leg, sans-IO: ICE-lite, DTLS-SRTP,
//! rtcp-mux on one UDP port, built on webrtc-rs's sans-IO crates (`rtc-stun`,
//! `rtc-dtls`, `rtc-srtp`, the ones its `rtc` PeerConnection is made of).
//!
//! It sits *below* the leg's [`RtpSession`](super::RtpSession): datagrams
//! from the socket go through [`WebRtcTransport::handle_datagram`], which
//! answers ICE checks, runs DTLS and hands back decrypted RTP/RTCP for the
//! session; what the session sends goes through [`WebRtcTransport::send`]
//! (encrypted, to the ICE-selected address). So the bridge, the recording
//! hooks and the alarm pipeline see the same session for a browser as for a
//! phone: one media abstraction, two transports.
//!
//! Datagrams are told apart by their first byte (RFC 7983): 0-3 STUN, 20-63
//! DTLS, 128-191 RTP/RTCP (RTCP by payload type 192-223, RFC 5761 §4). DTLS
//! and SRTP are taken only from the addresses valid checks came from; ours
//! go to the nominated one (before any nomination, the first checked).
//!
//! States ([`WebRtcState`]): `Waiting` for the first valid check →
//! `Checked` (DTLS running; as the client we send the ClientHello) →
//! `Connected` (SRTP keys; media flows) → `Closed`. It becomes `Failed`
//! when no check came or DTLS did not finish within [`CONNECT_TIMEOUT`],
//! when DTLS fails (a certificate not matching the SDP fingerprint), or when
//! the browser's consent checks (RFC 7675, every few seconds) stop for
//! [`CONSENT_TIMEOUT`]. Time is passed in; there is no socket or clock.

mod dtls;
mod ice_lite;
mod identity;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use dtls::DtlsSrtp;
pub use identity::{DtlsIdentity, IdentityError};

use crate::sip::sdp::{DtlsRole, IceCredentials};

/// The address the leg's [`RtpSession`](super::RtpSession) sees decrypted
/// packets come from and sends to (TEST-NET-1, never a real peer): the
/// transport owns the real one. Also the key of the DTLS connection.
pub const INNER_PEER: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 9));

/// Distinct checked addresses remembered per leg (a browser checks a few
/// candidate pairs: host, IPv6, mDNS-resolved).
pub const MAX_CHECKED: usize = 8;

/// From the leg's start to SRTP keys (check, then DTLS), at most.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Silence of the browser's consent checks after which media stops
/// (RFC 7675 §5.1: 30 s).
pub const CONSENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a transport cannot be made or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebRtcError {
    /// DTLS setup or handshake failed (e.g. the fingerprint did not match).
    #[error("DTLS: {0}")]
    Dtls(String),
    /// SRTP keys could not be made, or a packet not protected.
    #[error("SRTP: {0}")]
    Srtp(String),
}

/// Why a leg's WebRTC transport failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailReason {
    /// No valid ICE check within [`CONNECT_TIMEOUT`].
    NoCheck,
    /// Checked, but DTLS did not finish within [`CONNECT_TIMEOUT`].
    NoDtls,
    /// DTLS failed.
    Dtls(String),
    /// Consent checks stopped for [`CONSENT_TIMEOUT`].
    ConsentLost,
}

impl FailReason {
    /// A short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            FailReason::NoCheck => "no_ice_check",
            FailReason::NoDtls => "dtls_timeout",
            FailReason::Dtls(_) => "dtls_failed",
            FailReason::ConsentLost => "consent_lost",
        }
    }
}

/// Where the transport is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRtcState {
    /// No valid check yet.
    Waiting,
    /// A check was answered; DTLS runs.
    Checked,
    /// SRTP keys: media flows.
    Connected,
    /// Given up; the leg should end.
    Failed(FailReason),
    /// Closed by us or by the browser's close_notify.
    Closed,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Where to.
    pub destination: SocketAddr,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Counters of one transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebRtcStats {
    /// Valid ICE checks answered.
    pub checks: u64,
    /// STUN datagrams refused (bad USERNAME or integrity, not a request).
    pub stun_refused: u64,
    /// Datagrams from an address no valid check came from.
    pub unchecked_source: u64,
    /// SRTP/SRTCP datagrams that failed authentication or replay checks.
    pub srtp_refused: u64,
    /// Our packets dropped because the keys were not there yet.
    pub sent_before_keys: u64,
    /// Datagrams of no known kind.
    pub unknown: u64,
}

/// One leg's WebRTC transport.
pub struct WebRtcTransport {
    ice: (IceCredentials, IceCredentials),
    identity: DtlsIdentity,
    dtls: DtlsSrtp,
    role: DtlsRole,
    selected: Option<SocketAddr>,
    /// Every address a valid check came from (at most [`MAX_CHECKED`]):
    /// DTLS and SRTP are taken from these, before and after nomination.
    checked: Vec<SocketAddr>,
    nominated: bool,
    state: WebRtcState,
    started: Instant,
    last_check: Option<Instant>,
    out: VecDeque<Datagram>,
    stats: WebRtcStats,
}

impl std::fmt::Debug for WebRtcTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcTransport")
            .field("state", &self.state)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

mod transport;

#[cfg(test)]
mod tests;
