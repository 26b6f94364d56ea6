//! alarmgate: the command-line entry point. Read it as a table of contents;
//! the work is in the library (`src/lib.rs` has the module map).

use alarmgate::cli::{CertsAction, Cli, Command, SimulateWhat, EXIT_CONFIG, EXIT_SOFTWARE};
use alarmgate::config::{self, Config};
use alarmgate::runtime::{daemon, transport::devcert};
use alarmgate::simulate::commands;
use alarmgate::telemetry::logging;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run { config } => run(config),
        Command::Check { file } => check(&file),
        Command::Certs {
            action: CertsAction::Dev { dir, hosts },
        } => certs_dev(&dir, &hosts),
        Command::Simulate { what } => simulate(match what {
            SimulateWhat::Device(args) => commands::device(args),
            SimulateWhat::Dc09(args) => commands::dc09(&args),
            SimulateWhat::Scaip(args) => commands::scaip(args),
        }),
        Command::Events { action } => events(&action),
        Command::Report { what } => report(&what),
        Command::HashPassword {
            username,
            realm,
            password,
            token,
        } => {
            let lines =
                alarmgate::cli::hash_password_lines(username.as_deref(), &realm, &password, token);
            print!("{lines}");
            ExitCode::SUCCESS
        }
    }
}

/// `alarmgate run`: config, logging, then the daemon until SIGTERM has drained it.
fn run(path: Option<PathBuf>) -> ExitCode {
    let (config, source) = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    logging::init(config.log_format(), &config.log.level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    match runtime.block_on(daemon::run(config, source)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err.to_string()),
    }
}

/// The configuration and the file it came from (SIGHUP re-reads it): the
/// given file, else dialplans/default.toml, else the built-in copy.
fn load(path: Option<PathBuf>) -> Result<(Config, Option<PathBuf>), ExitCode> {
    let default = Path::new("dialplans/default.toml");
    let source = match path {
        Some(path) => Some(path),
        None if default.exists() => Some(default.to_path_buf()),
        None => None,
    };
    let result = match &source {
        Some(path) => config::load_file(path),
        None => config::load_default(),
    };
    result.map(|config| (config, source)).map_err(|errors| {
        eprintln!("{errors}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// `alarmgate check FILE`: every problem with file, line and key; exit 64 if any.
fn check(file: &Path) -> ExitCode {
    match config::load_file(file) {
        Ok(_) => {
            println!("{}: ok", file.display());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// `alarmgate certs dev`: a self-signed certificate for SIP over TLS in development.
fn certs_dev(dir: &Path, hosts: &[String]) -> ExitCode {
    match devcert::write_dev_cert(dir, hosts) {
        Ok((cert, key)) => {
            println!(
                "certificate: {}\nkey:         {}",
                cert.display(),
                key.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err.to_string()),
    }
}

/// `alarmgate simulate device|dc09|scaip` (`alarmgate::simulate::commands`):
/// exit 1 unless every answer was what a healthy centre gives.
fn simulate(verdict: Result<bool, alarmgate::simulate::commands::CommandError>) -> ExitCode {
    match verdict {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => fail(&err.to_string()),
    }
}

/// `alarmgate events tail|replay`: the journal's events, one JSON per line.
fn events(action: &alarmgate::bus::cli::EventsAction) -> ExitCode {
    let source = action.source();
    let dir = match &source.dir {
        Some(dir) => dir.clone(),
        None => match load(source.config.clone()) {
            Ok((config, _)) => config.alarm.journal_dir,
            Err(code) => return code,
        },
    };
    match alarmgate::bus::cli::run(action, &dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err.to_string()),
    }
}

fn report(what: &alarmgate::records::cli::ReportWhat) -> ExitCode {
    let alarmgate::records::cli::ReportWhat::Calls(args) = what;
    let config = match load(args.config.clone()) {
        Ok((config, _)) => config,
        Err(code) => return code,
    };
    match alarmgate::records::cli::run(&config, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("alarmgate: {message}");
    ExitCode::from(EXIT_SOFTWARE)
}
