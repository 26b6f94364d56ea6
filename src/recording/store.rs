//! Where recordings live: `<dir>/<tenant>/<id>.wav` (`<id>.wav.part` while
//! written), a legal hold as `<id>.hold` beside it. The file system is the
//! index: a restart finds every recording and hold again, and the journal
//! holds their history (`alarmgate.recording.*`).

use super::RecordingId;
use crate::labels::TenantId;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One stored recording found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Its id.
    pub id: RecordingId,
    /// The tenant whose directory holds it.
    pub tenant: TenantId,
    /// The WAV file.
    pub path: PathBuf,
    /// When it was finished (the file's modification time).
    pub stored_at: SystemTime,
    /// Under a legal hold: never deleted by retention.
    pub held: bool,
}

/// The recordings directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Recordings under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory of `tenant`'s recordings.
    pub fn tenant_dir(&self, tenant: &TenantId) -> PathBuf {
        self.dir.join(tenant.as_str())
    }

    /// The finished file of a recording.
    pub fn wav(&self, tenant: &TenantId, id: &RecordingId) -> PathBuf {
        self.tenant_dir(tenant).join(format!("{id}.wav"))
    }

    /// The file while it is written.
    pub fn part(&self, tenant: &TenantId, id: &RecordingId) -> PathBuf {
        self.tenant_dir(tenant).join(format!("{id}.wav.part"))
    }

    fn hold_marker(wav: &Path) -> PathBuf {
        wav.with_extension("hold")
    }

    /// Every finished recording, all tenants (unreadable entries skipped).
    pub fn list(&self) -> Vec<StoredFile> {
        let Ok(tenants) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for tenant in tenants.flatten().filter(|e| e.path().is_dir()) {
            let name = TenantId::new(tenant.file_name().to_string_lossy());
            let Ok(files) = std::fs::read_dir(tenant.path()) else {
                continue;
            };
            out.extend(files.flatten().filter_map(|f| stored(&name, &f.path())));
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The finished recording with this id, in any tenant's directory.
    pub fn find(&self, id: &RecordingId) -> Option<StoredFile> {
        let tenants = std::fs::read_dir(&self.dir).ok()?;
        tenants.flatten().find_map(|t| {
            let tenant = TenantId::new(t.file_name().to_string_lossy());
            stored(&tenant, &t.path().join(format!("{id}.wav")))
        })
    }

    /// Puts a legal hold on a recording: `note` (who, why) goes in the marker.
    pub fn hold(&self, file: &StoredFile, note: &str) -> std::io::Result<()> {
        std::fs::write(Self::hold_marker(&file.path), note)
    }

    /// Deletes a recording (never one on hold: the caller checked).
    pub fn delete(&self, file: &StoredFile) -> std::io::Result<()> {
        std::fs::remove_file(&file.path)
    }
}

fn stored(tenant: &TenantId, path: &Path) -> Option<StoredFile> {
    let name = path.file_name()?.to_str()?;
    let id = RecordingId::parse(name.strip_suffix(".wav")?)?;
    let meta = std::fs::metadata(path).ok()?;
    Some(StoredFile {
        id,
        tenant: tenant.clone(),
        path: path.to_path_buf(),
        stored_at: meta.modified().ok()?,
        held: Store::hold_marker(path).exists(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_by_id_and_holds_survive_a_new_listing() {
        let dir = std::env::temp_dir().join(format!("alarmgate-store-{}", std::process::id()));
        let store = Store::new(&dir);
        let (tenant, id) = (TenantId::new("aarhus"), RecordingId::from_random(7));
        std::fs::create_dir_all(store.tenant_dir(&tenant)).unwrap();
        std::fs::write(store.wav(&tenant, &id), b"RIFF").unwrap();
        std::fs::write(store.part(&tenant, &RecordingId::from_random(8)), b"x").unwrap();
        let list = store.list();
        assert_eq!(list.len(), 1, "a .part file is not a recording yet");
        let found = store.find(&id).expect("found");
        assert_eq!(found.tenant, tenant);
        assert!(!found.held);
        store.hold(&found, "held by test").unwrap();
        assert!(store.list()[0].held);
        store.delete(&found).unwrap();
        assert_eq!(store.find(&id), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
