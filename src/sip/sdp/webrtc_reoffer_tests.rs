use super::super::negotiate::fixtures::{local, policy};
use super::*;
use crate::sip::sdp::{answer_webrtc, parse, IcePwd, IceUfrag, WebRtcRefusal, WebRtcSdpError};

fn creds(ufrag: &str, pwd: &str) -> IceCredentials {
    IceCredentials {
        ufrag: IceUfrag::new(ufrag),
        pwd: IcePwd::new(pwd),
    }
}

/// The transport of a running call: we answered `active` (we are the DTLS
/// server) or `passive`.
fn current(role: DtlsRole) -> WebRtcMedia {
    WebRtcMedia {
        local: creds("0urUfrag", "b3VycGFzc3dvcmRvdXJwYXNzd29yZA"),
        remote: creds("Zx9q", "cHdjaHJvbWVwYXNzd29yZDEyMzQ"),
        remote_fingerprint: Fingerprint {
            algorithm: "sha-256".into(),
            value: "12:34:56".into(),
        },
        role,
    }
}

fn ours(current: &WebRtcMedia) -> WebRtcLocal {
    WebRtcLocal {
        ice: current.local.clone(),
        fingerprint: Fingerprint::sha256(&[0xcd; 32]),
    }
}

/// JsSIP's hold re-offer (Chromium, trimmed): the same ICE credentials and
/// fingerprint, `actpass`, `a=sendonly`.
fn reoffer(direction: &str) -> String {
    format!(
        "v=0\r\no=- 7 3 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\nc=IN IP4 0.0.0.0\r\n\
         a=ice-ufrag:Zx9q\r\na=ice-pwd:cHdjaHJvbWVwYXNzd29yZDEyMzQ\r\n\
         a=fingerprint:sha-256 12:34:56\r\na=setup:actpass\r\na=mid:0\r\na={direction}\r\n\
         a=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:126 telephone-event/8000\r\n"
    )
}

fn answer(
    text: &str,
    current: &WebRtcMedia,
) -> Result<(crate::sip::sdp::NegotiatedMedia, String), WebRtcRefusal> {
    let offer = parse(text).unwrap();
    let p = policy(&[Codec::Pcma, Codec::Pcmu]);
    answer_webrtc(&offer, &p, local(), &ours(current), Some(current))
}

#[test]
fn a_hold_reoffer_is_answered_with_the_calls_transport_and_the_mirrored_direction() {
    for (role, setup) in [(DtlsRole::Server, "passive"), (DtlsRole::Client, "active")] {
        let call = current(role);
        for (offered, answered, ours) in [
            ("sendonly", "recvonly", Direction::RecvOnly),
            ("inactive", "inactive", Direction::Inactive),
            ("sendrecv", "sendrecv", Direction::SendRecv),
        ] {
            let (media, text) = answer(&reoffer(offered), &call).expect("answered");
            assert_eq!(media.direction, ours, "{offered}");
            for line in [
                format!("a={answered}\r\n"),
                format!("a=setup:{setup}\r\n"),
                "a=ice-ufrag:0urUfrag\r\n".to_owned(),
                "a=ice-pwd:b3VycGFzc3dvcmRvdXJwYXNzd29yZA\r\n".to_owned(),
                "a=fingerprint:sha-256 CD:CD:".to_owned(),
            ] {
                assert!(text.contains(&line), "{line} missing:\n{text}");
            }
            assert_eq!(media.webrtc.as_deref(), Some(&call), "transport kept");
        }
    }
}

#[test]
fn an_ice_restart_a_new_fingerprint_or_a_role_swap_is_refused() {
    let server = current(DtlsRole::Server);
    let client = current(DtlsRole::Client);
    let cases = [
        (
            reoffer("sendonly").replace("ice-ufrag:Zx9q", "ice-ufrag:N3w1"),
            &server,
            WebRtcSdpError::IceRestart,
        ),
        (
            reoffer("sendonly").replace("ZDEyMzQ", "ZDEyMzX"),
            &server,
            WebRtcSdpError::IceRestart,
        ),
        (
            reoffer("sendonly").replace("12:34:56", "AA:BB:CC"),
            &server,
            WebRtcSdpError::FingerprintChanged,
        ),
        (
            reoffer("sendonly").replace("setup:actpass", "setup:passive"),
            &server,
            WebRtcSdpError::RoleSwap("passive".into()),
        ),
        (
            reoffer("sendonly").replace("setup:actpass", "setup:active"),
            &client,
            WebRtcSdpError::RoleSwap("active".into()),
        ),
        (
            reoffer("sendonly").replace("setup:actpass", "setup:holdconn"),
            &server,
            WebRtcSdpError::Setup("holdconn".into()),
        ),
    ];
    for (text, call, expected) in cases {
        assert_eq!(
            answer(&text, call).map(|_| ()),
            Err(WebRtcRefusal::Transport(expected))
        );
    }
    let same_role = reoffer("sendonly").replace("setup:actpass", "setup:active");
    assert!(answer(&same_role, &server).is_ok(), "active to our passive");
}

#[test]
fn our_reoffer_keeps_credentials_and_role() {
    let p = policy(&[Codec::Pcmu]);
    let fingerprint = Fingerprint::sha256(&[0xcd; 32]);
    for (role, setup) in [(DtlsRole::Server, "passive"), (DtlsRole::Client, "active")] {
        let text = webrtc_reoffer(&p, &local(), &current(role), &fingerprint);
        assert!(text.contains(&format!("a=setup:{setup}\r\n")), "{text}");
        assert!(!text.contains("actpass"), "{text}");
        assert!(text.contains("a=ice-ufrag:0urUfrag\r\n"), "{text}");
    }
}

#[test]
fn prefer_codec_puts_the_running_codec_first() {
    let p = policy(&[Codec::Pcma, Codec::Pcmu]);
    assert_eq!(
        prefer_codec(&p, Codec::Pcmu).codecs,
        [Codec::Pcmu, Codec::Pcma]
    );
    let only = policy(&[Codec::Pcma]);
    assert_eq!(prefer_codec(&only, Codec::Pcmu).codecs, [Codec::Pcma]);
}
