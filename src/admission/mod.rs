//! Call admission: who may call in, and how many at once.
//!
//! A pure core. The call core asks [`Admission::admit`] once per new INVITE
//! (not for re-INVITEs inside a dialog) and turns the [`AdmissionDecision`]
//! into a SIP answer: go on, challenge with 401, 403, or 503 + Retry-After.
//!
//! ## Order of checks, and why
//!
//! 1. **Draining** (shutdown started): 503. Nothing else matters.
//! 2. **Concurrency** (`active_calls >= max_concurrent`): 503. A counter
//!    compare, cheaper than the access list, and it protects the box.
//! 3. **Access list**: the source address is looked up in the trunks. A source
//!    on no trunk when no devices are configured is refused with 403 *here*,
//!    before the rate limit, so that scanners and strays never spend the
//!    tokens that real alarm calls need.
//! 4. **Rate limit** (token bucket): 503. Spent by trusted calls and by calls
//!    that will be challenged (a challenged device comes back with a second
//!    INVITE, which is admitted again; that is two tokens, on purpose: the
//!    digest exchange costs us work too).
//!
//! ## Overload: the screen before everything else
//!
//! [`Admission::screen`] runs first, on every new INVITE, before the
//! transaction layer keeps any state for it (the call core answers its 503
//! statelessly, RFC 3261 §8.2.7, so a refusal costs a parse and a reply).
//! It refuses with 503 + Retry-After, in this order: draining; the
//! concurrency limit; the share of it reserved for alarm calls (normal calls
//! only); the load gates of [`load`], fed with the measured lag of the SIP
//! driver and of the media workers (normal calls shed at a small lag, alarm
//! calls only at a large one, with hysteresis); and the per-source INVITE
//! rate of untrusted sources ([`sources`]). A call's [`Priority`] is normal
//! when its trunk, its tenant (by called number) or, after authentication,
//! its device says so, else alarm.
//!
//! ## Config keys
//! `trunks[].allow`, `trunks[].priority`, `tenants[].priority`,
//! `auth.devices[].priority`, `calls.max_concurrent`, `calls.max_per_second`,
//! `calls.retry_after_s`, `[calls.overload]`, and whether `auth.devices` is
//! empty; the config module builds [`AdmissionSettings`] from them.
//!
//! ## Metrics
//! [`Admission::refusals`] counts refusals by reason for the telemetry layer;
//! the call core counts each 503 by reason and priority as it sends it.

pub mod adaptive;
mod ipnet;
pub mod load;
mod rate;
mod screen;
pub mod sources;

pub use ipnet::{IpNet, IpNetError};
pub use rate::RateLimiter;
pub use screen::{OverloadSettings, Priority, Shed};

use std::net::IpAddr;
use std::time::{Duration, Instant};

/// One trunk: a name and the networks it calls from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkAcl {
    /// The trunk's name, as in `trunks[].name`.
    pub name: String,
    /// Source networks admitted without authentication.
    pub allow: Vec<IpNet>,
    /// Whose calls are shed first under overload.
    pub priority: Priority,
}

/// The trusted-trunk access list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    trunks: Vec<TrunkAcl>,
}

impl AccessList {
    /// An access list over `trunks`; the first trunk that matches wins.
    pub fn new(trunks: Vec<TrunkAcl>) -> Self {
        Self { trunks }
    }

    /// The name of the first trunk whose networks contain `ip`.
    pub fn trunk_for(&self, ip: IpAddr) -> Option<&str> {
        self.trunks
            .iter()
            .find(|t| t.allow.iter().any(|net| net.contains(ip)))
            .map(|t| t.name.as_str())
    }

    /// The first trunk whose networks contain `ip`.
    pub fn acl_for(&self, ip: IpAddr) -> Option<&TrunkAcl> {
        self.trunks
            .iter()
            .find(|t| t.allow.iter().any(|net| net.contains(ip)))
    }

    /// The trunks, in match order.
    pub fn trunks(&self) -> &[TrunkAcl] {
        &self.trunks
    }
}

/// Everything [`Admission`] needs, as plain values (no TOML here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionSettings {
    /// Trusted trunks.
    pub access: AccessList,
    /// True when digest-auth devices are configured, so that unknown sources
    /// are challenged instead of refused.
    pub devices_configured: bool,
    /// Most calls at once; 0 means unlimited.
    pub max_concurrent: usize,
    /// New calls per second; 0 means unlimited.
    pub max_per_second: u32,
    /// Token bucket size; 0 is treated as 1.
    pub burst: u32,
    /// The Retry-After sent with every 503.
    pub retry_after: Duration,
    /// Load gates, the alarm reserve, per-source limits, normal tenants and devices.
    pub overload: OverloadSettings,
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        Self {
            access: AccessList::default(),
            devices_configured: false,
            max_concurrent: 2000,
            max_per_second: 0,
            burst: 1,
            retry_after: Duration::from_secs(5),
            overload: OverloadSettings::default(),
        }
    }
}

/// What to do with a new call. Every variant is an expected outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdmissionDecision {
    /// From a trusted trunk: go on without authentication.
    Trusted {
        /// The trunk's name.
        trunk: String,
    },
    /// Not on a trunk, but devices are configured: challenge with 401.
    NeedsAuth,
    /// Not on a trunk and no devices: answer 403.
    Forbidden,
    /// Draining, too many calls, or too fast: answer 503 with Retry-After.
    Overloaded {
        /// Which limit refused the call.
        reason: OverloadReason,
        /// The Retry-After value.
        retry_after: Duration,
    },
}

/// Which limit refused a call with 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverloadReason {
    /// The node is shutting down.
    Draining,
    /// `calls.max_concurrent` calls were up.
    Concurrency,
    /// The call rate limit was hit.
    Rate,
    /// A normal call, and the rest of `calls.max_concurrent` is reserved
    /// for alarm calls.
    Reserve,
    /// The measured lag of the SIP driver or the media workers is above
    /// this priority's threshold.
    Load,
    /// An untrusted source sent INVITEs faster than its own limit.
    SourceRate,
}

impl OverloadReason {
    /// The metric label (`alarmgate_admission_refusals_total{reason=...}`).
    pub fn as_str(self) -> &'static str {
        match self {
            OverloadReason::Draining => "draining",
            OverloadReason::Concurrency => "overload_concurrency",
            OverloadReason::Rate => "overload_rate",
            OverloadReason::Reserve => "overload_reserve",
            OverloadReason::Load => "overload_load",
            OverloadReason::SourceRate => "source_rate",
        }
    }
}

/// Why calls were refused, counted since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusalCounts {
    /// 503 because the daemon is shutting down.
    pub draining: u64,
    /// 503 because `max_concurrent` calls were up.
    pub concurrency: u64,
    /// 503 because the call rate limit was hit.
    pub rate: u64,
    /// 403 because the source is on no trunk and no devices are configured.
    pub forbidden: u64,
    /// 503 to normal calls in the alarm reserve.
    pub reserve: u64,
    /// 503 because of measured load, by priority: (alarm, normal).
    pub load: (u64, u64),
    /// 503 because an untrusted source was over its own INVITE rate.
    pub source_rate: u64,
}

/// The admission core: access list, rate limit and concurrency limit.
#[derive(Debug, Clone)]
pub struct Admission {
    settings: AdmissionSettings,
    limiter: RateLimiter,
    refusals: RefusalCounts,
    gates: load::LoadGates,
    sources: sources::SourceLimits,
}

impl Admission {
    /// An admission core with these settings and a full token bucket.
    pub fn new(settings: AdmissionSettings) -> Self {
        let limiter = RateLimiter::new(settings.max_per_second, settings.burst);
        let o = &settings.overload;
        let gates = load::LoadGates::new(o.alarm_lag, o.normal_lag, o.recover);
        let sources =
            sources::SourceLimits::new(o.source_rate, o.source_burst, sources::MAX_SOURCES);
        Self {
            settings,
            limiter,
            refusals: RefusalCounts::default(),
            gates,
            sources,
        }
    }

    /// Decides on a new call from `source` while `active_calls` are up.
    /// See the module doc for the order of checks.
    pub fn admit(
        &mut self,
        now: Instant,
        source: IpAddr,
        active_calls: usize,
        draining: bool,
    ) -> AdmissionDecision {
        let retry_after = self.settings.retry_after;
        let overloaded = |reason| AdmissionDecision::Overloaded {
            reason,
            retry_after,
        };
        if draining {
            self.refusals.draining += 1;
            return overloaded(OverloadReason::Draining);
        }
        let max = self.settings.max_concurrent;
        if max > 0 && active_calls >= max {
            self.refusals.concurrency += 1;
            return overloaded(OverloadReason::Concurrency);
        }
        let decision = self.classify(source);
        if decision == AdmissionDecision::Forbidden {
            self.refusals.forbidden += 1;
            return decision;
        }
        if !self.limiter.try_acquire(now) {
            self.refusals.rate += 1;
            return overloaded(OverloadReason::Rate);
        }
        decision
    }

    /// Trusted, NeedsAuth or Forbidden, from the access list alone.
    fn classify(&self, source: IpAddr) -> AdmissionDecision {
        match self.settings.access.trunk_for(source) {
            Some(trunk) => AdmissionDecision::Trusted {
                trunk: trunk.to_string(),
            },
            None if self.settings.devices_configured => AdmissionDecision::NeedsAuth,
            None => AdmissionDecision::Forbidden,
        }
    }

    /// Refusals so far, by reason.
    pub fn refusals(&self) -> &RefusalCounts {
        &self.refusals
    }

    /// The settings in force.
    pub fn settings(&self) -> &AdmissionSettings {
        &self.settings
    }

    /// For other modules' tests: one trunk `"test"` over `nets`, no devices,
    /// the given limits, Retry-After 5 s.
    ///
    /// # Panics
    /// On a malformed network in `nets` (test input, written by hand).
    #[cfg(test)]
    pub fn for_tests(nets: &[&str], max_concurrent: usize, max_per_second: u32) -> Self {
        let allow = nets
            .iter()
            .map(|n| n.parse().expect("valid test network"))
            .collect();
        Self::new(AdmissionSettings {
            access: AccessList::new(vec![TrunkAcl {
                name: "test".to_string(),
                allow,
                priority: Priority::Alarm,
            }]),
            devices_configured: false,
            max_concurrent,
            max_per_second,
            burst: max_per_second.max(1),
            retry_after: Duration::from_secs(5),
            overload: OverloadSettings::default(),
        })
    }

    /// Test helper: trunks on `nets`, digest-authenticated devices allowed.
    #[cfg(test)]
    pub fn for_tests_with_devices(nets: &[&str]) -> Self {
        let mut a = Self::for_tests(nets, 100, 0);
        a.settings.devices_configured = true;
        a
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_overload;
