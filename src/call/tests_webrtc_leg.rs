//! Operator legs to a browser in the call core: the browser's hold and
//! unhold re-INVITEs (JsSIP) are answered with the leg's own transport and
//! the mirrored direction; an ICE restart or a new fingerprint is refused
//! with 488 and a Warning, the call going on; a 2xx whose SDP answer cannot
//! be secured is ACKed and hung up with a `Reason: SIP;cause=488` BYE.

use super::tests_uac::{
    core_with, events, first_lines, from_op, header, op, reply, sent, DEVICE, OP,
};
use super::*;
use crate::clock::epoch;
use crate::sip::sdp::{self, Codec, Direction, Fingerprint, LocalMedia, MediaPolicy};

fn browser_core() -> super::test_core::TestCore {
    let mut config = CoreConfig::for_tests();
    config.dtls_fingerprint = Some(Fingerprint::sha256(&[0xcd; 32]));
    core_with(config)
}

/// Calls op1's browser (a `;transport=ws` contact): our WebRTC INVITE.
fn call_browser(c: &mut super::test_core::TestCore) -> String {
    let uri = format!("sip:op1@{OP};transport=ws");
    c.originate(
        epoch(),
        Originate {
            parent: Some(DEVICE),
            request_uri: uri.clone(),
            to: uri,
            from_user: "4570000112".into(),
            peer: op(),
            tenant: "demo".into(),
            codecs: vec![Codec::Pcma, Codec::Pcmu],
        },
    )
    .expect("originate");
    sent(c).remove(0)
}

/// What a browser answers: its ICE credentials and fingerprint, `active`
/// (Chromium's choice, we are the DTLS server).
fn browser_answer(invite: &str) -> String {
    let offer = invite.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let ours = sdp::WebRtcLocal {
        ice: sdp::IceCredentials {
            ufrag: sdp::IceUfrag::new("Br0w"),
            pwd: sdp::IcePwd::new("YnJvd3NlcnBhc3N3b3JkMTIz"),
        },
        fingerprint: Fingerprint::sha256(&[0x0b; 32]),
    };
    let far = LocalMedia {
        addr: [127, 0, 0, 1].into(),
        port: 9,
        session_id: 46117,
        session_version: 2,
        username: "-".into(),
    };
    let policy = MediaPolicy {
        codecs: vec![Codec::Pcmu],
        ptime_ms: 20,
    };
    let offer = sdp::parse(offer).expect("our offer parses");
    let (_, text) = sdp::answer_webrtc(&offer, &policy, far, &ours, None).expect("answerable");
    text.replace("a=setup:passive", "a=setup:active")
}

/// The browser's re-offer: its own description, `actpass`, `direction`.
fn reoffer(answer: &str, direction: &str) -> String {
    answer
        .replace("a=setup:active", "a=setup:actpass")
        .replace("a=sendrecv", &format!("a={direction}"))
        .replace(" 2 IN IP4", " 3 IN IP4")
}

/// A connected browser leg: our INVITE and the browser's answer.
fn connected(c: &mut super::test_core::TestCore) -> (String, String) {
    let invite = call_browser(c);
    let answer = browser_answer(&invite);
    c.handle_message(epoch(), op(), &reply(&invite, 200, &answer));
    let ev = events(c);
    assert!(
        ev.iter().any(|e| matches!(e, CallEvent::MediaStart { .. })),
        "{ev:?}"
    );
    sent(c);
    (invite, answer)
}

fn ours_in(text: &str, attribute: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(attribute))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn browser_hold_and_unhold_are_answered_on_the_same_transport() {
    let mut c = browser_core();
    let (invite, answer) = connected(&mut c);
    for (cseq, (offered, answered, ours)) in [
        ("sendonly", "recvonly", Direction::RecvOnly),
        ("inactive", "inactive", Direction::Inactive),
        ("sendrecv", "sendrecv", Direction::SendRecv),
    ]
    .into_iter()
    .enumerate()
    {
        let body = reoffer(&answer, offered);
        let branch = format!("z9hG4bKhold{cseq}");
        let req = from_op("INVITE", &invite, 2 + cseq as u32, &branch, &body);
        c.handle_message(epoch(), op(), &req);
        let out = sent(&mut c);
        let ok = out
            .iter()
            .find(|m| m.starts_with("SIP/2.0 200"))
            .expect("200");
        for attribute in ["a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"] {
            assert_eq!(ours_in(ok, attribute), ours_in(&invite, attribute), "{ok}");
        }
        assert!(
            ok.contains("a=setup:passive\r\n"),
            "we stay DTLS server: {ok}"
        );
        assert!(ok.contains(&format!("a={answered}\r\n")), "{ok}");
        let update = events(&mut c).into_iter().find_map(|e| match e {
            CallEvent::MediaUpdate { media, .. } => Some(media),
            _ => None,
        });
        let media = update.expect("the media worker hears of the hold");
        assert_eq!(media.direction, ours, "{offered}");
        assert_eq!(
            media.webrtc.expect("still WebRTC").remote.ufrag.as_str(),
            "Br0w"
        );
    }
}

#[test]
fn an_ice_restart_or_new_fingerprint_gets_488_and_the_call_goes_on() {
    for (cut, with, why) in [
        ("a=ice-ufrag:Br0w", "a=ice-ufrag:N3w0", "ICE restart"),
        (
            "a=fingerprint:sha-256 0B:0B",
            "a=fingerprint:sha-256 0C:0B",
            "fingerprint changed",
        ),
        (
            "a=setup:actpass",
            "a=setup:passive",
            "swap the running DTLS roles",
        ),
        ("UDP/TLS/RTP/SAVPF", "RTP/AVP", "plain RTP re-offer"),
    ] {
        let mut c = browser_core();
        let (invite, answer) = connected(&mut c);
        let body = reoffer(&answer, "sendonly").replacen(cut, with, 1);
        c.handle_message(
            epoch(),
            op(),
            &from_op("INVITE", &invite, 2, "z9hG4bKr", &body),
        );
        let out = sent(&mut c);
        let refused = out
            .iter()
            .find(|m| m.starts_with("SIP/2.0 488 Not Acceptable Here"));
        let refused = refused.unwrap_or_else(|| panic!("{cut}: {:?}", first_lines(&out)));
        let warning = header(refused, "Warning");
        assert!(
            warning.starts_with("399 ") && warning.contains(why),
            "{warning}"
        );
        let ev = events(&mut c);
        assert!(ev.is_empty(), "the call goes on untouched: {ev:?}");
        assert_eq!(c.active_calls(), 1);
    }
}

#[test]
fn a_browser_answer_it_cannot_secure_is_acked_and_hung_up_with_a_reason() {
    for (cut, why) in [
        ("a=fingerprint:", "a=fingerprint"),
        ("a=ice-pwd:", "ICE credentials"),
        ("a=setup:", "unusable a=setup:actpass"),
    ] {
        let mut c = browser_core();
        let invite = call_browser(&mut c);
        let answer: String = browser_answer(&invite)
            .lines()
            .map(|l| match (l.starts_with(cut), cut) {
                (true, "a=setup:") => "a=setup:actpass\r\n".to_owned(),
                (true, _) => String::new(),
                (false, _) => format!("{l}\r\n"),
            })
            .collect();
        c.handle_message(epoch(), op(), &reply(&invite, 200, &answer));
        let out = sent(&mut c);
        assert_eq!(
            first_lines(&out)[0].split(' ').next(),
            Some("ACK"),
            "{out:?}"
        );
        let bye = out.iter().find(|m| m.starts_with("BYE ")).expect("BYE");
        let reason = header(bye, "Reason");
        assert!(reason.starts_with("SIP;cause=488;text=\""), "{reason}");
        assert!(reason.contains(why), "{why} in {reason}");
        let ev = events(&mut c);
        assert!(
            ev.iter().any(|e| matches!(
                e,
                CallEvent::LegFailed {
                    outcome: LegFailure::Rejected(488),
                    ..
                }
            )),
            "{ev:?}"
        );
    }
}
