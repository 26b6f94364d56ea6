//! Call-core scenarios in simulated time: a scripted alarm unit talks to the
//! core through bytes, and every answer is read back from `poll_transmit`.

use super::test_core::TestCore;
use super::*;
use crate::clock::epoch;
use std::net::SocketAddr;

pub(super) const UNIT: &str = "127.0.0.1:5070";
const STRANGER: &str = "198.51.100.7:5070";

pub(super) fn core_with(config: CoreConfig) -> TestCore {
    let admission = Admission::for_tests(&["127.0.0.0/8"], 100, 0);
    TestCore::new(CallCore::new(config, admission, None, 42))
}

fn core_with_devices(algorithms: Vec<crate::sip::digest::Algorithm>) -> TestCore {
    use crate::sip::digest::{ha1, Algorithm, DigestServer};
    let admission = Admission::for_tests_with_devices(&["192.0.2.0/24"]);
    let md5 = ha1(Algorithm::Md5, "unit-9", "alarmgate", "s3cret");
    let sha = ha1(Algorithm::Sha256, "unit-9", "alarmgate", "s3cret");
    let auth = DeviceAuth {
        server: DigestServer::new("alarmgate".into(), [7; 32], Duration::from_secs(300)),
        devices: [("unit-9".to_string(), (Some(md5), Some(sha)))].into(),
        algorithms,
    };
    TestCore::new(CallCore::new(
        CoreConfig::for_tests(),
        admission,
        Some(auth),
        42,
    ))
}

pub(super) fn core() -> TestCore {
    core_with(CoreConfig::for_tests())
}

pub(super) fn peer(addr: &str) -> Peer {
    Peer::udp(addr.parse::<SocketAddr>().unwrap())
}

pub(super) const OFFER: &str =
    "v=0\r\no=unit 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n";

pub(super) fn invite(did: &str, call_id: &str, branch: &str, body: &str, extra: &str) -> String {
    format!(
        "INVITE sip:{did}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:unit@127.0.0.1>;tag=u1\r\nTo: <sip:{did}@127.0.0.1>\r\nCall-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\nContact: <sip:unit@127.0.0.1:5070>\r\n{extra}Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

pub(super) fn in_dialog(
    method: &str,
    call_id: &str,
    to_tag: &str,
    cseq: u32,
    branch: &str,
    body: &str,
) -> String {
    let ct = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".into()
    };
    format!(
        "{method} sip:112@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\nMax-Forwards: 70\r\n\
From: <sip:unit@127.0.0.1>;tag=u1\r\nTo: <sip:112@127.0.0.1>;tag={to_tag}\r\nCall-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Every transmit's first line, drained.
pub(super) fn sent(core: &mut TestCore) -> Vec<String> {
    std::iter::from_fn(|| core.poll_transmit())
        .map(|t| String::from_utf8_lossy(&t.data).into_owned())
        .collect()
}

pub(super) fn first_lines(msgs: &[String]) -> Vec<String> {
    msgs.iter()
        .map(|m| m.lines().next().unwrap_or_default().to_string())
        .collect()
}

pub(super) fn events(core: &mut TestCore) -> Vec<CallEvent> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

pub(super) fn to_tag_of(response: &str) -> String {
    let to = response.lines().find(|l| l.starts_with("To:")).unwrap();
    to.split("tag=").nth(1).unwrap().trim().to_string()
}

/// Sends an INVITE from the unit and returns the 200 OK text.
pub(super) fn answered_call(core: &mut TestCore, call_id: &str) -> String {
    core.handle_message(
        epoch(),
        peer(UNIT),
        invite("112", call_id, "z9hG4bKi1", OFFER, "").as_bytes(),
    );
    let out = sent(core);
    out.into_iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .expect("200 OK")
}

#[test]
fn invite_is_answered_with_pcma_and_media_starts() {
    let mut c = core();
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite("112", "c1", "z9hG4bKi1", OFFER, "").as_bytes(),
    );
    let out = sent(&mut c);
    assert_eq!(
        first_lines(&out),
        vec!["SIP/2.0 100 Trying", "SIP/2.0 200 OK"]
    );
    let ok = &out[1];
    assert!(ok.contains("Contact: <sip:112@127.0.0.1:5060>"));
    assert!(ok.contains("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"));
    let ev = events(&mut c);
    let [CallEvent::MediaStart { local_port, .. }] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert!((40000..=40010).contains(local_port) && local_port % 2 == 0);
    assert!(
        ok.contains(&format!("m=audio {local_port} RTP/AVP 8 101")),
        "{ok}"
    );
    assert_eq!(c.active_calls(), 1);
}

#[test]
fn bye_from_the_unit_ends_the_call_and_frees_the_port() {
    let mut c = core();
    let ok = answered_call(&mut c, "c2");
    let tag = to_tag_of(&ok);
    c.handle_message(
        epoch(),
        peer(UNIT),
        in_dialog("ACK", "c2", &tag, 1, "z9hG4bKa1", "").as_bytes(),
    );
    let t1 = epoch() + Duration::from_secs(5);
    c.handle_message(
        t1,
        peer(UNIT),
        in_dialog("BYE", "c2", &tag, 2, "z9hG4bKb1", "").as_bytes(),
    );
    assert_eq!(first_lines(&sent(&mut c)), vec!["SIP/2.0 200 OK"]);
    let ev = events(&mut c);
    assert!(ev.iter().any(|e| matches!(e, CallEvent::MediaStop { .. })));
    assert!(ev.iter().any(|e| matches!(e, CallEvent::Ended { reason: EndReason::RemoteBye, duration, .. } if *duration == Duration::from_secs(5))));
    assert_eq!(c.active_calls(), 0);
    // The port comes back into the pool (round robin: after the others).
    assert_eq!(c.ports.in_use(), 0);
}

#[test]
fn unknown_did_gets_404() {
    let mut c = core();
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite("999", "c3", "z9hG4bKi3", OFFER, "").as_bytes(),
    );
    assert!(first_lines(&sent(&mut c)).contains(&"SIP/2.0 404 Not Found".to_string()));
    assert_eq!(c.active_calls(), 0);
}

#[test]
fn source_outside_the_trunks_without_devices_gets_403() {
    let mut c = core();
    c.handle_message(
        epoch(),
        peer(STRANGER),
        invite("112", "c4", "z9hG4bKi4", OFFER, "").as_bytes(),
    );
    assert!(first_lines(&sent(&mut c))
        .iter()
        .any(|l| l.starts_with("SIP/2.0 403")));
}

#[test]
fn offer_without_g711_gets_488() {
    let mut c = core();
    let g729 = OFFER.replace("RTP/AVP 0 8 101", "RTP/AVP 18").replace(
        "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n",
        "a=rtpmap:18 G729/8000\r\n",
    );
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite("112", "c5", "z9hG4bKi5", &g729, "").as_bytes(),
    );
    assert!(first_lines(&sent(&mut c))
        .iter()
        .any(|l| l.starts_with("SIP/2.0 488")));
    assert_eq!(c.ports.in_use(), 0);
}

#[test]
fn concurrency_limit_gives_503_with_retry_after() {
    let admission = Admission::for_tests(&["127.0.0.0/8"], 1, 0);
    let mut c = TestCore::new(CallCore::new(CoreConfig::for_tests(), admission, None, 1));
    answered_call(&mut c, "c6");
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite("112", "c7", "z9hG4bKi7", OFFER, "").as_bytes(),
    );
    let out = sent(&mut c);
    let refusal = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 503"))
        .expect("503");
    assert!(refusal.contains("Retry-After: "), "{refusal}");
    assert_eq!(c.active_calls(), 1);
}

#[test]
fn cancel_while_ringing_gets_487_and_ends_the_call() {
    let mut config = CoreConfig::for_tests();
    config.answer_delay = Duration::from_secs(3);
    let mut c = core_with(config);
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite("112", "c8", "z9hG4bKi8", OFFER, "").as_bytes(),
    );
    assert_eq!(
        first_lines(&sent(&mut c)),
        vec!["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing"]
    );
    let cancel = "CANCEL sip:112@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKi8;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:unit@127.0.0.1>;tag=u1\r\nTo: <sip:112@127.0.0.1>\r\nCall-ID: c8\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n";
    c.handle_message(
        epoch() + Duration::from_secs(1),
        peer(UNIT),
        cancel.as_bytes(),
    );
    let lines = first_lines(&sent(&mut c));
    assert!(lines.contains(&"SIP/2.0 200 OK".to_string()), "{lines:?}");
    assert!(
        lines.contains(&"SIP/2.0 487 Request Terminated".to_string()),
        "{lines:?}"
    );
    assert!(events(&mut c).iter().any(|e| matches!(
        e,
        CallEvent::Ended {
            reason: EndReason::Cancelled,
            ..
        }
    )));
    // The answer timer fires later and finds nothing to answer.
    c.handle_timeout(epoch() + Duration::from_secs(3));
    assert!(!first_lines(&sent(&mut c))
        .iter()
        .any(|l| l.starts_with("SIP/2.0 200")));
}

#[test]
fn ring_delay_answers_after_the_configured_time() {
    let mut config = CoreConfig::for_tests();
    config.answer_delay = Duration::from_secs(2);
    let mut c = core_with(config);
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite("112", "c9", "z9hG4bKi9", OFFER, "").as_bytes(),
    );
    sent(&mut c);
    c.handle_timeout(epoch() + Duration::from_millis(1999));
    assert!(first_lines(&sent(&mut c))
        .iter()
        .all(|l| !l.starts_with("SIP/2.0 200")));
    c.handle_timeout(epoch() + Duration::from_secs(2));
    assert!(first_lines(&sent(&mut c)).contains(&"SIP/2.0 200 OK".to_string()));
}

#[test]
fn no_call_is_cut_without_max_duration() {
    let mut c = core();
    let tag = to_tag_of(&answered_call(&mut c, "c10"));
    c.handle_message(
        epoch(),
        peer(UNIT),
        in_dialog("ACK", "c10", &tag, 1, "z9hG4bKa10", "").as_bytes(),
    );
    for minutes in [2u64, 10, 60, 600] {
        c.handle_timeout(epoch() + Duration::from_secs(minutes * 60));
        assert!(first_lines(&sent(&mut c))
            .iter()
            .all(|l| !l.starts_with("BYE")));
    }
    assert_eq!(c.active_calls(), 1);
}

#[test]
fn max_duration_sends_bye_and_ends_on_its_200() {
    let mut config = CoreConfig::for_tests();
    config.max_duration = Some(Duration::from_secs(60));
    let mut c = core_with(config);
    let tag = to_tag_of(&answered_call(&mut c, "c11"));
    c.handle_message(
        epoch(),
        peer(UNIT),
        in_dialog("ACK", "c11", &tag, 1, "z9hG4bKa11", "").as_bytes(),
    );
    c.handle_timeout(epoch() + Duration::from_secs(60));
    let out = sent(&mut c);
    let bye = out.iter().find(|m| m.starts_with("BYE ")).expect("BYE");
    assert!(
        bye.contains(&format!("From: <sip:112@127.0.0.1>;tag={tag}")),
        "{bye}"
    );
    let branch = bye
        .split("branch=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim();
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\nFrom: <sip:112@127.0.0.1>;tag={tag}\r\n\
To: <sip:unit@127.0.0.1>;tag=u1\r\nCall-ID: c11\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    c.handle_message(epoch() + Duration::from_secs(61), peer(UNIT), ok.as_bytes());
    assert!(events(&mut c).iter().any(|e| matches!(
        e,
        CallEvent::Ended {
            reason: EndReason::MaxDuration,
            ..
        }
    )));
    assert_eq!(c.active_calls(), 0);
}

#[test]
fn missing_ack_hangs_up_after_64_t1() {
    let mut c = core();
    answered_call(&mut c, "c12");
    c.handle_timeout(epoch() + Duration::from_secs(33));
    let out = sent(&mut c);
    assert!(
        out.iter().any(|m| m.starts_with("SIP/2.0 200")),
        "2xx retransmitted"
    );
    assert!(
        out.iter().any(|m| m.starts_with("BYE ")),
        "BYE after no ACK"
    );
}

#[test]
fn reinvite_hold_is_answered_with_a_new_version_and_updates_media() {
    let mut c = core();
    let tag = to_tag_of(&answered_call(&mut c, "c13"));
    c.handle_message(
        epoch(),
        peer(UNIT),
        in_dialog("ACK", "c13", &tag, 1, "z9hG4bKa13", "").as_bytes(),
    );
    events(&mut c);
    let hold = OFFER.replace("a=ptime:20\r\n", "a=ptime:20\r\na=sendonly\r\n");
    c.handle_message(
        epoch(),
        peer(UNIT),
        in_dialog("INVITE", "c13", &tag, 2, "z9hG4bKr13", &hold).as_bytes(),
    );
    let out = sent(&mut c);
    let ok = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .expect("200");
    assert!(ok.contains("a=recvonly"), "{ok}");
    assert!(
        ok.contains("o=alarmgate") && ok.contains(" 2 IN IP4"),
        "{ok}"
    );
    assert!(events(&mut c)
        .iter()
        .any(|e| matches!(e, CallEvent::MediaUpdate { .. })));
}

#[test]
fn session_timer_below_min_se_gets_422_and_a_good_one_is_reflected() {
    let mut c = core();
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite(
            "112",
            "c14",
            "z9hG4bKi14",
            OFFER,
            "Session-Expires: 30\r\nSupported: timer\r\n",
        )
        .as_bytes(),
    );
    let out = sent(&mut c);
    let r = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 422"))
        .expect("422");
    assert!(r.contains("Min-SE: 90"));
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite(
            "112",
            "c15",
            "z9hG4bKi15",
            OFFER,
            "Session-Expires: 600\r\nSupported: timer\r\n",
        )
        .as_bytes(),
    );
    let out = sent(&mut c);
    let ok = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .expect("200");
    assert!(ok.contains("Session-Expires: 600;refresher=uac"), "{ok}");
    assert!(ok.contains("Require: timer"));
}

#[test]
fn update_refresh_in_dialog_gets_200_with_session_expires() {
    let mut c = core();
    let ok = {
        c.handle_message(
            epoch(),
            peer(UNIT),
            invite(
                "112",
                "c16",
                "z9hG4bKi16",
                OFFER,
                "Session-Expires: 600\r\n",
            )
            .as_bytes(),
        );
        sent(&mut c)
            .into_iter()
            .find(|m| m.starts_with("SIP/2.0 200"))
            .unwrap()
    };
    let tag = to_tag_of(&ok);
    let update = in_dialog("UPDATE", "c16", &tag, 2, "z9hG4bKu16", "").replace(
        "Content-Length",
        "Session-Expires: 600;refresher=uac\r\nContent-Length",
    );
    c.handle_message(
        epoch() + Duration::from_secs(300),
        peer(UNIT),
        update.as_bytes(),
    );
    let out = sent(&mut c);
    let r = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .expect("200");
    assert!(r.contains("Session-Expires: 600;refresher=uac"), "{r}");
}

#[test]
fn options_lists_what_we_support() {
    let mut c = core();
    let options = "OPTIONS sip:112@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKo1\r\nMax-Forwards: 70\r\n\
From: <sip:unit@127.0.0.1>;tag=u1\r\nTo: <sip:112@127.0.0.1>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    c.handle_message(epoch(), peer(STRANGER), options.as_bytes());
    let out = sent(&mut c);
    assert!(out[0].starts_with("SIP/2.0 200"));
    assert!(out[0].contains("Accept: application/sdp") && out[0].contains("Supported: timer"));
}

#[test]
fn request_in_unknown_dialog_gets_481() {
    let mut c = core();
    c.handle_message(
        epoch(),
        peer(UNIT),
        in_dialog("BYE", "nope", "x", 2, "z9hG4bKn1", "").as_bytes(),
    );
    assert_eq!(
        first_lines(&sent(&mut c)),
        vec!["SIP/2.0 481 Call/Transaction Does Not Exist"]
    );
}

#[test]
fn drain_refuses_new_calls_and_hangs_up_after_grace() {
    let mut c = core();
    let tag = to_tag_of(&answered_call(&mut c, "c17"));
    c.handle_message(
        epoch(),
        peer(UNIT),
        in_dialog("ACK", "c17", &tag, 1, "z9hG4bKa17", "").as_bytes(),
    );
    c.begin_drain(epoch(), Duration::from_secs(30));
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite("112", "c18", "z9hG4bKi18", OFFER, "").as_bytes(),
    );
    assert!(first_lines(&sent(&mut c))
        .iter()
        .any(|l| l.starts_with("SIP/2.0 503")));
    c.handle_timeout(epoch() + Duration::from_secs(29));
    assert!(first_lines(&sent(&mut c))
        .iter()
        .all(|l| !l.starts_with("BYE")));
    c.handle_timeout(epoch() + Duration::from_secs(30));
    assert!(first_lines(&sent(&mut c))
        .iter()
        .any(|l| l.starts_with("BYE")));
    assert!(!c.is_drained());
    c.handle_timeout(epoch() + Duration::from_secs(70));
    assert!(c.is_drained());
}

#[test]
fn garbage_never_panics_and_gets_no_call() {
    let mut c = core();
    let inputs: [&[u8]; 5] = [
        b"",
        b"\r\n\r\n",
        b"INVITE",
        &[0xff, 0x00, 0x13],
        b"SIP/2.0 200 OK\r\n\r\n",
    ];
    for input in inputs {
        c.handle_message(epoch(), peer(UNIT), input);
        sent(&mut c);
    }
    let full = invite("112", "c19", "z9hG4bKi19", OFFER, "");
    for cut in 0..full.len() {
        c.handle_message(epoch(), peer(UNIT), &full.as_bytes()[..cut]);
        sent(&mut c);
    }
    assert_eq!(c.active_calls(), 0);
}

#[test]
fn requests_the_transaction_layer_cannot_key_get_a_stateless_answer() {
    let mut c = core();
    let bad_version =
        invite("112", "c20", "z9hG4bKi20", OFFER, "").replacen("SIP/2.0\r\n", "SIP/7.0\r\n", 1);
    c.handle_message(epoch(), peer(UNIT), bad_version.as_bytes());
    let out = sent(&mut c);
    assert_eq!(first_lines(&out), vec!["SIP/2.0 505 Version Not Supported"]);
    assert!(
        out[0].contains(";tag=sl"),
        "a To tag even when stateless: {}",
        out[0]
    );
    // A retransmission gets the same answer, with the same tag.
    c.handle_message(epoch(), peer(UNIT), bad_version.as_bytes());
    assert_eq!(to_tag_of(&sent(&mut c)[0]), to_tag_of(&out[0]));
    let bad_via = invite("112", "c21", "z9hG4bKi21", OFFER, "").replace(
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKi21;rport",
        "Via: 192.0.2.15;;,;,,",
    );
    c.handle_message(epoch(), peer(UNIT), bad_via.as_bytes());
    let out = sent(&mut c);
    assert_eq!(first_lines(&out).len(), 1);
    assert!(out[0].starts_with("SIP/2.0 400"), "{}", out[0]);
    assert_eq!(c.active_calls(), 0);
}

#[test]
fn device_outside_the_trunks_is_challenged_then_admitted() {
    use crate::sip::digest::{respond, Algorithm};
    let mut c = core_with_devices(vec![Algorithm::Md5, Algorithm::Sha256]);
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite("112", "c30", "z9hG4bKa30", OFFER, "").as_bytes(),
    );
    let out = sent(&mut c);
    let challenge = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 401"))
        .expect("401");
    let headers: Vec<&str> = challenge
        .lines()
        .filter(|l| l.starts_with("WWW-Authenticate:"))
        .collect();
    assert_eq!(headers.len(), 2);
    assert!(
        headers[0].contains("algorithm=MD5"),
        "configured order: {challenge}"
    );
    let value = headers[0].trim_start_matches("WWW-Authenticate:").trim();
    let authorization = respond(
        value,
        "INVITE",
        "sip:112@127.0.0.1",
        "unit-9",
        "s3cret",
        "c0ffee",
        1,
    )
    .unwrap();
    let retry = invite(
        "112",
        "c30",
        "z9hG4bKb30",
        OFFER,
        &format!("Authorization: {authorization}\r\n"),
    )
    .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE");
    c.handle_message(epoch(), peer(UNIT), retry.as_bytes());
    assert!(first_lines(&sent(&mut c)).contains(&"SIP/2.0 200 OK".to_string()));
    let wrong = respond(
        value,
        "INVITE",
        "sip:112@127.0.0.1",
        "unit-9",
        "guess",
        "c0ffee",
        1,
    )
    .unwrap();
    let bad = invite(
        "112",
        "c31",
        "z9hG4bKc31",
        OFFER,
        &format!("Authorization: {wrong}\r\n"),
    );
    c.handle_message(epoch(), peer(UNIT), bad.as_bytes());
    assert!(first_lines(&sent(&mut c))
        .iter()
        .any(|l| l.starts_with("SIP/2.0 403")));
    assert_eq!(c.active_calls(), 1);
}

#[test]
fn no_storage_means_503_so_the_unit_fails_over() {
    let mut c = core();
    c.set_storage_ok(false);
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite("112", "c40", "z9hG4bKs40", OFFER, "").as_bytes(),
    );
    let out = sent(&mut c);
    let refusal = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 503"))
        .expect("503");
    assert!(refusal.contains("Retry-After: 30"), "{refusal}");
    assert_eq!(c.active_calls(), 0);
    c.set_storage_ok(true);
    c.handle_message(
        epoch(),
        peer(UNIT),
        invite("112", "c41", "z9hG4bKs41", OFFER, "").as_bytes(),
    );
    assert!(first_lines(&sent(&mut c)).contains(&"SIP/2.0 200 OK".to_string()));
}
