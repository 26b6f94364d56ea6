//! Call recording (journalled communication): both parties of a bridged call
//! in one stereo WAV file per call, for tenants with `recording = true`.
//!
//! - [`crate::media::recording`]: the sans-IO tap on the bridge (unit left,
//!   operator right, 8 kHz 16-bit PCM).
//! - [`writer`]: the writer thread. The media workers hand it frames through
//!   a bounded queue ([`writer::RecorderHandle`]): a full queue or a failing
//!   disk drops audio and counts it, never blocks media or a kissoff. A
//!   finished file's path, SHA-256 and duration go to the journal as
//!   `alarmgate.recording.stored` (or `alarmgate.recording.failed`).
//! - [`store`]: where files live (`<dir>/<tenant>/<id>.wav`), legal holds
//!   (`<id>.hold` beside the file), lookups for the API.
//! - [`retention`]: which files are past their tenant's
//!   `recording_retention_days` (a pure decision in simulated time) and the
//!   sweep that deletes them, journalling `alarmgate.recording.deleted`.

pub mod retention;
pub mod store;
pub mod writer;

use crate::labels::TenantId;
use std::collections::HashMap;
use std::sync::Arc;

/// A recording's id: 32 lowercase hex digits (random), its file's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingId(String);

impl RecordingId {
    /// The id of `random` (the runtime draws it).
    pub fn from_random(random: u128) -> Self {
        Self(format!("{random:032x}"))
    }

    /// Parses an id from a path or an API request; None unless 32 hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(text.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RecordingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Per-tenant recording settings, from the dialplan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecording {
    /// Record this tenant's bridged calls.
    pub enabled: bool,
    /// Delete its recordings this many days after they were stored (unless held).
    pub retention_days: u32,
}

/// What the media workers need to record: the writer and who is recorded.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The writer thread's queue.
    pub writer: writer::RecorderHandle,
    /// Tenants and their settings.
    pub tenants: Arc<HashMap<TenantId, TenantRecording>>,
}

impl Recorder {
    /// True when calls of `tenant` are recorded.
    pub fn records(&self, tenant: &TenantId) -> bool {
        self.tenants.get(tenant).is_some_and(|t| t.enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_nothing_else_parses() {
        let id = RecordingId::from_random(0xabc);
        assert_eq!(id.as_str().len(), 32);
        assert_eq!(RecordingId::parse(id.as_str()), Some(id));
        for bad in [
            "",
            "../etc/passwd",
            "ABCDEF0123456789ABCDEF0123456789",
            "0123",
        ] {
            assert_eq!(RecordingId::parse(bad), None, "{bad}");
        }
    }
}
