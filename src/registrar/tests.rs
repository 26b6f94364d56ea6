//! The registrar with real REGISTERs (pjsua and Linphone style) in
//! simulated time: challenges, answers, refresh, unregistration, several
//! contacts, malformed requests, blocking, reload, snapshot.

use super::test_support::*;
use super::*;
use crate::sip::digest::{parse_challenge, Algorithm, RejectReason};
use crate::sip::message;

pub(super) const ALICE_PHONE: &str = "sip:alice@192.168.1.20:5060";
pub(super) const BOB_PHONE: &str = "sip:bob@10.0.0.5:43210";

#[test]
fn first_register_is_challenged_with_sha256_then_md5() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    let reply = r.handle_register(
        at(0),
        peer,
        &parse(&pjsua("alice", ALICE_PHONE, "c1", 1, 300)),
    );
    assert_eq!(code(&reply), 401);
    assert_eq!(reply.outcome, RegisterOutcome::Challenged { stale: false });
    let challenges = headers(&reply.response, "WWW-Authenticate");
    let parsed: Vec<_> = challenges
        .iter()
        .map(|c| parse_challenge(c).unwrap())
        .collect();
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0].algorithm, Algorithm::Sha256.into());
    assert_eq!(parsed[1].algorithm, Algorithm::Md5.into());
    assert!(parsed.iter().all(|c| c.realm == REALM && !c.stale));
    assert!(message::to_tag(&reply.response).is_some());
    assert!(events(&mut r).is_empty() && !r.is_reachable(&op("alice")));
}

#[test]
fn right_answers_bind_and_the_200_lists_the_contact_with_expires() {
    let mut r = registrar();
    let alice = udp("203.0.113.5:5060");
    let reply = register(
        &mut r,
        at(0),
        alice,
        &pjsua("alice", ALICE_PHONE, "c1", 1, 300),
    );
    assert_eq!(code(&reply), 200, "{:?}", reply.outcome);
    let bound = RegisterOutcome::Bound {
        operator: op("alice"),
        bindings: 1,
    };
    assert_eq!(reply.outcome, bound);
    let contact = format!("<{ALICE_PHONE};ob>;expires=300");
    assert_eq!(headers(&reply.response, "Contact"), vec![contact]);
    let added = RegistrarEvent::BindingAdded {
        operator: op("alice"),
        contact: format!("{ALICE_PHONE};ob"),
        peer: alice,
    };
    assert_eq!(events(&mut r), vec![added, reachable("alice", true)]);
    // bob has only an MD5 hash and answers the MD5 challenge, over TCP.
    let bob = tcp("198.51.100.7:43210", 9);
    let reply = register(
        &mut r,
        at(1),
        bob,
        &linphone("bob", BOB_PHONE, "lp1", 20, 3600),
    );
    assert_eq!(code(&reply), 200, "{:?}", reply.outcome);
    let bindings = r.contacts(&op("bob"));
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].peer, bob, "calls go back over the TCP flow");
    assert_eq!(bindings[0].contact, format!("{BOB_PHONE};transport=tcp"));
    assert_eq!(bindings[0].expires_at, at(1 + 3600));
}

#[test]
fn a_wrong_password_is_403_and_counted() {
    let counts = Counting::default();
    ::metrics::with_local_recorder(&counts, || {
        let mut r = registrar();
        let peer = udp("203.0.113.5:5060");
        let text = pjsua("alice", ALICE_PHONE, "c1", 1, 300);
        let challenge = r.handle_register(at(0), peer, &parse(&text));
        let auth = answer(&challenge, "SHA-256", "alice", "guess", 1);
        let reply = r.handle_register(at(0), peer, &parse(&with_auth(&text, &auth)));
        assert_eq!(code(&reply), 403);
        assert!(matches!(
            reply.outcome,
            RegisterOutcome::Forbidden(AuthFailure::Digest(RejectReason::BadResponse { .. }))
        ));
        assert!(!r.is_reachable(&op("alice")));
    });
    assert_eq!(
        counts.get(&format!(
            "{}{{reason=bad_response}}",
            metrics::AUTH_FAILURES
        )),
        1
    );
    assert_eq!(
        counts.get(&format!("{}{{outcome=forbidden}}", metrics::REGISTERS)),
        1
    );
    assert_eq!(
        counts.get(&format!("{}{{outcome=challenged}}", metrics::REGISTERS)),
        1
    );
}

#[test]
fn a_replayed_request_is_refused() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    let text = pjsua("alice", ALICE_PHONE, "c1", 1, 300);
    let challenge = r.handle_register(at(0), peer, &parse(&text));
    let signed = with_auth(&text, &answer(&challenge, "MD5", "alice", "alice-pw", 1));
    assert_eq!(code(&r.handle_register(at(1), peer, &parse(&signed))), 200);
    let replay = r.handle_register(at(2), udp("192.0.2.66:5060"), &parse(&signed));
    assert_eq!(code(&replay), 403);
    assert!(matches!(
        replay.outcome,
        RegisterOutcome::Forbidden(AuthFailure::Digest(RejectReason::Replay {
            nc: 1,
            last: 1,
            ..
        }))
    ));
    // The phone's own refresh counts nc up and passes.
    let refresh = pjsua("alice", ALICE_PHONE, "c1", 2, 300);
    let signed = with_auth(&refresh, &answer(&challenge, "MD5", "alice", "alice-pw", 2));
    assert_eq!(code(&r.handle_register(at(3), peer, &parse(&signed))), 200);
}

#[test]
fn an_expired_nonce_gets_stale_true_and_a_fresh_nonce_works() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    let text = pjsua("alice", ALICE_PHONE, "c1", 1, 300);
    let challenge = r.handle_register(at(0), peer, &parse(&text));
    let late = with_auth(
        &text,
        &answer(&challenge, "SHA-256", "alice", "alice-pw", 1),
    );
    let reply = r.handle_register(at(301), peer, &parse(&late));
    assert_eq!(code(&reply), 401);
    assert_eq!(reply.outcome, RegisterOutcome::Challenged { stale: true });
    let challenges = headers(&reply.response, "WWW-Authenticate");
    assert!(challenges.iter().all(|c| parse_challenge(c).unwrap().stale));
    let again = pjsua("alice", ALICE_PHONE, "c1", 2, 300);
    let fresh = with_auth(&again, &answer(&reply, "SHA-256", "alice", "alice-pw", 1));
    assert_eq!(code(&r.handle_register(at(301), peer, &parse(&fresh))), 200);
}

#[test]
fn a_nonce_from_another_run_is_challenged_again_not_counted() {
    let mut before = registrar();
    let peer = udp("203.0.113.5:5060");
    let text = pjsua("alice", ALICE_PHONE, "c1", 1, 300);
    let challenge = before.handle_register(at(0), peer, &parse(&text));
    let old = with_auth(&text, &answer(&challenge, "MD5", "alice", "alice-pw", 1));
    // a restart draws a new nonce secret
    let mut after = Registrar::new(config(), credentials(), 7, [8; 32]).expect("valid config");
    for _ in 0..5 {
        let reply = after.handle_register(at(1), peer, &parse(&old));
        assert_eq!(reply.outcome, RegisterOutcome::Challenged { stale: false });
    }
    assert!(after.snapshot(at(1)).blocked.is_empty());
}

#[test]
fn refresh_keeps_the_binding_and_out_of_order_cseq_changes_nothing() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    register(
        &mut r,
        at(0),
        peer,
        &pjsua("alice", ALICE_PHONE, "c1", 1, 300),
    );
    events(&mut r);
    let moved = udp("203.0.113.5:6000");
    let reply = register(
        &mut r,
        at(100),
        moved,
        &pjsua("alice", ALICE_PHONE, "c1", 3, 300),
    );
    assert_eq!(code(&reply), 200);
    assert!(events(&mut r).is_empty(), "a refresh is no news");
    let b = &r.contacts(&op("alice"))[0];
    assert_eq!(
        (b.expires_at, b.registered_at, b.peer),
        (at(400), at(0), moved)
    );
    let stale = register(
        &mut r,
        at(101),
        peer,
        &pjsua("alice", ALICE_PHONE, "c1", 2, 0),
    );
    assert_eq!(code(&stale), 500);
    assert!(matches!(
        stale.outcome,
        RegisterOutcome::Refused(UpdateError::OutOfOrder { .. })
    ));
    assert!(r.is_reachable(&op("alice")));
    // Another Call-ID may update whatever its CSeq.
    let other = register(
        &mut r,
        at(102),
        peer,
        &pjsua("alice", ALICE_PHONE, "c2", 1, 600),
    );
    assert_eq!(
        headers(&other.response, "Contact"),
        vec![format!("<{ALICE_PHONE};ob>;expires=600")]
    );
}

#[test]
fn expires_zero_and_star_unregister() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    register(
        &mut r,
        at(0),
        peer,
        &pjsua("alice", ALICE_PHONE, "c1", 1, 300),
    );
    events(&mut r);
    let reply = register(
        &mut r,
        at(5),
        peer,
        &pjsua("alice", ALICE_PHONE, "c1", 2, 0),
    );
    assert_eq!(code(&reply), 200);
    assert!(headers(&reply.response, "Contact").is_empty());
    let removed = RegistrarEvent::BindingRemoved {
        operator: op("alice"),
        contact: format!("{ALICE_PHONE};ob"),
        reason: RemoveReason::Unregistered,
    };
    assert_eq!(events(&mut r), vec![removed, reachable("alice", false)]);
    // Two phones, then `Contact: *` with Expires: 0 removes both.
    register(
        &mut r,
        at(6),
        peer,
        &pjsua("alice", ALICE_PHONE, "c1", 3, 300),
    );
    register(
        &mut r,
        at(7),
        peer,
        &pjsua("alice", "sip:alice@192.168.1.21", "c9", 1, 300),
    );
    assert_eq!(r.contacts(&op("alice")).len(), 2);
    let star = pjsua("alice", ALICE_PHONE, "c1", 4, 0).replace(&format!("<{ALICE_PHONE};ob>"), "*");
    assert_eq!(code(&register(&mut r, at(8), peer, &star)), 200);
    assert!(!r.is_reachable(&op("alice")));
    let bad_star =
        pjsua("alice", ALICE_PHONE, "c1", 5, 300).replace(&format!("<{ALICE_PHONE};ob>"), "*");
    assert_eq!(
        code(&r.handle_register(at(9), peer, &parse(&bad_star))),
        400
    );
}

#[test]
fn two_contacts_are_listed_newest_first_with_their_flows() {
    let mut r = registrar();
    let desk = udp("203.0.113.5:5060");
    let mobile = tcp("198.51.100.9:50123", 4);
    register(
        &mut r,
        at(0),
        desk,
        &pjsua("alice", ALICE_PHONE, "c1", 1, 300),
    );
    let reply = register(
        &mut r,
        at(10),
        mobile,
        &linphone("alice", "sip:alice@10.1.1.1:50123", "m1", 1, 900),
    );
    let listed = headers(&reply.response, "Contact");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&format!("<{ALICE_PHONE};ob>;expires=290")));
    assert!(listed.contains(&"<sip:alice@10.1.1.1:50123;transport=tcp>;expires=900".to_string()));
    let contacts = r.contacts(&op("alice"));
    assert_eq!((contacts[0].peer, contacts[1].peer), (mobile, desk));
    assert_eq!(
        events(&mut r)
            .iter()
            .filter(|e| matches!(e, RegistrarEvent::Reachable { .. }))
            .count(),
        1
    );
}

#[test]
fn too_brief_is_423_with_min_expires_and_long_ones_are_cut() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    let reply = register(
        &mut r,
        at(0),
        peer,
        &pjsua("alice", ALICE_PHONE, "c1", 1, 30),
    );
    assert_eq!(code(&reply), 423);
    assert_eq!(
        headers(&reply.response, "Min-Expires"),
        vec!["60".to_string()]
    );
    assert_eq!(reply.outcome, RegisterOutcome::TooBrief { min_expires: 60 });
    assert!(!r.is_reachable(&op("alice")));
    let reply = register(
        &mut r,
        at(0),
        peer,
        &pjsua("alice", ALICE_PHONE, "c1", 2, 86_400),
    );
    assert_eq!(
        headers(&reply.response, "Contact"),
        vec![format!("<{ALICE_PHONE};ob>;expires=3600")]
    );
    // No expiry at all: the default (600 s).
    let text = pjsua("bob", BOB_PHONE, "b1", 1, 0).replace("Expires: 0\r\n", "");
    let reply = register(&mut r, at(0), peer, &text);
    assert_eq!(
        headers(&reply.response, "Contact"),
        vec![format!("<{BOB_PHONE};ob>;expires=600")]
    );
}

#[test]
fn a_register_without_contact_queries_the_bindings() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    register(
        &mut r,
        at(0),
        peer,
        &pjsua("alice", ALICE_PHONE, "c1", 1, 300),
    );
    let query = pjsua("alice", ALICE_PHONE, "q1", 1, 300)
        .replace(&format!("Contact: <{ALICE_PHONE};ob>\r\n"), "");
    let reply = register(&mut r, at(60), peer, &query);
    assert_eq!(
        headers(&reply.response, "Contact"),
        vec![format!("<{ALICE_PHONE};ob>;expires=240")]
    );
}

#[test]
fn the_wire_form_of_401_and_200() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    let text = pjsua("alice", ALICE_PHONE, "c1", 1, 300);
    let challenge = r.handle_register(at(0), peer, &parse(&text));
    let wire =
        String::from_utf8(message::serialize_response(&challenge.response).to_vec()).unwrap();
    assert!(wire.starts_with("SIP/2.0 401 Unauthorized\r\n"), "{wire}");
    assert_eq!(
        wire.matches("\r\nWWW-Authenticate: Digest realm=\"alarm.example\"")
            .count(),
        2,
        "{wire}"
    );
    let auth = answer(&challenge, "SHA-256", "alice", "alice-pw", 1);
    let ok = r.handle_register(at(0), peer, &parse(&with_auth(&text, &auth)));
    let wire = String::from_utf8(message::serialize_response(&ok.response).to_vec()).unwrap();
    assert!(wire.starts_with("SIP/2.0 200 OK\r\n"), "{wire}");
    assert!(
        wire.contains(&format!("\r\nContact: <{ALICE_PHONE};ob>;expires=300\r\n")),
        "{wire}"
    );
    assert!(
        wire.contains("\r\nTo: <sip:alice@alarm.example>;tag=rg"),
        "{wire}"
    );
    assert!(
        wire.contains("\r\nCSeq: 1 REGISTER\r\n") && wire.ends_with("Content-Length: 0\r\n\r\n")
    );
}
