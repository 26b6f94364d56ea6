//! The command line: `alarmgate run`, `check`, `certs dev`, `simulate device`,
//! `events tail|replay`, `hash-password`.
//!
//! Exit codes follow sysexits: 0 success, 64 (`EX_USAGE`) for an invalid
//! configuration, 70 (`EX_SOFTWARE`) when the daemon fails at run time.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Exit code for an invalid configuration (sysexits `EX_USAGE`).
pub const EXIT_CONFIG: u8 = 64;
/// Exit code for a failure at run time (sysexits `EX_SOFTWARE`).
pub const EXIT_SOFTWARE: u8 = 70;

/// alarmgate: the telephony heart of a social-alarm receiving centre.
#[derive(Debug, Parser)]
#[command(name = "alarmgate", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Run {
        /// Configuration file. Default: dialplans/default.toml if it exists,
        /// else the copy built into the binary.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file; errors name file, line and key (exit 64).
    Check {
        /// The file to validate.
        file: PathBuf,
    },
    /// Certificates for SIP over TLS.
    Certs {
        /// Which certificate task.
        #[command(subcommand)]
        action: CertsAction,
    },
    /// Simulators for commissioning lines and testing.
    Simulate {
        /// What to simulate.
        #[command(subcommand)]
        what: SimulateWhat,
    },
    /// The event journal, one CloudEvent JSON per line: follow it, or replay it from an id.
    Events {
        /// What to read.
        #[command(subcommand)]
        action: crate::bus::cli::EventsAction,
    },
    /// Reports from the call records: `report calls --tenant ID --month YYYY-MM`.
    Report {
        /// Which report.
        #[command(subcommand)]
        what: crate::records::cli::ReportWhat,
    },
    /// Print the `ha1_md5`/`ha1_sha256` lines for an `[[auth.devices]]` or
    /// `[[operators]]` entry, or with `--token` the `sha256` line for `[[api.tokens]]`.
    HashPassword {
        /// The device's SIP username, or the operator's id.
        #[arg(long, required_unless_present = "token", conflicts_with = "token")]
        username: Option<String>,
        /// The digest realm: `auth.realm` for devices, `registrar.realm` for operators.
        #[arg(long, default_value = "alarmgate")]
        realm: String,
        /// The password (or API token); read from the ALARMGATE_PASSWORD environment variable when absent.
        #[arg(long, env = "ALARMGATE_PASSWORD", hide_env_values = true)]
        password: String,
        /// Hash an API bearer token (the password) instead: SHA-256, no username or realm.
        #[arg(long)]
        token: bool,
    },
}

/// What `hash-password` prints: the `sha256` line of an API token, or the
/// two HA1 lines of a device or operator.
pub fn hash_password_lines(
    username: Option<&str>,
    realm: &str,
    password: &str,
    token: bool,
) -> String {
    if token {
        crate::config::token_sha256_line(password)
    } else {
        crate::config::device_ha1_lines(username.unwrap_or_default(), realm, password)
    }
}

/// Simulator subcommands.
#[derive(Debug, Subcommand)]
pub enum SimulateWhat {
    /// An alarm unit: dial, wait for the handshake, send Contact ID, check the
    /// kissoff, retry as a real unit does; report timings (exit 1 if any call failed).
    Device(crate::simulate::DeviceArgs),
    /// A SIA DC-09 panel: alarm, heartbeat (NULL), burst, bad CRC, wrong
    /// key, stale timestamp over TCP or UDP; prints what the receiver
    /// answered (exit 1 if any answer was not the expected one).
    Dc09(crate::simulate::dc09::Dc09Args),
    /// A SCAIP unit: MESSAGE with an alarm, a heartbeat, a burst or bad XML
    /// over UDP or TCP; prints each SIP status and <mrs> (exit 1 unless every
    /// alarm and heartbeat got snu=0, or bad XML got 400).
    Scaip(crate::simulate::scaip::ScaipArgs),
}

/// Certificate subcommands.
#[derive(Debug, Subcommand)]
pub enum CertsAction {
    /// Write a self-signed development certificate and key (dev-cert.pem, dev-key.pem).
    Dev {
        /// Output folder.
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// Extra host names for the certificate (localhost, 127.0.0.1 and ::1 are always in).
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_simulate_device_with_impairments() {
        let cli = Cli::try_parse_from([
            "alarmgate",
            "simulate",
            "device",
            "sip:112@127.0.0.1:5060",
            "--loss",
            "3",
            "--snr-db",
            "20",
            "--level-dbm0",
            "-25",
            "--dtmf",
            "rfc4733",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Simulate {
                what: SimulateWhat::Device(_)
            }
        ));
    }

    #[test]
    fn parses_events_replay_since() {
        let cli = Cli::try_parse_from([
            "alarmgate",
            "events",
            "replay",
            "--dir",
            "j",
            "--since",
            "x",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Events {
                action: crate::bus::cli::EventsAction::Replay { since: Some(_), .. }
            }
        ));
    }

    #[test]
    fn hash_password_for_a_token_needs_no_username() {
        let cli =
            Cli::try_parse_from(["alarmgate", "hash-password", "--token", "--password", "abc"]);
        assert!(matches!(
            cli.map(|c| c.command),
            Ok(Command::HashPassword {
                token: true,
                username: None,
                ..
            })
        ));
        let both = [
            "alarmgate",
            "hash-password",
            "--token",
            "--username",
            "u",
            "--password",
            "x",
        ];
        assert!(Cli::try_parse_from(both).is_err());
        let lines = hash_password_lines(None, "alarmgate", "abc", true);
        assert!(lines.starts_with("sha256 = \"ba7816bf"), "{lines}");
        let lines = hash_password_lines(Some("anna"), "alarmgate", "anna-dev-1001", false);
        assert!(
            lines.contains("49387c7b0f2c025f689b4ad2369f7e0e"),
            "{lines}"
        );
    }

    #[test]
    fn parses_run_with_config() {
        let cli = Cli::try_parse_from(["alarmgate", "run", "--config", "x.toml"]).unwrap();
        assert!(matches!(cli.command, Command::Run { config: Some(_) }));
    }
}
