//! Building the extract from a month's rows: pure, given the tenant's time
//! zone and language.

use super::lang::{Category, Language};
use crate::records::CallRecord;
use jiff::tz::TimeZone;
use jiff::{civil, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Month {
    /// The year.
    pub year: i16,
    /// The month, 1 to 12.
    pub month: i8,
}

impl Month {
    /// Parses `2026-11`.
    pub fn parse(s: &str) -> Option<Self> {
        let (y, m) = s.split_once('-')?;
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        let ok = y.len() == 4
            && m.len() == 2
            && (1..=12).contains(&month)
            && (1970..=9998).contains(&year);
        ok.then_some(Self { year, month })
    }

    fn first_day(self) -> Option<civil::Date> {
        civil::Date::new(self.year, self.month, 1).ok()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The month's bounds in Unix ms, `[from, to)`: local midnight of its first
/// day to local midnight of the next month's first day, in `tz`.
pub fn month_bounds(month: Month, tz: &TimeZone) -> Option<(i64, i64)> {
    let first = month.first_day()?;
    let next = first.checked_add(jiff::Span::new().months(1)).ok()?;
    let at = |d: civil::Date| {
        d.to_datetime(civil::Time::midnight())
            .to_zoned_datetime(tz.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    };
    Some((at(first)?, at(next)?))
}

/// One call of the extract: the record and what is derived for the reader.
#[derive(Debug, Clone, Serialize)]
pub struct ExtractRow {
    /// The category's key.
    pub category_key: Category,
    /// The category in the tenant's language.
    pub category: &'static str,
    /// Received, local time `YYYY-MM-DD HH:MM:SS`.
    pub received: String,
    /// Answered by an operator, local time.
    pub answered: Option<String>,
    /// Ended, local time.
    pub ended: Option<String>,
    /// Received to answered, seconds.
    pub wait_s: Option<f64>,
    /// Answered to ended, seconds.
    pub talk_s: Option<f64>,
    /// The record.
    #[serde(flatten)]
    pub record: CallRecord,
}

/// Answer-time percentiles over calls an operator answered (nearest rank), seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Calls answered by an operator.
    pub answered: u64,
    /// Median.
    pub p50_s: Option<f64>,
    /// 80th percentile.
    pub p80_s: Option<f64>,
    /// 90th percentile.
    pub p90_s: Option<f64>,
    /// 95th percentile.
    pub p95_s: Option<f64>,
    /// 99th percentile.
    pub p99_s: Option<f64>,
    /// The longest.
    pub max_s: Option<f64>,
}

/// Counts for the totals sheet and the JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// All calls of the month.
    pub calls: u64,
    /// Per category: (key, label, calls), every category listed.
    pub by_category: Vec<(Category, &'static str, u64)>,
    /// Per local day: (YYYY-MM-DD, calls), every day of the month listed.
    pub by_day: Vec<(String, u64)>,
    /// Per local hour of day 0..=23: calls.
    pub by_hour: Vec<u64>,
}

/// The whole extract.
#[derive(Debug, Clone, Serialize)]
pub struct Extract {
    /// The tenant id.
    pub tenant: String,
    /// The month.
    pub month: String,
    /// The IANA time zone of the local times.
    pub timezone: String,
    /// The language of the labels.
    pub language: Language,
    /// The calls: without a disposition first, then by time received.
    pub calls: Vec<ExtractRow>,
    /// Totals.
    pub totals: Totals,
    /// Answer times.
    pub answer_time: Percentiles,
    /// The callers with the most calls this month (at most 20): (caller, calls).
    pub top_callers: Vec<(String, u64)>,
}

/// Top callers listed.
pub const TOP_CALLERS: usize = 20;

/// Builds the extract of `rows` (the month's calls of `tenant`).
pub fn extract(
    tenant: &str,
    month: Month,
    tz: &TimeZone,
    tz_name: &str,
    lang: Language,
    rows: Vec<CallRecord>,
) -> Extract {
    let local = |ms: i64| {
        Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned_datetime(tz.clone()))
    };
    let fmt = |ms: i64| local(ms).map(|z| z.strftime("%Y-%m-%d %H:%M:%S").to_string());
    let mut totals = Totals {
        by_hour: vec![0; 24],
        ..Totals::default()
    };
    let mut days: BTreeMap<String, u64> = month_days(month);
    let mut cats: HashMap<Category, u64> = HashMap::new();
    let mut callers: HashMap<String, u64> = HashMap::new();
    let mut waits: Vec<i64> = Vec::new();
    let mut calls: Vec<ExtractRow> = Vec::with_capacity(rows.len());
    for record in rows {
        let category_key = Category::of(&record);
        let received_ms = record.received_ms.unwrap_or(0);
        if let Some(z) = local(received_ms) {
            *days.entry(z.date().to_string()).or_default() += 1;
            if let Some(h) = totals.by_hour.get_mut(z.hour() as usize) {
                *h += 1;
            }
        }
        *cats.entry(category_key).or_default() += 1;
        if !record.caller.is_empty() {
            *callers.entry(record.caller.clone()).or_default() += 1;
        }
        // Answer times are the centre's: a recall's wait is the unit's.
        if record.protocol != "recall" {
            waits.extend(record.answered_ms.and(record.wait_ms));
        }
        calls.push(ExtractRow {
            category_key,
            category: category_key.label(lang),
            received: fmt(received_ms).unwrap_or_default(),
            answered: record.answered_ms.and_then(fmt),
            ended: record.ended_ms.and_then(fmt),
            wait_s: record.wait_ms.map(secs),
            talk_s: record.talk_ms.map(secs),
            record,
        });
    }
    calls.sort_by_key(|c| {
        (
            c.category_key != Category::Open,
            c.record.received_ms,
            c.record.call_id.clone(),
        )
    });
    totals.calls = calls.len() as u64;
    totals.by_category = Category::ALL
        .iter()
        .map(|c| (*c, c.label(lang), cats.get(c).copied().unwrap_or(0)))
        .collect();
    totals.by_day = days.into_iter().collect();
    Extract {
        tenant: tenant.to_string(),
        month: month.to_string(),
        timezone: tz_name.to_string(),
        language: lang,
        calls,
        totals,
        answer_time: percentiles(waits),
        top_callers: top(callers),
    }
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Every day of the month, at zero.
fn month_days(month: Month) -> BTreeMap<String, u64> {
    let Some(first) = month.first_day() else {
        return BTreeMap::new();
    };
    (0..first.days_in_month())
        .filter_map(|i| first.checked_add(jiff::Span::new().days(i)).ok())
        .map(|d| (d.to_string(), 0))
        .collect()
}

/// Nearest-rank percentiles of `waits` (ms).
pub fn percentiles(mut waits: Vec<i64>) -> Percentiles {
    waits.sort_unstable();
    let n = waits.len();
    let rank = |p: f64| -> Option<f64> {
        let i = ((p / 100.0) * n as f64).ceil() as usize;
        waits.get(i.max(1) - 1).map(|&ms| secs(ms))
    };
    Percentiles {
        answered: n as u64,
        p50_s: rank(50.0),
        p80_s: rank(80.0),
        p90_s: rank(90.0),
        p95_s: rank(95.0),
        p99_s: rank(99.0),
        max_s: waits.last().map(|&ms| secs(ms)),
    }
}

fn top(callers: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = callers.into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(TOP_CALLERS);
    all
}
