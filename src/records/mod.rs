//! Call records: a projection of the event journal into one row per citizen
//! call, kept in SQLite (issue 12), and what is read from it (the monthly
//! extract in [`report`], frequent callers in [`frequent`]).
//!
//! The records are derived data. The journal is the source of truth: a
//! row is built only from journal events ([`event`] parses them,
//! [`project`] turns each into row changes, a pure function), and the
//! database ([`store`]) keeps, in the same transaction as the rows, the
//! last journal sequence number applied. A SIGKILL mid-batch therefore
//! loses the whole batch and nothing else; the next start applies it again
//! from that seq: no half rows, no double counts. A missing database is
//! rebuilt from the journal; one behind it catches up; one *ahead* of the
//! journal (a replaced journal directory) is thrown away and rebuilt.
//! Rows older than the journal's retention survive only in the database:
//! deleting it loses the calls whose segments retention already removed.
//!
//! The daemon follows the journal's durable seq ([`follow`], like the bus
//! forwarder), so a row appears within one group commit of its event.
//!
//! Keys of a row: the event `subject`, i.e. the device call's SIP Call-ID
//! (a recall: its operator leg's Call-ID; a data alarm from an IP
//! protocol: the subject its receiver writes).

pub mod absorb;
pub mod api;
mod apply;
mod batch;
pub mod cli;
pub mod event;
pub mod follow;
pub mod frequent;
pub mod project;
pub mod query;
mod record;
pub mod report;
pub mod store;
pub mod synth;

#[cfg(test)]
mod tests_fields;
#[cfg(test)]
mod tests_nodes;
#[cfg(test)]
mod tests_project;
#[cfg(test)]
mod tests_store;

pub use batch::Applied;
pub use event::JournalEvent;
pub use project::{apply, changes, CallRecord, Change, Op};
pub use store::{RecordsError, Store};
