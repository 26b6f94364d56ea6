//! Request bodies and path parameters, strictly checked: JSON only, unknown
//! fields refused, every string bounded. A refusal is an [`ApiError`]
//! (400), or 413/415 for an oversized or non-JSON body.

use super::command::{ApiError, Disposition, RequestedState, NOTE_MAX};
use super::error::error_response;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The largest request body accepted, in bytes.
pub const BODY_MAX: usize = 8 * 1024;
/// The longest operator id, tenant or pause reason, in characters.
pub const NAME_MAX: usize = 64;
/// The longest call id (a SIP Call-ID), in bytes.
pub const CALL_ID_MAX: usize = 256;
/// The longest device number, in digits.
pub const NUMBER_MAX: usize = 32;

/// `PUT|POST /api/v1/operators/{id}/state`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StateBody {
    state: StateName,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StateName {
    Available,
    Paused,
    LoggedOut,
    LoggedIn,
}

/// `POST /api/v1/calls`: a recall.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallBody {
    /// The operator to ring first.
    pub operator: String,
    /// The device's number.
    pub number: String,
    /// The tenant whose trunk places the call.
    pub tenant: String,
}

/// `POST /api/v1/calls/{id}/disposition`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispositionBody {
    /// The category.
    pub disposition: Disposition,
    /// A note, at most [`NOTE_MAX`] characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /api/v1/calls/{id}/unit-command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitCommandBody {
    /// The command (`clear_down`, `listen_in`, `duplex`, `volume_up`, ...).
    pub command: super::command::InCallCommand,
}

/// Why a request was refused: an [`ApiError`], or a body too large or not JSON.
#[derive(Debug)]
pub(super) enum Refusal {
    Api(ApiError),
    TooLarge,
    NotJson,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal::Api(error)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Api(error) => error.into_response(),
            Refusal::TooLarge => error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                &format!("the body must be at most {BODY_MAX} bytes"),
            ),
            Refusal::NotJson => error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ),
        }
    }
}

/// Reads a JSON body of type `T`.
pub(super) fn parse_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Refusal> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(Refusal::NotJson);
    }
    let bytes = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Refusal::TooLarge,
        _ => ApiError::bad_request(format!("cannot read the body: {e}")).into(),
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")).into())
}

/// The state asked for, with its reason checked.
pub(super) fn requested_state(body: StateBody) -> Result<RequestedState, ApiError> {
    match (body.state, body.reason) {
        (StateName::Paused, Some(reason)) => {
            check_text("reason", &reason, NAME_MAX, false)?;
            Ok(RequestedState::Paused { reason })
        }
        (StateName::Paused, None) => Err(ApiError::bad_request("paused needs a reason")),
        (_, Some(_)) => Err(ApiError::bad_request("reason is only for paused")),
        (StateName::Available, None) => Ok(RequestedState::Available),
        (StateName::LoggedOut, None) => Ok(RequestedState::LoggedOut),
        (StateName::LoggedIn, None) => Ok(RequestedState::LoggedIn),
    }
}

/// Parses and checks a state body.
pub(super) fn state_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<RequestedState, Refusal> {
    let body: StateBody = parse_json(headers, body)?;
    Ok(requested_state(body)?)
}

/// Checks a recall's fields.
pub(super) fn check_recall(body: &RecallBody) -> Result<(), ApiError> {
    check_name("operator", &body.operator)?;
    check_name("tenant", &body.tenant)?;
    let digits = body.number.strip_prefix('+').unwrap_or(&body.number);
    let valid = !digits.is_empty()
        && digits.len() <= NUMBER_MAX
        && digits.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(ApiError::bad_request(format!(
            "number must be 1 to {NUMBER_MAX} digits, optionally after '+'"
        )));
    }
    Ok(())
}

/// Checks a disposition's note (an empty or blank note counts as none).
pub(super) fn check_disposition(body: &DispositionBody) -> Result<(), ApiError> {
    match &body.note {
        Some(note) if !note.trim().is_empty() => check_text("note", note, NOTE_MAX, true),
        _ => Ok(()),
    }
}

/// An operator id or tenant: 1 to [`NAME_MAX`] characters, no spaces or controls.
pub(super) fn check_name(field: &str, value: &str) -> Result<(), ApiError> {
    check_text(field, value, NAME_MAX, false)?;
    if value.contains(char::is_whitespace) {
        return Err(ApiError::bad_request(format!(
            "{field} must not contain spaces"
        )));
    }
    Ok(())
}

/// A call id: 1 to [`CALL_ID_MAX`] visible ASCII characters (a SIP Call-ID).
pub(super) fn check_call_id(value: &str) -> Result<(), ApiError> {
    let valid = !value.is_empty()
        && value.len() <= CALL_ID_MAX
        && value.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "call id must be 1 to {CALL_ID_MAX} visible ASCII characters"
        )))
    }
}

/// Free text: 1 to `max` characters; control characters refused, except
/// line breaks and tabs when `multiline`.
fn check_text(field: &str, value: &str, max: usize, multiline: bool) -> Result<(), ApiError> {
    let count = value.chars().count();
    if count == 0 || count > max {
        return Err(ApiError::bad_request(format!(
            "{field} must be 1 to {max} characters, got {count}"
        )));
    }
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if !value.chars().all(allowed) {
        return Err(ApiError::bad_request(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(json: &str) -> Result<RequestedState, String> {
        let body: StateBody = serde_json::from_str(json).map_err(|e| e.to_string())?;
        requested_state(body).map_err(|e| e.to_string())
    }

    #[test]
    fn states_and_reasons() {
        assert_eq!(
            state(r#"{"state":"available"}"#),
            Ok(RequestedState::Available)
        );
        assert_eq!(
            state(r#"{"state":"logged_in"}"#),
            Ok(RequestedState::LoggedIn)
        );
        assert_eq!(
            state(r#"{"state":"logged_out"}"#),
            Ok(RequestedState::LoggedOut)
        );
        assert_eq!(
            state(r#"{"state":"paused","reason":"lunch"}"#),
            Ok(RequestedState::Paused {
                reason: "lunch".into()
            })
        );
        for bad in [
            r#"{"state":"paused"}"#,
            r#"{"state":"available","reason":"x"}"#,
            r#"{"state":"paused","reason":""}"#,
            r#"{"state":"paused","reason":"a\u0007b"}"#,
            r#"{"state":"on_call"}"#,
            r#"{"state":"available","extra":1}"#,
        ] {
            assert!(state(bad).is_err(), "{bad}");
        }
        let long = format!(r#"{{"state":"paused","reason":"{}"}}"#, "x".repeat(65));
        assert!(state(&long).is_err());
    }

    #[test]
    fn recall_fields() {
        let ok = RecallBody {
            operator: "op-1".into(),
            number: "+4512345678".into(),
            tenant: "aarhus".into(),
        };
        assert_eq!(check_recall(&ok), Ok(()));
        for number in ["", "+", "12a4", "1 2", &"1".repeat(33)] {
            let bad = RecallBody {
                number: number.into(),
                ..ok.clone()
            };
            assert!(check_recall(&bad).is_err(), "{number}");
        }
        let spaced = RecallBody {
            operator: "op 1".into(),
            ..ok
        };
        assert!(check_recall(&spaced).is_err());
    }

    #[test]
    fn call_ids_and_notes() {
        assert_eq!(check_call_id("a84b4c76e66710@pc33.example.com"), Ok(()));
        assert!(check_call_id("").is_err());
        assert!(check_call_id("a b").is_err());
        assert!(check_call_id(&"a".repeat(257)).is_err());
        let note = |n: &str| DispositionBody {
            disposition: Disposition::FalseAlarm,
            note: Some(n.into()),
        };
        assert_eq!(
            check_disposition(&note("pressed by mistake\nall fine")),
            Ok(())
        );
        assert!(check_disposition(&note(&"x".repeat(NOTE_MAX + 1))).is_err());
        assert!(check_disposition(&note("nul\u{0}")).is_err());
    }
}
