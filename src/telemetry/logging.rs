//! Logging set-up: `tracing` with an env-filter, human or JSON lines.
//!
//! Every call runs inside a span carrying its Call-ID, so one `grep` on the
//! Call-ID gives the whole story of a call. `RUST_LOG` overrides the
//! configured level.

use tracing_subscriber::EnvFilter;

/// Output format of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Installs the global subscriber. Safe to call once per process; a second
/// call is ignored (tests start several daemons in one process).
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    if result.is_err() {
        tracing::debug!("logging already initialised");
    }
}
