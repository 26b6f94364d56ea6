//! Bearer tokens: `Authorization: Bearer <token>` on every API request.
//!
//! The config stores only the SHA-256 of each token (lower-case hex); a
//! request's token is hashed and compared with every stored hash in constant
//! time, without stopping at the first match, so timing tells nothing about
//! which hash (or how much of one) matched. Missing or wrong: 401 with
//! `WWW-Authenticate: Bearer`. The matching token's name travels with the
//! request (as [`Caller`]) into the commands it causes.
//!
//! A token scoped to tenants ([`TokenScope::Tenants`]) passes only
//! [`require_bearer_any`], the guard of `GET /api/v1/events`, which filters
//! the stream by the token's [`Grant`], and of the call reports
//! (`crate::records::api`), which answer 403 for another tenant; every route behind
//! [`require_bearer`] (the switchboard's) answers it 403: those routes show
//! and act on every tenant's calls and operators.

use super::error::error_response;
use crate::config::{TokenEntry, TokenScope};
use crate::sip::digest::constant_time_eq;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};

/// The longest token accepted in a header; longer ones are refused unhashed.
const TOKEN_MAX: usize = 512;

/// A stored token: its name, the SHA-256 of the token, its scope.
type Entry = TokenEntry;

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

/// What the token of a request may see, and the token's hash, so that a
/// long-lived stream can check that the token is still accepted (a reload
/// may revoke or rescope it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The token's scope when the request came.
    pub scope: TokenScope,
    sha256: [u8; 32],
}

impl ApiTokens {
    /// From names and decoded hashes, as the config gives them
    /// (`config::api::ApiSection::token_hashes`).
    pub fn from_hashes(entries: impl IntoIterator<Item = impl Into<TokenEntry>>) -> Self {
        let entries = entries.into_iter().map(Into::into).collect();
        ApiTokens {
            entries: Arc::new(RwLock::new(entries)),
        }
    }

    /// Swaps in another set (a reloaded config) for every clone.
    pub fn replace(&self, entries: impl IntoIterator<Item = impl Into<TokenEntry>>) {
        let fresh: Vec<Entry> = entries.into_iter().map(Into::into).collect();
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
        self.identify(token).map(|(name, _)| name)
    }

    /// The name and [`Grant`] of the entry matching `token`.
    pub fn identify(&self, token: &str) -> Option<(String, Grant)> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let entry = self.lookup(&presented)?;
        let grant = Grant {
            scope: entry.scope,
            sha256: presented,
        };
        Some((entry.name, grant))
    }

    /// True while the token behind `grant` is accepted with the same scope.
    pub fn still_grants(&self, grant: &Grant) -> bool {
        self.lookup(&grant.sha256)
            .is_some_and(|entry| entry.scope == grant.scope)
    }

    /// The entry with this hash, compared with every entry in constant time.
    fn lookup(&self, presented: &[u8; 32]) -> Option<Entry> {
        let entries = self.entries.read().ok()?;
        let mut found = None;
        for entry in entries.iter() {
            let hit = constant_time_eq(presented, &entry.sha256);
            if hit && found.is_none() {
                found = Some(entry.clone());
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

/// Middleware for the switchboard's routes: lets a request with an
/// all-tenant token through with its [`Caller`]; 401 without a valid token,
/// 403 with a tenant-scoped one.
pub(super) async fn require_bearer(
    State(tokens): State<ApiTokens>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some((name, grant)) = authenticate(&tokens, &request) else {
        return refuse_unauthenticated(&request);
    };
    if grant.scope != TokenScope::AllTenants {
        tracing::info!(path = %request.uri().path(), token = %name, "api: tenant-scoped token refused");
        let detail = "this token is scoped to tenants: it may only read GET /api/v1/events";
        return error_response(StatusCode::FORBIDDEN, "forbidden", detail);
    }
    request.extensions_mut().insert(Caller(name));
    next.run(request).await
}

/// Middleware for `GET /api/v1/events`: lets any valid token through with
/// its [`Caller`] and [`Grant`] (the handler filters by the grant); 401
/// otherwise.
pub async fn require_bearer_any(
    State(tokens): State<ApiTokens>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some((name, grant)) = authenticate(&tokens, &request) else {
        return refuse_unauthenticated(&request);
    };
    request.extensions_mut().insert(Caller(name));
    request.extensions_mut().insert(grant);
    next.run(request).await
}

/// The name and grant of the request's token, if it is valid.
fn authenticate(tokens: &ApiTokens, request: &Request) -> Option<(String, Grant)> {
    bearer(request.headers()).and_then(|t| tokens.identify(t))
}

/// The 401 for a request without a valid token.
fn refuse_unauthenticated(request: &Request) -> Response {
    tracing::debug!(path = %request.uri().path(), "api: request without a valid bearer token");
    unauthorized(request.headers().contains_key(header::AUTHORIZATION))
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
            tenants: None,
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
        tokens.replace(Vec::<TokenEntry>::new());
        assert!(serving.is_empty());
    }

    #[test]
    fn a_grant_lapses_when_its_token_is_revoked_or_rescoped() {
        let tokens = tokens();
        let (name, grant) = tokens.identify("s3cret-night").expect("known");
        assert_eq!(
            (name.as_str(), &grant.scope),
            ("night", &TokenScope::AllTenants)
        );
        assert!(tokens.still_grants(&grant));
        let hash: [u8; 32] = Sha256::digest(b"s3cret-night").into();
        let scoped = TokenEntry {
            name: "night".into(),
            sha256: hash,
            scope: TokenScope::Tenants(["aarhus".to_string()].into()),
        };
        tokens.replace([scoped]);
        assert!(!tokens.still_grants(&grant), "rescoped");
        let (_, narrow) = tokens.identify("s3cret-night").expect("still known");
        assert!(tokens.still_grants(&narrow));
        tokens.replace(Vec::<TokenEntry>::new());
        assert!(!tokens.still_grants(&narrow), "revoked");
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
