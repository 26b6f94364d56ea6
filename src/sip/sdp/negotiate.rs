//! RFC 3264 offer/answer for one G.711 audio stream.
//!
//! The rules, in the order they apply:
//! 1. The audio stream is the first `m=audio` with a non-zero port and a
//!    plain RTP profile (`RTP/AVP`, `RTP/AVPF`); we have no SRTP. Every other
//!    m-line is declined with port 0 in its place (§6).
//! 2. The codec is the first in the *tenant's* order that the offer holds,
//!    by static PT (0, 8) or by an rtpmap `PCMU/8000` / `PCMA/8000` on any PT.
//!    None: [`AnswerOutcome::NotAcceptable`] (488).
//! 3. telephone-event/8000 is answered with the offer's PT and event range.
//!    Comfort noise (PT 13) and VAD are never answered.
//! 4. The direction mirrors the offer's (§6.1); `c=0.0.0.0` counts as the
//!    offerer not receiving (an RFC 2543 hold).
//!
//! **Session version:** the `o=` version must grow each time we send a
//! changed description in the same session (RFC 3264 §8), e.g. the answers
//! to a hold and an unhold re-INVITE. The caller owns the session and passes
//! `session_version`; keep the same `session_id` for the whole dialog and
//! add one to the version for every new offer or answer.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::{Codec, Direction, Media, SessionDescription, DEFAULT_EVENT_RANGE};

/// What a tenant accepts on its alarm lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPolicy {
    /// Acceptable codecs in the tenant's preference order.
    pub codecs: Vec<Codec>,
    /// The packet time we ask for, in ms (20).
    pub ptime_ms: u32,
}

impl Default for MediaPolicy {
    /// PCMA before PCMU (DK/NO carriers), 20 ms.
    fn default() -> Self {
        Self {
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            ptime_ms: 20,
        }
    }
}

/// Our end of the media session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address RTP reaches us on (also used in `o=`).
    pub addr: IpAddr,
    /// The local RTP port.
    pub port: u16,
    /// The `o=` session id, fixed for the dialog.
    pub session_id: u64,
    /// The `o=` session version; see the module notes.
    pub session_version: u64,
    /// The `o=` user name (`-` is used when it is empty or has blanks).
    pub username: String,
}

/// The agreed media for the RTP layer. `direction` is always *ours*: whether
/// we send and receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// The G.711 codec.
    pub codec: Codec,
    /// The payload type carrying it.
    pub payload_type: u8,
    /// The RFC 4733 telephone-event payload type, when agreed.
    pub telephone_event_pt: Option<u8>,
    /// Where to send RTP: `None` on hold (`c=0.0.0.0`), port 0 or a host name.
    pub remote: Option<SocketAddr>,
    /// Our direction.
    pub direction: Direction,
    /// The packet time we send at, in ms.
    pub ptime_ms: u32,
    /// The WebRTC transport (ICE-lite, DTLS-SRTP), for a browser leg;
    /// `None` for plain RTP.
    pub webrtc: Option<Box<super::WebRtcMedia>>,
}

/// The result of answering an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerOutcome {
    /// The media agreed and the answer SDP text to send.
    Accepted(NegotiatedMedia, String),
    /// Nothing to agree on: reply 488 Not Acceptable Here.
    NotAcceptable {
        /// Why; also gives the Warning code.
        reason: RejectReason,
    },
}

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// No usable audio stream (none, all port 0, or SRTP only).
    NoAudioStream,
    /// The audio stream holds none of the tenant's codecs.
    NoCommonCodec {
        /// The offered format list.
        offered: Vec<String>,
    },
}

impl RejectReason {
    /// The RFC 3261 §20.43 Warning code for the 488: 304 (media type not
    /// available) or 305 (incompatible media format).
    pub fn warning_code(&self) -> u16 {
        match self {
            RejectReason::NoAudioStream => 304,
            RejectReason::NoCommonCodec { .. } => 305,
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::NoAudioStream => f.write_str("no plain RTP audio stream offered"),
            RejectReason::NoCommonCodec { offered } => {
                write!(
                    f,
                    "no G.711 codec in offered formats [{}]",
                    offered.join(" ")
                )
            }
        }
    }
}

pub(super) fn is_usable_audio(media: &&Media) -> bool {
    media.kind.eq_ignore_ascii_case("audio") && media.port != 0 && media.is_plain_rtp()
}

/// The G.711 codec a payload type carries in this m-line: its rtpmap when
/// there is one, else the static assignment.
pub(super) fn codec_of(media: &Media, pt: u8) -> Option<Codec> {
    match media.rtpmap(pt) {
        Some(map) => Codec::from_rtpmap(map),
        None => Codec::from_static_pt(pt),
    }
}

/// The first codec in `preference` that the m-line offers, with its PT.
pub(super) fn choose_codec(media: &Media, preference: &[Codec]) -> Option<(u8, Codec)> {
    preference.iter().find_map(|wanted| {
        media
            .payload_types()
            .find(|pt| codec_of(media, *pt) == Some(*wanted))
            .map(|pt| (pt, *wanted))
    })
}

/// The offered telephone-event/8000 PT with its event range (the offer's
/// when it is a well-formed list, else 0-16).
pub(super) fn telephone_event(media: &Media) -> Option<(u8, &str)> {
    let pt = media.payload_types().find(|pt| {
        media.rtpmap(*pt).is_some_and(|m| {
            m.encoding.eq_ignore_ascii_case("telephone-event") && m.clock_rate == super::CLOCK_RATE
        })
    })?;
    let range = media
        .fmtp(pt)
        .filter(|r| is_event_list(r))
        .unwrap_or(DEFAULT_EVENT_RANGE);
    Some((pt, range))
}

/// RFC 4733 §2.4.1 event lists: `0-15,66,70`.
pub(super) fn is_event_list(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b',')
}

pub(super) fn remote_addr(sdp: &SessionDescription, media: &Media) -> Option<SocketAddr> {
    let ip = sdp.connection_for(media)?.usable_ip()?;
    (media.port != 0).then(|| SocketAddr::new(ip, media.port))
}

#[cfg(test)]
pub(super) mod fixtures {
    use super::*;
    use crate::sip::sdp::{answer, parse};

    /// A typical IP alarm unit: PCMU, PCMA, telephone-event 0-16.
    pub const ALARM_UNIT: &str = "v=0\r\no=panel 2890844526 2890844526 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n";

    pub fn local() -> LocalMedia {
        LocalMedia {
            addr: [192, 0, 2, 10].into(),
            port: 30000,
            session_id: 4242,
            session_version: 1,
            username: "alarmgate".into(),
        }
    }

    pub fn policy(codecs: &[Codec]) -> MediaPolicy {
        MediaPolicy {
            codecs: codecs.to_vec(),
            ptime_ms: 20,
        }
    }

    pub fn accept(offer: &str, policy: &MediaPolicy) -> (NegotiatedMedia, String) {
        match answer(&parse(offer).unwrap(), policy, local()) {
            AnswerOutcome::Accepted(media, text) => (media, text),
            other => panic!("expected Accepted, got {other:?}"),
        }
    }

    /// The lines of an answer after `t=0 0`.
    pub fn media_part(text: &str) -> &str {
        text.split_once("t=0 0\r\n").unwrap().1
    }

    /// A minimal offer with one audio m-line and extra lines.
    pub fn audio_offer(c: &str, m: &str, extra: &str) -> String {
        format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN {c}\r\nt=0 0\r\nm=audio {m}\r\n{extra}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lists_are_checked_before_echoing() {
        for ok in ["0-16", "0-15,66,70", "0"] {
            assert!(is_event_list(ok), "{ok}");
        }
        for bad in ["", "0-16 ; x", "a", &"1".repeat(65)] {
            assert!(!is_event_list(bad), "{bad}");
        }
    }

    #[test]
    fn an_rtpmap_overrides_the_static_assignment() {
        let sdp = crate::sip::sdp::parse("v=0\nm=audio 1 RTP/AVP 0 8 18\na=rtpmap:0 G729/8000\n")
            .unwrap();
        let m = &sdp.media[0];
        assert_eq!(codec_of(m, 0), None);
        assert_eq!(codec_of(m, 8), Some(Codec::Pcma));
        assert_eq!(codec_of(m, 18), None);
    }
}
