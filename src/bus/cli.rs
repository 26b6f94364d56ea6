//! `alarmgate events tail` and `alarmgate events replay`: the journal's
//! events on standard output, one CloudEvent JSON per line (NDJSON), for
//! operators and consumers without a bus.
//!
//! Both read the journal directory directly (the daemon may be running or
//! not) and check every record's CRC. `tail` follows the newest segment, so
//! it may show a record a moment before the daemon has synced it.

use super::since::seq_after_id;
use super::tail::Tail;
use super::EventMeta;
use crate::journal::JournalError;
use clap::{Args, Subcommand};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `alarmgate events ...`.
#[derive(Debug, Subcommand)]
pub enum EventsAction {
    /// Print the last N events, then every new one as it is written, until interrupted.
    Tail {
        /// Where the journal is.
        #[command(flatten)]
        source: Source,
        /// How many past events to print first.
        #[arg(short = 'n', long, default_value_t = 10)]
        last: u64,
    },
    /// Print the events after `--since ID` (all without it), then exit.
    Replay {
        /// Where the journal is.
        #[command(flatten)]
        source: Source,
        /// An event id: print the events after it (if it is gone, those whose id sorts after it).
        #[arg(long)]
        since: Option<String>,
    },
}

/// The journal to read, and a filter.
#[derive(Debug, Args)]
pub struct Source {
    /// The config whose `alarm.journal_dir` to read (default: as `alarmgate run`).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The journal directory itself (instead of a config).
    #[arg(long, conflicts_with = "config")]
    pub dir: Option<PathBuf>,
    /// Only events of this type (`alarmgate.alarm.received`, or without the `alarmgate.` prefix).
    #[arg(long = "type")]
    pub kind: Option<String>,
}

impl EventsAction {
    /// Where the journal is.
    pub fn source(&self) -> &Source {
        match self {
            Self::Tail { source, .. } | Self::Replay { source, .. } => source,
        }
    }
}

/// Why `events` failed.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The journal could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Standard output failed (other than a closed pipe).
    #[error("cannot write: {0}")]
    Output(#[from] io::Error),
}

/// Runs `action` on the journal in `dir`.
pub fn run(action: &EventsAction, dir: &Path) -> Result<(), EventsError> {
    if !dir.is_dir() {
        return Err(JournalError::io(
            "open",
            dir,
            io::Error::new(io::ErrorKind::NotFound, "no journal directory"),
        )
        .into());
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let kind = action.source().kind.as_deref();
    let result = match action {
        EventsAction::Replay { since, .. } => {
            let start = match since {
                Some(id) => seq_after_id(dir, id)?,
                None => 1,
            };
            copy(&mut Tail::new(dir, start), kind, &mut out).map(drop)
        }
        EventsAction::Tail { last, .. } => {
            let end = end_seq(dir)?;
            let mut tail = Tail::new(dir, end.saturating_sub(*last));
            loop {
                if copy(&mut tail, kind, &mut out)? == 0 {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    };
    match result {
        Err(EventsError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The seq the next record will get.
pub fn end_seq(dir: &Path) -> Result<u64, JournalError> {
    let mut tail = Tail::new(dir, u64::MAX);
    tail.next_record(None)?;
    Ok(tail.next_seq())
}

/// Writes every record available now; returns how many were read.
pub fn copy(tail: &mut Tail, kind: Option<&str>, out: &mut impl Write) -> Result<u64, EventsError> {
    let mut n = 0;
    while let Some(record) = tail.next_record(None)? {
        n += 1;
        if let Some(want) = kind {
            let Some(meta) = EventMeta::parse(&record.payload) else {
                continue;
            };
            if meta.kind != want && meta.kind.strip_prefix("alarmgate.") != Some(want) {
                continue;
            }
        }
        out.write_all(&record.payload)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Journal, JournalConfig, SyncMode};

    #[tokio::test]
    async fn replay_since_an_id_and_by_type() {
        let dir = std::env::temp_dir().join(format!("alarmgate-evcli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let j = Journal::open(JournalConfig {
            dir: dir.clone(),
            segment_bytes: 300,
            sync: SyncMode::Never,
        })
        .unwrap();
        let ids: Vec<String> = (0..6u64)
            .map(|i| crate::events::uuid_v7(1_000 + i, 0))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let kind = if i % 2 == 0 {
                "alarm.received"
            } else {
                "call.ended"
            };
            let rec = format!(r#"{{"id":"{id}","type":"alarmgate.{kind}","data":{{}}}}"#);
            j.append(rec.into_bytes()).await.unwrap();
        }
        j.close();
        assert_eq!(end_seq(&dir).unwrap(), 7);
        assert_eq!(seq_after_id(&dir, &ids[2]).unwrap(), 4);
        // an id that is gone: the first later one
        let gone = crate::events::uuid_v7(1_003, 1 << 70);
        assert_eq!(seq_after_id(&dir, &gone).unwrap(), 5);
        let mut out = Vec::new();
        copy(&mut Tail::new(&dir, 4), None, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().next().unwrap().contains(&ids[3]));
        let mut out = Vec::new();
        copy(&mut Tail::new(&dir, 1), Some("call.ended"), &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
