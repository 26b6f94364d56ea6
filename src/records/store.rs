//! The SQLite store of call records: schema migrations by `user_version`,
//! batches applied in one transaction together with the last journal seq
//! they cover, and the reads the extract and the API need.
//!
//! WAL mode with `synchronous = NORMAL`: a commit is atomic whatever kills
//! the process; after a power loss the last commits may be gone, together
//! with their seq, and are applied again from the journal.

use super::batch::{Applied, Batch};
use super::event::JournalEvent;
use super::project::{apply, changes, CallRecord, Op};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::{Path, PathBuf};

/// The schema, one entry per version: entry `i` takes `user_version` `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    "CREATE TABLE calls (
        call_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, caller TEXT NOT NULL,
        account TEXT, protocol TEXT NOT NULL, received_ms INTEGER,
        answered_ms INTEGER, ended_ms INTEGER, wait_ms INTEGER, talk_ms INTEGER,
        class TEXT, events TEXT NOT NULL, queue TEXT, operators TEXT NOT NULL,
        overflows TEXT NOT NULL, forwarded_to TEXT, end_reason TEXT,
        disposition TEXT, note TEXT, disposition_by TEXT, callback INTEGER NOT NULL,
        recall_of TEXT, recalled_by TEXT, recording TEXT,
        first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL);
     CREATE INDEX calls_by_month ON calls(tenant, received_ms);
     CREATE INDEX calls_by_caller ON calls(tenant, caller, received_ms);
     CREATE TABLE applied (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
     INSERT INTO applied VALUES (1, 0);",
    // 2: the recording's hash and duration; SCAIP alarms merged into their voice call.
    "ALTER TABLE calls ADD COLUMN recording_sha256 TEXT;
     ALTER TABLE calls ADD COLUMN recording_duration_ms INTEGER;
     CREATE TABLE aliases (alias TEXT PRIMARY KEY, call_id TEXT NOT NULL);",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

pub(super) const COLUMNS: &str =
    "call_id, tenant, caller, account, protocol, received_ms, answered_ms,
    ended_ms, wait_ms, talk_ms, class, events, queue, operators, overflows, forwarded_to,
    end_reason, disposition, note, disposition_by, callback, recall_of, recalled_by,
    recording, first_seq, last_seq, recording_sha256, recording_duration_ms";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// SQLite refused an operation.
    #[error("call records {}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer alarmgate.
    #[error("call records {}: schema version {found} is newer than this build's {known}", path.display())]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: u32,
        /// [`SCHEMA_VERSION`].
        known: u32,
    },
    /// Another writer applied records since this one read the applied seq.
    #[error("call records: another writer moved the applied seq from {expected} to {found}")]
    Moved {
        /// The seq this writer continued from.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// The journal could not be read.
    #[error("call records: {0}")]
    Journal(#[from] crate::journal::JournalError),
}

/// An open records database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating when missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, RecordsError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(|e| sqlite(path, e))?;
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
        };
        store.setup()?;
        Ok(store)
    }

    /// Opens an existing database for reading (the API, the CLI).
    pub fn open_read(path: &Path) -> Result<Self, RecordsError> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite(path, e))?;
        let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn setup(&mut self) -> Result<(), RecordsError> {
        let err = |e| sqlite(&self.path, e);
        self.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        let found: u32 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if found > SCHEMA_VERSION {
            return Err(RecordsError::TooNew {
                path: self.path.clone(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self.conn.transaction().map_err(|e| sqlite(&self.path, e))?;
            tx.execute_batch(sql).map_err(|e| sqlite(&self.path, e))?;
            tx.pragma_update(None, "user_version", version as u32 + 1)
                .map_err(|e| sqlite(&self.path, e))?;
            tx.commit().map_err(|e| sqlite(&self.path, e))?;
            tracing::info!(path = %self.path.display(), version = version + 1, "call records: schema migrated");
        }
        Ok(())
    }

    /// The last journal seq whose event is in the rows.
    pub fn applied_seq(&self) -> Result<u64, RecordsError> {
        let seq: i64 = self
            .conn
            .query_row("SELECT seq FROM applied WHERE id = 1", [], |r| r.get(0))
            .map_err(|e| sqlite(&self.path, e))?;
        Ok(seq.max(0) as u64)
    }

    /// Applies `events` and records `through` (>= their last seq) as
    /// applied, all in one transaction, which continues from `after` (the
    /// applied seq the caller read). Returns the rows the batch touched
    /// and the aliases it resolved;
    /// [`RecordsError::Moved`] when another writer (the CLI beside the
    /// daemon) applied records meanwhile: nothing is written twice.
    pub fn apply_batch(
        &mut self,
        events: &[JournalEvent],
        after: u64,
        through: u64,
    ) -> Result<Applied, RecordsError> {
        let path = self.path.clone();
        let err = |e| sqlite(&path, e);
        let behaviour = rusqlite::TransactionBehavior::Immediate;
        let tx = self
            .conn
            .transaction_with_behavior(behaviour)
            .map_err(err)?;
        let sql = "SELECT seq FROM applied WHERE id = 1";
        let now: i64 = tx.query_row(sql, [], |r| r.get(0)).map_err(err)?;
        if now != after as i64 {
            let found = now.max(0) as u64;
            return Err(RecordsError::Moved {
                expected: after,
                found,
            });
        }
        let mut batch = Batch::default();
        for mut change in events.iter().flat_map(changes) {
            change.call_id = batch.resolve(&tx, &change.call_id).map_err(err)?;
            batch.row(&tx, &change.call_id).map_err(err)?;
            if let Op::Absorb { alias } = &change.op {
                batch.absorb(&tx, &change.call_id, alias).map_err(err)?;
            }
            if let Some(row) = batch.rows.get_mut(&change.call_id) {
                apply(row, &change);
            }
        }
        batch.write(&tx).map_err(err)?;
        tx.execute(
            "UPDATE applied SET seq = ?1 WHERE id = 1",
            params![through as i64],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Applied {
            rows: batch.rows.into_values().collect(),
            aliases: batch.aliases,
        })
    }

    /// Deletes every row and sets the applied seq to 0 (a rebuild follows).
    pub fn reset(&mut self) -> Result<(), RecordsError> {
        let sql =
            "DELETE FROM calls; DELETE FROM aliases; UPDATE applied SET seq = 0 WHERE id = 1;";
        self.conn
            .execute_batch(sql)
            .map_err(|e| sqlite(&self.path, e))
    }

    /// The tenant's calls received in `[from_ms, to_ms)`, oldest first.
    pub fn calls_between(
        &self,
        tenant: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<CallRecord>, RecordsError> {
        let sql = format!("SELECT {COLUMNS} FROM calls WHERE tenant = ?1 AND received_ms >= ?2 AND received_ms < ?3 ORDER BY received_ms, call_id");
        self.select(&sql, params![tenant, from_ms, to_ms])
    }

    /// Finished calls received at or after `since_ms`, oldest first, as
    /// (tenant, caller, class, received): to prime the frequent-caller detector.
    pub fn finished_since(
        &self,
        since_ms: i64,
    ) -> Result<Vec<(String, String, String, i64)>, RecordsError> {
        let err = |e| sqlite(&self.path, e);
        let sql = "SELECT tenant, caller, COALESCE(class, 'voice'), received_ms FROM calls
            WHERE received_ms >= ?1 AND (ended_ms IS NOT NULL OR protocol NOT IN ('voice', 'contact_id', 'recall'))
            ORDER BY received_ms";
        let mut stmt = self.conn.prepare(sql).map_err(err)?;
        let rows = stmt
            .query_map([since_ms], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// Every row, by call id (for comparing a store with a rebuild).
    pub fn all(&self) -> Result<Vec<CallRecord>, RecordsError> {
        let sql = format!("SELECT {COLUMNS} FROM calls ORDER BY call_id");
        self.select(&sql, [])
    }

    fn select(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<CallRecord>, RecordsError> {
        let err = |e| sqlite(&self.path, e);
        let mut stmt = self.conn.prepare(sql).map_err(err)?;
        let rows = stmt.query_map(args, from_row).map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn sqlite(path: &Path, source: rusqlite::Error) -> RecordsError {
    RecordsError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

pub(super) fn load(conn: &Connection, call_id: &str) -> rusqlite::Result<Option<CallRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM calls WHERE call_id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([call_id], from_row)
        .optional()
}

fn list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn unlist(s: String) -> Vec<String> {
    serde_json::from_str(&s).unwrap_or_default()
}

pub(super) fn row_params(r: &CallRecord) -> Vec<Box<dyn rusqlite::ToSql + '_>> {
    vec![
        Box::new(&r.call_id),
        Box::new(&r.tenant),
        Box::new(&r.caller),
        Box::new(&r.account),
        Box::new(&r.protocol),
        Box::new(r.received_ms),
        Box::new(r.answered_ms),
        Box::new(r.ended_ms),
        Box::new(r.wait_ms),
        Box::new(r.talk_ms),
        Box::new(&r.class),
        Box::new(list(&r.events)),
        Box::new(&r.queue),
        Box::new(list(&r.operators)),
        Box::new(list(&r.overflows)),
        Box::new(&r.forwarded_to),
        Box::new(&r.end_reason),
        Box::new(&r.disposition),
        Box::new(&r.note),
        Box::new(&r.disposition_by),
        Box::new(r.callback),
        Box::new(&r.recall_of),
        Box::new(&r.recalled_by),
        Box::new(&r.recording),
        Box::new(r.first_seq as i64),
        Box::new(r.last_seq as i64),
        Box::new(&r.recording_sha256),
        Box::new(r.recording_duration_ms),
    ]
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<CallRecord> {
    Ok(CallRecord {
        call_id: row.get(0)?,
        tenant: row.get(1)?,
        caller: row.get(2)?,
        account: row.get(3)?,
        protocol: row.get(4)?,
        received_ms: row.get(5)?,
        answered_ms: row.get(6)?,
        ended_ms: row.get(7)?,
        wait_ms: row.get(8)?,
        talk_ms: row.get(9)?,
        class: row.get(10)?,
        events: unlist(row.get(11)?),
        queue: row.get(12)?,
        operators: unlist(row.get(13)?),
        overflows: unlist(row.get(14)?),
        forwarded_to: row.get(15)?,
        end_reason: row.get(16)?,
        disposition: row.get(17)?,
        note: row.get(18)?,
        disposition_by: row.get(19)?,
        callback: row.get(20)?,
        recall_of: row.get(21)?,
        recalled_by: row.get(22)?,
        recording: row.get(23)?,
        first_seq: row.get::<_, i64>(24)?.max(0) as u64,
        last_seq: row.get::<_, i64>(25)?.max(0) as u64,
        recording_sha256: row.get(26)?,
        recording_duration_ms: row.get(27)?,
    })
}
