//! The small sections: `[node]`, `[log]` and `[http]`.

use std::net::SocketAddr;

use serde::Deserialize;

use super::validate::Findings;
use super::Problem;

/// Default `node.name`.
pub const DEFAULT_NODE_NAME: &str = "alarmgate";
/// Default `log.level`.
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Default `http.listen`: loopback only, so metrics are not exposed by accident.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:9060";

/// `[node]`: who this daemon is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's name, shown in every log line and event so that a centre
    /// running several nodes can tell them apart. Default `"alarmgate"`.
    pub name: String,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_NODE_NAME.to_string(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event, for a terminal or journald.
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `[log]`: logging.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `"human"` or `"json"`. Default `"human"`.
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive list: a level (`trace`, `debug`,
    /// `info`, `warn`, `error`, `off`) and/or `target=level` pairs separated
    /// by commas, e.g. `"info,alarmgate::sip=debug"`. The `RUST_LOG`
    /// environment variable, when set, wins. Default `"info"`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: DEFAULT_LOG_LEVEL.to_string(),
        }
    }
}

/// `[http]`: the operations endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address serving `/metrics` (Prometheus), `/healthz` and `/readyz`.
    /// Default `"127.0.0.1:9060"`.
    pub listen: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let listen = SocketAddr::from(([127, 0, 0, 1], 9060));
        Self { listen }
    }
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

impl NodeConfig {
    pub(crate) fn check(&self, out: &mut Findings) {
        if self.name.trim().is_empty() {
            out.push(
                "node.name",
                Problem::Invalid {
                    value: "\"\"".into(),
                    expected: "a non-empty name",
                },
            );
        }
    }
}

impl LogConfig {
    /// A basic syntax check of the filter: each comma-separated directive is
    /// a level, a target, or `target=level`; span filters (`[...]`) are
    /// passed through unchecked.
    pub(crate) fn check(&self, out: &mut Findings) {
        if self.level.trim().is_empty() {
            out.push("log.level", bad_filter(&self.level));
            return;
        }
        let bad = self
            .level
            .split(',')
            .map(str::trim)
            .any(|d| !directive_ok(d));
        if bad {
            out.push("log.level", bad_filter(&self.level));
        }
    }
}

fn bad_filter(value: &str) -> Problem {
    Problem::Invalid {
        value: format!("{value:?}"),
        expected: "comma-separated directives: `level`, `target` or `target=level`, \
                   with level one of trace, debug, info, warn, error, off",
    }
}

fn directive_ok(directive: &str) -> bool {
    if directive.is_empty() {
        return true; // a trailing comma is accepted by EnvFilter
    }
    if directive.contains('[') {
        return directive.ends_with(']') || directive.contains("]=");
    }
    match directive.split_once('=') {
        Some((target, level)) => target_ok(target) && is_level(level),
        None => is_level(directive) || target_ok(directive),
    }
}

fn is_level(text: &str) -> bool {
    LEVELS.iter().any(|l| l.eq_ignore_ascii_case(text.trim()))
        || matches!(text.trim(), "0" | "1" | "2" | "3" | "4" | "5")
}

fn target_ok(target: &str) -> bool {
    let target = target.trim();
    !target.is_empty()
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
        && !target.split("::").any(str::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level_ok(level: &str) -> bool {
        let mut out = Findings::default();
        LogConfig {
            level: level.into(),
            ..LogConfig::default()
        }
        .check(&mut out);
        out.is_empty()
    }

    #[test]
    fn log_filters() {
        for ok in [
            "info",
            "WARN",
            "info,alarmgate::sip=debug",
            "alarmgate=trace",
            "off",
            "h2",
            "a[span]=debug",
            "3",
        ] {
            assert!(level_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "info,alarmgate::sip=loud",
            "=debug",
            "a b",
            "alarmgate::=info",
            "x=y=z",
        ] {
            assert!(!level_ok(bad), "{bad}");
        }
    }

    #[test]
    fn defaults_match_constants() {
        assert_eq!(
            HttpConfig::default().listen.to_string(),
            DEFAULT_HTTP_LISTEN
        );
        assert_eq!(LogConfig::default().level, DEFAULT_LOG_LEVEL);
        assert_eq!(NodeConfig::default().name, DEFAULT_NODE_NAME);
    }
}
