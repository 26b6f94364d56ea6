//! The console's sign-in and the session rules the switchboard enforces,
//! in simulated time: the softphone password, the registrar's blocking of a
//! guessing source (and nobody else), the scope from the plan, and
//! dispositions only for calls the operator took.

use super::tests::*;
use crate::api::{ApiError, ApiRequest, Disposition, OperatorScope, Password};
use crate::routing::OperatorId;
use std::net::IpAddr;

fn sign_in(
    s: &mut Sim,
    operator: &str,
    password: &str,
    source: &str,
) -> Result<OperatorScope, ApiError> {
    s.api(ApiRequest::SignIn {
        operator: OperatorId::new(operator),
        password: Password(password.into()),
        source: source.parse::<IpAddr>().expect("ip"),
    })
}

fn classify(s: &mut Sim, call: &str, taken_by: &str) -> Result<(), ApiError> {
    s.api(ApiRequest::Disposition {
        call: call.into(),
        disposition: Disposition::Reassurance,
        note: None,
        by: taken_by.into(),
        taken_by: Some(OperatorId::new(taken_by)),
    })
}

#[test]
fn the_softphone_password_signs_in_with_the_operators_scope() {
    let mut s = Sim::new(plan(), None);
    let scope = sign_in(&mut s, "op1", "op1-pw", "192.0.2.1").expect("signed in");
    assert_eq!(scope.operator, OperatorId::new("op1"));
    assert_eq!(scope.tenants, vec![crate::labels::TenantId::new("demo")]);
    assert_eq!(scope.queues, vec![crate::routing::QueueId::new("q1")]);
    let colleagues: Vec<&str> = scope.colleagues.iter().map(|o| o.as_str()).collect();
    assert_eq!(colleagues, ["op1", "op2"]);
    assert_eq!(scope.wrap_up_s, 10);
    let wrong = sign_in(&mut s, "op1", "op2-pw", "192.0.2.1");
    assert!(
        matches!(wrong, Err(ApiError::Unauthorized { .. })),
        "{wrong:?}"
    );
    let ghost = sign_in(&mut s, "op9", "op9-pw", "192.0.2.1");
    assert_eq!(
        ghost.err(),
        wrong.err(),
        "the same answer for an unknown id"
    );
}

#[test]
fn a_guessing_source_is_blocked_for_sign_in_and_register_alike() {
    let mut s = Sim::new(plan(), None);
    let limit = crate::registrar::RegistrarConfig::default().fail_limit;
    for _ in 1..limit {
        let r = sign_in(&mut s, "op1", "guess", "127.0.0.1");
        assert!(matches!(r, Err(ApiError::Unauthorized { .. })), "{r:?}");
    }
    let blocked = sign_in(&mut s, "op1", "guess", "127.0.0.1");
    assert!(
        matches!(blocked, Err(ApiError::Blocked { retry_after_s: 300 })),
        "{blocked:?}"
    );
    let right = sign_in(&mut s, "op1", "op1-pw", "127.0.0.1");
    assert!(
        matches!(right, Err(ApiError::Blocked { .. })),
        "blocked even when right"
    );
    assert!(
        sign_in(&mut s, "op1", "op1-pw", "192.0.2.9").is_ok(),
        "others are not locked out"
    );
    s.send(OP1, &register("op1", OP1, 1, None));
    let out = s.sent();
    assert_eq!(
        lines(&out),
        vec!["SIP/2.0 403 Forbidden (Source Blocked)"],
        "REGISTER from the blocked source"
    );
    s.advance(secs(301));
    assert!(
        sign_in(&mut s, "op1", "op1-pw", "127.0.0.1").is_ok(),
        "the block ended"
    );
}

#[test]
fn an_operator_classifies_only_the_calls_it_took() {
    let mut s = Sim::new(plan(), None);
    s.available("op1", OP1);
    let (_, invite, _) = offered(&mut s, "dev5@unit");
    assert_eq!(
        classify(&mut s, "dev5@unit", "op1")
            .err()
            .map(|e| e.status().0.as_u16()),
        Some(403),
        "ringing is not taken"
    );
    s.send(OP1, &reply(&invite, 200, &answer_sdp(&invite)));
    s.sent();
    s.outputs();
    assert_eq!(classify(&mut s, "dev5@unit", "op1"), Ok(()));
    let refused = classify(&mut s, "dev5@unit", "op2");
    assert!(
        matches!(refused, Err(ApiError::Forbidden { .. })),
        "{refused:?}"
    );
    let unknown = classify(&mut s, "nobody@nowhere", "op1");
    assert!(matches!(
        unknown,
        Err(ApiError::Forbidden { .. }) | Err(ApiError::NotFound { .. })
    ));
}
