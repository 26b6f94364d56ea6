//! The alarm-unit simulator (`alarmgate simulate device`): plays a social
//! alarm unit towards a receiving centre to commission a line.
//!
//! It dials a SIP URI, offers G.711 with telephone-event, ACKs the answer,
//! waits for the Contact ID handshake (1400 Hz, gap, 2300 Hz) in the received
//! audio, pauses, sends each Contact ID message as in-band DTMF and/or RFC
//! 4733 events, checks the kissoff (1400 Hz ≥ 400 ms starting within 1.25 s of
//! the last digit), repeats an unacknowledged message up to four attempts as
//! a real unit does (alarm-protocols.md §1.4), then hangs up. Impairments are
//! applied to what it sends; several calls can run as a load test.
//!
//! | file | role |
//! |---|---|
//! | [`args`] | the command-line options ([`DeviceArgs`]) and the validated [`DeviceConfig`] |
//! | [`uac`] | the SIP user-agent client pieces: INVITE, ACK for 2xx, the UAC dialog and its BYE |
//! | [`sequencer`] | the unit's Contact ID behaviour: handshake → pause → digits → kissoff → retry |
//! | [`media`] | the RTP leg: receive and decode, tone detectors, packetiser for tones and events |
//! | [`impair`] | seeded loss, jitter/reordering and white noise on what is sent |
//! | [`device`] | the sans-IO core of one call: SIP transactions + media + sequencer |
//! | [`reference`](mod@reference) | a reference Contact ID receiver built from the crate's cores, for self-tests |
//! | [`report`] | per-call and per-message timings, the load summary, text and JSON |
//! | [`driver`] | the thin tokio driver: UDP sockets around [`device::Device`] |
//! | [`load`] | [`run_device`]: one call or many at a rate and concurrency |
//! | [`dc09`] | `simulate dc09`: a SIA DC-09 panel's frames per scenario and what answers mean (pure) |
//! | [`dc09_driver`] | its blocking TCP/UDP sockets and report |
//! | [`scaip`], [`scaip_driver`] | `simulate scaip`: a SCAIP unit sending `<mrq>` MESSAGEs and reading the `<mrs>` |
//! | [`commands`] | each `simulate` mode as `main` runs it: driver, printed report, verdict |
//!
//! Everything but [`driver`] and [`load`] is pure and takes `now`; the tests
//! run the core against the reference receiver in simulated time.

pub mod args;
pub mod commands;
pub mod dc09;
pub mod dc09_driver;
pub mod device;
pub mod driver;
pub mod impair;
pub mod load;
pub mod media;
pub mod reference;
pub mod report;
pub mod scaip;
pub mod scaip_driver;
pub mod sequencer;
pub mod uac;

#[cfg(test)]
mod device_tests;
#[cfg(test)]
mod silence_tests;

pub use args::{DeviceArgs, DeviceConfig, DtmfMode};
pub use load::run_device;
pub use report::{CallReport, MessageOutcome, MessageReport, SimReport, Summary};

/// Why the simulator could not run (an expected outcome such as a 486 or a
/// missing kissoff is a value in the [`SimReport`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An option is out of range or inconsistent.
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// The option, as spelled on the command line.
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A `--message` is not a Contact ID message.
    #[error("invalid --message {message:?}: {reason}")]
    InvalidMessage {
        /// The value given.
        message: String,
        /// What is wrong.
        reason: String,
    },
    /// The target URI cannot be used.
    #[error("invalid target {target:?}: {reason}")]
    InvalidTarget {
        /// The URI given.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// A socket could not be opened or used.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A request could not be built (a bug or an unusable URI).
    #[error("cannot build SIP request: {0}")]
    Sip(String),
}

impl SimError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
