//! Following the journal: records in order from a sequence number, resumable
//! at the end of the newest segment (the journal's own
//! [`crate::journal::JournalReader`] iterates once and ends there).
//!
//! The tail only reads; it never repairs. A record still being written
//! (header or payload cut short at the end of the newest segment) is "not
//! yet": the tail steps back and returns `None`, and a later call reads it
//! whole. Callers inside the daemon pass the journal's `last_durable_seq` as
//! `upto`, so they never see a record that a crash could still take back.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::journal::format::{self, Defect, Header, HEADER_LEN};
use crate::journal::{JournalError, Record};

/// A resumable reader of one journal directory.
#[derive(Debug)]
pub struct Tail {
    dir: PathBuf,
    next: u64,
    open: Option<OpenSegment>,
}

#[derive(Debug)]
struct OpenSegment {
    file: File,
    path: PathBuf,
    offset: u64,
}

impl Tail {
    /// A tail that starts at `from` (1 for the whole journal).
    pub fn new(dir: impl AsRef<Path>, from: u64) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
            next: from.max(1),
            open: None,
        }
    }

    /// The seq the next record will have.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Continues from `seq` instead (after a failed publish, say).
    pub fn seek(&mut self, seq: u64) {
        self.next = seq.max(1);
        self.open = None;
    }

    /// The next record, if it exists in full and its seq is at most `upto`.
    /// If retention removed `next_seq`, reading resumes at the oldest record
    /// kept (compare the seq). Damage is an error naming file and offset.
    pub fn next_record(&mut self, upto: Option<u64>) -> Result<Option<Record>, JournalError> {
        if upto.is_some_and(|u| self.next > u) {
            return Ok(None);
        }
        if self.open.is_none() && !self.open_segment()? {
            return Ok(None);
        }
        if let Some(record) = self.read_here()? {
            return Ok(Some(record));
        }
        // The end of this segment: the writer may have rolled to the next one.
        let rolled = format::list_segments(&self.dir)?
            .into_iter()
            .any(|s| s.first_seq == self.next);
        if rolled {
            self.open = None;
            if self.open_segment()? {
                return self.read_here();
            }
        }
        Ok(None)
    }

    /// Opens the segment holding `next` and skips to it; false when the
    /// journal is empty.
    fn open_segment(&mut self) -> Result<bool, JournalError> {
        let segments = format::list_segments(&self.dir)?;
        let Some(first) = segments.first() else {
            return Ok(false);
        };
        if self.next < first.first_seq {
            self.next = first.first_seq;
        }
        let seg = segments
            .iter()
            .rev()
            .find(|s| s.first_seq <= self.next)
            .unwrap_or(first);
        let file = File::open(&seg.path).map_err(|e| JournalError::io("open", &seg.path, e))?;
        let mut open = OpenSegment {
            file,
            path: seg.path.clone(),
            offset: 0,
        };
        let mut seq = seg.first_seq;
        while seq < self.next {
            match open.skip_one(seq)? {
                true => seq += 1,
                false => {
                    // The segment ends before `next`: next_record reports "not yet".
                    self.next = seq;
                    break;
                }
            }
        }
        self.open = Some(open);
        Ok(true)
    }

    fn read_here(&mut self) -> Result<Option<Record>, JournalError> {
        let Some(open) = self.open.as_mut() else {
            return Ok(None);
        };
        let record = open.read_one(self.next)?;
        if record.is_some() {
            self.next += 1;
        }
        Ok(record)
    }
}

impl OpenSegment {
    fn corrupt(&self, defect: Defect) -> JournalError {
        JournalError::corrupt(&self.path, self.offset, defect)
    }

    /// Reads the header at `offset`; None when it is not all there yet.
    fn header(&mut self, expected_seq: u64) -> Result<Option<Header>, JournalError> {
        let mut head = [0u8; HEADER_LEN];
        if !self.fill(&mut head)? {
            return Ok(None);
        }
        let header = Header::parse(&head).map_err(|d| self.corrupt(d))?;
        if header.seq != expected_seq {
            let defect = Defect::SeqGap {
                expected: expected_seq,
                found: header.seq,
            };
            return Err(self.corrupt(defect));
        }
        Ok(Some(header))
    }

    /// Steps over the record at `offset` without reading its payload.
    fn skip_one(&mut self, expected_seq: u64) -> Result<bool, JournalError> {
        let Some(header) = self.header(expected_seq)? else {
            return Ok(false);
        };
        let end = self.offset + (HEADER_LEN as u64) + u64::from(header.len);
        let len = self.file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < end {
            self.rewind()?;
            return Ok(false);
        }
        self.offset = end;
        self.rewind()?;
        Ok(true)
    }

    /// Reads the whole record at `offset`, CRC checked.
    fn read_one(&mut self, expected_seq: u64) -> Result<Option<Record>, JournalError> {
        let Some(header) = self.header(expected_seq)? else {
            return Ok(None);
        };
        let mut payload = vec![0u8; header.len as usize];
        if !self.fill(&mut payload)? {
            return Ok(None);
        }
        header.check(&payload).map_err(|d| self.corrupt(d))?;
        self.offset += (HEADER_LEN + payload.len()) as u64;
        Ok(Some(Record {
            seq: header.seq,
            payload,
        }))
    }

    /// Fills `buf` from the current file position; on a short read (the
    /// file ends there for now) goes back to `offset` and returns false.
    fn fill(&mut self, buf: &mut [u8]) -> Result<bool, JournalError> {
        let got =
            read_full(&mut self.file, buf).map_err(|e| JournalError::io("read", &self.path, e))?;
        if got == buf.len() {
            return Ok(true);
        }
        self.rewind()?;
        Ok(false)
    }

    fn rewind(&mut self) -> Result<(), JournalError> {
        self.file
            .seek(SeekFrom::Start(self.offset))
            .map(drop)
            .map_err(|e| JournalError::io("seek", &self.path, e))
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Journal, JournalConfig, SyncMode};

    fn open(dir: &Path, segment_bytes: u64) -> crate::journal::JournalHandle {
        Journal::open(JournalConfig {
            dir: dir.to_path_buf(),
            segment_bytes,
            sync: SyncMode::Never,
        })
        .expect("open journal")
    }

    fn temp(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("alarmgate-tail-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    #[tokio::test]
    async fn follows_appends_across_segment_rolls() {
        let dir = temp("roll");
        let j = open(&dir, 200);
        let mut tail = Tail::new(&dir, 1);
        assert!(tail.next_record(None).unwrap().is_none());
        let mut seen = Vec::new();
        for round in 0..5u64 {
            for i in 0..7u64 {
                let n = round * 7 + i;
                j.append(format!("record {n:04} padding padding").into_bytes())
                    .await
                    .unwrap();
            }
            while let Some(r) = tail.next_record(Some(j.last_durable_seq())).unwrap() {
                seen.push(r.seq);
            }
        }
        assert_eq!(seen, (1..=35).collect::<Vec<_>>());
        assert!(format::list_segments(&dir).unwrap().len() > 3);
        let mut late = Tail::new(&dir, 30);
        assert_eq!(late.next_record(None).unwrap().unwrap().seq, 30);
        j.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn upto_holds_back_and_partial_records_wait() {
        let dir = temp("partial");
        let j = open(&dir, 1 << 20);
        for i in 0..3 {
            j.append(format!("r{i}").into_bytes()).await.unwrap();
        }
        j.close();
        let mut tail = Tail::new(&dir, 1);
        assert_eq!(tail.next_record(Some(2)).unwrap().unwrap().seq, 1);
        assert_eq!(tail.next_record(Some(2)).unwrap().unwrap().seq, 2);
        assert!(tail.next_record(Some(2)).unwrap().is_none());
        // a record cut short at the end: not yet, then whole once written
        let seg = format::list_segments(&dir).unwrap()[0].path.clone();
        let mut rec = Vec::new();
        format::encode(4, b"fourth", &mut rec);
        let full = std::fs::read(&seg).unwrap();
        let cut = full.len();
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&rec[..10]).unwrap();
        assert_eq!(tail.next_record(None).unwrap().unwrap().seq, 3);
        assert!(tail.next_record(None).unwrap().is_none());
        f.write_all(&rec[10..]).unwrap();
        let r = tail.next_record(None).unwrap().unwrap();
        assert_eq!((r.seq, r.payload.as_slice()), (4, &b"fourth"[..]));
        assert!(cut > 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
