//! The location service: bindings per operator and the RFC 3261 §10.3
//! step 7 update rules (Call-ID and CSeq ordering, all-or-nothing commits).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::liveness::Liveness;
use crate::routing::OperatorId;
use crate::sip::types::{CallId, Peer};

/// A softphone's registered contact, as the call side needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI, as registered: the Request-URI for INVITE and OPTIONS.
    pub contact: String,
    /// The flow the last REGISTER came over (address, transport,
    /// connection): requests to this contact go back through it (NAT, TCP).
    pub peer: Peer,
    /// When the binding was first registered.
    pub registered_at: Instant,
    /// When it expires unless refreshed.
    pub expires_at: Instant,
    /// When we last heard from it: a REGISTER or an answered keep-alive.
    pub last_heard: Instant,
}

/// A binding with what the registrar needs to update and probe it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub binding: Binding,
    /// The comparison form of the contact URI.
    pub key: String,
    pub call_id: CallId,
    pub cseq: u32,
    pub live: Liveness,
    /// The deadline this binding holds in the registrar's timer queue
    /// (entries of the queue at another instant are stale).
    pub armed: Option<Instant>,
}

/// One contact of a REGISTER with its granted expiry (0 = remove).
#[derive(Debug, Clone)]
pub(crate) struct Update {
    pub uri: String,
    pub key: String,
    pub expires: Duration,
}

/// What a REGISTER carries besides its contacts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub peer: Peer,
    pub call_id: &'a CallId,
    pub cseq: u32,
}

/// Why an update was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// Same Call-ID as the binding and a CSeq not above it (§10.3 step 7).
    #[error("CSeq {cseq} is not above {last} for contact {contact:?} of the same Call-ID")]
    OutOfOrder {
        /// The contact URI.
        contact: String,
        /// The request's CSeq.
        cseq: u32,
        /// The binding's CSeq.
        last: u32,
    },
    /// The operator would have more bindings than allowed.
    #[error("{count} contacts exceed the limit of {limit}")]
    TooMany {
        /// Bindings after the update.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

/// What an update changed.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub added: Vec<Binding>,
    pub removed: Vec<Binding>,
}

/// Bindings by operator; an operator with none has no entry.
#[derive(Debug, Default)]
pub(crate) struct Table {
    by_operator: HashMap<OperatorId, Vec<Entry>>,
}

impl Table {
    /// The operator's bindings (empty when none).
    pub(crate) fn entries(&self, op: &OperatorId) -> &[Entry] {
        self.by_operator.get(op).map_or(&[], Vec::as_slice)
    }

    /// Every operator with bindings, and them.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&OperatorId, &Vec<Entry>)> {
        self.by_operator.iter()
    }

    /// Bindings in the whole table.
    pub(crate) fn len(&self) -> usize {
        self.by_operator.values().map(Vec::len).sum()
    }

    /// Applies `updates` from one REGISTER, all or nothing.
    pub(crate) fn apply(
        &mut self,
        now: Instant,
        op: &OperatorId,
        origin: Origin<'_>,
        updates: &[Update],
        limit: usize,
    ) -> Result<Changes, UpdateError> {
        let current = self.entries(op);
        for update in updates {
            if let Some(entry) = current.iter().find(|e| e.key == update.key) {
                check_order(entry, origin)?;
            }
        }
        let mut next = current.to_vec();
        let mut changes = Changes::default();
        for update in updates {
            apply_one(now, &mut next, origin, update, &mut changes);
        }
        if next.len() > limit {
            let count = next.len();
            return Err(UpdateError::TooMany { count, limit });
        }
        self.store(op, next);
        Ok(changes)
    }

    /// `Contact: *` (§10.3 step 6): removes every binding, all or nothing.
    pub(crate) fn remove_all(
        &mut self,
        op: &OperatorId,
        origin: Origin<'_>,
    ) -> Result<Vec<Binding>, UpdateError> {
        for entry in self.entries(op) {
            check_order(entry, origin)?;
        }
        let gone = self.by_operator.remove(op).unwrap_or_default();
        Ok(gone.into_iter().map(|e| e.binding).collect())
    }

    /// Drops every binding of `op`.
    pub(crate) fn drop_operator(&mut self, op: &OperatorId) -> Vec<Binding> {
        let gone = self.by_operator.remove(op).unwrap_or_default();
        gone.into_iter().map(|e| e.binding).collect()
    }

    /// Removes one binding by its key.
    pub(crate) fn remove(&mut self, op: &OperatorId, key: &str) -> Option<Entry> {
        let entries = self.by_operator.get_mut(op)?;
        let index = entries.iter().position(|e| e.key == key)?;
        let entry = entries.remove(index);
        if entries.is_empty() {
            self.by_operator.remove(op);
        }
        Some(entry)
    }

    /// Removes every binding whose flow is `peer` (the same connection).
    pub(crate) fn remove_flow(&mut self, peer: &Peer) -> Vec<(OperatorId, Binding)> {
        let mut gone = Vec::new();
        for (op, entries) in self.by_operator.iter_mut() {
            entries.retain(|e| {
                let keep = e.binding.peer != *peer;
                if !keep {
                    gone.push((op.clone(), e.binding.clone()));
                }
                keep
            });
        }
        self.by_operator.retain(|_, entries| !entries.is_empty());
        gone
    }

    /// Finds one binding by its key.
    pub(crate) fn get_mut(&mut self, op: &OperatorId, key: &str) -> Option<&mut Entry> {
        let entries = self.by_operator.get_mut(op)?;
        entries.iter_mut().find(|e| e.key == key)
    }

    fn store(&mut self, op: &OperatorId, entries: Vec<Entry>) {
        if entries.is_empty() {
            self.by_operator.remove(op);
        } else {
            self.by_operator.insert(op.clone(), entries);
        }
    }
}

fn check_order(entry: &Entry, origin: Origin<'_>) -> Result<(), UpdateError> {
    if entry.call_id == *origin.call_id && origin.cseq <= entry.cseq {
        return Err(UpdateError::OutOfOrder {
            contact: entry.binding.contact.clone(),
            cseq: origin.cseq,
            last: entry.cseq,
        });
    }
    Ok(())
}

fn apply_one(
    now: Instant,
    entries: &mut Vec<Entry>,
    origin: Origin<'_>,
    update: &Update,
    changes: &mut Changes,
) {
    let index = entries.iter().position(|e| e.key == update.key);
    match index {
        Some(i) if update.expires.is_zero() => changes.removed.push(entries.remove(i).binding),
        Some(i) => {
            if let Some(entry) = entries.get_mut(i) {
                refresh(now, entry, origin, update);
            }
        }
        None if update.expires.is_zero() => {}
        None => {
            let entry = new_entry(now, origin, update);
            changes.added.push(entry.binding.clone());
            entries.push(entry);
        }
    }
}

fn refresh(now: Instant, entry: &mut Entry, origin: Origin<'_>, update: &Update) {
    entry.binding.contact.clone_from(&update.uri);
    entry.binding.peer = origin.peer;
    entry.binding.expires_at = now + update.expires;
    entry.binding.last_heard = now;
    entry.call_id = origin.call_id.clone();
    entry.cseq = origin.cseq;
    entry.live.heard();
}

fn new_entry(now: Instant, origin: Origin<'_>, update: &Update) -> Entry {
    Entry {
        binding: Binding {
            contact: update.uri.clone(),
            peer: origin.peer,
            registered_at: now,
            expires_at: now + update.expires,
            last_heard: now,
        },
        key: update.key.clone(),
        call_id: origin.call_id.clone(),
        cseq: origin.cseq,
        live: Liveness::default(),
        armed: None,
    }
}
