//! Errors as HTTP: every refusal is a JSON body `{"error": code, "detail":
//! text}` with its status code.

use super::command::ApiError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// A stable code: `unauthorized`, `forbidden`, `bad_request`, `not_found`, `conflict`,
    /// `unavailable`, `payload_too_large`, `unsupported_media_type`.
    pub error: String,
    /// What happened, for a person.
    pub detail: String,
}

/// A JSON error response.
pub(crate) fn error_response(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = ErrorBody {
        error: code.to_string(),
        detail: detail.to_string(),
    };
    (status, Json(body)).into_response()
}

impl ApiError {
    /// The HTTP status and the stable code of the error.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        let mut response = error_response(status, code, &self.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let retry = HeaderValue::from_static("1");
            response.headers_mut().insert(header::RETRY_AFTER, retry);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status() {
        let cases = [
            (ApiError::not_found("operator op-9"), 404, "not_found"),
            (ApiError::conflict("busy"), 409, "conflict"),
            (ApiError::bad_request("bad"), 400, "bad_request"),
            (ApiError::unavailable("slow"), 503, "unavailable"),
        ];
        for (error, status, code) in cases {
            assert_eq!(
                error.status(),
                (StatusCode::from_u16(status).unwrap_or_default(), code)
            );
        }
        assert_eq!(
            ApiError::not_found("operator op-9").to_string(),
            "operator op-9 not found"
        );
    }
}
