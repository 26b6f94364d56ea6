//! DC-09 frames out of a TCP byte stream: partial frames wait for their
//! rest, several frames in one read come out one by one, bytes before a
//! `<LF>` that starts a plausible header are skipped (resynchronisation),
//! and a partial frame that is not complete by its deadline is the
//! runtime's cue to close the connection. Frames are delimited by their
//! length field, not by searching for `<CR>`: a binary CRC may hold `\r`.
//! The buffer never holds more than one maximal frame (4105 bytes) plus
//! one read.

use std::time::Duration;

use super::crc::parse_hex4;
use super::frame::length_field;

/// What the stream yielded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// One frame, `<LF>` … `<CR>` (integrity not checked yet).
    Frame(Vec<u8>),
    /// Bytes skipped while looking for a frame start.
    Garbage(usize),
}

/// Reassembles frames; time is passed in (any monotonic origin).
#[derive(Debug, Clone)]
pub struct Reassembler {
    buf: Vec<u8>,
    partial_since: Option<Duration>,
    frame_timeout: Duration,
}

/// What the header at the front of the buffer says.
enum Start {
    /// Not enough bytes yet.
    Wait,
    /// Not a frame start: skip the `<LF>`.
    Skip,
    /// A frame of this many bytes, `<CR>` included.
    Frame(usize),
}

impl Reassembler {
    /// A reassembler whose partial frames must complete within `frame_timeout`.
    pub fn new(frame_timeout: Duration) -> Self {
        Self {
            buf: Vec::new(),
            partial_since: None,
            frame_timeout,
        }
    }

    /// Bytes held for an incomplete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// When the partial frame held must be complete; `None` when none is held.
    pub fn deadline(&self) -> Option<Duration> {
        self.partial_since.map(|t| t + self.frame_timeout)
    }

    /// Feeds bytes read at `now`; returns the frames and skipped bytes.
    pub fn push(&mut self, bytes: &[u8], now: Duration) -> Vec<Item> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut progressed = false;
        loop {
            let Some(lf) = self.buf.iter().position(|&b| b == b'\n') else {
                skip(&mut out, self.buf.len());
                self.buf.clear();
                break;
            };
            skip(&mut out, lf);
            self.buf.drain(..lf);
            match start(&self.buf) {
                Start::Wait => break,
                Start::Skip => {
                    skip(&mut out, 1);
                    self.buf.drain(..1);
                }
                Start::Frame(total) if self.buf.len() < total => break,
                Start::Frame(total) if self.buf.get(total - 1) != Some(&b'\r') => {
                    skip(&mut out, 1);
                    self.buf.drain(..1);
                }
                Start::Frame(total) => {
                    out.push(Item::Frame(self.buf.drain(..total).collect()));
                    progressed = true;
                }
            }
        }
        self.partial_since = match (self.buf.is_empty(), self.partial_since) {
            (true, _) => None,
            (false, Some(t)) if !progressed => Some(t),
            (false, _) => Some(now),
        };
        out
    }
}

/// The frames of one UDP datagram (anything left over is garbage).
pub fn datagram(bytes: &[u8]) -> Vec<Item> {
    let mut r = Reassembler::new(Duration::ZERO);
    let mut items = r.push(bytes, Duration::ZERO);
    if r.buffered() > 0 {
        items.push(Item::Garbage(r.buffered()));
    }
    items
}

fn skip(out: &mut Vec<Item>, n: usize) {
    if n == 0 {
        return;
    }
    if let Some(Item::Garbage(m)) = out.last_mut() {
        *m += n;
    } else {
        out.push(Item::Garbage(n));
    }
}

/// Reads the header at the front of `buf` (which starts with `<LF>`): a
/// hex CRC (`"` at 9) first, else a binary one (`"` at 7). The answer
/// never depends on how many bytes beyond the header have arrived.
fn start(buf: &[u8]) -> Start {
    let hex = buf.get(9) == Some(&b'"') && buf.get(1..5).and_then(parse_hex4).is_some();
    if let (true, Some(Ok(len))) = (hex, buf.get(5..9).map(length_field)) {
        return Start::Frame(9 + len + 1);
    }
    if let (Some(b'"'), Some(Ok(len))) = (buf.get(7), buf.get(3..7).map(length_field)) {
        return Start::Frame(7 + len + 1);
    }
    if buf.len() < 10 {
        Start::Wait
    } else {
        Start::Skip
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
