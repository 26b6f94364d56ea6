//! The RTP session's parameters from a negotiated SDP ([`crate::sip::sdp`]):
//! codec, payload types, telephone-event range, packet time, remote address.
//! One mapping for the daemon's call legs and the simulator's.

use super::receiver::EventParams;
use super::telephone_event::EventSet;
use super::{Codec, MediaParams};
use crate::sip::sdp::{self, NegotiatedMedia};

/// The media core's parameters from a negotiated SDP. The packet time is
/// clamped to what [`super::RtpSession`] accepts (10-120 ms).
pub fn params_from_sdp(media: &NegotiatedMedia) -> MediaParams {
    let codec = match media.codec {
        sdp::Codec::Pcma => Codec::Pcma,
        sdp::Codec::Pcmu => Codec::Pcmu,
    };
    let events = EventSet::parse(sdp::DEFAULT_EVENT_RANGE).unwrap_or_default();
    MediaParams {
        codec,
        payload_type: media.payload_type,
        telephone_event: media.telephone_event_pt.map(|payload_type| EventParams {
            payload_type,
            events,
        }),
        ptime_ms: media.ptime_ms.clamp(10, 120),
        remote: media.remote,
        rtcp_mux: false,
        source: super::source::SourceRules::default(),
    }
}
