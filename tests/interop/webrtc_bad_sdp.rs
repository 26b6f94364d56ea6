//! Bad SDP on WebRTC legs, against a running daemon: each gets a clear
//! refusal naming the reason, and the node stays up.
//!
//! - A browser's 2xx answer that cannot be secured or carries no codec of
//!   our offer (no ICE credentials, `a=setup:actpass`, only Opus): the
//!   daemon ACKs and hangs up with `Reason: SIP;cause=488;text="..."`
//!   (a 2xx cannot be answered with a 488).
//! - A WebRTC offer sent to the daemon (no fingerprint, no ICE credentials,
//!   `a=setup:holdconn`, only Opus): 488 with a Warning saying which.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::operators::{
    api, centre, device_uri, spawn_unit, wait_operator_state, Plan, NOWHERE, RING_WAIT, SHORT,
    UNIT_A,
};
use crate::webrtc::browser::Browser;
use crate::webrtc::daemon_addr;
use crate::webrtc::sip_ua::{status, Msg, SipUa};

/// `answer` with lines starting with `cut` replaced by `with` (none: dropped).
fn edit(answer: &str, cut: &str, with: Option<&str>) -> String {
    answer
        .lines()
        .filter_map(|l| match (l.starts_with(cut), with) {
            (true, None) => None,
            (true, Some(w)) => Some(w.to_owned()),
            (false, _) => Some(l.to_owned()),
        })
        .map(|l| format!("{l}\r\n"))
        .collect()
}

/// The BYE the daemon sends after our 2xx, answered.
fn wait_bye(ua: &SipUa) -> Option<Msg> {
    let end = Instant::now() + SHORT;
    while let Some(msg) = ua.recv(end.saturating_duration_since(Instant::now())) {
        if msg.start().starts_with("BYE ") {
            ua.respond(&msg, 200, None);
            return Some(msg);
        }
    }
    None
}

#[test]
fn webrtc_answers_it_cannot_use_are_hung_up_with_a_488_reason() {
    let test = "webrtc_answers_it_cannot_use_are_hung_up_with_a_488_reason";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let mut ua = SipUa::new("op1", daemon_addr(d.sip_port));
    assert_eq!(ua.register("secret-op1"), 200);
    let cases: [(&str, Option<&str>, &str); 3] = [
        ("a=ice-pwd:", None, "ICE credentials"),
        ("a=setup:", Some("a=setup:actpass"), "a=setup:actpass"),
        ("m=audio", Some("m=audio 9 UDP/TLS/RTP/SAVPF 111"), ""),
    ];
    for (cut, with, why) in cases {
        wait_operator_state(&d, "op1", "available", SHORT);
        let _unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &[]);
        let invite = ua.wait_invite(RING_WAIT).expect("op1's browser never rang");
        let (_browser, answer) = Browser::answer(invite.body(), 700.0, 1000.0, false);
        let mut bad = edit(&answer, cut, with);
        if cut == "m=audio" {
            bad = bad.replace("a=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:111 opus/48000/2\r\n");
        }
        ua.respond(&invite, 200, Some(&bad));
        let bye = wait_bye(&ua).unwrap_or_else(|| panic!("{cut}: no BYE for an unusable answer"));
        let reason = bye.header("Reason").unwrap_or_default();
        assert!(
            reason.starts_with("SIP;cause=488;text=\""),
            "{cut}: {reason}"
        );
        assert!(reason.contains(why), "{cut}: {why} not in {reason}");
        let (code, _) = api(&d, "GET", "/api/v1/operators/op1", None);
        assert_eq!(code, 200, "the node stopped serving");
    }
}

/// What a browser offers (Chromium, trimmed).
const OFFER: &str = "v=0\r\no=- 7 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\nc=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Zx9q\r\na=ice-pwd:cHdjaHJvbWVwYXNzd29yZDEyMzQ\r\n\
a=fingerprint:sha-256 12:34:56\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n";

#[test]
fn webrtc_offers_it_cannot_secure_get_488_with_a_warning() {
    let test = "webrtc_offers_it_cannot_secure_get_488_with_a_warning";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let me = socket.local_addr().expect("bound");
    let cases = [
        (
            OFFER.replace("a=fingerprint:sha-256 12:34:56\r\n", ""),
            "399",
            "a=fingerprint",
        ),
        (
            OFFER.replace("a=ice-ufrag:Zx9q\r\n", ""),
            "399",
            "ICE credentials",
        ),
        (
            OFFER.replace("setup:actpass", "setup:holdconn"),
            "399",
            "a=setup:holdconn",
        ),
        (
            OFFER.replace(" 0 8 126\r\n", " 111\r\n").replace(
                "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n",
                "a=rtpmap:111 opus/48000/2\r\n",
            ),
            "305",
            "",
        ),
    ];
    for (i, (offer, code, why)) in cases.iter().enumerate() {
        let invite = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKbad{i}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:browser@{me}>;tag=b{i}\r\nTo: <{uri}>\r\n\
             Call-ID: bad-webrtc-{i}\r\nCSeq: 1 INVITE\r\nContact: <sip:browser@{me}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
            offer.len(),
            uri = device_uri(&d),
        );
        socket
            .send_to(invite.as_bytes(), daemon_addr(d.sip_port))
            .expect("send");
        let end = Instant::now() + SHORT;
        let mut refused = None;
        let mut buf = vec![0u8; 65536];
        while Instant::now() < end {
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let msg = Msg {
                text: String::from_utf8_lossy(&buf[..n]).into_owned(),
                from,
            };
            if status(&msg) >= 200 {
                refused = Some(msg);
                break;
            }
        }
        let refused = refused.unwrap_or_else(|| panic!("case {i}: no final response"));
        assert_eq!(status(&refused), 488, "case {i}: {}", refused.start());
        let warning = refused.header("Warning").unwrap_or_default();
        assert!(
            warning.starts_with(code) && warning.contains(why),
            "case {i}: {warning}"
        );
        let ack = format!(
            "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKbad{i}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:browser@{me}>;tag=b{i}\r\nTo: {to}\r\n\
             Call-ID: bad-webrtc-{i}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            uri = device_uri(&d),
            to = refused.header("To").unwrap_or_default(),
        );
        socket
            .send_to(ack.as_bytes(), daemon_addr(d.sip_port))
            .expect("ack");
    }
    let (code, _) = api(&d, "GET", "/api/v1/operators/op1", None);
    assert_eq!(code, 200, "the node stopped serving");
}
