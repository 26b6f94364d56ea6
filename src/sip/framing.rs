//! SIP message framing on stream transports (RFC 3261 §18.3, §7.5, §7.3.3)
//! and CRLF keep-alives (RFC 5626 §4.4.1).
//!
//! On TCP and TLS a SIP message ends where its Content-Length says: the
//! header block runs to the first empty line (CRLFCRLF) and the body is
//! exactly Content-Length bytes after it. The header is mandatory on streams
//! (§18.3), accepted in any case and in compact form `l:` (§7.3.3), and may be
//! folded over several lines (§7.3.1).
//!
//! Between messages a peer may send keep-alives: a double CRLF is a *ping*
//! that the receiver answers with a single CRLF, the *pong*.
//!
//! [`StreamFramer`] is pure: feed it bytes as they arrive with
//! [`StreamFramer::push`] and drain [`StreamFramer::next_frame`] until it
//! returns `Ok(None)`. An error means the stream can no longer be framed:
//! answer 400 if [`FramingError::partial`] gives a header block, then close.
//! The framer stays failed: every later call returns the same error.

use bytes::{Bytes, BytesMut};

/// Default limit on the header block (start line, headers, empty line).
pub const DEFAULT_MAX_HEADER: usize = 16 * 1024;
/// Default limit on a whole message, header block plus body.
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;

const CRLF: &[u8] = b"\r\n";
const CRLFCRLF: &[u8] = b"\r\n\r\n";
/// Longest Content-Length value echoed back in an error.
const MAX_ECHO: usize = 32;

/// Size limits that protect the framer against hostile peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingLimits {
    /// Largest header block, in bytes, including the closing CRLFCRLF.
    pub max_header: usize,
    /// Largest message, in bytes, header block plus body.
    pub max_message: usize,
}

impl Default for FramingLimits {
    fn default() -> Self {
        Self {
            max_header: DEFAULT_MAX_HEADER,
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

/// One unit cut from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete SIP message: header block and exactly Content-Length body bytes.
    Message(Bytes),
    /// A double CRLF between messages (RFC 5626 §4.4.1): answer with a single CRLF.
    KeepAlivePing,
    /// A single CRLF between messages: the answer to our ping, or a stray
    /// line ending before a message (RFC 3261 §7.5). Counts as activity only.
    KeepAlivePong,
}

/// Why a stream cannot be framed any more. Every variant means "close the
/// connection"; those carrying `header` let the caller answer 400 first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The message has no Content-Length, which streams require (RFC 3261 §18.3).
    #[error("no Content-Length header on a stream transport (RFC 3261 §18.3)")]
    MissingContentLength {
        /// The complete header block.
        header: Bytes,
    },
    /// Content-Length is not a plain decimal number (negative, empty, a list, text).
    #[error("malformed Content-Length {value:?}")]
    BadContentLength {
        /// The offending value, cut to 32 bytes.
        value: String,
        /// The complete header block.
        header: Bytes,
    },
    /// Two Content-Length headers disagree: the body boundary is ambiguous.
    #[error("conflicting Content-Length values {first} and {second}")]
    ConflictingContentLength {
        /// The first value seen.
        first: usize,
        /// The value that contradicts it.
        second: usize,
        /// The complete header block.
        header: Bytes,
    },
    /// No empty line within the header limit.
    #[error("header block exceeds {limit} bytes")]
    HeaderTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// Header block plus declared body exceed the message limit.
    #[error("message of {length} bytes exceeds the {limit}-byte limit")]
    MessageTooLarge {
        /// Declared total length (saturated on overflow).
        length: usize,
        /// The limit in force.
        limit: usize,
        /// The complete header block.
        header: Bytes,
    },
}

impl FramingError {
    /// The complete header block, when one was read, so that the caller can
    /// build a 400 response from its Via, From, To, Call-ID and CSeq.
    pub fn partial(&self) -> Option<Bytes> {
        match self {
            Self::MissingContentLength { header }
            | Self::BadContentLength { header, .. }
            | Self::ConflictingContentLength { header, .. }
            | Self::MessageTooLarge { header, .. } => Some(header.clone()),
            Self::HeaderTooLarge { .. } => None,
        }
    }
}

/// Cuts a byte stream into SIP messages and keep-alives.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: BytesMut,
    limits: FramingLimits,
    /// Bytes of the current header block already searched for CRLFCRLF.
    scanned: usize,
    /// Total length of the message at the front, once its header is parsed.
    pending: Option<usize>,
    failed: Option<FramingError>,
}

impl StreamFramer {
    /// A framer with the given limits.
    pub fn new(limits: FramingLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Appends bytes read from the stream. Push at most one read's worth at a
    /// time and drain [`Self::next_frame`] after each push: the limits are
    /// enforced there, so the buffer stays bounded by limit plus one read.
    pub fn push(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes received but not yet returned in a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or the
    /// error that makes the stream unusable (sticky: returned again on every call).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.frame().inspect_err(|err| {
            self.failed = Some(err.clone());
            self.buf = BytesMut::new();
        })
    }

    fn frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if self.pending.is_none() && self.scanned == 0 {
            if let Some(keep_alive) = self.keep_alive() {
                return Ok(keep_alive);
            }
        }
        let total = match self.pending {
            Some(total) => total,
            None => match self.header_end()? {
                Some(header_len) => self.parse_header(header_len)?,
                None => return Ok(None),
            },
        };
        if self.buf.len() < total {
            return Ok(None);
        }
        self.pending = None;
        self.scanned = 0;
        Ok(Some(Frame::Message(self.buf.split_to(total).freeze())))
    }

    /// Recognises CRLFs at a message boundary. `None` means a message starts
    /// here; `Some(None)` means the line endings are incomplete, wait.
    fn keep_alive(&mut self) -> Option<Option<Frame>> {
        let b = &self.buf[..];
        if b.starts_with(CRLFCRLF) {
            let _ = self.buf.split_to(CRLFCRLF.len());
            return Some(Some(Frame::KeepAlivePing));
        }
        if b.starts_with(CRLF) {
            // "\r\n" or "\r\n\r" may still become a ping.
            if b.len() == 2 || (b.len() == 3 && b[2] == b'\r') {
                return Some(None);
            }
            let _ = self.buf.split_to(CRLF.len());
            return Some(Some(Frame::KeepAlivePong));
        }
        (b == b"\r").then_some(None)
    }

    /// Length of the header block including CRLFCRLF, once it is all here.
    fn header_end(&mut self) -> Result<Option<usize>, FramingError> {
        let limit = self.limits.max_header;
        let from = self.scanned.saturating_sub(CRLFCRLF.len() - 1);
        let found = self.buf[from..]
            .windows(CRLFCRLF.len())
            .position(|w| w == CRLFCRLF)
            .map(|i| from + i + CRLFCRLF.len());
        match found {
            Some(len) if len <= limit => Ok(Some(len)),
            Some(_) => Err(FramingError::HeaderTooLarge { limit }),
            None if self.buf.len() >= limit => Err(FramingError::HeaderTooLarge { limit }),
            None => {
                self.scanned = self.buf.len();
                Ok(None)
            }
        }
    }

    /// Reads Content-Length and returns the total message length.
    fn parse_header(&mut self, header_len: usize) -> Result<usize, FramingError> {
        let raw = &self.buf[..header_len];
        let header = || Bytes::copy_from_slice(raw);
        let body = match content_length(raw) {
            Ok(Some(body)) => body,
            Ok(None) => return Err(FramingError::MissingContentLength { header: header() }),
            Err(ClError::Bad(value)) => {
                return Err(FramingError::BadContentLength {
                    value,
                    header: header(),
                })
            }
            Err(ClError::Conflict(first, second)) => {
                return Err(FramingError::ConflictingContentLength {
                    first,
                    second,
                    header: header(),
                })
            }
        };
        let total = header_len.saturating_add(body);
        let limit = self.limits.max_message;
        if total > limit {
            return Err(FramingError::MessageTooLarge {
                length: total,
                limit,
                header: header(),
            });
        }
        self.pending = Some(total);
        Ok(total)
    }
}

enum ClError {
    Bad(String),
    Conflict(usize, usize),
}

/// The Content-Length of a header block (ending in CRLFCRLF), unfolding
/// continuation lines. `Ok(None)` when the header is absent.
fn content_length(header: &[u8]) -> Result<Option<usize>, ClError> {
    let mut found: Option<usize> = None;
    // The value of the Content-Length header being read, across folded lines.
    let mut current: Option<Vec<u8>> = None;
    // Skip the start line; the block ends with an empty line.
    for line in header.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let (Some(value), Some(b' ' | b'\t')) = (current.as_mut(), line.first()) {
            value.push(b' ');
            value.extend_from_slice(line);
            continue;
        }
        if let Some(value) = current.take() {
            found = Some(merge(found, parse_length(&value)?)?);
        }
        current = content_length_value(line).map(<[u8]>::to_vec);
    }
    if let Some(value) = current {
        found = Some(merge(found, parse_length(&value)?)?);
    }
    Ok(found)
}

/// The value part if `line` is a Content-Length (or `l`) header, any case.
fn content_length_value(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = trim(&line[..colon]);
    let is_cl = name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l");
    is_cl.then(|| &line[colon + 1..])
}

fn merge(found: Option<usize>, value: usize) -> Result<usize, ClError> {
    match found {
        Some(first) if first != value => Err(ClError::Conflict(first, value)),
        _ => Ok(value),
    }
}

/// A plain decimal length; saturates instead of overflowing, so that a huge
/// value is reported as too large rather than as malformed.
fn parse_length(value: &[u8]) -> Result<usize, ClError> {
    let digits = trim(value);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        let shown = &digits[..digits.len().min(MAX_ECHO)];
        return Err(ClError::Bad(String::from_utf8_lossy(shown).into_owned()));
    }
    Ok(digits.iter().fold(0usize, |acc, d| {
        acc.saturating_mul(10).saturating_add(usize::from(d - b'0'))
    }))
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let Some((b' ' | b'\t', rest)) = s.split_first() {
        s = rest;
    }
    while let Some((b' ' | b'\t', rest)) = s.split_last() {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:alarm@rc.example SIP/2.0\r\n\
Via: SIP/2.0/TCP 10.0.0.5:5060;branch=z9hG4bK1\r\n\
Call-ID: a1@10.0.0.5\r\nCSeq: 1 INVITE\r\n\
Content-Type: application/octet-stream\r\nContent-Length: 13\r\n\r\n\
\x00\r\n\r\n\xff\xfe\x80\r\n\r\n\x01";
    const COMPACT: &[u8] = b"SIP/2.0 200 OK\r\nv: SIP/2.0/TCP h;branch=z9hG4bK2\r\n\
i: b2@h\r\nl :3\r\n\r\nabc";
    const FOLDED: &[u8] = b"OPTIONS sip:rc SIP/2.0\r\nCall-ID: c3@h\r\n\
CONTENT-LENGTH:\r\n   4\r\nX-Other: l: 99\r\n\r\nbody";
    const NO_BODY: &[u8] = b"ACK sip:rc SIP/2.0\r\ncontent-length: 0\r\n\r\n";

    fn framer() -> StreamFramer {
        StreamFramer::new(FramingLimits::default())
    }

    /// Drains every frame available now.
    fn drain(f: &mut StreamFramer) -> Result<Vec<Frame>, FramingError> {
        let mut out = Vec::new();
        while let Some(frame) = f.next_frame()? {
            out.push(frame);
        }
        Ok(out)
    }

    fn msg(b: &[u8]) -> Frame {
        Frame::Message(Bytes::copy_from_slice(b))
    }

    fn stream() -> (Vec<u8>, Vec<Frame>) {
        let parts: [&[u8]; 6] = [b"\r\n\r\n", INVITE, COMPACT, b"\r\n\r\n", FOLDED, NO_BODY];
        let expected = vec![
            Frame::KeepAlivePing,
            msg(INVITE),
            msg(COMPACT),
            Frame::KeepAlivePing,
            msg(FOLDED),
            msg(NO_BODY),
        ];
        (parts.concat(), expected)
    }

    #[test]
    fn pipelined_split_at_every_boundary() {
        let (wire, expected) = stream();
        for cut in 0..=wire.len() {
            let mut f = framer();
            f.push(&wire[..cut]);
            let mut got = drain(&mut f).unwrap();
            f.push(&wire[cut..]);
            got.extend(drain(&mut f).unwrap());
            assert_eq!(got, expected, "cut at {cut}");
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn byte_at_a_time() {
        let (wire, expected) = stream();
        let mut f = framer();
        let mut got = Vec::new();
        for b in &wire {
            f.push(std::slice::from_ref(b));
            got.extend(drain(&mut f).unwrap());
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn binary_body_is_taken_by_length_not_by_blank_line() {
        let mut f = framer();
        f.push(INVITE);
        let Some(Frame::Message(m)) = f.next_frame().unwrap() else {
            panic!("no message")
        };
        assert!(m.ends_with(b"\xff\xfe\x80\r\n\r\n\x01"));
        assert_eq!(f.next_frame().unwrap(), None);
    }

    #[test]
    fn keep_alives() {
        let mut f = framer();
        f.push(b"\r\n");
        assert_eq!(f.next_frame().unwrap(), None, "may still become a ping");
        f.push(b"\r");
        assert_eq!(f.next_frame().unwrap(), None);
        f.push(b"\n");
        assert_eq!(f.next_frame().unwrap(), Some(Frame::KeepAlivePing));
        f.push(b"\r\n");
        f.push(NO_BODY);
        assert_eq!(
            drain(&mut f).unwrap(),
            vec![Frame::KeepAlivePong, msg(NO_BODY)]
        );
    }

    #[test]
    fn leading_crlfs_before_a_message_are_skipped() {
        let mut f = framer();
        f.push(b"\r\n\r\n\r\n");
        f.push(NO_BODY);
        let frames = drain(&mut f).unwrap();
        assert_eq!(frames.last(), Some(&msg(NO_BODY)));
        assert_eq!(frames.len(), 3);
    }

    #[test]
    fn missing_content_length_is_an_error_with_the_header() {
        let mut f = framer();
        f.push(b"MESSAGE sip:rc SIP/2.0\r\nCall-ID: x\r\n\r\nhello");
        let err = f.next_frame().unwrap_err();
        assert!(matches!(err, FramingError::MissingContentLength { .. }));
        let partial = err.partial().unwrap();
        assert!(partial.starts_with(b"MESSAGE") && partial.ends_with(b"\r\n\r\n"));
        // Sticky, and the buffer is released.
        assert_eq!(f.next_frame().unwrap_err(), err);
        assert_eq!(f.buffered(), 0);
    }

    fn error_for(headers: &str) -> FramingError {
        let mut f = framer();
        f.push(format!("BYE sip:rc SIP/2.0\r\n{headers}\r\n\r\n").as_bytes());
        f.next_frame().unwrap_err()
    }

    #[test]
    fn malformed_content_lengths() {
        for bad in ["-1", "", "abc", "1, 1", "0x10", "+5"] {
            assert!(
                matches!(
                    error_for(&format!("Content-Length: {bad}")),
                    FramingError::BadContentLength { .. }
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            error_for("l: 1\r\nContent-Length: 2"),
            FramingError::ConflictingContentLength {
                first: 1,
                second: 2,
                ..
            }
        ));
        for huge in ["70000", "99999999999999999999999999999"] {
            let err = error_for(&format!("Content-Length: {huge}"));
            assert!(
                matches!(err, FramingError::MessageTooLarge { limit: 65536, .. }),
                "{huge}"
            );
            assert!(err.partial().is_some());
        }
    }

    #[test]
    fn header_without_end_is_bounded() {
        let mut f = framer();
        let chunk = [b'A'; 8192];
        let mut pushed = 0;
        let err = loop {
            f.push(&chunk);
            pushed += chunk.len();
            assert!(pushed <= 10 * 1024 * 1024, "no error after 10 MB");
            match f.next_frame() {
                Ok(None) => assert!(f.buffered() < DEFAULT_MAX_HEADER + chunk.len()),
                Ok(Some(frame)) => panic!("unexpected {frame:?}"),
                Err(err) => break err,
            }
        };
        assert_eq!(
            err,
            FramingError::HeaderTooLarge {
                limit: DEFAULT_MAX_HEADER
            }
        );
        assert_eq!(err.partial(), None);
        f.push(&chunk);
        assert_eq!(f.buffered(), 0, "a failed framer keeps nothing");
    }

    #[test]
    fn header_end_beyond_limit_in_one_push() {
        let mut f = StreamFramer::new(FramingLimits {
            max_header: 64,
            max_message: 1024,
        });
        let mut m = b"OPTIONS sip:rc SIP/2.0\r\nl: 0\r\nX-Pad: ".to_vec();
        m.extend_from_slice(&[b'p'; 64]);
        m.extend_from_slice(b"\r\n\r\n");
        f.push(&m);
        assert_eq!(
            f.next_frame(),
            Err(FramingError::HeaderTooLarge { limit: 64 })
        );
    }

    #[test]
    fn configurable_message_limit() {
        let mut f = StreamFramer::new(FramingLimits {
            max_header: 1024,
            max_message: 300,
        });
        f.push(INVITE);
        assert_eq!(drain(&mut f).unwrap(), vec![msg(INVITE)]);
        f.push(b"BYE sip:rc SIP/2.0\r\nl: 290\r\n\r\n");
        assert!(matches!(
            f.next_frame(),
            Err(FramingError::MessageTooLarge {
                length: 320,
                limit: 300,
                ..
            })
        ));
    }

    #[test]
    fn header_names_are_matched_exactly() {
        // "Call-ID" ends in "l"-less; "X-l" is not "l"; the start line is skipped.
        let mut f = framer();
        f.push(b"INVITE sip:l:5@rc SIP/2.0\r\nX-l: 7\r\nCall-ID: l:9\r\n\r\n");
        assert!(matches!(
            f.next_frame(),
            Err(FramingError::MissingContentLength { .. })
        ));
    }
}
