//! Sessions in simulated time: expiry, renewal, sign-out and the bounds.

use super::*;
use crate::clock::epoch;
use crate::routing::OperatorId;

const S: Duration = Duration::from_secs(1);

fn scope(op: &str) -> OperatorScope {
    OperatorScope {
        operator: OperatorId::new(op),
        name: op.to_string(),
        tenants: Vec::new(),
        queues: Vec::new(),
        colleagues: Vec::new(),
        wrap_up_s: 0,
    }
}

fn random(n: u32) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    bytes
}

#[test]
fn a_session_lasts_its_ttl_unless_renewed() {
    let mut sessions = Sessions::new(60 * S);
    let t = epoch();
    let (token, opened) = sessions.open(t, scope("op-1"), random(1)).expect("room");
    assert!(token.as_str().starts_with(TOKEN_PREFIX));
    assert_eq!(token.as_str().len(), TOKEN_PREFIX.len() + 64);
    assert_eq!(opened.expires, t + 60 * S);
    let found = sessions
        .check(t + 59 * S, token.as_str())
        .map(|s| &s.scope.operator);
    assert_eq!(found, Some(&OperatorId::new("op-1")));
    assert!(
        sessions.check(t + 60 * S, token.as_str()).is_none(),
        "lapsed"
    );
    let renewed = sessions.renew(t + 30 * S, token.as_str()).expect("live");
    assert_eq!(renewed.expires, t + 90 * S);
    assert!(sessions.check(t + 89 * S, token.as_str()).is_some());
    assert!(
        sessions.renew(t + 90 * S, token.as_str()).is_none(),
        "too late to renew"
    );
    sessions.purge(t + 90 * S);
    assert!(sessions.is_empty());
}

#[test]
fn wrong_tokens_and_signed_out_sessions_are_refused() {
    let mut sessions = Sessions::new(60 * S);
    let t = epoch();
    let (token, _) = sessions.open(t, scope("op-1"), random(1)).expect("room");
    let mut other = token.as_str().to_string();
    other.pop();
    other.push('x');
    assert!(sessions.check(t, &other).is_none());
    assert!(sessions.check(t, "s3cret-admin").is_none());
    assert!(sessions
        .check(t, &token.as_str()[TOKEN_PREFIX.len()..])
        .is_none());
    assert!(sessions.close(token.as_str()));
    assert!(sessions.check(t, token.as_str()).is_none());
    assert!(!sessions.close(token.as_str()));
    assert_eq!(format!("{token:?}"), "SessionToken(..)", "never logged");
}

#[test]
fn an_operator_keeps_its_newest_sessions_and_the_table_is_bounded() {
    let mut sessions = Sessions::new(3600 * S);
    let t = epoch();
    let first = sessions.open(t, scope("op-1"), random(0)).expect("room").0;
    for n in 1..PER_OPERATOR as u32 {
        sessions
            .open(t + n * S, scope("op-1"), random(n))
            .expect("room");
    }
    let colleague = sessions
        .open(t, scope("op-2"), random(999))
        .expect("room")
        .0;
    assert_eq!(sessions.len(), PER_OPERATOR + 1);
    let newest = sessions
        .open(t + 100 * S, scope("op-1"), random(100))
        .expect("room")
        .0;
    assert_eq!(sessions.len(), PER_OPERATOR + 1, "the oldest of op-1 went");
    assert!(sessions.check(t + 100 * S, first.as_str()).is_none());
    assert!(sessions.check(t + 100 * S, newest.as_str()).is_some());
    assert!(
        sessions.check(t + 100 * S, colleague.as_str()).is_some(),
        "others untouched"
    );
    let mut full = Sessions::new(3600 * S);
    for n in 0..MAX_SESSIONS as u32 {
        full.open(t, scope(&format!("op-{n}")), random(n))
            .expect("room");
    }
    let refused = full.open(t, scope("op-late"), random(u32::MAX));
    assert_eq!(
        refused.err(),
        Some(SessionError::Full { max: MAX_SESSIONS })
    );
    full.purge(t + 3600 * S);
    assert!(full.open(t + 3600 * S, scope("op-late"), random(7)).is_ok());
}
