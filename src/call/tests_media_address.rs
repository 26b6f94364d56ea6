//! Strict media in the call core: offers whose `c=` we will not send to get
//! 488 with a Warning, for INVITE and re-INVITE; `c=0.0.0.0` in a
//! re-INVITE is a hold.

use super::tests::{
    answered_call, core, core_with, events, first_lines, in_dialog, invite, peer, sent, to_tag_of,
    OFFER, UNIT,
};
use super::*;
use crate::clock::epoch;

fn offer_to(c: &str) -> String {
    OFFER.replace("c=IN IP4 127.0.0.1", &format!("c=IN IP4 {c}"))
}

fn warning(msg: &str) -> &str {
    msg.lines()
        .find_map(|l| l.strip_prefix("Warning: "))
        .unwrap_or_default()
}

#[test]
fn invite_to_broadcast_multicast_or_unspecified_gets_488_and_no_port() {
    for (i, c) in ["255.255.255.255", "239.1.2.3", "0.0.0.0"]
        .iter()
        .enumerate()
    {
        let mut core = core();
        let call_id = format!("b{i}");
        let req = invite("112", &call_id, "z9hG4bKb", &offer_to(c), "");
        core.handle_message(epoch(), peer(UNIT), req.as_bytes());
        let out = sent(&mut core);
        assert_eq!(
            first_lines(&out).last().map(String::as_str),
            Some("SIP/2.0 488 Not Acceptable Here"),
            "{c}: {out:?}"
        );
        let last = out.last().map(String::as_str).unwrap_or_default();
        assert!(warning(last).starts_with("301 127.0.0.1 \""), "{last}");
        assert!(events(&mut core).is_empty(), "no media for {c}");
        assert_eq!((core.ports.in_use(), core.active_calls()), (0, 0));
    }
}

#[test]
fn an_address_outside_the_allow_list_gets_488() {
    let mut config = CoreConfig::for_tests();
    config.sdp_allow = vec!["10.0.0.0/8".parse().expect("cidr")];
    let mut core = core_with(config);
    let req = invite("112", "a1", "z9hG4bKa", OFFER, "");
    core.handle_message(epoch(), peer(UNIT), req.as_bytes());
    let out = sent(&mut core);
    assert!(out.iter().any(|m| m.starts_with("SIP/2.0 488")), "{out:?}");
    let req = invite("112", "a2", "z9hG4bKa2", &offer_to("10.1.2.3"), "");
    core.handle_message(epoch(), peer(UNIT), req.as_bytes());
    assert!(sent(&mut core).iter().any(|m| m.starts_with("SIP/2.0 200")));
}

#[test]
fn reinvite_to_broadcast_gets_488_but_zero_address_is_a_hold() {
    let mut core = core();
    let tag = to_tag_of(&answered_call(&mut core, "r1"));
    let ack = in_dialog("ACK", "r1", &tag, 1, "z9hG4bKr1a", "");
    core.handle_message(epoch(), peer(UNIT), ack.as_bytes());
    events(&mut core);
    let bad = in_dialog(
        "INVITE",
        "r1",
        &tag,
        2,
        "z9hG4bKr1b",
        &offer_to("255.255.255.255"),
    );
    core.handle_message(epoch(), peer(UNIT), bad.as_bytes());
    let out = sent(&mut core);
    assert!(out.iter().any(|m| m.starts_with("SIP/2.0 488")), "{out:?}");
    assert!(events(&mut core).is_empty(), "media unchanged");
    assert_eq!(core.active_calls(), 1, "the call goes on");
    let hold = in_dialog("INVITE", "r1", &tag, 3, "z9hG4bKr1c", &offer_to("0.0.0.0"));
    core.handle_message(epoch(), peer(UNIT), hold.as_bytes());
    let out = sent(&mut core);
    assert!(out.iter().any(|m| m.starts_with("SIP/2.0 200")), "{out:?}");
    let ev = events(&mut core);
    let [CallEvent::MediaUpdate { media, .. }] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(media.remote, None, "held");
}
