//! Browser calls in the call core: a WebRTC offer is answered ICE-lite
//! with our fingerprint and its media starts with a WebRTC transport; one
//! without fingerprint or ICE credentials gets 488 with a Warning; a
//! re-offer in the dialog is refused and the call goes on.

use super::tests::{
    answered_call, core_with, events, first_lines, in_dialog, invite, peer, sent, to_tag_of, UNIT,
};
use super::*;
use crate::clock::epoch;
use crate::sip::sdp::{DtlsRole, Fingerprint};

/// What Chromium offers (trimmed): c=0.0.0.0, candidates, actpass.
pub(super) const BROWSER_OFFER: &str = "v=0\r\no=- 7 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\nc=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:Zx9q\r\na=ice-pwd:cHdjaHJvbWVwYXNzd29yZDEyMzQ\r\n\
a=fingerprint:sha-256 12:34:56\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:126 telephone-event/8000\r\na=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n";

fn webrtc_core() -> super::test_core::TestCore {
    let mut config = CoreConfig::for_tests();
    config.dtls_fingerprint = Some(Fingerprint::sha256(&[0xcd; 32]));
    core_with(config)
}

fn warning(msg: &str) -> &str {
    msg.lines()
        .find_map(|l| l.strip_prefix("Warning: "))
        .unwrap_or_default()
}

#[test]
fn a_browser_offer_is_answered_ice_lite_and_its_media_is_webrtc() {
    let mut core = webrtc_core();
    let req = invite("112", "w1", "z9hG4bKw1", BROWSER_OFFER, "");
    core.handle_message(epoch(), peer(UNIT), req.as_bytes());
    let out = sent(&mut core);
    let ok = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .expect("200");
    for line in [
        "m=audio ",
        " UDP/TLS/RTP/SAVPF 8 126",
        "a=ice-lite",
        "a=setup:passive",
        "a=mid:0",
        "a=rtcp-mux",
        "a=fingerprint:sha-256 CD:CD:",
    ] {
        assert!(ok.contains(line), "{line} missing:\n{ok}");
    }
    let media = events(&mut core).into_iter().find_map(|e| match e {
        CallEvent::MediaStart { media, .. } => Some(media),
        _ => None,
    });
    let media = media.expect("media starts");
    assert_eq!(
        media.direction,
        crate::sip::sdp::Direction::SendRecv,
        "c=0.0.0.0 is no hold"
    );
    let webrtc = media.webrtc.expect("a WebRTC transport");
    assert_eq!(webrtc.role, DtlsRole::Server);
    assert_eq!(webrtc.remote.ufrag.as_str(), "Zx9q");
    assert!(ok.contains(&format!("a=ice-ufrag:{}\r\n", webrtc.local.ufrag)));
}

#[test]
fn a_browser_offer_without_fingerprint_or_credentials_gets_488_with_a_warning() {
    for (i, (cut, text)) in [
        ("a=fingerprint:sha-256 12:34:56\r\n", "a=fingerprint"),
        (
            "a=ice-pwd:cHdjaHJvbWVwYXNzd29yZDEyMzQ\r\n",
            "ICE credentials",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut core = webrtc_core();
        let offer = BROWSER_OFFER.replace(cut, "");
        let req = invite("112", &format!("w{i}"), "z9hG4bKw2", &offer, "");
        core.handle_message(epoch(), peer(UNIT), req.as_bytes());
        let out = sent(&mut core);
        assert_eq!(
            first_lines(&out).last().map(String::as_str),
            Some("SIP/2.0 488 Not Acceptable Here"),
            "{out:?}"
        );
        let last = out.last().map(String::as_str).unwrap_or_default();
        assert!(warning(last).starts_with("399 127.0.0.1 \""), "{last}");
        assert!(warning(last).contains(text), "{last}");
        assert_eq!((core.ports.in_use(), core.active_calls()), (0, 0));
    }
}

#[test]
fn a_webrtc_reoffer_in_the_dialog_is_refused_and_the_call_goes_on() {
    let mut core = webrtc_core();
    let ok = answered_call(&mut core, "w9");
    let tag = to_tag_of(&ok);
    let reinvite = in_dialog("INVITE", "w9", &tag, 2, "z9hG4bKre", BROWSER_OFFER);
    core.handle_message(epoch(), peer(UNIT), reinvite.as_bytes());
    let out = sent(&mut core);
    assert!(out.iter().any(|m| m.starts_with("SIP/2.0 488")), "{out:?}");
    assert!(warning(out.last().map(String::as_str).unwrap_or_default()).contains("re-offer"));
    assert_eq!(core.active_calls(), 1);
}
