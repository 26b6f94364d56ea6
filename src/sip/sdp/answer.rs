//! Answering an offer (RFC 3264 §6); the rules are in [`super::negotiate`].

use super::negotiate::{
    choose_codec, is_usable_audio, remote_addr, telephone_event, AnswerOutcome, LocalMedia,
    MediaPolicy, NegotiatedMedia, RejectReason,
};
use super::write::{render, AudioLine, Stream};
use super::SessionDescription;

/// Answers an offer (RFC 3264 §6) under a tenant's policy.
pub fn answer(
    offer: &SessionDescription,
    policy: &MediaPolicy,
    local: LocalMedia,
) -> AnswerOutcome {
    let Some((index, media)) = offer
        .media
        .iter()
        .enumerate()
        .find(|(_, m)| is_usable_audio(m))
    else {
        return AnswerOutcome::NotAcceptable {
            reason: RejectReason::NoAudioStream,
        };
    };
    let Some((payload_type, codec)) = choose_codec(media, &policy.codecs) else {
        let offered = media.formats.clone();
        return AnswerOutcome::NotAcceptable {
            reason: RejectReason::NoCommonCodec { offered },
        };
    };
    let telephone_event = telephone_event(media);
    let direction = offer.direction_for(media).reversed();
    let negotiated = NegotiatedMedia {
        codec,
        payload_type,
        telephone_event_pt: telephone_event.map(|(pt, _)| pt),
        remote: remote_addr(offer, media),
        direction,
        ptime_ms: policy.ptime_ms,
        webrtc: None,
    };
    let mut audio = Some(AudioLine {
        proto: &media.proto,
        codecs: vec![(payload_type, codec)],
        telephone_event,
        ptime_ms: policy.ptime_ms,
        direction,
    });
    let mut streams = Vec::with_capacity(offer.media.len());
    for (i, m) in offer.media.iter().enumerate() {
        match audio.take_if(|_| i == index) {
            Some(line) => streams.push(Stream::Audio(line)),
            None => streams.push(Stream::Rejected(m)),
        }
    }
    AnswerOutcome::Accepted(negotiated, render(&local, &streams))
}

#[cfg(test)]
mod tests {
    use super::super::negotiate::fixtures::*;
    use super::*;
    use crate::sip::sdp::{parse, Codec, Direction};

    #[test]
    fn alarm_unit_offer_gets_pcma_and_events_under_the_pcma_first_policy() {
        let (media, text) = accept(ALARM_UNIT, &MediaPolicy::default());
        let expected = NegotiatedMedia {
            codec: Codec::Pcma,
            payload_type: 8,
            telephone_event_pt: Some(101),
            remote: Some("10.0.0.5:49170".parse().unwrap()),
            direction: Direction::SendRecv,
            ptime_ms: 20,
            webrtc: None,
        };
        assert_eq!(media, expected);
        assert_eq!(
            text,
            "v=0\r\no=alarmgate 4242 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
             m=audio 30000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        );
    }

    #[test]
    fn the_tenant_order_decides_not_the_offer_order() {
        let (pcmu_first, _) = accept(ALARM_UNIT, &policy(&[Codec::Pcmu, Codec::Pcma]));
        assert_eq!(
            (pcmu_first.codec, pcmu_first.payload_type),
            (Codec::Pcmu, 0)
        );
        let (pcma_first, _) = accept(ALARM_UNIT, &policy(&[Codec::Pcma, Codec::Pcmu]));
        assert_eq!(
            (pcma_first.codec, pcma_first.payload_type),
            (Codec::Pcma, 8)
        );
    }

    #[test]
    fn carrier_offer_with_static_pcma_only_and_no_rtpmap() {
        let offer = audio_offer("IP4 203.0.113.7", "16000 RTP/AVP 8", "a=ptime:20\r\n");
        let (media, text) = accept(&offer, &policy(&[Codec::Pcmu, Codec::Pcma]));
        assert_eq!(
            (media.codec, media.payload_type, media.telephone_event_pt),
            (Codec::Pcma, 8, None)
        );
        assert!(
            media_part(&text).starts_with("m=audio 30000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")
        );
        assert!(!text.contains("telephone-event"));
    }

    #[test]
    fn g729_only_offer_is_not_acceptable() {
        let offer = audio_offer(
            "IP4 203.0.113.7",
            "16000 RTP/AVP 18 13",
            "a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=yes\r\na=rtpmap:13 CN/8000\r\n",
        );
        let outcome = answer(&parse(&offer).unwrap(), &MediaPolicy::default(), local());
        let reason = RejectReason::NoCommonCodec {
            offered: vec!["18".into(), "13".into()],
        };
        assert_eq!(
            outcome,
            AnswerOutcome::NotAcceptable {
                reason: reason.clone()
            }
        );
        assert_eq!(reason.warning_code(), 305);
        assert_eq!(
            reason.to_string(),
            "no G.711 codec in offered formats [18 13]"
        );
    }

    #[test]
    fn dynamic_pt_mapped_to_pcma_is_accepted_on_that_pt() {
        let offer = audio_offer(
            "IP4 10.0.0.5",
            "5004 RTP/AVP 96 97 98",
            "a=rtpmap:96 PCMA/16000\r\na=rtpmap:97 pcma/8000\r\na=rtpmap:98 telephone-event/8000\r\n",
        );
        let (media, text) = accept(&offer, &MediaPolicy::default());
        assert_eq!(
            (media.codec, media.payload_type, media.telephone_event_pt),
            (Codec::Pcma, 97, Some(98))
        );
        assert!(media_part(&text).starts_with(
            "m=audio 30000 RTP/AVP 97 98\r\na=rtpmap:97 PCMA/8000\r\na=rtpmap:98 telephone-event/8000\r\na=fmtp:98 0-16\r\n"
        ));
    }

    #[test]
    fn comfort_noise_and_vad_are_never_answered() {
        let offer = audio_offer(
            "IP4 10.0.0.5",
            "5004 RTP/AVP 8 13 101",
            "a=rtpmap:13 CN/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=fmtp:8 annexb=yes\r\n",
        );
        let (_, text) = accept(&offer, &MediaPolicy::default());
        assert!(media_part(&text).starts_with("m=audio 30000 RTP/AVP 8 101\r\n"));
        assert!(
            text.contains("a=fmtp:101 0-15\r\n"),
            "the offer's event range is echoed"
        );
        assert!(!text.contains("CN") && !text.contains("annexb") && !text.contains(" 13"));
    }

    #[test]
    fn ipv6_offer_and_ipv6_local_address() {
        let offer = audio_offer("IP6 2001:db8::5", "40000 RTP/AVP 0", "");
        let local6 = LocalMedia {
            addr: "2001:db8::10".parse().unwrap(),
            ..local()
        };
        let outcome = answer(&parse(&offer).unwrap(), &MediaPolicy::default(), local6);
        let AnswerOutcome::Accepted(media, text) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(media.remote, Some("[2001:db8::5]:40000".parse().unwrap()));
        assert!(text.contains("IN IP6 2001:db8::10\r\ns=-\r\nc=IN IP6 2001:db8::10\r\n"));
    }

    #[test]
    fn hold_offers_are_mirrored() {
        let cases = [
            ("IP4 10.0.0.5", "a=sendonly\r\n", Direction::RecvOnly, true),
            ("IP4 10.0.0.5", "a=inactive\r\n", Direction::Inactive, true),
            ("IP4 10.0.0.5", "a=recvonly\r\n", Direction::SendOnly, true),
            ("IP4 0.0.0.0", "", Direction::RecvOnly, false),
            ("IP4 0.0.0.0", "a=sendonly\r\n", Direction::RecvOnly, false),
            ("IP4 0.0.0.0", "a=recvonly\r\n", Direction::Inactive, false),
            ("IP4 10.0.0.5", "", Direction::SendRecv, true),
        ];
        for (c, attr, ours, has_remote) in cases {
            let offer = audio_offer(c, "5004 RTP/AVP 8", attr);
            let (media, text) = accept(&offer, &MediaPolicy::default());
            assert_eq!(media.direction, ours, "{c} {attr}");
            assert_eq!(media.remote.is_some(), has_remote, "{c} {attr}");
            assert!(
                text.ends_with(&format!("a={}\r\n", ours.attribute())),
                "{text}"
            );
        }
    }

    #[test]
    fn session_level_direction_applies_to_the_stream() {
        let offer = audio_offer("IP4 10.0.0.5", "5004 RTP/AVP 8", "")
            .replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
        let (media, _) = accept(&offer, &MediaPolicy::default());
        assert_eq!(media.direction, Direction::RecvOnly);
    }

    #[test]
    fn other_streams_are_declined_with_port_zero_in_order() {
        let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
            m=video 5006 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
            m=audio 0 RTP/AVP 0\r\n\
            m=audio 5008 RTP/SAVP 8\r\n\
            m=audio 5004 RTP/AVP 0 8\r\nc=IN IP4 10.0.0.6\r\n\
            m=audio 5010 RTP/AVP 8\r\n\
            m=application 5012 udp bfcp\r\n";
        let (media, text) = accept(offer, &MediaPolicy::default());
        assert_eq!(media.remote, Some("10.0.0.6:5004".parse().unwrap()));
        let m_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(
            m_lines,
            [
                "m=video 0 RTP/AVP 96",
                "m=audio 0 RTP/AVP 0",
                "m=audio 0 RTP/SAVP 8",
                "m=audio 30000 RTP/AVP 8",
                "m=audio 0 RTP/AVP 8",
                "m=application 0 udp bfcp",
            ]
        );
        let reparsed = parse(&text).unwrap();
        assert_eq!(reparsed.media.len(), 6);
    }

    #[test]
    fn no_usable_audio_is_not_acceptable() {
        for m in [
            "m=audio 0 RTP/AVP 8",
            "m=audio 5004 RTP/SAVP 8",
            "m=video 5004 RTP/AVP 8",
        ] {
            let offer = format!("v=0\r\nc=IN IP4 10.0.0.5\r\n{m}\r\n");
            let outcome = answer(&parse(&offer).unwrap(), &MediaPolicy::default(), local());
            let reason = RejectReason::NoAudioStream;
            assert_eq!(outcome, AnswerOutcome::NotAcceptable { reason }, "{m}");
        }
        let outcome = answer(&parse("v=0\r\n").unwrap(), &MediaPolicy::default(), local());
        assert!(matches!(outcome, AnswerOutcome::NotAcceptable { .. }));
    }

    #[test]
    fn the_caller_supplied_session_version_is_written() {
        let hold = audio_offer("IP4 10.0.0.5", "5004 RTP/AVP 8", "a=sendonly\r\n");
        let parsed = parse(&hold).unwrap();
        let v2 = LocalMedia {
            session_version: 2,
            ..local()
        };
        let AnswerOutcome::Accepted(_, text) = answer(&parsed, &MediaPolicy::default(), v2) else {
            panic!("hold answer refused")
        };
        let origin = parse(&text).unwrap().origin.unwrap();
        assert_eq!(
            (origin.session_id.as_str(), origin.session_version.as_str()),
            ("4242", "2")
        );
    }

    #[test]
    fn random_truncations_of_offers_never_panic_the_answerer() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let sources = [
            ALARM_UNIT.to_string(),
            audio_offer(
                "IP6 2001:db8::5",
                "5004 RTP/AVP 96 8",
                "a=rtpmap:96 PCMA/8000\r\na=sendonly\r\n",
            ),
        ];
        for _ in 0..4000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let source = &sources[(seed % 2) as usize];
            let cut = (seed >> 8) as usize % (source.len() + 1);
            let Ok(sdp) = parse(&source[..cut]) else {
                continue;
            };
            if let AnswerOutcome::Accepted(_, text) = answer(&sdp, &MediaPolicy::default(), local())
            {
                assert!(parse(&text).is_ok(), "our own answer must parse: {text}");
            }
        }
    }
}
