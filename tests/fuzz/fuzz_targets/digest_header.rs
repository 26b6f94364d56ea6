//! Digest auth header values (RFC 7616, RFC 8760): the Authorization and
//! WWW-Authenticate parsers, the server's verify on arbitrary input (with
//! `NONCE` replaced by a nonce the server really issued, so that the MAC,
//! response, freshness and replay checks are reached), and our client's
//! answer to an arbitrary challenge, which must parse again.
#![no_main]

use std::time::{Duration, Instant};

use alarmgate::sip::digest::{
    ha1, parse_authorization, parse_challenge, respond, Algorithm, AuthOutcome, DigestServer,
};
use libfuzzer_sys::fuzz_target;

const REALM: &str = "alarm.example";
/// params::MAX_VALUE_LEN: longer values are refused as TooLong.
const MAX_VALUE_LEN: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_authorization(text);
    let challenge = parse_challenge(text);

    let now = Instant::now();
    let mut server = DigestServer::new(REALM.into(), [7; 32], Duration::from_secs(300));
    let issued = server.challenge(now, Algorithm::Sha256, false);
    let nonce = parse_challenge(&issued)
        .expect("our own challenge parses")
        .nonce;
    let lookup = |user: &str, alg: Algorithm| Some(ha1(alg, user, REALM, "pw"));
    let _ = server.verify(now, "INVITE", &text.replace("NONCE", &nonce), lookup);

    // Our client answering whatever a trunk challenges us with.
    if let Ok(ch) = challenge {
        if let Ok(auth) = respond(
            text,
            "INVITE",
            "sip:alarm@example",
            "unit7",
            "pw",
            "0a4f113b",
            1,
        ) {
            if auth.len() <= MAX_VALUE_LEN {
                let creds = parse_authorization(&auth)
                    .unwrap_or_else(|e| panic!("our answer does not parse: {e}\n{auth:?}"));
                assert_eq!(creds.realm, ch.realm);
                assert_eq!(creds.nonce, ch.nonce);
                assert_eq!(creds.opaque, ch.opaque);
            }
        }
    }

    // Our client against our server, with the input as user name and password.
    let user: String = text.chars().take(64).collect();
    if let Ok(auth) = respond(
        &issued,
        "REGISTER",
        "sip:alarm.example",
        &user,
        text,
        "c1",
        1,
    ) {
        let lookup = |u: &str, alg: Algorithm| Some(ha1(alg, u, REALM, text));
        match server.verify(now, "REGISTER", &auth, lookup) {
            AuthOutcome::Ok { username } => assert_eq!(username, user),
            other => panic!("server refuses our own client: {other:?}\n{auth:?}"),
        }
    }
});
