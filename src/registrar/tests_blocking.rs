//! Refusals (malformed requests, another operator's credentials, blocking
//! of repeated authentication failures), dialplan reload, snapshot.

use super::test_support::*;
use super::tests::{ALICE_PHONE, BOB_PHONE};
use super::*;
use crate::sip::message::{self, SipMessage};
use crate::sip::types::Peer;

const PHONE: &str = "sip:alice@192.168.1.20:5060";

/// A REGISTER from `peer` answered with a wrong password.
fn fail(r: &mut Registrar, secs: u64, peer: Peer, cseq: u32) -> RegisterReply {
    let text = pjsua("alice", PHONE, "bf", cseq, 300);
    let challenge = r.handle_register(at(secs), peer, &parse(&text));
    if code(&challenge) != 401 {
        return challenge;
    }
    let auth = answer(&challenge, "MD5", "alice", "guess", 1);
    r.handle_register(at(secs), peer, &parse(&with_auth(&text, &auth)))
}

#[test]
fn repeated_failures_block_the_source_then_the_block_ends() {
    let counts = Counting::default();
    ::metrics::with_local_recorder(&counts, || {
        let mut r = registrar();
        let attacker = udp("192.0.2.66:5060");
        assert_eq!(code(&fail(&mut r, 0, attacker, 1)), 403);
        assert_eq!(code(&fail(&mut r, 10, attacker, 2)), 403);
        assert!(events(&mut r).is_empty());
        assert_eq!(code(&fail(&mut r, 20, attacker, 3)), 403);
        let until = at(20 + 120);
        let blocked = RegistrarEvent::Blocked {
            source: attacker.addr.ip(),
            until,
        };
        assert_eq!(events(&mut r), vec![blocked]);
        // Blocked: 403 at once, no challenge, even with no credentials.
        let text = pjsua("alice", PHONE, "bf", 9, 300);
        let reply = r.handle_register(at(21), attacker, &parse(&text));
        assert_eq!(code(&reply), 403);
        assert_eq!(reply.outcome, RegisterOutcome::Blocked { until });
        assert!(headers(&reply.response, "WWW-Authenticate").is_empty());
        let view = r.snapshot(at(21));
        assert_eq!(view.blocked.len(), 1);
        assert_eq!(view.blocked[0].remaining_s, 119);
        // Other sources are served.
        let phone = udp("203.0.113.5:5060");
        let ok = register(&mut r, at(22), phone, &pjsua("alice", PHONE, "c1", 1, 300));
        assert_eq!(code(&ok), 200);
        // The block ends on time.
        let still = r.handle_register(at(140) - S, attacker, &parse(&text));
        assert_eq!(code(&still), 403);
        let free = r.handle_register(at(140), attacker, &parse(&text));
        assert_eq!(code(&free), 401);
    });
    let name = |outcome: &str| format!("{}{{outcome={outcome}}}", metrics::REGISTERS);
    assert_eq!(counts.get(&format!("{}{{}}", metrics::AUTH_BLOCKED)), 2);
    assert_eq!(counts.get(&format!("{}{{}}", metrics::SOURCES_BLOCKED)), 1);
    assert_eq!(counts.get(&name("blocked")), 2);
    assert_eq!(counts.get(&name("forbidden")), 3);
}

#[test]
fn failures_spread_wider_than_the_window_do_not_block() {
    let mut r = registrar();
    let peer = udp("192.0.2.66:5060");
    for (i, secs) in [0u64, 40, 61, 100, 122, 160].into_iter().enumerate() {
        let reply = fail(&mut r, secs, peer, i as u32 + 1);
        assert!(
            matches!(reply.outcome, RegisterOutcome::Forbidden(_)),
            "{secs}"
        );
    }
    assert!(r.snapshot(at(160)).blocked.is_empty());
}

#[test]
fn a_reload_drops_removed_operators_and_keeps_the_others() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    register(&mut r, at(0), peer, &pjsua("alice", PHONE, "c1", 1, 300));
    register(
        &mut r,
        at(0),
        peer,
        &pjsua("bob", "sip:bob@192.168.1.30", "c2", 1, 300),
    );
    events(&mut r);
    r.handle_timeout(at(30));
    assert_eq!(std::iter::from_fn(|| r.poll_probe()).count(), 2);
    let mut reloaded = credentials();
    reloaded.remove(&op("bob"));
    r.set_credentials(reloaded);
    let gone = RegistrarEvent::BindingRemoved {
        operator: op("bob"),
        contact: "sip:bob@192.168.1.30;ob".into(),
        reason: RemoveReason::OperatorRemoved,
    };
    assert_eq!(events(&mut r), vec![gone, reachable("bob", false)]);
    assert!(r.is_reachable(&op("alice")));
    let again = register(
        &mut r,
        at(31),
        peer,
        &pjsua("bob", "sip:bob@192.168.1.30", "c2", 2, 300),
    );
    assert_eq!(code(&again), 403, "bob has no credentials any more");
}

#[test]
fn the_snapshot_serialises_every_operator_and_binding() {
    let mut r = registrar();
    let peer = tcp("198.51.100.9:50123", 4);
    register(
        &mut r,
        at(0),
        peer,
        &linphone("alice", "sip:alice@10.1.1.1:50123", "m1", 1, 900),
    );
    r.handle_timeout(at(30));
    let probe = r.poll_probe().unwrap();
    r.probe_result(at(35), probe.id, true);
    let json = serde_json::to_value(r.snapshot(at(40))).unwrap();
    let expected = serde_json::json!({
        "operators": [
            {
                "operator": "alice",
                "reachable": true,
                "bindings": [{
                    "contact": "sip:alice@10.1.1.1:50123;transport=tcp",
                    "transport": "TCP",
                    "source": "198.51.100.9:50123",
                    "expires_in_s": 860,
                    "last_seen_s_ago": 5,
                    "registered_s_ago": 40,
                    "missed_keepalives": 0
                }]
            },
            { "operator": "bob", "reachable": false, "bindings": [] }
        ],
        "blocked": []
    });
    assert_eq!(json, expected);
}

#[test]
fn malformed_registers_get_400_and_never_panic() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    let good = pjsua("alice", ALICE_PHONE, "c1", 1, 300);
    let contact = format!("Contact: <{ALICE_PHONE};ob>\r\n");
    let cases = [
        good.replace(&contact, "Contact: <http://example.com/>\r\n"),
        good.replace(&contact, "Contact: <sip:>\r\n"),
        good.replace(&contact, "Contact: \r\n"),
        good.replace(&contact, "Contact: <sip:alice@h>;expires=soon\r\n"),
        good.replace("To: <sip:alice@alarm.example>\r\n", ""),
        good.replace("To: <sip:alice@alarm.example>", "To: <sip:alarm.example>"),
        good.replace("To: <sip:alice@alarm.example>", "To: garbage"),
        good.replace("Call-ID: c1\r\n", ""),
        good.replace("Expires: 300", "Expires: -5"),
    ];
    for text in &cases {
        let reply = r.handle_register(at(0), peer, &parse(text));
        assert_eq!(code(&reply), 400, "{text}\n{:?}", reply.outcome);
        assert!(matches!(reply.outcome, RegisterOutcome::Malformed(_)));
    }
    let invite = good
        .replace("REGISTER sip:", "INVITE sip:")
        .replace("1 REGISTER", "1 INVITE");
    assert_eq!(code(&r.handle_register(at(0), peer, &parse(&invite))), 400);
    // Mutations of a signed request: whatever parses gets an answer.
    let challenge = r.handle_register(at(0), peer, &parse(&good));
    let signed = with_auth(
        &good,
        &answer(&challenge, "SHA-256", "alice", "alice-pw", 1),
    );
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut bytes = signed.clone().into_bytes();
        let i = (seed as usize) % bytes.len();
        bytes[i] = b"<>;,:@=*\" x0"[(seed >> 32) as usize % 12];
        if let Ok(SipMessage::Request(req)) = message::parse(&bytes) {
            let _ = r.handle_register(at(1), peer, &req);
        }
    }
}

#[test]
fn one_operators_credentials_do_not_register_another() {
    let mut r = registrar();
    let peer = udp("203.0.113.5:5060");
    let text = pjsua("bob", BOB_PHONE, "c1", 1, 300);
    let challenge = r.handle_register(at(0), peer, &parse(&text));
    let auth = answer(&challenge, "MD5", "alice", "alice-pw", 1);
    let reply = r.handle_register(at(0), peer, &parse(&with_auth(&text, &auth)));
    assert_eq!(code(&reply), 403);
    assert!(matches!(
        reply.outcome,
        RegisterOutcome::Forbidden(AuthFailure::WrongUser { .. })
    ));
    // An unknown operator is challenged like anyone, then refused.
    let text = pjsua("mallory", BOB_PHONE, "c2", 1, 300);
    let challenge = r.handle_register(at(0), peer, &parse(&text));
    assert_eq!(code(&challenge), 401);
    let auth = answer(&challenge, "MD5", "mallory", "x", 1);
    assert_eq!(
        code(&r.handle_register(at(0), peer, &parse(&with_auth(&text, &auth)))),
        403
    );
}
