//! What the CLI and the API ask of the records: a tenant's settings for
//! extracts, bringing the store up to date from the journal, the monthly
//! extract, the frequent callers now.

use super::follow::catch_up;
use super::frequent::{self, Detector, FrequentCaller, Thresholds, Window};
use super::report::{self, Extract, Language, Month};
use super::store::{RecordsError, Store};
use crate::config::Config;
use crate::journal::JournalReader;
use jiff::tz::TimeZone;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One tenant's extract settings.
#[derive(Debug, Clone)]
pub struct TenantSettings {
    /// The IANA name of its time zone.
    pub tz_name: String,
    /// The zone.
    pub tz: TimeZone,
    /// Its language.
    pub language: Language,
    /// Its frequent-caller thresholds, if any.
    pub frequent: Option<Thresholds>,
}

/// Where the records are and every tenant's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The database file.
    pub path: PathBuf,
    /// Tenants by id.
    pub tenants: HashMap<String, TenantSettings>,
}

impl Settings {
    /// From a validated config (a zone that fails to load falls back to UTC, logged).
    pub fn from_config(config: &Config) -> Self {
        let tenants = config
            .tenants
            .iter()
            .map(|t| {
                let tz = TimeZone::get(&t.timezone).unwrap_or_else(|err| {
                    tracing::warn!(tenant = %t.id, %err, "time zone unknown; using UTC");
                    TimeZone::UTC
                });
                let settings = TenantSettings {
                    tz_name: t.timezone.clone(),
                    tz,
                    language: t.language,
                    frequent: t.frequent_callers.as_ref().map(|f| f.thresholds()),
                };
                (t.id.clone(), settings)
            })
            .collect();
        Self {
            path: config.records_path(),
            tenants,
        }
    }
}

/// [`Settings`] shared between the API and the SIGHUP reloader: clones
/// share them, so [`SharedSettings::replace`] reaches a router already serving.
#[derive(Debug, Clone)]
pub struct SharedSettings(std::sync::Arc<std::sync::RwLock<Settings>>);

impl SharedSettings {
    /// Shares `settings`.
    pub fn new(settings: Settings) -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(settings)))
    }

    /// The settings now.
    pub fn get(&self) -> Settings {
        match self.0.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps in a reloaded config's settings for every clone.
    pub fn replace(&self, settings: Settings) {
        match self.0.write() {
            Ok(mut s) => *s = settings,
            Err(poisoned) => *poisoned.into_inner() = settings,
        }
    }
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No tenant of that id in the config.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// The month is not `YYYY-MM`.
    #[error("month {0:?} is not YYYY-MM")]
    BadMonth(String),
    /// The store failed (or is missing).
    #[error(transparent)]
    Records(#[from] RecordsError),
    /// The extract could not be written.
    #[error(transparent)]
    Report(#[from] report::ReportError),
}

/// Applies whatever the journal in `journal_dir` holds beyond the store
/// (the CLI does this before an extract; the daemon's follower does it live).
pub fn update(path: &Path, journal_dir: &Path) -> Result<u64, RecordsError> {
    let mut store = Store::open(path)?;
    let reader = JournalReader::open(journal_dir)?;
    // Every complete record on disk: the reader stops at a record still being written.
    let progress = catch_up(
        &mut store,
        &reader,
        u64::MAX,
        &mut Detector::default(),
        u64::MAX,
    )?;
    Ok(progress.events)
}

/// The tenant's settings, the month and its bounds in the tenant's zone.
fn month_of<'a>(
    settings: &'a Settings,
    tenant: &str,
    month: &str,
) -> Result<(&'a TenantSettings, Month, (i64, i64)), QueryError> {
    let t = settings
        .tenants
        .get(tenant)
        .ok_or_else(|| QueryError::UnknownTenant(tenant.to_string()))?;
    let m = Month::parse(month).ok_or_else(|| QueryError::BadMonth(month.to_string()))?;
    let bounds =
        report::month_bounds(m, &t.tz).ok_or_else(|| QueryError::BadMonth(month.to_string()))?;
    Ok((t, m, bounds))
}

/// The monthly extract of `tenant`.
pub fn monthly(settings: &Settings, tenant: &str, month: &str) -> Result<Extract, QueryError> {
    let (t, m, (from, to)) = month_of(settings, tenant, month)?;
    let rows = Store::open_read(&settings.path)?.calls_between(tenant, from, to)?;
    Ok(report::extract(
        tenant, m, &t.tz, &t.tz_name, t.language, rows,
    ))
}

/// A month's margin on each side when reading other nodes' rows: a call's
/// events may sit in another node's journal (a disposition given there)
/// up to this long after it was received.
const MERGE_MARGIN_MS: i64 = 31 * 24 * 3_600_000;

/// The monthly extract of `tenant` over this node's records and `others`
/// (other nodes' records databases, e.g. copies): rows of one call id are
/// merged (the earliest received leads, see [`super::absorb`]), then the
/// month is cut from the merged rows.
pub fn monthly_merged(
    settings: &Settings,
    tenant: &str,
    month: &str,
    others: &[PathBuf],
) -> Result<Extract, QueryError> {
    let (t, m, (from, to)) = month_of(settings, tenant, month)?;
    let (wide_from, wide_to) = (from - MERGE_MARGIN_MS, to + MERGE_MARGIN_MS);
    let mut rows = Vec::new();
    for path in std::iter::once(&settings.path).chain(others) {
        rows.push(Store::open_read(path)?.calls_between(tenant, wide_from, wide_to)?);
    }
    let rows = merge_nodes(rows)
        .into_iter()
        .filter(|r| r.received_ms.is_some_and(|at| (from..to).contains(&at)))
        .collect();
    Ok(report::extract(
        tenant, m, &t.tz, &t.tz_name, t.language, rows,
    ))
}

/// Rows of several nodes as one list: the rows of one call id merged,
/// the one received first leading.
pub fn merge_nodes(nodes: Vec<Vec<super::CallRecord>>) -> Vec<super::CallRecord> {
    let mut all: Vec<super::CallRecord> = nodes.into_iter().flatten().collect();
    all.sort_by_key(|r| (r.received_ms, r.call_id.clone()));
    let mut by_id: HashMap<String, super::CallRecord> = HashMap::new();
    let mut order = Vec::new();
    for row in all {
        match by_id.get_mut(&row.call_id) {
            Some(first) => super::absorb::absorb(first, row),
            None => {
                order.push(row.call_id.clone());
                by_id.insert(row.call_id.clone(), row);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect()
}

/// The callers of `tenant` over a threshold at `now_ms` (none without thresholds).
pub fn frequent_now(
    settings: &Settings,
    tenant: &str,
    now_ms: i64,
) -> Result<Vec<FrequentCaller>, QueryError> {
    let t = settings
        .tenants
        .get(tenant)
        .ok_or_else(|| QueryError::UnknownTenant(tenant.to_string()))?;
    let Some(thresholds) = &t.frequent else {
        return Ok(Vec::new());
    };
    let rows = Store::open_read(&settings.path)?.calls_between(
        tenant,
        now_ms - Window::Month.millis(),
        now_ms + 1,
    )?;
    let calls = rows.iter().map(|r| {
        (
            r.caller.as_str(),
            r.class.as_deref().unwrap_or("voice"),
            r.received_ms.unwrap_or(0),
        )
    });
    Ok(frequent::list(calls, thresholds, now_ms))
}
