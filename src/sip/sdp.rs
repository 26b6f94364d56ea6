//! SDP for one G.711 audio stream: RFC 4566 parsing, RFC 3264 offer/answer.
//!
//! Alarm tones (Contact ID handshake, DTMF, kissoff) only survive an
//! uncompressed codec, so this module negotiates G.711 only (PCMU/PCMA,
//! RFC 3551 static payload types 0 and 8, or dynamic types mapped to them),
//! plus RFC 4733 `telephone-event/8000`. It never offers or accepts comfort
//! noise (PT 13, RFC 3389) or VAD (`annexb`).
//!
//! - [`parse`] reads a remote description leniently (CRLF or LF, unknown lines
//!   kept) but safely: bounded size, never a panic, an [`SdpError`] with the
//!   line number for anything it cannot read.
//! - [`answer`] answers an offer (RFC 3264 §6): one accepted audio stream,
//!   every other m-line rejected with port 0 in its original order. No common
//!   codec is the value [`AnswerOutcome::NotAcceptable`] (send a 488).
//! - [`check_addresses`] refuses offers whose `c=` is unspecified (outside
//!   a re-INVITE's hold), broadcast, multicast or outside the allowed
//!   networks (a 488 with a Warning).
//! - [`offer`] builds our own offer for outgoing legs and
//!   [`negotiated_from_answer`] reads the answer to it.
//! - [`webrtc_offer`] and [`negotiated_from_webrtc_answer`] do the same for
//!   a browser operator: the same codecs on the WebRTC profile (ICE-lite,
//!   DTLS-SRTP, rtcp-mux); [`answer_webrtc`] answers a browser's offer,
//!   and its re-offers (hold, unhold) keeping the call's transport
//!   ([`reoffer_role`]).

mod address;
mod answer;
mod negotiate;
mod offer;
mod parse;
mod webrtc;
mod webrtc_reoffer;
mod write;

use std::net::IpAddr;

pub use address::{check_addresses, AddressProblem, AddressRejection};
pub use answer::answer;
pub use negotiate::{AnswerOutcome, LocalMedia, MediaPolicy, NegotiatedMedia, RejectReason};
pub use offer::{negotiated_from_answer, offer};
pub use parse::{parse, MAX_MEDIA, MAX_SDP_LEN};
pub use webrtc::{
    answer_webrtc, is_webrtc_profile, negotiated_from_webrtc_answer, offers_webrtc,
    remote_transport, webrtc_offer, DtlsRole, Fingerprint, IceCredentials, IcePwd, IceUfrag,
    WebRtcLocal, WebRtcMedia, WebRtcRefusal, WebRtcSdpError,
};
pub use webrtc_reoffer::{prefer_codec, reoffer_role, webrtc_reoffer};

/// The RTP clock rate of G.711 and of the telephone-events we negotiate.
pub const CLOCK_RATE: u32 = 8000;

/// The payload type we use for telephone-event in our own offers.
pub const TELEPHONE_EVENT_PT: u8 = 101;

/// The event range we offer, and answer when the offer names none: DTMF 0-9,
/// `*`, `#`, A-D and flash (RFC 4733 §3.2).
pub const DEFAULT_EVENT_RANGE: &str = "0-16";

/// A G.711 codec (ITU-T G.711, RFC 3551 §4.5.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8 (the usual choice in DK/NO).
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551 table 4).
    pub fn static_pt(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The encoding name used in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The codec a static payload type stands for, when it is G.711.
    pub fn from_static_pt(pt: u8) -> Option<Self> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The codec an rtpmap names, when it is G.711 mono at 8 kHz
    /// (encoding names are case-insensitive, RFC 4566 §6).
    pub fn from_rtpmap(map: &RtpMap) -> Option<Self> {
        if map.clock_rate != CLOCK_RATE || map.channels.is_some_and(|c| c != 1) {
            return None;
        }
        [Codec::Pcmu, Codec::Pcma]
            .into_iter()
            .find(|c| map.encoding.eq_ignore_ascii_case(c.encoding_name()))
    }
}

/// The media direction attribute (RFC 3264 §5.1, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv`, the default.
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name as it appears after `a=`.
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parses a direction attribute name.
    pub fn from_attribute(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The same stream seen from the other end: send becomes receive.
    /// This is the answer to an offer's direction (RFC 3264 §6.1).
    pub fn reversed(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    /// This direction with receiving removed (the side that stated it will
    /// not receive, e.g. an RFC 2543 hold with `c=0.0.0.0`).
    pub fn without_recv(self) -> Self {
        match self {
            Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
            Direction::RecvOnly | Direction::Inactive => Direction::Inactive,
        }
    }

    /// True when the side stating this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// True when the side stating this direction receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// The address of a `c=` line (RFC 4566 §5.7), without any `/ttl` suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConnectionAddr {
    /// An IPv4 or IPv6 literal (`c=IN IP4 …` / `c=IN IP6 …`).
    Ip(IpAddr),
    /// A host name; we do not resolve names in the protocol core.
    Host(String),
}

impl ConnectionAddr {
    /// The IP address, when it is a literal that media can be sent to:
    /// `None` for host names and for the hold addresses `0.0.0.0` and `::`.
    pub fn usable_ip(&self) -> Option<IpAddr> {
        match self {
            ConnectionAddr::Ip(ip) if !ip.is_unspecified() => Some(*ip),
            _ => None,
        }
    }

    /// True for `0.0.0.0` (and `::`): the RFC 2543 way to put a call on hold.
    pub fn is_hold(&self) -> bool {
        matches!(self, ConnectionAddr::Ip(ip) if ip.is_unspecified())
    }
}

/// The `o=` line (RFC 4566 §5.2). Identifiers are kept as text: some
/// implementations use numbers wider than 64 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The user name (`-` when none).
    pub username: String,
    /// The session id.
    pub session_id: String,
    /// The session version; it increases when the description changes.
    pub session_version: String,
    /// The originating address, as written.
    pub address: String,
}

/// An `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type it maps.
    pub payload_type: u8,
    /// The encoding name, as written (compare case-insensitively).
    pub encoding: String,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The channel count, when given.
    pub channels: Option<u8>,
}

/// One `m=` section with the attributes we read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The media type: `audio`, `video`, `application`, …
    pub kind: String,
    /// The transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// The transport protocol, e.g. `RTP/AVP`.
    pub proto: String,
    /// The format list in offer order (payload type numbers for RTP).
    pub formats: Vec<String>,
    /// The media-level `c=` line, overriding the session-level one.
    pub connection: Option<ConnectionAddr>,
    /// The `a=rtpmap` attributes.
    pub rtpmaps: Vec<RtpMap>,
    /// The `a=fmtp` attributes as (payload type, parameters).
    pub fmtps: Vec<(u8, String)>,
    /// `a=ptime`, in milliseconds.
    pub ptime_ms: Option<u32>,
    /// The media-level direction attribute.
    pub direction: Option<Direction>,
    /// Other attribute lines, without the `a=` prefix.
    pub other_attributes: Vec<String>,
}

impl Media {
    /// The rtpmap for a payload type.
    pub fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == pt)
    }

    /// The fmtp parameters for a payload type.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, v)| v.as_str())
    }

    /// The formats that are valid RTP payload type numbers, in order.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt < 128)
    }

    /// True for an RTP profile without SRTP that we can answer in kind.
    pub fn is_plain_rtp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("RTP/AVP") || self.proto.eq_ignore_ascii_case("RTP/AVPF")
    }
}

/// A parsed session description: the session-level lines we use and the
/// media sections in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// The `o=` line, when present.
    pub origin: Option<Origin>,
    /// The `s=` line (often `-`).
    pub session_name: String,
    /// The session-level `c=` line.
    pub connection: Option<ConnectionAddr>,
    /// The session-level direction attribute.
    pub direction: Option<Direction>,
    /// The media sections in order.
    pub media: Vec<Media>,
    /// Session-level lines we do not interpret (`t=`, `b=`, `a=…`), as written.
    pub other_lines: Vec<String>,
}

impl SessionDescription {
    /// The connection address that applies to a media section: its own
    /// `c=` line, else the session's.
    pub fn connection_for<'a>(&'a self, media: &'a Media) -> Option<&'a ConnectionAddr> {
        media.connection.as_ref().or(self.connection.as_ref())
    }

    /// The direction a media section states: its own attribute, else the
    /// session's, else `sendrecv` (RFC 4566 §6). A hold address
    /// (`c=0.0.0.0`) removes receiving (RFC 3264 §8.4).
    pub fn direction_for(&self, media: &Media) -> Direction {
        let stated = media
            .direction
            .or(self.direction)
            .unwrap_or(Direction::SendRecv);
        match self.connection_for(media) {
            Some(c) if c.is_hold() => stated.without_recv(),
            _ => stated,
        }
    }
}

/// Why a session description could not be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is larger than [`MAX_SDP_LEN`].
    #[error("SDP body of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The body length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The first line is not `v=0`.
    #[error("not an SDP body: the first line is not v=0")]
    NotSdp,
    /// A line is not of the form `<letter>=<value>`.
    #[error("line {line}: not a <type>=<value> line")]
    BadLine {
        /// The 1-based line number.
        line: usize,
    },
    /// A known line has a value we cannot read.
    #[error("line {line}: malformed {field}: {reason}")]
    Malformed {
        /// The 1-based line number.
        line: usize,
        /// The line type or attribute, e.g. `m=` or `a=rtpmap`.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// More than [`MAX_MEDIA`] m-lines.
    #[error("more than {limit} media sections")]
    TooManyMedia {
        /// The limit.
        limit: usize,
    },
    /// The answer to our offer has no accepted audio stream.
    #[error("the answer accepts no audio stream")]
    NoAudioAccepted,
    /// The answer's audio stream holds no G.711 codec from our offer.
    #[error("the answer's audio formats {formats:?} hold no codec we offered")]
    NoCommonCodec {
        /// The answer's format list.
        formats: Vec<String>,
    },
    /// A WebRTC answer without what DTLS-SRTP and ICE need.
    #[error(transparent)]
    WebRtc(#[from] WebRtcSdpError),
}
