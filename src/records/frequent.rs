//! Frequent callers: a pure sliding-window detector in simulated time.
//!
//! Per tenant, thresholds on a caller's calls within the last 24 hours, 7
//! days and 30 days ("per month" as a rolling window, so a caller is
//! spotted mid-month too), counting only calls of the configured classes.
//! [`Detector::observe`] takes one call (caller, class, time) and returns
//! the windows it made the caller *cross*: reported once, until the count
//! in that window falls below the threshold again (the next call then
//! re-arms, and a later rise is a new crossing). [`list`] answers "who is
//! over a threshold at `now`" from stored calls, for the API.

use std::collections::{HashMap, HashSet, VecDeque};

/// The metric: crossings, labelled by tenant and window (never the caller).
pub const CROSSINGS: &str = "alarmgate_frequent_caller_crossings_total";
/// The CloudEvents type of a crossing.
pub const CALLER_FREQUENT: &str = "alarmgate.caller.frequent";

const HOUR_MS: i64 = 3_600_000;

/// A counting window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Window {
    /// The last 24 hours.
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days.
    #[serde(rename = "7d")]
    Week,
    /// The last 30 days.
    #[serde(rename = "30d")]
    Month,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 3] = [Window::Day, Window::Week, Window::Month];

    /// Its length in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Window::Day => 24 * HOUR_MS,
            Window::Week => 7 * 24 * HOUR_MS,
            Window::Month => 30 * 24 * HOUR_MS,
        }
    }

    /// Its label in events and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
            Window::Month => "30d",
        }
    }
}

/// One tenant's thresholds (`[tenants.frequent_callers]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    /// Calls per 24 h, 7 days, 30 days that make a frequent caller (`None`: not checked).
    pub limits: [Option<u32>; 3],
    /// The call classes that count.
    pub classes: Vec<String>,
}

impl Thresholds {
    fn limit(&self, w: Window) -> Option<u32> {
        self.limits.get(w as usize).copied().flatten()
    }

    /// True when calls of `class` count.
    pub fn counts(&self, class: &str) -> bool {
        self.classes.iter().any(|c| c == class)
    }
}

/// A caller crossed a threshold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Crossing {
    /// The tenant.
    pub tenant: String,
    /// The caller.
    pub caller: String,
    /// The window.
    pub window: Window,
    /// Calls in the window, this one included.
    pub count: u32,
    /// The threshold.
    pub threshold: u32,
    /// The call's time (Unix ms).
    pub at_ms: i64,
}

type Key = (String, String);

/// The detector's state: recent call times per caller, and who is over.
#[derive(Debug, Default)]
pub struct Detector {
    thresholds: HashMap<String, Thresholds>,
    calls: HashMap<Key, VecDeque<i64>>,
    over: HashSet<(Key, Window)>,
}

impl Detector {
    /// A detector with per-tenant thresholds (tenants absent: never frequent).
    pub fn new(thresholds: HashMap<String, Thresholds>) -> Self {
        Self {
            thresholds,
            ..Self::default()
        }
    }

    /// One call of `caller` in `tenant`, of `class`, at `at_ms`.
    pub fn observe(
        &mut self,
        tenant: &str,
        caller: &str,
        class: &str,
        at_ms: i64,
    ) -> Vec<Crossing> {
        let Some(t) = self.thresholds.get(tenant) else {
            return Vec::new();
        };
        if caller.is_empty() || !t.counts(class) {
            return Vec::new();
        }
        let t = t.clone();
        let key = (tenant.to_string(), caller.to_string());
        let times = self.calls.entry(key.clone()).or_default();
        let at = times.partition_point(|&x| x <= at_ms);
        times.insert(at, at_ms);
        let newest = times.back().copied().unwrap_or(at_ms);
        while times
            .front()
            .is_some_and(|&x| x <= newest - Window::Month.millis())
        {
            times.pop_front();
        }
        let counts = Window::ALL.map(|w| count_in(times, w, newest));
        let mut out = Vec::new();
        for (w, count) in Window::ALL.into_iter().zip(counts) {
            let Some(limit) = t.limit(w) else { continue };
            let flag = (key.clone(), w);
            if count < limit {
                self.over.remove(&flag);
            } else if self.over.insert(flag) {
                let (tenant, caller) = key.clone();
                out.push(Crossing {
                    tenant,
                    caller,
                    window: w,
                    count,
                    threshold: limit,
                    at_ms,
                });
            }
        }
        out
    }

    /// Replaces the thresholds (a reload); a caller no longer over is re-armed at their next call.
    pub fn set_thresholds(&mut self, thresholds: HashMap<String, Thresholds>) {
        self.thresholds = thresholds;
    }

    /// Callers followed (for tests and memory bounds).
    pub fn callers(&self) -> usize {
        self.calls.len()
    }
}

/// Calls in `(at - window, at]`.
fn count_in(times: &VecDeque<i64>, w: Window, at: i64) -> u32 {
    times
        .iter()
        .filter(|&&x| x > at - w.millis() && x <= at)
        .count() as u32
}

/// A caller over at least one threshold at some moment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FrequentCaller {
    /// The caller.
    pub caller: String,
    /// Calls in the last 24 h.
    pub calls_24h: u32,
    /// Calls in the last 7 days.
    pub calls_7d: u32,
    /// Calls in the last 30 days.
    pub calls_30d: u32,
    /// The windows whose threshold is reached.
    pub over: Vec<Window>,
}

/// The callers over a threshold at `now_ms`, from `(caller, class, received)`
/// of the tenant's calls; most calls in 30 days first.
pub fn list<'a>(
    calls: impl IntoIterator<Item = (&'a str, &'a str, i64)>,
    t: &Thresholds,
    now_ms: i64,
) -> Vec<FrequentCaller> {
    let mut per: HashMap<&str, VecDeque<i64>> = HashMap::new();
    for (caller, class, at) in calls {
        if at <= now_ms
            && at > now_ms - Window::Month.millis()
            && t.counts(class)
            && !caller.is_empty()
        {
            per.entry(caller).or_default().push_back(at);
        }
    }
    let mut out: Vec<FrequentCaller> = per
        .into_iter()
        .filter_map(|(caller, times)| {
            let [d, w, m] = Window::ALL.map(|win| count_in(&times, win, now_ms));
            let over: Vec<Window> = Window::ALL
                .into_iter()
                .zip([d, w, m])
                .filter(|(win, n)| t.limit(*win).is_some_and(|l| *n >= l))
                .map(|(win, _)| win)
                .collect();
            (!over.is_empty()).then(|| FrequentCaller {
                caller: caller.to_string(),
                calls_24h: d,
                calls_7d: w,
                calls_30d: m,
                over,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.calls_30d
            .cmp(&a.calls_30d)
            .then_with(|| a.caller.cmp(&b.caller))
    });
    out
}

#[cfg(test)]
#[path = "tests_frequent.rs"]
mod tests;
