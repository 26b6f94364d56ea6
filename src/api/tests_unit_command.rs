//! `POST /api/v1/calls/{id}/unit-command`: the command reaches the
//! switchboard with the token's name and the session's operator, the
//! answer is 202 with the digit, and bad bodies and unknown calls are refused.

use super::tests::{api, json, last, send, TOKEN};

const PATH: &str = "/api/v1/calls/call-1@192.0.2.10/unit-command";

#[tokio::test]
async fn a_unit_command_is_sent_and_answered_202_with_its_digit() {
    let (addr, log) = api().await;
    let answer = send(
        addr,
        "POST",
        PATH,
        Some(TOKEN),
        json(r#"{"command":"clear_down"}"#),
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.json()["digit"], "0");
    assert_eq!(answer.json()["command"], "clear_down");
    assert_eq!(
        last(&log),
        "unit-command call-1@192.0.2.10 ClearDown by console None"
    );
    let listen = send(
        addr,
        "POST",
        PATH,
        Some(TOKEN),
        json(r#"{"command":"listen_in"}"#),
    )
    .await;
    assert_eq!(
        (listen.status, listen.json()["digit"].as_str()),
        (202, Some("7"))
    );
}

#[tokio::test]
async fn unknown_commands_calls_and_tokens_are_refused() {
    let (addr, _log) = api().await;
    for bad in [
        r#"{"command":"explode"}"#,
        r#"{}"#,
        r#"{"command":"duplex","x":1}"#,
    ] {
        let answer = send(addr, "POST", PATH, Some(TOKEN), json(bad)).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
    }
    let gone = "/api/v1/calls/call-2@192.0.2.10/unit-command";
    let missing = send(
        addr,
        "POST",
        gone,
        Some(TOKEN),
        json(r#"{"command":"duplex"}"#),
    )
    .await;
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (404, "not_found")
    );
    let anonymous = send(addr, "POST", PATH, None, json(r#"{"command":"duplex"}"#)).await;
    assert_eq!(anonymous.status, 401);
}
