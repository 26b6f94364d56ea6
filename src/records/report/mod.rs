//! The monthly extract of a tenant's calls (issue 12): every call received
//! in the month (month bounds in the tenant's local time), calls still
//! without a disposition first, with the municipality's categories in its
//! language; totals per category, per local day and per local hour of
//! day, answer-time percentiles and the top callers. Built by [`extract`]
//! (pure), written as CSV for Danish Excel ([`csv`]), JSON (the
//! [`Extract`]'s serde form) or XLSX ([`xlsx`]).

pub mod csv;
pub mod extract;
pub mod lang;
pub mod xlsx;

#[cfg(test)]
mod tests;

pub use extract::{extract, month_bounds, Extract, ExtractRow, Month, Percentiles, Totals};
pub use lang::{Category, Language};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// `;`-separated UTF-8 with BOM, decimal comma.
    #[default]
    Csv,
    /// One JSON document.
    Json,
    /// An Excel workbook: the calls, and a sheet of totals.
    Xlsx,
}

impl Format {
    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
        }
    }

    /// Parses `csv`, `json` or `xlsx`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
}

/// Why an extract could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The XLSX writer failed.
    #[error("xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// The JSON could not be serialised.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// The extract in `format`, as bytes.
pub fn render(x: &Extract, format: Format) -> Result<Vec<u8>, ReportError> {
    match format {
        Format::Csv => Ok(csv::write(x)),
        Format::Json => Ok(serde_json::to_vec_pretty(x)?),
        Format::Xlsx => xlsx::write(x),
    }
}
