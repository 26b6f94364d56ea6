//! The on-disk record and segment layout, shared by recovery, writer and reader.
//!
//! A record is an 18-byte little-endian header followed by the payload:
//!
//! | bytes | field | meaning |
//! |---|---|---|
//! | 0..2 | magic | [`MAGIC`] |
//! | 2..6 | length | payload length in bytes, at most [`MAX_PAYLOAD`] |
//! | 6..14 | seq | sequence number, consecutive across the journal |
//! | 14..18 | crc | CRC-32 (IEEE) of the 8 seq bytes followed by the payload |
//!
//! Segments are named `<first_seq:020>.seg`, so their names sort by sequence.

use std::fs;
use std::path::{Path, PathBuf};

use super::crc32::Crc32;
use super::JournalError;

/// First two bytes of every record header.
pub const MAGIC: u16 = 0xA1A6;
/// Size of a record header in bytes.
pub const HEADER_LEN: usize = 18;
/// Largest payload a record may carry (16 MiB); longer lengths are corruption.
pub const MAX_PAYLOAD: usize = 16 << 20;
/// File name suffix of a segment.
const SEGMENT_SUFFIX: &str = ".seg";

/// What is wrong with bytes that should have been a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Defect {
    /// The header does not start with [`MAGIC`].
    #[error("bad magic {0:#06x}")]
    BadMagic(u16),
    /// The length field exceeds [`MAX_PAYLOAD`].
    #[error("length {0} exceeds the maximum record size")]
    TooLong(u32),
    /// The checksum does not match seq and payload.
    #[error("crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Crc {
        /// The CRC in the header.
        stored: u32,
        /// The CRC of the bytes on disk.
        computed: u32,
    },
    /// A valid record with the wrong sequence number.
    #[error("sequence gap: expected {expected}, found {found}")]
    SeqGap {
        /// The sequence number that should come next.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// The file ends inside a record.
    #[error("file ends inside a record ({available} of {needed} bytes)")]
    Truncated {
        /// Bytes the record needs.
        needed: usize,
        /// Bytes left in the file.
        available: usize,
    },
}

/// A parsed record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub len: u32,
    pub seq: u64,
    pub crc: u32,
}

impl Header {
    /// Parses and sanity-checks (magic, length) a header.
    pub(crate) fn parse(b: &[u8; HEADER_LEN]) -> Result<Self, Defect> {
        let magic = u16::from_le_bytes([b[0], b[1]]);
        if magic != MAGIC {
            return Err(Defect::BadMagic(magic));
        }
        let len = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        if len as usize > MAX_PAYLOAD {
            return Err(Defect::TooLong(len));
        }
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&b[6..14]);
        let crc = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
        Ok(Self {
            len,
            seq: u64::from_le_bytes(seq),
            crc,
        })
    }

    /// Checks the payload against the header's CRC.
    pub(crate) fn check(&self, payload: &[u8]) -> Result<(), Defect> {
        let computed = record_crc(self.seq, payload);
        if computed == self.crc {
            Ok(())
        } else {
            Err(Defect::Crc {
                stored: self.crc,
                computed,
            })
        }
    }
}

/// CRC-32 of the seq bytes followed by the payload.
pub(crate) fn record_crc(seq: u64, payload: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(&seq.to_le_bytes());
    c.update(payload);
    c.finish()
}

/// Appends the encoded record to `out`.
pub(crate) fn encode(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&record_crc(seq, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// One record decoded from memory: its seq and its total size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub seq: u64,
    pub size: usize,
}

/// Decodes the record at the start of `buf`.
pub(crate) fn decode(buf: &[u8]) -> Result<Decoded, Defect> {
    let truncated = |needed| Defect::Truncated {
        needed,
        available: buf.len(),
    };
    let head: &[u8; HEADER_LEN] = buf
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| truncated(HEADER_LEN))?;
    let header = Header::parse(head)?;
    let size = HEADER_LEN + header.len as usize;
    let payload = buf.get(HEADER_LEN..size).ok_or_else(|| truncated(size))?;
    header.check(payload)?;
    Ok(Decoded {
        seq: header.seq,
        size,
    })
}

/// A segment file and the first sequence number its name promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub first_seq: u64,
    pub path: PathBuf,
}

/// The path of the segment whose first record is `first_seq`.
pub(crate) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}{SEGMENT_SUFFIX}"))
}

/// The segments in `dir`, sorted by first seq; other files are ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<Segment>, JournalError> {
    let entries = fs::read_dir(dir).map_err(|e| JournalError::io("list", dir, e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("list", dir, e))?;
        let name = entry.file_name();
        if let Some(first_seq) = name.to_str().and_then(parse_segment_name) {
            segments.push(Segment {
                first_seq,
                path: entry.path(),
            });
        }
    }
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Makes created and removed directory entries durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io("sync directory", dir, e))
}

/// Deletes, oldest first, every segment whose records all have a seq below
/// `seq`. The newest segment is never removed. Returns how many were removed.
pub(crate) fn remove_segments_before(dir: &Path, seq: u64) -> Result<usize, JournalError> {
    let segments = list_segments(dir)?;
    let mut removed = 0;
    for pair in segments.windows(2) {
        if pair[1].first_seq > seq {
            break;
        }
        fs::remove_file(&pair[0].path).map_err(|e| JournalError::io("remove", &pair[0].path, e))?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let mut buf = Vec::new();
        encode(42, b"{\"code\":130}", &mut buf);
        assert_eq!(buf.len(), HEADER_LEN + 12);
        assert_eq!(
            decode(&buf),
            Ok(Decoded {
                seq: 42,
                size: buf.len()
            })
        );
    }

    #[test]
    fn every_defect_is_named() {
        let mut buf = Vec::new();
        encode(7, b"payload", &mut buf);
        let short = &buf[..buf.len() - 1];
        assert!(matches!(decode(short), Err(Defect::Truncated { .. })));
        let mut flipped = buf.clone();
        flipped[HEADER_LEN] ^= 1;
        assert!(matches!(decode(&flipped), Err(Defect::Crc { .. })));
        let mut magic = buf.clone();
        magic[0] = 0;
        assert!(matches!(decode(&magic), Err(Defect::BadMagic(_))));
        let mut long = buf;
        long[2..6].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&long), Err(Defect::TooLong(u32::MAX)));
    }

    #[test]
    fn segment_names_sort_and_parse() {
        let p = segment_path(Path::new("/j"), 12);
        assert_eq!(p, Path::new("/j/00000000000000000012.seg"));
        assert_eq!(parse_segment_name("00000000000000000012.seg"), Some(12));
        assert_eq!(parse_segment_name("12.seg"), None);
        assert_eq!(parse_segment_name("0000000000000000001x.seg"), None);
        assert_eq!(parse_segment_name("LOCK"), None);
    }
}
