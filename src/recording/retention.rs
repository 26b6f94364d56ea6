//! Retention of recordings per tenant: which files are due for deletion
//! ([`due`], pure, in simulated time: the caller passes `now`), and the
//! sweep that deletes them and journals `alarmgate.recording.deleted`
//! ([`sweep`]). A legal hold keeps a file whatever its age; a tenant no
//! longer in the dialplan keeps its files (nothing is deleted by a typo).

use super::store::{Store, StoredFile};
use super::writer::EventSink;
use super::TenantRecording;
use crate::labels::TenantId;
use crate::telemetry::metrics as m;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// How often the daemon sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// The files past their tenant's retention at `now`, holds excepted.
pub fn due<'a>(
    files: &'a [StoredFile],
    tenants: &HashMap<TenantId, TenantRecording>,
    now: SystemTime,
) -> Vec<&'a StoredFile> {
    files
        .iter()
        .filter(|f| !f.held)
        .filter(|f| {
            let Some(policy) = tenants.get(&f.tenant) else {
                return false;
            };
            let keep = Duration::from_secs(u64::from(policy.retention_days) * 86_400);
            now.duration_since(f.stored_at).is_ok_and(|age| age >= keep)
        })
        .collect()
}

/// Deletes what [`due`] names; each deletion is journalled. Returns how many went.
pub fn sweep(
    store: &Store,
    tenants: &HashMap<TenantId, TenantRecording>,
    now: SystemTime,
    sink: &EventSink,
) -> usize {
    let files = store.list();
    let mut deleted = 0;
    for file in due(&files, tenants, now) {
        if let Err(err) = store.delete(file) {
            tracing::warn!(recording = %file.id, %err, "retention could not delete a recording");
            continue;
        }
        deleted += 1;
        metrics::counter!(m::RECORDINGS_DELETED).increment(1);
        let days = tenants.get(&file.tenant).map_or(0, |t| t.retention_days);
        let data = json!({
            "tenant": file.tenant,
            "recording_id": file.id.as_str(),
            "reason": "retention",
            "retention_days": days,
        });
        sink("alarmgate.recording.deleted", file.id.as_str(), data);
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::RecordingId;
    use std::path::PathBuf;

    const DAY: Duration = Duration::from_secs(86_400);

    fn file(tenant: &str, random: u128, stored_at: SystemTime, held: bool) -> StoredFile {
        StoredFile {
            id: RecordingId::from_random(random),
            tenant: TenantId::new(tenant),
            path: PathBuf::from(format!("{tenant}/{random}.wav")),
            stored_at,
            held,
        }
    }

    fn policy() -> HashMap<TenantId, TenantRecording> {
        let t = |days| TenantRecording {
            enabled: true,
            retention_days: days,
        };
        HashMap::from([
            (TenantId::new("aarhus"), t(90)),
            (TenantId::new("oslo"), t(30)),
        ])
    }

    #[test]
    fn each_tenant_keeps_its_recordings_for_its_own_days_to_the_second() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let files = [file("aarhus", 1, t0, false), file("oslo", 2, t0, false)];
        let ids = |now| -> Vec<u128> {
            due(&files, &policy(), now)
                .iter()
                .map(|f| u128::from_str_radix(f.id.as_str(), 16).unwrap_or(0))
                .collect()
        };
        assert_eq!(
            ids(t0 + 30 * DAY - Duration::from_secs(1)),
            Vec::<u128>::new()
        );
        assert_eq!(ids(t0 + 30 * DAY), [2], "oslo keeps 30 days");
        assert_eq!(ids(t0 + 89 * DAY), [2]);
        assert_eq!(ids(t0 + 90 * DAY), [1, 2], "aarhus keeps 90");
    }

    #[test]
    fn a_legal_hold_and_an_unknown_tenant_keep_the_file() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let files = [file("aarhus", 1, t0, true), file("gone", 2, t0, false)];
        assert!(due(&files, &policy(), t0 + 3650 * DAY).is_empty());
    }

    #[test]
    fn the_sweep_deletes_due_files_and_journals_each() {
        let dir = std::env::temp_dir().join(format!("alarmgate-ret-{}", std::process::id()));
        let store = Store::new(&dir);
        let tenant = TenantId::new("oslo");
        std::fs::create_dir_all(store.tenant_dir(&tenant)).unwrap();
        let (old, held) = (RecordingId::from_random(1), RecordingId::from_random(2));
        for id in [&old, &held] {
            std::fs::write(store.wav(&tenant, id), b"RIFF").unwrap();
        }
        let held_file = store.find(&held).unwrap();
        store.hold(&held_file, "court case 17").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let sink: EventSink = Box::new(move |kind, subject, data| {
            let _ = tx.send((kind, subject.to_string(), data));
        });
        // simulated time: 31 days after the file was written
        let now = held_file.stored_at + 31 * DAY;
        assert_eq!(sweep(&store, &policy(), now, &sink), 1);
        let (kind, subject, data) = rx.try_recv().expect("one event");
        assert_eq!(
            (kind, subject),
            ("alarmgate.recording.deleted", old.to_string())
        );
        assert_eq!(data["retention_days"], 30);
        assert_eq!(store.find(&old), None);
        assert!(store.find(&held).is_some(), "the held file stays");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
