//! OPTIONS probes (built by the core, sent by the endpoint) and the
//! REGISTER hand-off by the endpoint, in simulated time.

use super::tests_uac::{core_with, events, first_lines, header, op, reply, sent, OP};
use super::*;
use crate::clock::epoch;
use crate::sip::endpoint::Inbound;
use crate::sip::message::SipMessage;

fn register(branch: &str) -> String {
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {OP};branch={branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:op1@127.0.0.1>;tag=r1\r\nTo: <sip:op1@127.0.0.1>\r\n\
Call-ID: reg1\r\nCSeq: 1 REGISTER\r\nContact: <sip:op1@{OP}>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_probe_answered_with_any_final_response_is_ok() {
    for code in [200, 404, 503] {
        let mut c = core_with(CoreConfig::for_tests());
        let probe = c
            .probe(epoch(), op(), &format!("sip:op1@{OP}"))
            .expect("a SIP URI");
        let out = sent(&mut c);
        assert_eq!(
            first_lines(&out),
            vec![format!("OPTIONS sip:op1@{OP} SIP/2.0")]
        );
        assert_eq!(header(&out[0], "CSeq"), "1 OPTIONS");
        c.handle_message(epoch(), op(), &reply(&out[0], 100, ""));
        assert!(c.probe_results().is_empty());
        c.handle_message(epoch(), op(), &reply(&out[0], code, ""));
        assert_eq!(c.probe_results(), vec![(probe, true)]);
        assert!(events(&mut c).is_empty(), "nothing for the call core");
        c.handle_message(epoch(), op(), &reply(&out[0], code, ""));
        assert!(
            c.probe_results().is_empty(),
            "a retransmission reports nothing"
        );
    }
}

#[test]
fn a_probe_without_answer_fails_on_timer_f_and_on_transport_errors() {
    let mut c = core_with(CoreConfig::for_tests());
    let first = c.probe(epoch(), op(), "sip:op1@127.0.0.1:5080");
    let second = c.probe(epoch(), op(), "sip:op2@127.0.0.1:5080");
    assert_ne!(first, second);
    c.handle_timeout(epoch() + Duration::from_millis(31_999));
    assert!(c.probe_results().is_empty());
    c.handle_timeout(epoch() + Duration::from_secs(32));
    let results = c.probe_results();
    assert!(results.contains(&(first.expect("sent"), false)));
    assert!(results.contains(&(second.expect("sent"), false)));
    let third = c.probe(epoch(), op(), "sip:op1@127.0.0.1:5080");
    c.handle_send_failed(epoch(), op());
    assert_eq!(c.probe_results(), vec![(third.expect("sent"), false)]);
    assert!(events(&mut c).is_empty(), "nothing for the call core");
    assert!(c.probe(epoch(), op(), "not a uri").is_none(), "not built");
}

#[test]
fn register_is_handed_to_the_registrar_and_its_reply_sent() {
    let mut config = CoreConfig::for_tests();
    config.registrar = true;
    let mut c = core_with(config);
    c.handle_message(epoch(), op(), register("z9hG4bKreg1").as_bytes());
    assert!(
        events(&mut c).is_empty(),
        "REGISTER never reaches the call core"
    );
    let ev = std::mem::take(&mut c.others);
    let [Inbound::Register { tx, peer, request }] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(*peer, op());
    assert!(
        sent(&mut c).is_empty(),
        "nothing until the registrar answers"
    );
    let mut ok = message::response_to(request, 200, None);
    message::add_header(&mut ok, "Contact", &format!("<sip:op1@{OP}>;expires=300"));
    c.ep.respond(epoch(), tx, ok).expect("live transaction");
    let out = sent(&mut c);
    assert_eq!(first_lines(&out), vec!["SIP/2.0 200 OK"]);
    assert!(header(&out[0], "To").contains(";tag="), "{}", out[0]);
    assert!(header(&out[0], "Contact").ends_with("expires=300"));
    // A retransmitted REGISTER gets the same answer from the layer.
    c.handle_message(epoch(), op(), register("z9hG4bKreg1").as_bytes());
    assert_eq!(sent(&mut c), out);
    assert!(c.others.is_empty());
    let late = message::response_to(request, 200, None);
    assert!(c
        .ep
        .respond(epoch() + Duration::from_secs(60), tx, late)
        .is_err());
}

#[test]
fn without_a_registrar_register_gets_405() {
    let mut c = core_with(CoreConfig::for_tests());
    c.handle_message(epoch(), op(), register("z9hG4bKreg2").as_bytes());
    let out = sent(&mut c);
    assert_eq!(first_lines(&out), vec!["SIP/2.0 405 Method Not Allowed"]);
    assert!(events(&mut c).is_empty());
    let parsed = message::parse(out[0].as_bytes());
    assert!(matches!(parsed, Ok(SipMessage::Response(_))));
}
