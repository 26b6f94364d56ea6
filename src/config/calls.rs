//! `[calls]`: call limits, overload answers, shutdown and session timers;
//! `[calls.overload]`: load shedding by priority and per-source limits.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;

use crate::admission::load::LagLimits;
use crate::admission::OverloadSettings;

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
    /// `[calls.overload]`: when new calls are shed, by priority.
    pub overload: OverloadConfig,
}

/// `[calls.overload]`. New calls are refused with 503 + Retry-After, before
/// any work is spent on them, when the node is measurably behind: the SIP
/// driver's lag (how long a message arriving now waits to be served) or the
/// media workers' tick lag (how late their 20 ms ticks run). Calls of normal
/// priority (`priority = "normal"` on a trunk, tenant or device) are shed at
/// the small `normal_*` lags, alarm calls only at the large `alarm_*` ones.
/// A threshold of 0 turns that signal off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverloadConfig {
    /// SIP driver lag, ms, above which normal calls are shed. Default 200
    /// (well under the 500 ms after which callers retransmit).
    pub normal_sip_lag_ms: u64,
    /// Media tick lag, ms, above which normal calls are shed. Default 40.
    pub normal_media_lag_ms: u64,
    /// SIP driver lag, ms, above which alarm calls are shed too; at least
    /// the normal one. Default 0, off: the SIP queue fills with the plain
    /// calls being refused, and an alarm INVITE that has waited in it gains
    /// nothing from a 503 (a late answer only delays an alarm call; a
    /// refusal costs it a retry).
    pub alarm_sip_lag_ms: u64,
    /// Media tick lag, ms, above which alarm calls are shed too; at least
    /// the normal one. Default 400 (beyond it the calls already accepted
    /// would start to miss their handshake and kissoff timing).
    pub alarm_media_lag_ms: u64,
    /// Shedding stops once both lags have stayed at or below half their
    /// thresholds for this long, so that the gate does not flap. 100 to
    /// 60000. Default 2000.
    pub recover_ms: u64,
    /// Percent of `calls.max_concurrent` that normal calls may not use: it
    /// stays free for alarm calls. 0 to 90. Default 20.
    pub alarm_reserve_percent: u8,
    /// INVITEs a second from one untrusted source (on no trunk: an IP
    /// device with digest credentials; an IPv4 address or an IPv6 /64),
    /// beyond which it gets 503. A challenged call costs two. 0 is
    /// unlimited. Default 10.
    pub untrusted_invites_per_second: u32,
    /// The burst an untrusted source may send at once. Default 40.
    pub untrusted_invite_burst: u32,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        Self {
            normal_sip_lag_ms: 200,
            normal_media_lag_ms: 40,
            alarm_sip_lag_ms: 0,
            alarm_media_lag_ms: 400,
            recover_ms: 2000,
            alarm_reserve_percent: 20,
            untrusted_invites_per_second: 10,
            untrusted_invite_burst: 40,
        }
    }
}

impl OverloadConfig {
    /// The admission core's overload settings; `normal_dids` and
    /// `normal_devices` come from the tenants and devices.
    pub fn settings(
        &self,
        normal_dids: HashSet<String>,
        normal_devices: HashSet<String>,
    ) -> OverloadSettings {
        let ms = Duration::from_millis;
        OverloadSettings {
            alarm_lag: LagLimits {
                sip: ms(self.alarm_sip_lag_ms),
                media: ms(self.alarm_media_lag_ms),
            },
            normal_lag: LagLimits {
                sip: ms(self.normal_sip_lag_ms),
                media: ms(self.normal_media_lag_ms),
            },
            recover: ms(self.recover_ms),
            alarm_reserve_percent: self.alarm_reserve_percent,
            source_rate: self.untrusted_invites_per_second,
            source_burst: self.untrusted_invite_burst.max(1),
            normal_dids,
            normal_devices,
        }
    }

    fn check(&self, out: &mut Findings) {
        let pairs = [
            (
                "alarm_sip_lag_ms",
                self.alarm_sip_lag_ms,
                self.normal_sip_lag_ms,
            ),
            (
                "alarm_media_lag_ms",
                self.alarm_media_lag_ms,
                self.normal_media_lag_ms,
            ),
        ];
        for (key, alarm, normal) in pairs {
            if alarm != 0 && normal != 0 && alarm < normal {
                let detail = format!("{key} ({alarm}) is below the normal threshold ({normal}): alarms would be shed first");
                out.push(
                    format!("calls.overload.{key}"),
                    Problem::Conflict { detail },
                );
            }
        }
        let ranges = [
            (
                "recover_ms",
                self.recover_ms,
                100,
                60_000,
                "100 to 60000 ms",
            ),
            (
                "alarm_reserve_percent",
                u64::from(self.alarm_reserve_percent),
                0,
                90,
                "0 to 90",
            ),
        ];
        for (key, value, low, high, expected) in ranges {
            if !(low..=high).contains(&value) {
                let value = value.to_string();
                out.push(
                    format!("calls.overload.{key}"),
                    Problem::Invalid { value, expected },
                );
            }
        }
    }
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
            overload: OverloadConfig::default(),
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
        self.overload.check(out);
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
            overload: OverloadConfig {
                alarm_media_lag_ms: 10,
                recover_ms: 50,
                alarm_reserve_percent: 95,
                ..OverloadConfig::default()
            },
            ..CallsConfig::default()
        };
        let mut out = Findings::default();
        c.check(&mut out);
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "calls.overload.alarm_media_lag_ms",
                "calls.overload.recover_ms",
                "calls.overload.alarm_reserve_percent",
                "calls.min_se_s",
                "calls.session_expires_s",
                "calls.retry_after_s"
            ]
        );
    }

    #[test]
    fn priorities_reach_the_admission_settings() {
        use crate::admission::Priority;
        let text = r#"[calls.overload]
normal_sip_lag_ms = 150
alarm_reserve_percent = 10

[[trunks]]
name = "pbx"
allow = ["192.0.2.0/24"]
priority = "normal"

[[trunks]]
name = "units"
allow = ["127.0.0.1"]

[auth]
[[auth.devices]]
username = "kiosk"
ha1_md5 = "0123456789abcdef0123456789abcdef"
priority = "normal"

[[tenants]]
id = "plain"
name = "Plain"
dids = ["+45 70-00"]
priority = "normal"

[[tenants]]
id = "demo"
name = "Demo"
dids = ["112"]
"#;
        let config = super::super::load_str(text, "t.toml").expect("valid");
        let s = config.admission_settings();
        let priorities: Vec<_> = s.access.trunks().iter().map(|t| t.priority).collect();
        assert_eq!(priorities, [Priority::Normal, Priority::Alarm]);
        let o = s.overload;
        assert_eq!(o.normal_lag.sip, Duration::from_millis(150));
        assert_eq!(o.alarm_reserve_percent, 10);
        assert_eq!(o.normal_dids, HashSet::from(["+457000".to_string()]));
        assert_eq!(o.normal_devices, HashSet::from(["kiosk".to_string()]));
    }

    #[test]
    fn bad_overload_keys_report_their_line() {
        let text = "[[trunks]]\nname = \"lo\"\nallow = [\"127.0.0.1\"]\npriority = \"urgent\"\n\n\
[[tenants]]\nid = \"demo\"\nname = \"Demo\"\ndids = [\"112\"]\n";
        let errs = super::super::load_str(text, "t.toml").expect_err("rejected");
        let found: Vec<_> = errs.iter().map(|e| (e.line, e.message())).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 4, "{found:?}");
        assert!(found[0].1.contains("urgent"), "{found:?}");
        let text = "[calls.overload]\nrecover_ms = 5\n\n[[trunks]]\nname = \"lo\"\nallow = [\"127.0.0.1\"]\n\n\
[[tenants]]\nid = \"demo\"\nname = \"Demo\"\ndids = [\"112\"]\n";
        let errs = super::super::load_str(text, "t.toml").expect_err("rejected");
        let found: Vec<_> = errs.iter().map(|e| (e.line, e.key.as_str())).collect();
        assert_eq!(found, [(2, "calls.overload.recover_ms")]);
    }
}
