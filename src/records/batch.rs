//! One transaction's rows: loaded once, changed in memory, written back
//! together. Row keys go through the aliases table first, so the events of
//! a SCAIP alarm that was merged into its voice call
//! ([`super::absorb`]) keep landing on that one row.

use super::absorb::absorb;
use super::store::{load, row_params, COLUMNS};
use super::CallRecord;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};

/// What a batch did: the rows it touched and the aliases it resolved or made.
#[derive(Debug, Default)]
pub struct Applied {
    /// The rows as written.
    pub rows: Vec<CallRecord>,
    /// Alias (a merged row's old key) to the row it now is, for the keys seen.
    pub aliases: HashMap<String, String>,
}

/// Rows of one transaction.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub rows: HashMap<String, CallRecord>,
    pub aliases: HashMap<String, String>,
    new_aliases: Vec<(String, String)>,
    deleted: HashSet<String>,
    /// Keys known to be no alias.
    plain: HashSet<String>,
}

impl Batch {
    /// The row key `call_id` stands for (itself, or what it was merged into).
    pub fn resolve(&mut self, conn: &Connection, call_id: &str) -> rusqlite::Result<String> {
        if let Some(to) = self.aliases.get(call_id) {
            return Ok(to.clone());
        }
        if self.plain.contains(call_id) {
            return Ok(call_id.to_string());
        }
        let sql = "SELECT call_id FROM aliases WHERE alias = ?1";
        let found: Option<String> = conn
            .prepare_cached(sql)?
            .query_row([call_id], |r| r.get(0))
            .optional()?;
        match found {
            Some(to) => {
                self.aliases.insert(call_id.to_string(), to.clone());
                Ok(to)
            }
            None => {
                self.plain.insert(call_id.to_string());
                Ok(call_id.to_string())
            }
        }
    }

    /// Makes sure the row `call_id` is loaded (or new).
    pub fn row(&mut self, conn: &Connection, call_id: &str) -> rusqlite::Result<()> {
        if !self.rows.contains_key(call_id) {
            let row = load(conn, call_id)?.unwrap_or_else(|| CallRecord::new(call_id));
            self.rows.insert(call_id.to_string(), row);
        }
        self.deleted.remove(call_id);
        Ok(())
    }

    /// Merges the row `alias` into `call_id`; later events about `alias` land there.
    pub fn absorb(
        &mut self,
        conn: &Connection,
        call_id: &str,
        alias: &str,
    ) -> rusqlite::Result<()> {
        if alias == call_id || self.aliases.contains_key(alias) {
            return Ok(());
        }
        let other = match self.rows.remove(alias) {
            Some(row) => Some(row),
            None => load(conn, alias)?,
        };
        if let (Some(other), Some(row)) = (other, self.rows.get_mut(call_id)) {
            absorb(row, other);
        }
        self.plain.remove(alias);
        self.deleted.insert(alias.to_string());
        self.aliases.insert(alias.to_string(), call_id.to_string());
        self.new_aliases
            .push((alias.to_string(), call_id.to_string()));
        Ok(())
    }

    /// Writes the rows, deletes merged ones, stores new aliases.
    pub fn write(&self, conn: &Connection) -> rusqlite::Result<()> {
        let marks: Vec<String> = (1..=COLUMNS.split(',').count())
            .map(|i| format!("?{i}"))
            .collect();
        let sql = format!(
            "INSERT OR REPLACE INTO calls ({COLUMNS}) VALUES ({})",
            marks.join(",")
        );
        let mut insert = conn.prepare_cached(&sql)?;
        for row in self.rows.values() {
            insert.execute(rusqlite::params_from_iter(row_params(row)))?;
        }
        let mut delete = conn.prepare_cached("DELETE FROM calls WHERE call_id = ?1")?;
        for gone in &self.deleted {
            delete.execute([gone])?;
        }
        let sql = "INSERT OR REPLACE INTO aliases (alias, call_id) VALUES (?1, ?2)";
        let mut alias = conn.prepare_cached(sql)?;
        for (from, to) in &self.new_aliases {
            alias.execute(params![from, to])?;
        }
        Ok(())
    }
}
