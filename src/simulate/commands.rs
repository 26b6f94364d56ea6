//! The `alarmgate simulate …` commands as `main` runs them: each runs its
//! driver, prints its report (text, or JSON with `--json`) and says whether
//! every answer was what a healthy centre gives (`main` exits 0 or 1 on it).

use super::scaip::{Outcome, ScaipArgs, ScaipMode};
use super::{dc09::Dc09Args, DeviceArgs};

/// Why a simulation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// No async runtime.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The driver failed (bad target, socket error, ...).
    #[error("{0}")]
    Run(String),
}

/// `simulate device`: true when every call had every message acknowledged.
pub fn device(args: DeviceArgs) -> Result<bool, CommandError> {
    let json = args.json;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime
        .block_on(super::run_device(args))
        .map_err(|e| CommandError::Run(e.to_string()))?;
    print_report(json, &report);
    Ok(report.all_succeeded())
}

/// `simulate dc09`: true when every answer was the expected one.
pub fn dc09(args: &Dc09Args) -> Result<bool, CommandError> {
    let report =
        super::dc09_driver::run_dc09(args).map_err(|e| CommandError::Run(e.to_string()))?;
    print_report(args.json, &report);
    Ok(report.all_as_expected)
}

/// `simulate scaip`: one line per message; true when each got what a
/// healthy centre answers (`bad-xml`: 400; else `snu=0`).
pub fn scaip(args: ScaipArgs) -> Result<bool, CommandError> {
    let (json, bad) = (args.json, args.mode == ScaipMode::BadXml);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcomes = runtime
        .block_on(super::scaip_driver::run_scaip(args))
        .map_err(|e| CommandError::Run(e.to_string()))?;
    for o in &outcomes {
        match json {
            true => println!("{}", serde_json::to_string(o).unwrap_or_default()),
            false => println!("{}", scaip_line(o)),
        }
    }
    let good = |o: &Outcome| match bad {
        true => o.status == Some(400),
        false => o.snu == Some(0),
    };
    Ok(!outcomes.is_empty() && outcomes.iter().all(good))
}

/// `ref R status S snu N mrs_ms T <mrs>` (`-` for what did not come).
fn scaip_line(o: &Outcome) -> String {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    format!(
        "ref {} status {} snu {} mrs_ms {} {}",
        o.reference,
        or_dash(o.status.map(|s| s.to_string())),
        or_dash(o.snu.map(|s| s.to_string())),
        or_dash(o.mrs_ms.map(|s| s.to_string())),
        o.mrs.as_deref().unwrap_or("(no <mrs>)")
    )
}

/// The report as text, or as pretty JSON with `--json`.
fn print_report(json: bool, report: &(impl std::fmt::Display + serde::Serialize)) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        println!("{report}");
    }
}
