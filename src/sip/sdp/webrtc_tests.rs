use super::super::negotiate::fixtures::{local, policy};
use super::*;
use crate::sip::sdp::{parse, Codec};

fn ours() -> WebRtcLocal {
    WebRtcLocal {
        ice: IceCredentials {
            ufrag: IceUfrag::new("aGw1"),
            pwd: IcePwd::new("c2VjcmV0c2VjcmV0c2VjcmV0"),
        },
        fingerprint: Fingerprint::sha256(&[0xab; 32]),
    }
}

/// What Chromium answers to our offer (trimmed to what we read).
fn browser_answer(extra: &str) -> String {
    format!(
        "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
         a=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n{extra}"
    )
}

const TRANSPORT: &str = "a=ice-ufrag:Br0w\r\na=ice-pwd:YnJvd3NlcnBhc3N3b3JkMTIz\r\n\
     a=fingerprint:sha-256 0a:0B:0C\r\na=setup:active\r\n";

#[test]
fn our_offer_is_ice_lite_dtls_actpass_rtcp_mux_with_the_plain_codecs() {
    let text = webrtc_offer(
        &policy(&[Codec::Pcma, Codec::Pcmu]),
        &local(),
        Direction::SendRecv,
        &ours(),
    );
    let sdp = parse(&text).unwrap();
    assert!(sdp.other_lines.contains(&"a=ice-lite".to_owned()), "{text}");
    let m = &sdp.media[0];
    assert_eq!(m.proto, "UDP/TLS/RTP/SAVPF");
    assert_eq!(m.formats, ["8", "0", "101"]);
    for attr in [
        "rtcp-mux",
        "setup:actpass",
        "ice-ufrag:aGw1",
        "ice-pwd:c2VjcmV0c2VjcmV0c2VjcmV0",
        "candidate:1 1 udp 2130706431 192.0.2.10 30000 typ host",
    ] {
        assert!(
            m.other_attributes.iter().any(|a| a == attr),
            "{attr} in {text}"
        );
    }
    let fp = m
        .other_attributes
        .iter()
        .find(|a| a.starts_with("fingerprint:sha-256 AB:AB:"));
    assert!(fp.is_some(), "{text}");
}

#[test]
fn a_browser_answer_gives_its_transport_and_our_role() {
    let answer = parse(&browser_answer(TRANSPORT)).unwrap();
    let local = ours().ice;
    let media =
        negotiated_from_webrtc_answer(&policy(&[Codec::Pcma, Codec::Pcmu]), &answer, &local)
            .unwrap();
    assert_eq!(
        (media.codec, media.telephone_event_pt),
        (Codec::Pcmu, Some(101))
    );
    // c=0.0.0.0 is not a hold in WebRTC: we send and receive.
    assert_eq!(media.direction, Direction::SendRecv);
    let webrtc = media.webrtc.unwrap();
    assert_eq!(webrtc.role, DtlsRole::Server, "the browser is active");
    assert_eq!(webrtc.remote.ufrag.as_str(), "Br0w");
    assert_eq!(webrtc.remote_fingerprint.value, "0A:0B:0C");
    assert_eq!(webrtc.local, local);

    let passive = parse(&browser_answer(&TRANSPORT.replace("active", "passive"))).unwrap();
    let media = negotiated_from_webrtc_answer(&policy(&[Codec::Pcmu]), &passive, &local).unwrap();
    assert_eq!(media.webrtc.unwrap().role, DtlsRole::Client);
}

#[test]
fn answers_without_fingerprint_or_credentials_or_with_actpass_are_refused() {
    let local = ours().ice;
    let p = policy(&[Codec::Pcmu]);
    let cases = [
        (
            TRANSPORT.replace("a=fingerprint:sha-256 0a:0B:0C\r\n", ""),
            WebRtcSdpError::NoFingerprint,
        ),
        (
            TRANSPORT.replace("a=ice-pwd:YnJvd3NlcnBhc3N3b3JkMTIz\r\n", ""),
            WebRtcSdpError::NoIceCredentials,
        ),
        (
            TRANSPORT.replace("sha-256", "sha-1"),
            WebRtcSdpError::FingerprintHash("sha-1".into()),
        ),
        (
            TRANSPORT.replace("active", "actpass"),
            WebRtcSdpError::Setup("actpass".into()),
        ),
    ];
    for (transport, expected) in cases {
        let answer = parse(&browser_answer(&transport)).unwrap();
        assert_eq!(
            negotiated_from_webrtc_answer(&p, &answer, &local),
            Err(SdpError::WebRtc(expected))
        );
    }
}

#[test]
fn session_level_transport_attributes_count() {
    let text = browser_answer("").replace(
        "a=group:BUNDLE 0\r\n",
        &format!("a=group:BUNDLE 0\r\n{TRANSPORT}"),
    );
    let answer = parse(&text).unwrap();
    let media = negotiated_from_webrtc_answer(&policy(&[Codec::Pcmu]), &answer, &ours().ice);
    assert_eq!(media.unwrap().webrtc.unwrap().remote.ufrag.as_str(), "Br0w");
    assert!(is_webrtc_profile("udp/tls/rtp/savpf"));
    assert!(!is_webrtc_profile("RTP/AVP"));
}
