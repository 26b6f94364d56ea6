//! `[calls]`: call limits, overload answers, shutdown and session timers.

use std::time::Duration;

use serde::Deserialize;

use super::validate::Findings;
use super::Problem;

/// RFC 4028 §4: the smallest Min-SE anyone may use.
pub const RFC4028_MIN_SE_S: u64 = 90;

/// Upper bound on `calls.answer_delay_ms`: beyond this, units give up.
pub const MAX_ANSWER_DELAY_MS: u64 = 30_000;

/// `[calls]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallsConfig {
    /// Longest a call may last, in seconds; 0 means never cut a call. An
    /// alarm call must not be cut while the citizen needs help, so the
    /// default is 0.
    pub max_duration_s: u64,
    /// Ring before answering: after 100 Trying we send 180 Ringing and wait
    /// this many milliseconds before 200 OK; 0 answers at once. Some alarm
    /// units only start their handshake detector after ringing. At most
    /// 30000. Default 0.
    pub answer_delay_ms: u64,
    /// Most calls at once; new calls beyond this are answered 503 with
    /// Retry-After. 0 means unlimited. Default 2000.
    pub max_concurrent: usize,
    /// New calls per second, as a token bucket whose burst is
    /// max(1, rate); calls beyond it are answered 503 with Retry-After.
    /// 0 means unlimited. Default 0.
    pub max_per_second: u32,
    /// Retry-After, in seconds, on every 503 we send. Default 5.
    pub retry_after_s: u64,
    /// On SIGTERM new calls get 503 and calls in progress have this many
    /// seconds to finish before they are ended. Default 30.
    pub shutdown_grace_s: u64,
    /// RFC 4028 Session-Expires we ask for and answer with, in seconds;
    /// at least `min_se_s`. Default 1800.
    pub session_expires_s: u64,
    /// RFC 4028 Min-SE: a shorter Session-Expires in a request gets 422.
    /// At least 90. Default 90.
    pub min_se_s: u64,
}

impl Default for CallsConfig {
    fn default() -> Self {
        Self {
            max_duration_s: 0,
            answer_delay_ms: 0,
            max_concurrent: 2000,
            max_per_second: 0,
            retry_after_s: 5,
            shutdown_grace_s: 30,
            session_expires_s: 1800,
            min_se_s: RFC4028_MIN_SE_S,
        }
    }
}

impl CallsConfig {
    /// The call duration cap, `None` when calls are never cut.
    pub fn max_duration(&self) -> Option<Duration> {
        (self.max_duration_s > 0).then(|| Duration::from_secs(self.max_duration_s))
    }
    /// Ringing time before the 200 OK; zero answers at once.
    pub fn answer_delay(&self) -> Duration {
        Duration::from_millis(self.answer_delay_ms)
    }
    /// Retry-After on 503.
    pub fn retry_after(&self) -> Duration {
        Duration::from_secs(self.retry_after_s)
    }
    /// Drain time on shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_s)
    }
    /// RFC 4028 session interval.
    pub fn session_expires(&self) -> Duration {
        Duration::from_secs(self.session_expires_s)
    }
    /// RFC 4028 Min-SE.
    pub fn min_se(&self) -> Duration {
        Duration::from_secs(self.min_se_s)
    }
    /// The token bucket size for `max_per_second`: max(1, rate).
    pub fn burst(&self) -> u32 {
        self.max_per_second.max(1)
    }

    pub(crate) fn check(&self, out: &mut Findings) {
        if self.answer_delay_ms > MAX_ANSWER_DELAY_MS {
            let value = self.answer_delay_ms.to_string();
            out.push(
                "calls.answer_delay_ms",
                Problem::Invalid {
                    value,
                    expected: "at most 30000 ms",
                },
            );
        }
        if self.min_se_s < RFC4028_MIN_SE_S {
            let value = self.min_se_s.to_string();
            out.push(
                "calls.min_se_s",
                Problem::Invalid {
                    value,
                    expected: "at least 90 (RFC 4028)",
                },
            );
        }
        if self.session_expires_s < self.min_se_s {
            let detail = format!(
                "session_expires_s ({}) is below min_se_s ({})",
                self.session_expires_s, self.min_se_s
            );
            out.push("calls.session_expires_s", Problem::Conflict { detail });
        }
        if self.retry_after_s == 0 {
            let expected = "at least 1 (0 would invite an immediate retry storm)";
            out.push(
                "calls.retry_after_s",
                Problem::Invalid {
                    value: "0".into(),
                    expected,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getters() {
        let c = CallsConfig::default();
        assert_eq!(c.max_duration(), None);
        assert_eq!(c.retry_after(), Duration::from_secs(5));
        assert_eq!(c.shutdown_grace(), Duration::from_secs(30));
        assert_eq!(c.session_expires(), Duration::from_secs(1800));
        assert_eq!(c.min_se(), Duration::from_secs(90));
        assert_eq!(c.burst(), 1);
        assert_eq!(c.answer_delay(), Duration::ZERO);
        let c = CallsConfig {
            max_duration_s: 7200,
            max_per_second: 20,
            ..c
        };
        assert_eq!(c.max_duration(), Some(Duration::from_secs(7200)));
        assert_eq!(c.burst(), 20);
    }

    #[test]
    fn session_timer_checks() {
        let c = CallsConfig {
            min_se_s: 60,
            session_expires_s: 30,
            retry_after_s: 0,
            ..CallsConfig::default()
        };
        let mut out = Findings::default();
        c.check(&mut out);
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "calls.min_se_s",
                "calls.session_expires_s",
                "calls.retry_after_s"
            ]
        );
    }
}
