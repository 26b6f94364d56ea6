//! The overload screen: what a new INVITE meets before anything is spent on
//! it. See the module documentation of [`super`] for the order of checks.

use super::load::LagLimits;
use super::{Admission, OverloadReason};
use serde::Deserialize;
use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Whose calls are shed first: normal calls go before alarm calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Calls that may carry an alarm: shed last, and they alone may use the
    /// reserved share of the concurrency limit.
    #[default]
    Alarm,
    /// Plain calls: shed first.
    Normal,
}

impl Priority {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Alarm => "alarm",
            Priority::Normal => "normal",
        }
    }
}

/// The overload part of the admission settings (`[calls.overload]`, and the
/// `priority` keys of trunks, tenants and devices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverloadSettings {
    /// Lag thresholds above which alarm calls are shed.
    pub alarm_lag: LagLimits,
    /// Lag thresholds above which normal calls are shed.
    pub normal_lag: LagLimits,
    /// How long the lag must stay below half a threshold before its gate reopens.
    pub recover: Duration,
    /// The share of `max_concurrent`, in percent, that normal calls may not use.
    pub alarm_reserve_percent: u8,
    /// INVITEs a second per untrusted source (IPv4 address, IPv6 /64); 0 is unlimited.
    pub source_rate: u32,
    /// The per-source bucket size.
    pub source_burst: u32,
    /// Called numbers (as the call core normalises them) of normal tenants.
    pub normal_dids: HashSet<String>,
    /// Digest usernames of normal devices.
    pub normal_devices: HashSet<String>,
}

impl Default for OverloadSettings {
    fn default() -> Self {
        let ms = Duration::from_millis;
        Self {
            alarm_lag: LagLimits {
                sip: Duration::ZERO,
                media: ms(400),
            },
            normal_lag: LagLimits {
                sip: ms(200),
                media: ms(40),
            },
            recover: ms(2000),
            alarm_reserve_percent: 20,
            source_rate: 10,
            source_burst: 40,
            normal_dids: HashSet::new(),
            normal_devices: HashSet::new(),
        }
    }
}

/// A new call refused with 503: why, whose, and the Retry-After.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shed {
    /// Which limit refused it.
    pub reason: OverloadReason,
    /// The call's priority as far as it was known.
    pub priority: Priority,
    /// The Retry-After value.
    pub retry_after: Duration,
}

impl Admission {
    /// Screens a new INVITE from `source` to `did` while `active_calls` are
    /// up: `Some` when it is to be refused with 503 now, before any state is
    /// kept for it. A source on no trunk is treated as alarm until its device
    /// has authenticated ([`Admission::screen_device`]).
    pub fn screen(
        &mut self,
        now: Instant,
        source: IpAddr,
        did: Option<&str>,
        active_calls: usize,
        draining: bool,
    ) -> Option<Shed> {
        let trunk = self.settings.access.acl_for(source).map(|t| t.priority);
        let normal_tenant = did.is_some_and(|d| self.settings.overload.normal_dids.contains(d));
        let priority = match (trunk, normal_tenant) {
            (Some(Priority::Normal), _) | (_, true) => Priority::Normal,
            _ => Priority::Alarm,
        };
        let reason = if draining {
            Some(OverloadReason::Draining)
        } else {
            self.limit(now, priority, active_calls)
        };
        let reason = reason.or_else(|| self.source_limit(now, source, trunk.is_none()));
        reason.map(|reason| self.shed(reason, priority))
    }

    /// After digest authentication: a device configured as normal priority
    /// meets the normal limits (reserve and load) too.
    pub fn screen_device(
        &mut self,
        now: Instant,
        username: &str,
        active_calls: usize,
    ) -> Option<Shed> {
        if !self.settings.overload.normal_devices.contains(username) {
            return None;
        }
        let reason = self.limit(now, Priority::Normal, active_calls)?;
        Some(self.shed(reason, Priority::Normal))
    }

    /// Concurrency, the alarm reserve, and the load gates.
    fn limit(&mut self, now: Instant, priority: Priority, active: usize) -> Option<OverloadReason> {
        let max = self.settings.max_concurrent;
        if max > 0 && active >= max {
            return Some(OverloadReason::Concurrency);
        }
        if priority == Priority::Normal && max > 0 && active >= self.normal_max() {
            return Some(OverloadReason::Reserve);
        }
        (!self.gates.admit(now, priority)).then_some(OverloadReason::Load)
    }

    /// The most calls at once that leave the alarm reserve free.
    fn normal_max(&self) -> usize {
        let reserve = usize::from(self.settings.overload.alarm_reserve_percent.min(100));
        self.settings.max_concurrent * (100 - reserve) / 100
    }

    /// The per-source INVITE rate, for sources on no trunk that would be
    /// challenged (with no devices configured they get a cheap 403 anyway).
    fn source_limit(
        &mut self,
        now: Instant,
        source: IpAddr,
        untrusted: bool,
    ) -> Option<OverloadReason> {
        let limited = untrusted && self.settings.devices_configured;
        (limited && !self.sources.try_acquire(now, source)).then_some(OverloadReason::SourceRate)
    }

    fn shed(&mut self, reason: OverloadReason, priority: Priority) -> Shed {
        let r = &mut self.refusals;
        match (reason, priority) {
            (OverloadReason::Draining, _) => r.draining += 1,
            (OverloadReason::Concurrency, _) => r.concurrency += 1,
            (OverloadReason::Rate, _) => r.rate += 1,
            (OverloadReason::Reserve, _) => r.reserve += 1,
            (OverloadReason::Load, Priority::Alarm) => r.load.0 += 1,
            (OverloadReason::Load, Priority::Normal) => r.load.1 += 1,
            (OverloadReason::SourceRate, _) => r.source_rate += 1,
        }
        Shed {
            reason,
            priority,
            retry_after: self.settings.retry_after,
        }
    }

    /// Caps the concurrency limit at `capacity` (the RTP ports there are):
    /// the alarm reserve is a share of what can really be served.
    pub fn cap_concurrency(&mut self, capacity: usize) {
        let max = &mut self.settings.max_concurrent;
        *max = if *max == 0 {
            capacity
        } else {
            (*max).min(capacity)
        };
    }

    /// A SIP driver lag sample (how long a message arriving now waits).
    pub fn observe_sip_lag(&mut self, now: Instant, lag: Duration) {
        self.gates.observe_sip(now, lag);
    }

    /// A media tick lag sample (how late the workers' latest ticks ran).
    pub fn observe_media_lag(&mut self, now: Instant, lag: Duration) {
        self.gates.observe_media(now, lag);
    }

    /// The smoothed (SIP driver, media tick) lags the gates decide on.
    pub fn lags(&self) -> (Duration, Duration) {
        self.gates.lags()
    }

    /// True while any new calls are shed for load (normal ones are shed
    /// first, so this is the normal gate).
    pub fn shedding_any(&mut self, now: Instant) -> bool {
        self.gates.shedding(now, Priority::Normal)
    }

    /// True when `source` is on a trunk (admitted without authentication).
    pub fn is_trusted(&self, source: IpAddr) -> bool {
        self.settings.access.acl_for(source).is_some()
    }

    /// The normal calls' adaptive rate, calls a second; `None` while unlimited.
    pub fn normal_rate(&self) -> Option<f64> {
        self.gates.normal_rate()
    }

    /// True while new calls of `priority` are shed for load.
    pub fn shedding(&mut self, now: Instant, priority: Priority) -> bool {
        self.gates.shedding(now, priority)
    }
}
