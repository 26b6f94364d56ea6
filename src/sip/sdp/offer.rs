//! Our own offers for outgoing legs, and reading the answers to them.

use super::negotiate::{
    codec_of, remote_addr, telephone_event, LocalMedia, MediaPolicy, NegotiatedMedia,
};
use super::write::{render, AudioLine, Stream};
use super::{
    Codec, Direction, SdpError, SessionDescription, DEFAULT_EVENT_RANGE, TELEPHONE_EVENT_PT,
};

/// Builds our offer for an outgoing leg: every policy codec on its static
/// PT in preference order, telephone-event on PT 101 with events 0-16.
pub fn offer(policy: &MediaPolicy, local: &LocalMedia, direction: Direction) -> String {
    let mut codecs: Vec<(u8, Codec)> = Vec::with_capacity(policy.codecs.len());
    for codec in &policy.codecs {
        if !codecs.iter().any(|(_, c)| c == codec) {
            codecs.push((codec.static_pt(), *codec));
        }
    }
    let audio = AudioLine {
        proto: "RTP/AVP",
        codecs,
        telephone_event: Some((TELEPHONE_EVENT_PT, DEFAULT_EVENT_RANGE)),
        ptime_ms: policy.ptime_ms,
        direction,
    };
    render(local, &[Stream::Audio(audio)])
}

/// Reads the answer to an [`offer`] made under `offer_policy`.
///
/// The codec is the answer's first format that is a G.711 codec of the
/// policy; `direction` is turned round to be ours.
pub fn negotiated_from_answer(
    offer_policy: &MediaPolicy,
    answer: &SessionDescription,
) -> Result<NegotiatedMedia, SdpError> {
    let media = answer
        .media
        .iter()
        .find(|m| m.kind.eq_ignore_ascii_case("audio"))
        .filter(|m| m.port != 0)
        .ok_or(SdpError::NoAudioAccepted)?;
    let (payload_type, codec) = media
        .payload_types()
        .find_map(|pt| {
            codec_of(media, pt)
                .filter(|c| offer_policy.codecs.contains(c))
                .map(|c| (pt, c))
        })
        .ok_or_else(|| SdpError::NoCommonCodec {
            formats: media.formats.clone(),
        })?;
    Ok(NegotiatedMedia {
        codec,
        payload_type,
        telephone_event_pt: telephone_event(media).map(|(pt, _)| pt),
        remote: remote_addr(answer, media),
        direction: answer.direction_for(media).reversed(),
        ptime_ms: offer_policy.ptime_ms,
        webrtc: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::answer::answer;
    use super::super::negotiate::fixtures::*;
    use super::super::negotiate::AnswerOutcome;
    use super::*;
    use crate::sip::sdp::parse;

    #[test]
    fn our_offer_round_trips_through_answer_and_back() {
        let ours = offer(
            &policy(&[Codec::Pcma, Codec::Pcmu, Codec::Pcma]),
            &local(),
            Direction::SendRecv,
        );
        assert_eq!(
            media_part(&ours),
            "m=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        // The far end (an operator phone) prefers PCMU and puts us on hold.
        let held = ours.replace("a=sendrecv", "a=sendonly");
        let far = LocalMedia {
            addr: [192, 0, 2, 99].into(),
            port: 7078,
            ..local()
        };
        let outcome = answer(&parse(&held).unwrap(), &policy(&[Codec::Pcmu]), far);
        let AnswerOutcome::Accepted(_, their_answer) = outcome else {
            panic!("{outcome:?}")
        };
        let media = negotiated_from_answer(&MediaPolicy::default(), &parse(&their_answer).unwrap())
            .unwrap();
        assert_eq!(
            (media.codec, media.payload_type, media.telephone_event_pt),
            (Codec::Pcmu, 0, Some(101))
        );
        assert_eq!(media.remote, Some("192.0.2.99:7078".parse().unwrap()));
        // They answered recvonly to our sendonly: we send.
        assert_eq!(media.direction, Direction::SendOnly);
    }

    #[test]
    fn answers_that_accept_nothing_are_errors() {
        let rejected = parse("v=0\r\nc=IN IP4 10.0.0.9\r\nm=audio 0 RTP/AVP 8\r\n").unwrap();
        assert_eq!(
            negotiated_from_answer(&MediaPolicy::default(), &rejected),
            Err(SdpError::NoAudioAccepted)
        );
        let g729 = parse("v=0\r\nc=IN IP4 10.0.0.9\r\nm=audio 4000 RTP/AVP 18\r\n").unwrap();
        assert_eq!(
            negotiated_from_answer(&MediaPolicy::default(), &g729),
            Err(SdpError::NoCommonCodec {
                formats: vec!["18".into()]
            })
        );
        let pcmu_only = parse("v=0\r\nc=IN IP4 10.0.0.9\r\nm=audio 4000 RTP/AVP 0\r\n").unwrap();
        assert!(negotiated_from_answer(&policy(&[Codec::Pcma]), &pcmu_only).is_err());
    }
}
