//! Reading the daemon's journal back in a test.

use std::path::Path;

/// Every record of the journal in `dir`, parsed as JSON (panics on damage).
pub fn journal_records(dir: &Path) -> Vec<serde_json::Value> {
    let reader = alarmgate::journal::JournalReader::open(dir)
        .unwrap_or_else(|e| panic!("open journal {}: {e}", dir.display()));
    reader
        .read_from(1)
        .map(|r| {
            let record = r.unwrap_or_else(|e| panic!("journal {}: {e}", dir.display()));
            serde_json::from_slice(&record.payload).unwrap_or_else(|e| {
                panic!(
                    "journal record {} is not JSON ({e}): {:?}",
                    record.seq,
                    String::from_utf8_lossy(&record.payload)
                )
            })
        })
        .collect()
}
