//! One DC-09 frame, `<LF> CRC 0LLL "id" seq [Rrcvr] Lpref #acct [data]
//! [x-data]… _timestamp <CR>`: integrity (CRC, length) first, then the
//! header, then the bracketed body (plain) or the hex cipher text (`*` ids).
//!
//! Integrity failures ([`FrameError::is_integrity`]) get no answer at all
//! (the sender retries); a frame whose CRC is right but whose content we
//! cannot read gets `DUH` from the receiver.

use super::crc::{crc16_arc, parse_hex4, CrcForm};
use super::timestamp::{Timestamp, TimestampError};
use super::types::{HexId, MessageId, Sequence};

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not `<LF> … <CR>`, or shorter than any header.
    #[error("not a DC-09 frame (no <LF> … <CR>, or {len} bytes is too short)")]
    NotFramed {
        /// Bytes seen.
        len: usize,
    },
    /// The length field is not `0` followed by 3 hex digits.
    #[error("length field {field:?} is not 0LLL")]
    BadLengthField {
        /// The field as received (lossy).
        field: String,
    },
    /// The length field does not count the bytes sent.
    #[error("length field says {declared} bytes, the frame has {actual}")]
    LengthMismatch {
        /// `LLL`.
        declared: usize,
        /// Bytes from `"` to `<CR>`.
        actual: usize,
    },
    /// The CRC does not match the content.
    #[error("CRC {declared:04X} does not match the content's {computed:04X}")]
    CrcMismatch {
        /// As sent.
        declared: u16,
        /// As computed.
        computed: u16,
    },
    /// The content is not ASCII text.
    #[error("the content is not ASCII")]
    NotAscii,
    /// A header field is malformed.
    #[error("header field {field} is malformed near {near:?}")]
    BadHeader {
        /// Which field.
        field: &'static str,
        /// The text from where parsing stopped (at most 24 chars).
        near: String,
    },
    /// The body after `[` is malformed.
    #[error("body is malformed: {detail}")]
    BadBody {
        /// What is wrong.
        detail: &'static str,
    },
    /// The timestamp is malformed.
    #[error(transparent)]
    Timestamp(#[from] TimestampError),
}

impl FrameError {
    /// True for errors that mean the bytes were damaged or mis-framed: the
    /// receiver stays silent so the sender retries.
    pub fn is_integrity(&self) -> bool {
        matches!(
            self,
            Self::NotFramed { .. }
                | Self::BadLengthField { .. }
                | Self::LengthMismatch { .. }
                | Self::CrcMismatch { .. }
        )
    }
}

/// The header fields before `[`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// How the CRC was sent (replies use the same form).
    pub crc_form: CrcForm,
    /// `"id"`.
    pub id: MessageId,
    /// The 4-digit sequence number.
    pub seq: Sequence,
    /// `R…`, when sent.
    pub receiver: Option<HexId>,
    /// `L…` (mandatory in the standard; tolerated missing).
    pub line: Option<HexId>,
    /// `#…`, when sent in the header.
    pub account: Option<HexId>,
}

/// A plain body: `data ] [x-data]… _timestamp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The text between `[` (or the pad's `|`) and the first `]`.
    pub data: String,
    /// Each extended-data block without its brackets (`X…`, `Y…`, `K…`, `M…`).
    pub extended: Vec<String>,
    /// `_HH:MM:SS,MM-DD-YYYY`, when sent.
    pub timestamp: Option<Timestamp>,
}

/// What follows the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Readable.
    Plain(Body),
    /// The cipher text of a `*` id (hex-decoded).
    Encrypted(Vec<u8>),
}

/// A frame whose integrity and header were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The body or cipher text.
    pub content: Content,
    /// The frame as text, framing bytes excluded (the CRC lossy if binary).
    pub raw: String,
}

/// Checks and parses one frame, `<LF>` and `<CR>` included.
pub fn parse(frame: &[u8]) -> Result<Frame, FrameError> {
    let (crc_form, start) = integrity(frame)?;
    let region = frame.get(start..frame.len() - 1).unwrap_or_default();
    let text = std::str::from_utf8(region)
        .ok()
        .filter(|t| t.is_ascii())
        .ok_or(FrameError::NotAscii)?;
    let (header, rest) = parse_header(text, crc_form)?;
    let content = if header.id.encrypted {
        Content::Encrypted(decode_hex(rest)?)
    } else {
        Content::Plain(parse_body(rest)?)
    };
    let raw = String::from_utf8_lossy(frame.get(1..frame.len() - 1).unwrap_or_default());
    Ok(Frame {
        header,
        content,
        raw: raw.into_owned(),
    })
}

/// The header of a frame whose integrity holds, even if its body is
/// unreadable (for the `DUH` that echoes it).
pub fn header_of(frame: &[u8]) -> Option<Header> {
    let (crc_form, start) = integrity(frame).ok()?;
    let text = std::str::from_utf8(frame.get(start..frame.len() - 1)?).ok()?;
    parse_header(text, crc_form).ok().map(|(h, _)| h)
}

/// Checks framing, length and CRC; returns the CRC form and where `"` starts.
fn integrity(frame: &[u8]) -> Result<(CrcForm, usize), FrameError> {
    let framed = frame.first() == Some(&b'\n') && frame.last() == Some(&b'\r');
    if !framed || frame.len() < 10 {
        return Err(FrameError::NotFramed { len: frame.len() });
    }
    let (form, start) = match (frame.get(9), frame.get(7)) {
        (Some(b'"'), _) if parse_hex4(&frame[1..5]).is_some() => (CrcForm::Hex, 9),
        (_, Some(b'"')) => (CrcForm::Binary, 7),
        _ => return Err(FrameError::NotFramed { len: frame.len() }),
    };
    let width = form.width();
    let declared = length_field(&frame[1 + width..start])?;
    let region = &frame[start..frame.len() - 1];
    if declared != region.len() {
        return Err(FrameError::LengthMismatch {
            declared,
            actual: region.len(),
        });
    }
    let sent = match form {
        CrcForm::Hex => parse_hex4(&frame[1..5]).unwrap_or_default(),
        CrcForm::Binary => u16::from_be_bytes([frame[1], frame[2]]),
    };
    let computed = crc16_arc(region);
    if sent != computed {
        return Err(FrameError::CrcMismatch {
            declared: sent,
            computed,
        });
    }
    Ok((form, start))
}

/// `0LLL` → LLL. Exposed for the stream reassembler.
pub fn length_field(field: &[u8]) -> Result<usize, FrameError> {
    let bad = || FrameError::BadLengthField {
        field: String::from_utf8_lossy(field).into_owned(),
    };
    match field {
        [b'0', rest @ ..] if rest.len() == 3 && rest.iter().all(u8::is_ascii_hexdigit) => {
            let text = std::str::from_utf8(rest).map_err(|_| bad())?;
            usize::from_str_radix(text, 16).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

fn bad_header(field: &'static str, near: &str) -> FrameError {
    FrameError::BadHeader {
        field,
        near: near.chars().take(24).collect(),
    }
}

/// `"id"seq[R..][L..][#..][` → the header and the text after `[`.
fn parse_header(text: &str, crc_form: CrcForm) -> Result<(Header, &str), FrameError> {
    let inner = text
        .strip_prefix('"')
        .ok_or_else(|| bad_header("id", text))?;
    let (id, rest) = inner
        .split_once('"')
        .ok_or_else(|| bad_header("id", text))?;
    let id = MessageId::parse(id).ok_or_else(|| bad_header("id", text))?;
    let seq_text = rest.get(..4).ok_or_else(|| bad_header("seq", rest))?;
    let seq = Sequence::parse(seq_text).ok_or_else(|| bad_header("seq", rest))?;
    let mut rest = rest.get(4..).unwrap_or_default();
    let mut header = Header {
        crc_form,
        id,
        seq,
        receiver: None,
        line: None,
        account: None,
    };
    loop {
        let Some(tag) = rest.chars().next() else {
            return Err(bad_header("[", rest));
        };
        let after = rest.get(1..).unwrap_or_default();
        let (slot, field, max) = match tag {
            '[' => return Ok((header, after)),
            'R' => (&mut header.receiver, "receiver", 6),
            'L' => (&mut header.line, "line", 6),
            '#' => (&mut header.account, "account", 16),
            _ => return Err(bad_header("header", rest)),
        };
        // R and L are hex; accounts are letters and digits up to `[`.
        let take: fn(&u8) -> bool = match tag {
            '#' => u8::is_ascii_alphanumeric,
            _ => u8::is_ascii_hexdigit,
        };
        let len = after.bytes().take_while(take).count();
        let value = after.get(..len).unwrap_or_default();
        if slot.is_some() {
            return Err(bad_header(field, rest));
        }
        *slot = Some(HexId::parse(value, max).ok_or_else(|| bad_header(field, rest))?);
        rest = after.get(len..).unwrap_or_default();
    }
}

/// `data] [x]… _timestamp` (the text after `[`, or after the pad's `|`).
pub fn parse_body(text: &str) -> Result<Body, FrameError> {
    let bad = |detail| FrameError::BadBody { detail };
    let (data, mut rest) = text.split_once(']').ok_or(bad("no ] after the data"))?;
    let mut extended = Vec::new();
    while let Some(block) = rest.strip_prefix('[') {
        let (x, after) = block.split_once(']').ok_or(bad("unclosed extended data"))?;
        extended.push(x.to_owned());
        rest = after;
    }
    let timestamp = match rest {
        "" => None,
        _ => {
            let ts = rest.strip_prefix('_').ok_or(bad("text after the data"))?;
            Some(Timestamp::parse(ts)?)
        }
    };
    Ok(Body {
        data: data.to_owned(),
        extended,
        timestamp,
    })
}

fn decode_hex(text: &str) -> Result<Vec<u8>, FrameError> {
    let bad = FrameError::BadBody {
        detail: "cipher text is not hex",
    };
    if !text.len().is_multiple_of(2) || text.is_empty() {
        return Err(bad);
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            let pair = text.get(i..i + 2).ok_or(bad.clone())?;
            u8::from_str_radix(pair, 16).map_err(|_| bad.clone())
        })
        .collect()
}

/// A frame around `region` (from `"` on): CRC, length, `<LF>`, `<CR>`.
pub fn seal(region: &[u8], form: CrcForm) -> Vec<u8> {
    let mut out = Vec::with_capacity(region.len() + 10);
    out.push(b'\n');
    out.extend(form.encode(crc16_arc(region)));
    out.extend(format!("{:04X}", region.len()).into_bytes());
    out.extend_from_slice(region);
    out.push(b'\r');
    out
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
