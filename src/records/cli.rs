//! `alarmgate report calls`: the monthly extract on standard output or in
//! a file. It first applies whatever the journal holds beyond the records
//! database (creating the database when missing), so it works with the
//! daemon stopped, and beside a running one.

use super::query::{self, QueryError, Settings};
use super::report::{self, Format};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

/// `alarmgate report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportWhat {
    /// Every call of a tenant in a month, with totals.
    Calls(CallsArgs),
}

/// `alarmgate report calls`.
#[derive(Debug, Args)]
pub struct CallsArgs {
    /// Configuration file (default: as `alarmgate run`).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The tenant id.
    #[arg(long)]
    pub tenant: String,
    /// The month, `YYYY-MM`, in the tenant's time zone.
    #[arg(long)]
    pub month: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Another node's call-records database (a copy; read only), for one
    /// extract of a centre with several nodes. Repeatable.
    #[arg(long = "also")]
    pub also: Vec<PathBuf>,
}

/// Why the report command failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportCliError {
    /// The query failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Writing the output failed.
    #[error("cannot write {what}: {source}")]
    Write {
        /// The file or standard output.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Runs `report calls` with a loaded config.
pub fn run(config: &crate::config::Config, args: &CallsArgs) -> Result<(), ReportCliError> {
    let settings = Settings::from_config(config);
    if config.alarm.journal_dir.is_dir() {
        let applied =
            query::update(&settings.path, &config.alarm.journal_dir).map_err(QueryError::from)?;
        tracing::info!(applied, "call records brought up to date");
    }
    let extract = match args.also.as_slice() {
        [] => query::monthly(&settings, &args.tenant, &args.month)?,
        others => query::monthly_merged(&settings, &args.tenant, &args.month, others)?,
    };
    let bytes = report::render(&extract, args.format).map_err(QueryError::from)?;
    match &args.out {
        Some(path) => std::fs::write(path, &bytes).map_err(|source| ReportCliError::Write {
            what: path.display().to_string(),
            source,
        }),
        None => std::io::stdout()
            .write_all(&bytes)
            .map_err(|source| ReportCliError::Write {
                what: "standard output".into(),
                source,
            }),
    }
}
