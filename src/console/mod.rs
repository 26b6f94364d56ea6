//! The operator console: a page the daemon serves at `/console` on its HTTP
//! listener, and `GET /api/v1/console/config`, what the page needs before
//! sign-in (the SIP over WebSocket address its browser phone registers
//! with, the session lifetime).
//!
//! Every asset is compiled into the binary (`include_str!`/`include_bytes!`):
//! the page, its script and style, and JsSIP 3.13.8 vendored with its
//! licence (`assets/vendor/README.md` says how it was built). Nothing is
//! fetched at run time. Each answer carries a strict Content-Security-Policy:
//! scripts and styles from the node only (no inline code), connections to
//! the node and to the configured WebSocket address only, no framing.
//!
//! The page itself is `assets/console.js`; its test hooks (a WebAudio
//! microphone, `window.alarmgateTestMic`) are documented there and in
//! `docs/configuration.md`.

use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// The page's path.
pub const PATH: &str = "/console";
/// The config route's path.
pub const CONFIG_PATH: &str = "/api/v1/console/config";
/// The vendored JsSIP build's file name (its version is pinned in it).
pub const JSSIP_FILE: &str = "jssip-3.13.8.min.js";

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");
const JSSIP_JS: &[u8] = include_bytes!("assets/vendor/jssip-3.13.8.min.js");
const JSSIP_LICENSE: &str = include_str!("assets/vendor/LICENSE-jssip.txt");

/// What the page learns before sign-in (`GET /api/v1/console/config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// The `ws://`/`wss://` URL the browser phone registers with; `None`
    /// when the node has none (the console then works without a phone).
    pub ws_url: Option<String>,
    /// The SIP domain of the operator's address (`sip:<id>@<domain>`).
    pub sip_domain: String,
    /// How long a session lasts without renewal, in seconds.
    pub session_ttl_s: u64,
}

impl ConsoleConfig {
    /// From the loaded config: `[api] console_ws_url` and `session_ttl_s`.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let ws_url = config.api.console_ws_url.clone();
        Self {
            sip_domain: ws_url
                .as_deref()
                .and_then(url_host)
                .unwrap_or("alarmgate")
                .to_string(),
            ws_url,
            session_ttl_s: config.api.session_ttl_s,
        }
    }
}

/// The host of a `ws://host:port/path` URL (brackets kept for IPv6).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => return v6.split(']').next(),
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then_some(host)
}

/// The origin (`ws://host:port`) of a WebSocket URL, for the CSP.
fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let safe = authority
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    (safe && !authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

/// The Content-Security-Policy of every console answer.
pub fn content_security_policy(config: &ConsoleConfig) -> String {
    let ws = config.ws_url.as_deref().and_then(url_origin);
    let connect = match ws {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         media-src 'self' blob: mediastream:; connect-src {connect}; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
}

#[derive(Clone)]
struct Console {
    config: ConsoleConfig,
    csp: HeaderValue,
}

/// The page, its assets and the config route, to merge into the HTTP
/// listener.
pub fn routes(config: ConsoleConfig) -> Router {
    let csp = content_security_policy(&config);
    let csp = HeaderValue::from_str(&csp)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    Router::new()
        .route(PATH, get(index))
        .route("/console/", get(index))
        .route("/console/console.js", get(script))
        .route("/console/console.css", get(style))
        .route("/console/jssip-3.13.8.min.js", get(jssip))
        .route("/console/LICENSE-jssip.txt", get(licence))
        .route(CONFIG_PATH, get(console_config))
        .with_state(Console { config, csp })
}

/// An asset with its type and the console's security headers.
fn asset(console: &Console, kind: &'static str, body: impl IntoResponse) -> Response {
    let headers: [(HeaderName, HeaderValue); 7] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
        (header::CONTENT_SECURITY_POLICY, console.csp.clone()),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("microphone=(self), camera=()"),
        ),
    ];
    (StatusCode::OK, headers, body).into_response()
}

async fn index(State(c): State<Console>) -> Response {
    asset(&c, "text/html; charset=utf-8", INDEX_HTML)
}

async fn script(State(c): State<Console>) -> Response {
    asset(&c, "text/javascript; charset=utf-8", CONSOLE_JS)
}

async fn style(State(c): State<Console>) -> Response {
    asset(&c, "text/css; charset=utf-8", CONSOLE_CSS)
}

async fn jssip(State(c): State<Console>) -> Response {
    asset(&c, "text/javascript; charset=utf-8", JSSIP_JS)
}

async fn licence(State(c): State<Console>) -> Response {
    asset(&c, "text/plain; charset=utf-8", JSSIP_LICENSE)
}

async fn console_config(State(c): State<Console>) -> Response {
    let mut response = Json(c.config.clone()).into_response();
    let no_cache = HeaderValue::from_static("no-cache");
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, no_cache);
    response
}

#[cfg(test)]
mod tests;
