//! What the call core needs to know from the configuration, as plain values.
//!
//! The core never sees TOML: the runtime turns the validated config into a
//! [`CoreConfig`] (quinn's `TransportConfig` habit), so tests build one in a
//! line and the core stays independent of the file format.

use crate::sip::sdp::Codec;
use crate::sip::transaction::TimerConfig;
use crate::sip::types::{Peer, Transport};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A tenant (a municipality) as the call core sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantPolicy {
    /// The tenant id from the dialplan.
    pub id: crate::labels::TenantId,
    /// Called numbers that select this tenant, already normalised.
    pub dids: Vec<String>,
    /// Codec preference order.
    pub codecs: Vec<Codec>,
}

/// What an answered call hears while it waits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HoldAudio {
    /// RTP with silence.
    Silence,
    /// A cadenced tone.
    Tone {
        /// Frequency in Hz.
        frequency_hz: f32,
        /// Level in dBm0.
        level_dbm0: f32,
        /// Tone on, in milliseconds.
        on_ms: u32,
        /// Tone off, in milliseconds.
        off_ms: u32,
    },
}

/// Everything the call core is configured with.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Server / User-Agent header value.
    pub user_agent: String,
    /// The address put in Contact and SDP.
    pub advertise: IpAddr,
    /// The address put in Contact and SDP for peers that reach us over IPv6
    /// (the first specific IPv6 listener); `None` uses `advertise`.
    pub advertise_v6: Option<IpAddr>,
    /// Bound SIP listeners, for Contact and Via.
    pub listeners: Vec<(Transport, SocketAddr)>,
    /// RFC 3261 timer base values.
    pub timers: TimerConfig,
    /// Tenants, indexed by DID.
    pub tenants: super::tenants::Tenants,
    /// Delay between 180 Ringing and 200 OK (zero: answer at once).
    pub answer_delay: Duration,
    /// Hang up calls older than this; `None` never cuts a call.
    pub max_duration: Option<Duration>,
    /// Session-Expires we answer with when the caller asks for session timers.
    pub session_expires: Duration,
    /// The smallest Session-Expires we accept (RFC 4028 Min-SE), else 422.
    pub min_se: Duration,
    /// Even RTP ports from this range, inclusive.
    pub rtp_ports: (u16, u16),
    /// RTP packet time in milliseconds.
    pub ptime_ms: u32,
    /// Networks an offer's `c=` may name (`media.sdp_allow`); empty: any
    /// unicast address.
    pub sdp_allow: Vec<crate::admission::IpNet>,
    /// What a held call hears.
    pub hold: HoldAudio,
    /// REGISTER is served: the switchboard hands the endpoint's
    /// `Inbound::Register` to the registrar; when false it is answered 405.
    pub registrar: bool,
    /// Our DTLS certificate's fingerprint, for WebRTC offers to browser
    /// contacts ([`super::browser`]); `None`: browsers get plain RTP offers.
    pub dtls_fingerprint: Option<crate::sip::sdp::Fingerprint>,
}

impl CoreConfig {
    /// The tenant whose DIDs contain `did`, exactly.
    pub fn tenant_for(&self, did: &str) -> Option<&TenantPolicy> {
        self.tenants.for_did(did)
    }

    /// The listener to name in Contact/Via for a transport (falls back to the first).
    pub fn listener(&self, transport: Transport) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(t, _)| *t == transport)
            .or_else(|| self.listeners.first())
            .map(|(_, a)| *a)
    }

    /// The address to advertise to this peer: IPv6 peers get the IPv6 one.
    pub fn advertise_for(&self, peer: SocketAddr) -> IpAddr {
        match (peer, self.advertise_v6) {
            (SocketAddr::V6(v6), Some(ip)) if v6.ip().to_ipv4_mapped().is_none() => ip,
            _ => self.advertise,
        }
    }

    /// `host:port` for our Contact and Via towards `peer`: the advertised
    /// address of its family, the port of the listener it uses.
    pub fn sent_by(&self, peer: &Peer) -> String {
        let ip = self.advertise_for(peer.addr);
        let port = self
            .listeners
            .iter()
            .find(|(t, a)| *t == peer.transport && a.is_ipv6() == ip.is_ipv6())
            .map(|(_, a)| a.port())
            .or_else(|| self.listener(peer.transport).map(|a| a.port()))
            .unwrap_or(5060);
        SocketAddr::new(ip, port).to_string()
    }

    /// A configuration for tests: one tenant `demo` on DIDs 112 and +4570000112.
    pub fn for_tests() -> Self {
        Self {
            user_agent: "alarmgate-test".into(),
            advertise: IpAddr::from([127, 0, 0, 1]),
            advertise_v6: None,
            listeners: vec![(Transport::Udp, SocketAddr::from(([127, 0, 0, 1], 5060)))],
            timers: TimerConfig::default(),
            tenants: vec![TenantPolicy {
                id: "demo".into(),
                dids: vec!["112".into(), "+4570000112".into()],
                codecs: vec![Codec::Pcma, Codec::Pcmu],
            }]
            .into(),
            answer_delay: Duration::ZERO,
            max_duration: None,
            session_expires: Duration::from_secs(1800),
            min_se: Duration::from_secs(90),
            rtp_ports: (40000, 40010),
            ptime_ms: 20,
            sdp_allow: Vec::new(),
            hold: HoldAudio::Silence,
            registrar: false,
            dtls_fingerprint: None,
        }
    }
}
