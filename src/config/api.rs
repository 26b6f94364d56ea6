//! `[api]`: bearer tokens for the operator API (`/api/v1/...`).
//!
//! Tokens are never stored: each `[[api.tokens]]` entry holds the SHA-256
//! of the token in hex, printed by `alarmgate hash-password --token`
//! ([`token_sha256_line`]). The API hashes the presented token and compares
//! it in constant time with each [`ApiSection::token_hashes`] entry.
//!
//! A token may be scoped to tenants (`tenants = ["aarhus"]`): it then reads
//! only those tenants' events on `GET /api/v1/events` and gets 403 on every
//! other route. Without `tenants` a token serves every tenant and route.
//!
//! `session_ttl_s` is the lifetime of the operator sessions the console
//! signs in for (`POST /api/v1/session`); `console_ws_url` is the SIP over
//! WebSocket address the console's browser phone registers with.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::validate::Findings;
use super::xref::{check_id, Ids};
use super::Problem;

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSection {
    /// `[[api.tokens]]`: the bearer tokens accepted. Default: none (every
    /// API request is refused with 401).
    pub tokens: Vec<ApiToken>,
    /// Lifetime of an operator's console session, in seconds, from sign-in
    /// or the last renewal. Default 43200 (12 h); 5 to 604800.
    pub session_ttl_s: u64,
    /// The `ws://` or `wss://` URL the console's browser phone registers
    /// with (a `[[sip.listen]]` WebSocket listener as the browser reaches
    /// it). Absent: the console derives it from the WebSocket listener.
    pub console_ws_url: Option<String>,
}

/// The default `[api] session_ttl_s`: a shift.
pub const SESSION_TTL_DEFAULT_S: u64 = 12 * 3600;
/// The accepted range of `[api] session_ttl_s`.
pub const SESSION_TTL_RANGE_S: std::ops::RangeInclusive<u64> = 5..=7 * 24 * 3600;

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            session_ttl_s: SESSION_TTL_DEFAULT_S,
            console_ws_url: None,
        }
    }
}

/// One `[[api.tokens]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Who holds the token (`"console"`, `"supervisor"`), logged with each
    /// request: lowercase letters, digits and `-`. Required, unique.
    pub name: String,
    /// SHA-256 of the token, 64 hex digits (either case). Required, unique.
    pub sha256: String,
    /// The `[[tenants]]` ids whose events the token may read; it may do
    /// nothing else. Absent: every tenant, every route. Never empty.
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
}

/// What a token may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    /// Every tenant, every route (a token without `tenants`).
    AllTenants,
    /// Only these tenants' events, only on `GET /api/v1/events`.
    Tenants(Arc<[String]>),
}

impl TokenScope {
    /// True when an event of `tenant` may be shown. Events without a tenant
    /// (operator state, node-level ones) go to all-tenant tokens only: they
    /// may concern any municipality.
    pub fn sees(&self, tenant: Option<&str>) -> bool {
        match (self, tenant) {
            (Self::AllTenants, _) => true,
            (Self::Tenants(list), Some(t)) => list.iter().any(|x| x == t),
            (Self::Tenants(_), None) => false,
        }
    }
}

/// One accepted token, as the API checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// The token's name.
    pub name: String,
    /// The SHA-256 of the token.
    pub sha256: [u8; 32],
    /// What it may see.
    pub scope: TokenScope,
}

impl From<(String, [u8; 32])> for TokenEntry {
    /// An all-tenant token.
    fn from((name, sha256): (String, [u8; 32])) -> Self {
        Self {
            name,
            sha256,
            scope: TokenScope::AllTenants,
        }
    }
}

/// The line to paste under `[[api.tokens]]` for `token` (what
/// `alarmgate hash-password --token` prints).
pub fn token_sha256_line(token: &str) -> String {
    format!("sha256 = \"{}\"\n", token_sha256_hex(token))
}

/// The SHA-256 of a token in lower-case hex: what `[[api.tokens]]` stores.
pub fn token_sha256_hex(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex digits (either case) to 32 bytes; `None` for anything else.
fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl ApiSection {
    /// Each token's name, decoded SHA-256 and scope; entries that failed
    /// validation (never the case in a loaded config) are left out.
    pub fn token_hashes(&self) -> Vec<TokenEntry> {
        self.tokens
            .iter()
            .filter_map(|t| {
                let scope = match &t.tenants {
                    None => TokenScope::AllTenants,
                    Some(list) => TokenScope::Tenants(list.iter().cloned().collect()),
                };
                let sha256 = parse_sha256(&t.sha256)?;
                let name = t.name.clone();
                Some(TokenEntry {
                    name,
                    sha256,
                    scope,
                })
            })
            .collect()
    }

    /// Each scoped token's `tenants`: not empty, no duplicate, each a
    /// `[[tenants]]` id.
    pub(crate) fn check_tenants(&self, ids: &Ids<'_>, out: &mut Findings) {
        for (i, t) in self.tokens.iter().enumerate() {
            let Some(list) = &t.tenants else { continue };
            let path = format!("api.tokens[{i}].tenants");
            if list.is_empty() {
                let value = "[]".to_string();
                let expected = "at least one tenant id (leave the key out for every tenant)";
                out.push(path.clone(), Problem::Invalid { value, expected });
            }
            let mut seen = HashMap::new();
            for (j, tenant) in list.iter().enumerate() {
                let key = format!("{path}[{j}]");
                if let Some(first) = seen.insert(tenant.as_str(), j) {
                    let first = format!("{path}[{first}]");
                    let value = tenant.clone();
                    out.push(key, Problem::Duplicate { value, first });
                } else if !ids.has_tenant(tenant) {
                    let detail = format!("no [[tenants]] entry has id {tenant:?}");
                    out.push(key, Problem::Conflict { detail });
                }
            }
        }
    }

    /// The lifetime of operator sessions.
    pub fn session_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.session_ttl_s)
    }

    /// `session_ttl_s` in range, `console_ws_url` a ws/wss URL.
    fn check_console(&self, out: &mut Findings) {
        if !SESSION_TTL_RANGE_S.contains(&self.session_ttl_s) {
            let value = self.session_ttl_s.to_string();
            let expected = "5 to 604800 seconds";
            out.push(
                "api.session_ttl_s".to_string(),
                Problem::Invalid { value, expected },
            );
        }
        if let Some(url) = &self.console_ws_url {
            let rest = url
                .strip_prefix("wss://")
                .or_else(|| url.strip_prefix("ws://"));
            let host_ok = rest.is_some_and(|r| {
                !r.is_empty() && !r.starts_with('/') && r.chars().all(|c| c.is_ascii_graphic())
            });
            if !host_ok || url.len() > 512 {
                let value = format!("{url:?}");
                let expected =
                    "a ws:// or wss:// URL with a host, such as \"wss://centre.example:5067\"";
                out.push(
                    "api.console_ws_url".to_string(),
                    Problem::Invalid { value, expected },
                );
            }
        }
    }

    pub(crate) fn check(&self, out: &mut Findings) {
        self.check_console(out);
        let mut names = HashMap::new();
        let mut hashes = HashMap::new();
        for (i, t) in self.tokens.iter().enumerate() {
            let path = format!("api.tokens[{i}]");
            check_id(&t.name, &format!("{path}.name"), out);
            if let Some(first) = names.insert(t.name.as_str(), i) {
                let first = format!("api.tokens[{first}].name");
                let value = t.name.clone();
                out.push(format!("{path}.name"), Problem::Duplicate { value, first });
            }
            let Some(hash) = parse_sha256(&t.sha256) else {
                let value = format!("{:?}", t.sha256);
                let expected = "64 hex digits (see `alarmgate hash-password --token`)";
                out.push(
                    format!("{path}.sha256"),
                    Problem::Invalid { value, expected },
                );
                continue;
            };
            if let Some(first) = hashes.insert(hash, i) {
                let first = format!("api.tokens[{first}].sha256");
                let value = t.sha256.clone();
                out.push(
                    format!("{path}.sha256"),
                    Problem::Duplicate { value, first },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ttl_and_console_url_are_checked() {
        let mut out = Findings::default();
        ApiSection::default().check(&mut out);
        assert!(out.iter().next().is_none(), "the defaults are valid");
        let bad = |ttl: u64, url: &str| {
            let api = ApiSection {
                session_ttl_s: ttl,
                console_ws_url: Some(url.to_string()),
                ..ApiSection::default()
            };
            let mut out = Findings::default();
            api.check(&mut out);
            out.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
        };
        assert!(bad(5, "ws://127.0.0.1:5066").is_empty());
        assert!(bad(604_800, "wss://centre.example:5067/sip").is_empty());
        assert_eq!(bad(4, "ws://h"), ["api.session_ttl_s"]);
        assert_eq!(bad(60, "http://h"), ["api.console_ws_url"]);
        assert_eq!(bad(60, "wss:///path"), ["api.console_ws_url"]);
        assert_eq!(bad(60, "ws://a b"), ["api.console_ws_url"]);
    }

    fn token(name: &str, sha256: &str) -> ApiToken {
        ApiToken {
            name: name.into(),
            sha256: sha256.into(),
            tenants: None,
        }
    }

    #[test]
    fn sha256_line_and_match() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(token_sha256_line("abc"), format!("sha256 = \"{abc}\"\n"));
        let api = ApiSection {
            tokens: vec![token("console", &abc.to_uppercase())],
            ..ApiSection::default()
        };
        let hashes = api.token_hashes();
        assert_eq!(hashes.len(), 1);
        let abc_bytes: [u8; 32] = Sha256::digest(b"abc").into();
        assert_eq!(hashes[0], ("console".to_string(), abc_bytes).into());
    }

    #[test]
    fn token_checks() {
        let h = "0".repeat(64);
        let api = ApiSection {
            tokens: vec![
                token("a", &h),
                token("a", &"1".repeat(64)),
                token("B", &h),
                token("c", "xyz"),
                token("d", &format!("{}é", "0".repeat(62))),
            ],
            ..ApiSection::default()
        };
        let mut out = Findings::default();
        api.check(&mut out);
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "api.tokens[1].name",
                "api.tokens[2].name",
                "api.tokens[2].sha256",
                "api.tokens[3].sha256",
                "api.tokens[4].sha256",
            ]
        );
    }

    #[test]
    fn scoped_tokens_name_known_tenants_once() {
        let scoped = |list: &[&str]| {
            let mut t = token("t", &"0".repeat(64));
            t.tenants = Some(list.iter().map(|s| s.to_string()).collect());
            t
        };
        let api = ApiSection {
            tokens: vec![
                scoped(&["aarhus"]),
                scoped(&[]),
                scoped(&["aarhus", "aarhus", "oslo"]),
            ],
            ..ApiSection::default()
        };
        let ids = Ids::from_parts(&[], std::iter::empty(), ["aarhus"].into_iter());
        let mut out = Findings::default();
        api.check_tenants(&ids, &mut out);
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "api.tokens[1].tenants",
                "api.tokens[2].tenants[1]",
                "api.tokens[2].tenants[2]",
            ]
        );
        let scope = &api.token_hashes()[0].scope;
        assert!(scope.sees(Some("aarhus")));
        assert!(!scope.sees(Some("oslo")));
        assert!(
            !scope.sees(None),
            "tenant-less events only for all-tenant tokens"
        );
        assert!(TokenScope::AllTenants.sees(None));
    }
}
