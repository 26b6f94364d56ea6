//! `[alarm]`: the Contact ID receiver on answered calls, and where decoded
//! alarms are made durable before they are acknowledged.
//!
//! Every decoded message is appended to the journal in `journal_dir` and
//! synced to disk before its kissoff starts; if the journal cannot write, no
//! kissoff is sent (the unit retries or fails over) and `/readyz` turns 503.

use serde::Deserialize;
use std::path::PathBuf;

/// `[alarm]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlarmConfig {
    /// Run the Contact ID receiver (handshake, digits, kissoff) on every
    /// answered call. Off, calls are only answered and held. Default `true`.
    pub contact_id: bool,
    /// The journal directory (created when missing; relative paths are from
    /// the working directory). Default `"var/journal"`.
    pub journal_dir: PathBuf,
    /// Hang up calls whose every message was technical, test or cancel once
    /// acknowledged and the line went quiet (the gateway settles them).
    /// Off, such calls stay up until the unit hangs up. Default `true`.
    pub settle_technical: bool,
}

impl Default for AlarmConfig {
    fn default() -> Self {
        Self {
            contact_id: true,
            journal_dir: PathBuf::from("var/journal"),
            settle_technical: true,
        }
    }
}
