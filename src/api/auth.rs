//! Bearer tokens: `Authorization: Bearer <token>` on every API request.
//!
//! The config stores only the SHA-256 of each token (lower-case hex); a
//! request's token is hashed and compared with every stored hash in constant
//! time, without stopping at the first match, so timing tells nothing about
//! which hash (or how much of one) matched. Missing or wrong: 401 with
//! `WWW-Authenticate: Bearer`. The matching token's name travels with the
//! request (as [`Caller`]) into the commands it causes.

use super::error::error_response;
use crate::sip::digest::constant_time_eq;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};

/// The longest token accepted in a header; longer ones are refused unhashed.
const TOKEN_MAX: usize = 512;

/// A stored hash: the token's name and the SHA-256 of the token.
type Entry = (String, [u8; 32]);

/// The tokens the API accepts. Empty: every request is refused with 401.
///
/// Clones share the set, so [`ApiTokens::replace`] (on SIGHUP) takes effect
/// in a router already serving.
#[derive(Debug, Clone, Default)]
pub struct ApiTokens {
    entries: Arc<RwLock<Vec<Entry>>>,
}

/// The name of the token a request was authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

impl ApiTokens {
    /// From names and decoded hashes, as the config gives them
    /// (`config::api::ApiSection::token_hashes`).
    pub fn from_hashes(entries: impl IntoIterator<Item = (String, [u8; 32])>) -> Self {
        let entries = entries.into_iter().collect();
        ApiTokens {
            entries: Arc::new(RwLock::new(entries)),
        }
    }

    /// Swaps in another set (a reloaded config) for every clone.
    pub fn replace(&self, entries: impl IntoIterator<Item = (String, [u8; 32])>) {
        let fresh: Vec<Entry> = entries.into_iter().collect();
        match self.entries.write() {
            Ok(mut current) => *current = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    /// True when no token is configured (the API refuses everything).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of the entry whose hash matches `token`, checked against
    /// every entry in constant time.
    pub fn verify(&self, token: &str) -> Option<String> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let entries = self.entries.read().ok()?;
        let mut found = None;
        for (name, hash) in entries.iter() {
            let hit = constant_time_eq(&presented, hash);
            if hit && found.is_none() {
                found = Some(name.clone());
            }
        }
        found
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme
/// case-insensitive, RFC 6750 §2.1), or `None`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    let valid = scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && token.len() <= TOKEN_MAX
        && !token.contains(char::is_whitespace);
    valid.then_some(token)
}

/// Middleware: lets the request through with its [`Caller`], or answers 401.
pub(super) async fn require_bearer(
    State(tokens): State<ApiTokens>,
    mut request: Request,
    next: Next,
) -> Response {
    let name = bearer(request.headers()).and_then(|t| tokens.verify(t));
    let Some(name) = name else {
        tracing::debug!(path = %request.uri().path(), "api: request without a valid bearer token");
        return unauthorized(request.headers().contains_key(header::AUTHORIZATION));
    };
    request.extensions_mut().insert(Caller(name));
    next.run(request).await
}

fn unauthorized(had_credentials: bool) -> Response {
    let (challenge, detail) = if had_credentials {
        (
            r#"Bearer realm="alarmgate", error="invalid_token""#,
            "the bearer token is not valid",
        )
    } else {
        (
            r#"Bearer realm="alarmgate""#,
            "an Authorization: Bearer <token> header is required",
        )
    };
    let mut response = error_response(StatusCode::UNAUTHORIZED, "unauthorized", detail);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tokens as a loaded config gives them (one hash in upper case).
    fn tokens() -> ApiTokens {
        let entry = |name: &str, token: &str, upper: bool| crate::config::ApiToken {
            name: name.into(),
            sha256: match crate::config::token_sha256_hex(token) {
                hex if upper => hex.to_ascii_uppercase(),
                hex => hex,
            },
        };
        let section = crate::config::ApiSection {
            tokens: vec![
                entry("console", "s3cret-console", true),
                entry("night", "s3cret-night", false),
            ],
        };
        ApiTokens::from_hashes(section.token_hashes())
    }

    #[test]
    fn verify_finds_the_matching_entry() {
        let tokens = tokens();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens.verify("s3cret-console").as_deref(), Some("console"));
        assert_eq!(tokens.verify("s3cret-night").as_deref(), Some("night"));
        assert_eq!(tokens.verify("s3cret"), None);
        assert_eq!(ApiTokens::default().verify("s3cret-night"), None);
    }

    #[test]
    fn replace_reaches_every_clone() {
        let tokens = tokens();
        let serving = tokens.clone();
        let hash: [u8; 32] = Sha256::digest(b"rotated").into();
        tokens.replace([("rotated".to_string(), hash)]);
        assert_eq!(serving.len(), 1);
        assert_eq!(serving.verify("s3cret-console"), None);
        assert_eq!(serving.verify("rotated").as_deref(), Some("rotated"));
        tokens.replace([]);
        assert!(serving.is_empty());
    }

    #[test]
    fn bearer_header_parsing() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer ", None),
            ("Bearer a b", None),
            ("Bearer", None),
        ];
        for (value, expected) in cases {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&headers), expected, "{value}");
        }
    }
}
