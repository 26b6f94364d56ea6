//! Ending outgoing legs in simulated time: CANCEL, a 200 crossing it, BYE
//! either way; re-INVITE on a leg; what `originate` refuses.

use super::tests_uac::{
    answered, call_op, core_with, ended, events, failed, first_lines, from_op, header, op,
    pcmu_answer, reply, sent, DEVICE, OP,
};
use super::*;
use crate::clock::epoch;
use crate::sip::sdp::Codec;

#[test]
fn cancel_while_ringing_ends_on_the_487_which_the_layer_acks() {
    let mut c = core_with(CoreConfig::for_tests());
    let (leg, invite) = call_op(&mut c);
    c.handle_message(epoch(), op(), &reply(&invite, 180, ""));
    events(&mut c);
    c.cancel_leg(epoch() + Duration::from_secs(1), leg);
    let out = sent(&mut c);
    assert_eq!(
        first_lines(&out),
        vec![format!("CANCEL sip:op1@{OP} SIP/2.0")]
    );
    assert!(
        events(&mut c).is_empty(),
        "ended only when the INVITE is over"
    );
    c.handle_message(epoch(), op(), &reply(&out[0], 200, ""));
    c.handle_message(epoch(), op(), &reply(&invite, 487, ""));
    assert_eq!(
        first_lines(&sent(&mut c)),
        vec![format!("ACK sip:op1@{OP} SIP/2.0")]
    );
    let ev = events(&mut c);
    assert_eq!(
        (failed(&ev), ended(&ev)),
        (vec![], vec![EndReason::Cancelled])
    );
    assert_eq!(c.ports.in_use(), 0);
}

#[test]
fn cancel_before_any_provisional_waits_for_one_or_gives_up_on_timer_b() {
    let mut c = core_with(CoreConfig::for_tests());
    let (leg, _) = call_op(&mut c);
    c.cancel_leg(epoch(), leg);
    assert!(first_lines(&sent(&mut c))
        .iter()
        .all(|l| !l.starts_with("CANCEL")));
    c.handle_timeout(epoch() + Duration::from_secs(32));
    let ev = events(&mut c);
    assert_eq!(
        (failed(&ev), ended(&ev)),
        (vec![], vec![EndReason::Cancelled])
    );
}

#[test]
fn a_200_crossing_our_cancel_is_acked_and_byed() {
    let mut c = core_with(CoreConfig::for_tests());
    let (leg, invite) = call_op(&mut c);
    c.handle_message(epoch(), op(), &reply(&invite, 180, ""));
    c.cancel_leg(epoch(), leg);
    sent(&mut c);
    let answer = pcmu_answer(&invite);
    c.handle_message(epoch(), op(), &reply(&invite, 200, &answer));
    let out = sent(&mut c);
    assert_eq!(
        first_lines(&out),
        vec![
            format!("ACK sip:op1@{OP} SIP/2.0"),
            format!("BYE sip:op1@{OP} SIP/2.0")
        ]
    );
    assert_eq!(header(&out[1], "CSeq"), "2 BYE");
    let ev = events(&mut c);
    assert!(ev.iter().all(|e| !matches!(
        e,
        CallEvent::LegAnswered { .. } | CallEvent::MediaStart { .. }
    )));
    c.handle_message(epoch(), op(), &reply(&out[1], 200, ""));
    assert_eq!(ended(&events(&mut c)), vec![EndReason::Cancelled]);
    assert_eq!((c.active_calls(), c.ports.in_use()), (0, 0));
}

#[test]
fn bye_from_the_operator_ends_the_leg_only() {
    let mut c = core_with(CoreConfig::for_tests());
    let (leg, invite, _) = answered(&mut c);
    sent(&mut c);
    let later = epoch() + Duration::from_secs(30);
    c.handle_message(later, op(), &from_op("BYE", &invite, 1, "z9hG4bKob1", ""));
    assert_eq!(first_lines(&sent(&mut c)), vec!["SIP/2.0 200 OK"]);
    let ev = events(&mut c);
    assert!(ev.contains(&CallEvent::MediaStop {
        call: leg,
        group: DEVICE
    }));
    assert_eq!(ended(&ev), vec![EndReason::RemoteBye]);
    assert_eq!(c.active_calls(), 0);
}

#[test]
fn our_bye_on_a_leg_uses_its_dialog_and_reason() {
    let mut c = core_with(CoreConfig::for_tests());
    let (leg, _, _) = answered(&mut c);
    sent(&mut c);
    c.hang_up_call(
        epoch() + Duration::from_secs(9),
        leg,
        EndReason::BridgePeerHungUp,
    );
    let out = sent(&mut c);
    assert_eq!(first_lines(&out), vec![format!("BYE sip:op1@{OP} SIP/2.0")]);
    assert!(header(&out[0], "To").ends_with(";tag=op1"));
    assert_eq!(
        events(&mut c),
        vec![CallEvent::MediaStop {
            call: leg,
            group: DEVICE
        }]
    );
    c.handle_message(epoch(), op(), &reply(&out[0], 200, ""));
    assert_eq!(ended(&events(&mut c)), vec![EndReason::BridgePeerHungUp]);
}

#[test]
fn a_hold_reinvite_from_the_operator_updates_the_legs_media() {
    let mut c = core_with(CoreConfig::for_tests());
    let (leg, invite, _) = answered(&mut c);
    sent(&mut c);
    let hold = pcmu_answer(&invite).replace("a=sendrecv", "a=sendonly");
    c.handle_message(
        epoch(),
        op(),
        &from_op("INVITE", &invite, 2, "z9hG4bKor1", &hold),
    );
    let out = sent(&mut c);
    let ok = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .expect("200");
    let port = super::tests_uac::sdp_port(&invite);
    assert!(
        ok.contains(&format!("m=audio {port} RTP/AVP 0 101")),
        "{ok}"
    );
    assert!(ok.contains("a=recvonly"));
    let ev = events(&mut c);
    assert!(
        matches!(&ev[..], [CallEvent::MediaUpdate { call, group, .. }] if *call == leg && *group == DEVICE)
    );
}

#[test]
fn originate_refuses_bad_uris_empty_codecs_and_a_full_pool() {
    let mut c = core_with(CoreConfig::for_tests());
    let base = Originate {
        parent: None,
        request_uri: "sip:op1@127.0.0.1".into(),
        to: "sip:op1@127.0.0.1".into(),
        from_user: String::new(),
        peer: op(),
        tenant: "demo".into(),
        codecs: vec![Codec::Pcma],
    };
    let bad = Originate {
        request_uri: "sip:x\r\nVia: evil".into(),
        ..base.clone()
    };
    assert!(matches!(
        c.originate(epoch(), bad),
        Err(OriginateError::InvalidUri { .. })
    ));
    let none = Originate {
        codecs: vec![],
        ..base.clone()
    };
    assert_eq!(c.originate(epoch(), none), Err(OriginateError::NoCodec));
    assert_eq!(c.ports.in_use(), 0);
    for _ in 0..6 {
        c.originate(epoch(), base.clone())
            .expect("ports 40000..=40010");
    }
    assert_eq!(c.originate(epoch(), base), Err(OriginateError::NoPort));
    let invites = sent(&mut c);
    assert!(
        header(&invites[0], "From").starts_with("<sip:alarmgate@"),
        "empty user"
    );
}

#[test]
fn a_2xx_from_another_fork_is_acked_and_byed_and_the_leg_stays() {
    let mut c = core_with(CoreConfig::for_tests());
    let (leg, invite, _) = answered(&mut c);
    sent(&mut c);
    let answer = pcmu_answer(&invite);
    let fork = String::from_utf8(reply(&invite, 200, &answer))
        .expect("utf-8")
        .replace(";tag=op1", ";tag=op2");
    c.handle_message(epoch(), op(), fork.as_bytes());
    let out = sent(&mut c);
    let lines = first_lines(&out);
    assert_eq!(
        lines,
        vec![
            format!("ACK sip:op1@{OP} SIP/2.0"),
            format!("BYE sip:op1@{OP} SIP/2.0")
        ]
    );
    assert!(out.iter().all(|m| header(m, "To").ends_with(";tag=op2")));
    assert!(events(&mut c).is_empty());
    c.handle_message(epoch(), op(), fork.as_bytes());
    assert_eq!(
        first_lines(&sent(&mut c)),
        vec![format!("ACK sip:op1@{OP} SIP/2.0")]
    );
    assert_eq!(
        c.active_calls(),
        1,
        "the first fork's leg {leg:?} is still up"
    );
}

#[test]
fn drain_refuses_new_legs_and_cancels_early_ones() {
    let mut c = core_with(CoreConfig::for_tests());
    let (leg, invite) = call_op(&mut c);
    c.handle_message(epoch(), op(), &reply(&invite, 180, ""));
    c.begin_drain(epoch(), Duration::from_secs(5));
    let again = Originate {
        parent: None,
        request_uri: format!("sip:op1@{OP}"),
        to: format!("sip:op1@{OP}"),
        from_user: "x".into(),
        peer: op(),
        tenant: "demo".into(),
        codecs: vec![Codec::Pcma],
    };
    assert_eq!(c.originate(epoch(), again), Err(OriginateError::Draining));
    c.handle_timeout(epoch() + Duration::from_secs(5));
    let out = sent(&mut c);
    let cancel = out
        .iter()
        .find(|m| m.starts_with("CANCEL "))
        .expect("CANCEL");
    assert!(!c.is_drained());
    c.handle_message(epoch(), op(), &reply(cancel, 200, ""));
    c.handle_message(epoch(), op(), &reply(&invite, 487, ""));
    let ev = events(&mut c);
    assert!(ev.contains(&CallEvent::LegRinging { leg }));
    assert_eq!(ended(&ev), vec![EndReason::Shutdown]);
    assert!(c.is_drained());
}
