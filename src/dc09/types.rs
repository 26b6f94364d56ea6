//! DC-09 field newtypes: the message id (`"SIA-DCS"`, `"*ADM-CID"`…), the
//! sequence number and the receiver / line / account identifiers.

use std::fmt;

/// The message types a frame can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// `SIA-DCS`: SIA DC-03/DC-07 event data.
    SiaDcs,
    /// `ADM-CID`: Ademco Contact ID event data.
    AdmCid,
    /// `NULL`: link test (supervision).
    Null,
    /// Responses: `ACK`, `NAK`, `DUH`, `RSP`.
    Ack,
    /// Negative acknowledgement (time out of window, unknown account).
    Nak,
    /// "Unable to process".
    Duh,
    /// Response to a key change.
    Rsp,
    /// Any other token (answered with `DUH`).
    Other(String),
}

impl MessageKind {
    /// The token as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Self::SiaDcs => "SIA-DCS",
            Self::AdmCid => "ADM-CID",
            Self::Null => "NULL",
            Self::Ack => "ACK",
            Self::Nak => "NAK",
            Self::Duh => "DUH",
            Self::Rsp => "RSP",
            Self::Other(s) => s,
        }
    }
}

/// `"id"`: the kind, and whether `*` marked it encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageId {
    /// The message type.
    pub kind: MessageKind,
    /// `*` prefix: the body is AES cipher text.
    pub encrypted: bool,
}

impl MessageId {
    /// Parses the text between the quotes; `None` if empty or not printable.
    pub fn parse(text: &str) -> Option<Self> {
        let (encrypted, token) = match text.strip_prefix('*') {
            Some(t) => (true, t),
            None => (false, text),
        };
        if token.is_empty() || token.len() > 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let kind = match token {
            "SIA-DCS" => MessageKind::SiaDcs,
            "ADM-CID" => MessageKind::AdmCid,
            "NULL" => MessageKind::Null,
            "ACK" => MessageKind::Ack,
            "NAK" => MessageKind::Nak,
            "DUH" => MessageKind::Duh,
            "RSP" => MessageKind::Rsp,
            other => MessageKind::Other(other.to_owned()),
        };
        Some(Self { kind, encrypted })
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = if self.encrypted { "*" } else { "" };
        write!(f, "{star}{}", self.kind.as_str())
    }
}

/// The 4-digit sequence number (0000-9999; senders use 0001-9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sequence(u16);

impl Sequence {
    /// `0000`, as in a `NAK`.
    pub const ZERO: Sequence = Sequence(0);

    /// Parses exactly 4 decimal digits.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok().map(Self)
    }

    /// The number.
    pub fn value(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

/// A receiver number, line prefix or account: ASCII letters and digits
/// (hex in the standard; some senders use other upper-case letters), kept
/// as sent, compared case-insensitively through [`HexId::key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HexId(String);

impl HexId {
    /// `1..=max` ASCII alphanumerics.
    pub fn parse(text: &str, max: usize) -> Option<Self> {
        let ok = (1..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric());
        ok.then(|| Self(text.to_owned()))
    }

    /// As sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Upper case, for lookups.
    pub fn key(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

impl fmt::Display for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
