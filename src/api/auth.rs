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
//!
//! An operator's session token (`ags_...`, [`super::session`]) passes both
//! guards as [`Principal::Operator`] with its [`OperatorScope`]; each route
//! then narrows what it shows and refuses (403) what the operator may not do.
//! The clock is read here, in the HTTP layer, and passed to the pure
//! session table.

use super::error::error_response;
use super::scope::OperatorScope;
use super::session::{Sessions, TOKEN_PREFIX};
use crate::config::{TokenEntry, TokenScope};
use crate::sip::digest::constant_time_eq;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// The longest token accepted in a header; longer ones are refused unhashed.
const TOKEN_MAX: usize = 512;

#[path = "auth_sessions.rs"]
mod sessions;
pub use sessions::Entropy;

/// A stored token: its name, the SHA-256 of the token, its scope.
type Entry = TokenEntry;

/// The tokens the API accepts. Empty: every request is refused with 401.
///
/// Clones share the set, so [`ApiTokens::replace`] (on SIGHUP) takes effect
/// in a router already serving.
#[derive(Clone, Default)]
pub struct ApiTokens {
    entries: Arc<RwLock<Vec<Entry>>>,
    sessions: Arc<Mutex<Option<Sessions>>>,
    entropy: Option<Entropy>,
}

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiTokens")
            .field("tokens", &self.len())
            .field("sessions", &self.entropy.is_some())
            .finish()
    }
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An all-tenant `[[api.tokens]]` token (an integration, a supervisor).
    Admin,
    /// An operator's session.
    Operator(OperatorScope),
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
    /// For an operator's session: the operator's scope.
    pub operator: Option<OperatorScope>,
    sha256: [u8; 32],
}

impl Grant {
    /// True when an event of `tenant` (about `operator`) may be shown.
    pub fn sees(&self, tenant: Option<&str>, operator: Option<&str>) -> bool {
        match &self.operator {
            Some(scope) => scope.sees_event(tenant, operator),
            None => self.scope.sees(tenant),
        }
    }
}

impl ApiTokens {
    /// From names and decoded hashes, as the config gives them
    /// (`config::api::ApiSection::token_hashes`).
    pub fn from_hashes(entries: impl IntoIterator<Item = impl Into<TokenEntry>>) -> Self {
        let entries = entries.into_iter().map(Into::into).collect();
        ApiTokens {
            entries: Arc::new(RwLock::new(entries)),
            ..ApiTokens::default()
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
            operator: None,
            sha256: presented,
        };
        Some((entry.name, grant))
    }

    /// The caller's name, [`Principal`] and [`Grant`] for `token` at `now`:
    /// an admin token's, or an operator session's.
    pub fn authenticate(&self, now: Instant, token: &str) -> Option<(String, Principal, Grant)> {
        if !token.starts_with(TOKEN_PREFIX) {
            let (name, grant) = self.identify(token)?;
            return Some((name, Principal::Admin, grant));
        }
        let session = self.session(now, token)?;
        let scope = session.scope;
        let grant = Grant {
            scope: TokenScope::Tenants(scope.tenants.iter().map(|t| t.to_string()).collect()),
            operator: Some(scope.clone()),
            sha256: Sha256::digest(token.as_bytes()).into(),
        };
        Some((
            scope.operator.to_string(),
            Principal::Operator(scope),
            grant,
        ))
    }

    /// True while the token behind `grant` is accepted with the same scope
    /// (for a session: while the session lives, checked at `now`).
    pub fn still_grants(&self, now: Instant, grant: &Grant) -> bool {
        if grant.operator.is_some() {
            return self
                .with_table(|t| t.is_live(now, &grant.sha256))
                .unwrap_or(false);
        }
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
    let Some((name, principal, grant)) = authenticate(&tokens, &request) else {
        return refuse_unauthenticated(&request);
    };
    if principal == Principal::Admin && grant.scope != TokenScope::AllTenants {
        tracing::info!(path = %request.uri().path(), token = %name, "api: tenant-scoped token refused");
        let detail = "this token is scoped to tenants: it may only read GET /api/v1/events";
        return error_response(StatusCode::FORBIDDEN, "forbidden", detail);
    }
    request.extensions_mut().insert(Caller(name));
    request.extensions_mut().insert(principal);
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
    let Some((name, principal, grant)) = authenticate(&tokens, &request) else {
        return refuse_unauthenticated(&request);
    };
    request.extensions_mut().insert(Caller(name));
    request.extensions_mut().insert(principal);
    request.extensions_mut().insert(grant);
    next.run(request).await
}

/// The name, principal and grant of the request's token, if it is valid.
fn authenticate(tokens: &ApiTokens, request: &Request) -> Option<(String, Principal, Grant)> {
    let token = bearer(request.headers())?;
    tokens.authenticate(crate::clock::now(), token)
}

/// The bearer token of a request's headers, for the session routes.
pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    bearer(headers)
}

/// The 401 for a request without a valid token.
fn refuse_unauthenticated(request: &Request) -> Response {
    tracing::debug!(path = %request.uri().path(), "api: request without a valid bearer token");
    unauthorized(request.headers().contains_key(header::AUTHORIZATION))
}

pub(super) fn unauthorized(had_credentials: bool) -> Response {
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
            ..Default::default()
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
        assert!(tokens.still_grants(crate::clock::epoch(), &grant));
        let hash: [u8; 32] = Sha256::digest(b"s3cret-night").into();
        let scoped = TokenEntry {
            name: "night".into(),
            sha256: hash,
            scope: TokenScope::Tenants(["aarhus".to_string()].into()),
        };
        tokens.replace([scoped]);
        assert!(
            !tokens.still_grants(crate::clock::epoch(), &grant),
            "rescoped"
        );
        let (_, narrow) = tokens.identify("s3cret-night").expect("still known");
        assert!(tokens.still_grants(crate::clock::epoch(), &narrow));
        tokens.replace(Vec::<TokenEntry>::new());
        assert!(
            !tokens.still_grants(crate::clock::epoch(), &narrow),
            "revoked"
        );
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
