//! Reading records back from a sequence number, across segments.
//!
//! The reader does not repair: open the journal for writing first (that runs
//! recovery). It may run beside the writer; a record still being written at
//! the end of the newest segment simply ends the iteration. A reader that must
//! only see durable records stops at [`super::JournalHandle::last_durable_seq`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::format::{self, Defect, Header, Segment, HEADER_LEN};
use super::{JournalError, Record};

/// Reads a journal directory.
#[derive(Debug, Clone)]
pub struct JournalReader {
    dir: PathBuf,
}

impl JournalReader {
    /// A reader for `dir`, which must exist.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, JournalError> {
        let dir = dir.as_ref();
        std::fs::read_dir(dir).map_err(|e| JournalError::io("open", dir, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Every record with a seq `>= seq`, in order, across the segments present
    /// now. If retention already removed `seq`, iteration starts at the oldest
    /// record kept (check the first record's seq). Damage yields one `Err`
    /// naming file and offset, then the iteration ends.
    pub fn read_from(&self, seq: u64) -> Records {
        match format::list_segments(&self.dir) {
            Ok(mut segments) => {
                let start = segments
                    .iter()
                    .rposition(|s| s.first_seq <= seq)
                    .unwrap_or(0);
                segments.drain(..start);
                Records {
                    from: seq,
                    segments: segments.into(),
                    current: None,
                    error: None,
                    done: false,
                }
            }
            Err(e) => Records::failed(e),
        }
    }
}

/// The iterator [`JournalReader::read_from`] returns.
#[derive(Debug)]
pub struct Records {
    from: u64,
    segments: VecDeque<Segment>,
    current: Option<SegmentReader>,
    error: Option<JournalError>,
    done: bool,
}

impl Records {
    fn failed(e: JournalError) -> Self {
        let segments = VecDeque::new();
        Self {
            from: 0,
            segments,
            current: None,
            error: Some(e),
            done: false,
        }
    }

    fn fail(&mut self, e: JournalError) -> Option<Result<Record, JournalError>> {
        self.done = true;
        Some(Err(e))
    }
}

impl Iterator for Records {
    type Item = Result<Record, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            return self.fail(e);
        }
        while !self.done {
            let Some(reader) = self.current.as_mut() else {
                let seg = self.segments.pop_front()?;
                match SegmentReader::open(seg, self.segments.is_empty()) {
                    Ok(reader) => self.current = Some(reader),
                    Err(e) => return self.fail(e),
                }
                continue;
            };
            match reader.next_record(self.from) {
                Ok(Some(record)) => return Some(Ok(record)),
                Ok(None) => self.current = None,
                Err(e) => return self.fail(e),
            }
        }
        None
    }
}

/// Reads one segment sequentially.
#[derive(Debug)]
struct SegmentReader {
    file: BufReader<File>,
    seg: Segment,
    offset: u64,
    next_seq: u64,
    is_last: bool,
}

impl SegmentReader {
    fn open(seg: Segment, is_last: bool) -> Result<Self, JournalError> {
        let file = File::open(&seg.path).map_err(|e| JournalError::io("open", &seg.path, e))?;
        let file = BufReader::with_capacity(1 << 16, file);
        Ok(Self {
            file,
            next_seq: seg.first_seq,
            seg,
            offset: 0,
            is_last,
        })
    }

    /// The next record with seq `>= from`, `None` at the end of the segment.
    fn next_record(&mut self, from: u64) -> Result<Option<Record>, JournalError> {
        loop {
            match self.read_one(from)? {
                Some(record) if record.seq >= from => return Ok(Some(record)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    /// Reads the record at `offset`; its CRC is checked when its seq `>= verify_from`.
    fn read_one(&mut self, verify_from: u64) -> Result<Option<Record>, JournalError> {
        let (path, at) = (&self.seg.path, self.offset);
        let corrupt = |d| JournalError::corrupt(path, at, d);
        let io_err = |e| JournalError::io("read", path, e);
        let mut head = [0u8; HEADER_LEN];
        let got = read_full(&mut self.file, &mut head).map_err(io_err)?;
        if got < HEADER_LEN {
            return end_of_segment(got, HEADER_LEN, self.is_last).map_err(corrupt);
        }
        let header = Header::parse(&head).map_err(corrupt)?;
        if header.seq != self.next_seq {
            let defect = Defect::SeqGap {
                expected: self.next_seq,
                found: header.seq,
            };
            return Err(corrupt(defect));
        }
        let size = HEADER_LEN + header.len as usize;
        let mut payload = vec![0u8; header.len as usize];
        let got = read_full(&mut self.file, &mut payload).map_err(io_err)?;
        if got < payload.len() {
            return end_of_segment(HEADER_LEN + got, size, self.is_last).map_err(corrupt);
        }
        if header.seq >= verify_from {
            header.check(&payload).map_err(corrupt)?;
        }
        self.offset += size as u64;
        self.next_seq += 1;
        Ok(Some(Record {
            seq: header.seq,
            payload,
        }))
    }
}

/// A segment ending after `got` of `needed` bytes: clean at a record
/// boundary, a write in progress in the newest segment, damage otherwise.
fn end_of_segment(got: usize, needed: usize, is_last: bool) -> Result<Option<Record>, Defect> {
    if got == 0 || is_last {
        Ok(None)
    } else {
        Err(Defect::Truncated {
            needed,
            available: got,
        })
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
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
