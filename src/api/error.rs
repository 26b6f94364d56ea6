//! Why the switchboard (or the API) refuses a request ([`ApiError`]), and
//! errors as HTTP: every refusal is a JSON body `{"error": code, "detail":
//! text}` with its status code.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why the switchboard (or the API) refused a command. Each maps to one
/// HTTP status with a JSON body `{"error": code, "detail": text}`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// 404: no such operator or call.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for (`operator op-7`, `call abc@host`).
        what: String,
    },
    /// 409: the command does not fit the current state.
    #[error("{reason}")]
    Conflict {
        /// Why (`operator op-1 is on a call`).
        reason: String,
    },
    /// 400: the request is malformed.
    #[error("{reason}")]
    BadRequest {
        /// What is wrong with it.
        reason: String,
    },
    /// 503: the switchboard cannot answer now (not running, overloaded, too slow).
    #[error("{reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// 401: wrong operator id or password at sign-in.
    #[error("{reason}")]
    Unauthorized {
        /// What to tell the person.
        reason: String,
    },
    /// 403: the session's operator may not do this.
    #[error("{reason}")]
    Forbidden {
        /// Why.
        reason: String,
    },
    /// 429: the source failed to authenticate too often and is blocked.
    #[error("too many failed sign-ins from this address: try again in {retry_after_s} s")]
    Blocked {
        /// Seconds until the block ends.
        retry_after_s: u64,
    },
}

impl ApiError {
    /// A [`ApiError::NotFound`] for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound { what: what.into() }
    }
    /// A [`ApiError::Conflict`].
    pub fn conflict(reason: impl Into<String>) -> Self {
        ApiError::Conflict {
            reason: reason.into(),
        }
    }
    /// A [`ApiError::BadRequest`].
    pub fn bad_request(reason: impl Into<String>) -> Self {
        ApiError::BadRequest {
            reason: reason.into(),
        }
    }
    /// A [`ApiError::Unavailable`].
    pub fn unavailable(reason: impl Into<String>) -> Self {
        ApiError::Unavailable {
            reason: reason.into(),
        }
    }
    /// A [`ApiError::Forbidden`].
    pub fn forbidden(reason: impl Into<String>) -> Self {
        ApiError::Forbidden {
            reason: reason.into(),
        }
    }
    /// A [`ApiError::Unauthorized`].
    pub fn unauthorized(reason: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            reason: reason.into(),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// A stable code: `unauthorized`, `forbidden`, `bad_request`, `not_found`, `conflict`,
    /// `unavailable`, `payload_too_large`, `unsupported_media_type`, `too_many_attempts`.
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
            ApiError::Unauthorized { .. } => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Blocked { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
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
        if let ApiError::Blocked { retry_after_s } = self {
            let retry = HeaderValue::from(retry_after_s);
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
            (ApiError::unauthorized("wrong"), 401, "unauthorized"),
            (ApiError::forbidden("not yours"), 403, "forbidden"),
            (
                ApiError::Blocked { retry_after_s: 9 },
                429,
                "too_many_attempts",
            ),
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
