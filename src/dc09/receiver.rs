//! The decision for one DC-09 frame, in the order of alarm-protocols.md
//! §5.3, adapted so that no alarm is lost:
//!
//! 1. CRC or length wrong, not framed → **silence** (the sender retries).
//! 2. CRC right but unreadable, a reply id (`ACK`…) or an unknown id → `DUH`.
//! 3. Account no rule covers → `NAK` (with our time), or accepted into the
//!    default tenant, per `dc09.unknown_account`.
//! 4. Encrypted without a key for the account, undecryptable (wrong key),
//!    or plain where the account requires encryption → `DUH`: retrying
//!    cannot help, the unit should fail over to a receiver that can read it.
//! 5. Timestamp outside the window, or missing on an encrypted frame →
//!    `NAK` with our time (replay protection; the sender corrects its clock).
//! 6. Event data unreadable → `DUH`. A well-formed SIA code we have no
//!    Contact ID twin for is *stored* (fallback class: a person sees it),
//!    never refused: refusing a well-formed alarm could lose it.
//! 7. The unit's last stored sequence again, with the same data → `ACK`
//!    again, not stored twice.
//! 8. Otherwise → **store**, and send the `ACK` (`*ACK` when encrypted)
//!    only once the store is durable (the runtime's job).
//!
//! `[K…]` (key change) extended data is kept in the record and not acted on.

use std::collections::HashMap;

use super::accounts::{Directory, Unit};
use super::crypto;
use super::frame::{self, Body, Content, Frame, FrameError, Header};
use super::message::{self, Event, MessageError};
use super::reply::{self, Addressee};
use super::timestamp::{Timestamp, Window};
use super::types::{HexId, MessageKind, Sequence};
use crate::labels::TenantId;

/// Settings of the pure receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Account rules and the unknown-account policy.
    pub directory: Directory,
    /// The timestamp window.
    pub window: Window,
    /// Seconds a unit's last stored sequence is remembered to drop repeats.
    pub repeat_window_s: u32,
    /// Units remembered at most (beyond: expired ones are forgotten, then all).
    pub max_remembered: usize,
}

/// Why a frame was answered without storing (for logs and metrics).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Readable frame, unreadable content.
    #[error("unreadable frame: {0}")]
    Frame(FrameError),
    /// Not a message a receiver takes (`ACK`, `NAK`, unknown id).
    #[error("message type {0} is not taken")]
    Type(String),
    /// No account in the header nor the data.
    #[error("no account")]
    NoAccount,
    /// No rule covers the account and the policy is NAK.
    #[error("unknown account {0}")]
    UnknownAccount(String),
    /// Encrypted, but no key for the account.
    #[error("encrypted frame from {0}, which has no key")]
    NoKey(String),
    /// The key did not open the frame.
    #[error("cannot decrypt: {0}")]
    Crypto(#[from] crypto::CryptoError),
    /// Plain frame from an account that must encrypt.
    #[error("plain frame from {0}, which must encrypt")]
    PlainRefused(String),
    /// An encrypted frame without a timestamp.
    #[error("encrypted frame without a timestamp")]
    NoTimestamp,
    /// Timestamp outside the window.
    #[error("timestamp {0} is outside the window")]
    Stale(String),
    /// Event data unreadable.
    #[error(transparent)]
    Message(#[from] MessageError),
}

impl Refusal {
    /// True when the answer is `NAK` (time or account); else `DUH`.
    pub fn is_nak(&self) -> bool {
        matches!(
            self,
            Self::UnknownAccount(_) | Self::NoTimestamp | Self::Stale(_)
        )
    }
}

/// The content of a stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `NULL`: the link test.
    LinkTest,
    /// An `ADM-CID` or `SIA-DCS` event.
    Event(Event),
}

/// A message to store before it is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The tenant.
    pub tenant: TenantId,
    /// The account (header, else data).
    pub account: String,
    /// False when taken in by the unknown-account policy.
    pub known_account: bool,
    /// The header (id, sequence, receiver, line).
    pub header: Header,
    /// The body, decrypted if it was encrypted.
    pub body: Body,
    /// The event, or the link test.
    pub payload: Payload,
    /// The frame as received (framing bytes excluded).
    pub raw: String,
}

/// Remembered after a store: drops the sender's retransmissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    unit: String,
    seq: Sequence,
    digest: u64,
}

/// What to do with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send nothing.
    Silent(FrameError),
    /// Send `bytes` (`NAK` or `DUH`); nothing is stored.
    Refuse {
        /// The reply frame.
        bytes: Vec<u8>,
        /// Why.
        why: Refusal,
    },
    /// A repeat of the unit's last stored message: send `ack` again.
    Repeat {
        /// The ACK frame.
        ack: Vec<u8>,
    },
    /// Store `message`; once durable, send `ack` and call
    /// [`Dc09Receiver::stored`] with `seen`. If the store fails, send nothing.
    Store {
        /// What to journal.
        message: Box<Message>,
        /// The ACK frame.
        ack: Vec<u8>,
        /// For [`Dc09Receiver::stored`].
        seen: Seen,
    },
}

/// Wall time and randomness for one decision.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Unix seconds, UTC.
    pub unix: i64,
    /// For the pad of an encrypted ACK.
    pub random: [u8; 16],
}

/// The receiver: its config and the units' last stored sequences.
#[derive(Debug)]
pub struct Dc09Receiver {
    config: ReceiverConfig,
    recent: HashMap<String, (Sequence, u64, i64)>,
}

impl Dc09Receiver {
    /// A receiver with nothing remembered.
    pub fn new(config: ReceiverConfig) -> Self {
        Self {
            config,
            recent: HashMap::new(),
        }
    }

    /// Replaces the config (SIGHUP), keeping what is remembered.
    pub fn set_config(&mut self, config: ReceiverConfig) {
        self.config = config;
    }

    /// Units remembered.
    pub fn remembered(&self) -> usize {
        self.recent.len()
    }

    /// Decides what to do with one frame (`<LF>` … `<CR>`).
    pub fn decide(&self, bytes: &[u8], now: Now) -> Decision {
        let frame = match frame::parse(bytes) {
            Ok(f) => f,
            Err(e) if e.is_integrity() => return Decision::Silent(e),
            Err(e) => return unreadable(bytes, e),
        };
        match self.accept(&frame, now) {
            Ok(accepted) => accepted,
            Err((why, account)) => {
                let bytes = if why.is_nak() {
                    reply::nak(Timestamp::from_unix(now.unix), frame.header.crc_form)
                } else {
                    reply::duh(&Addressee {
                        header: &frame.header,
                        account: account.as_deref(),
                    })
                };
                Decision::Refuse { bytes, why }
            }
        }
    }

    /// Steps 2-8; on refusal, the reason and the account to echo in a `DUH`.
    fn accept(&self, frame: &Frame, now: Now) -> Result<Decision, (Refusal, Option<String>)> {
        let h = &frame.header;
        let kind = &h.id.kind;
        if !matches!(
            kind,
            MessageKind::SiaDcs | MessageKind::AdmCid | MessageKind::Null
        ) {
            return Err((Refusal::Type(h.id.to_string()), None));
        }
        let plain_account = match &frame.content {
            Content::Plain(b) => data_account(&b.data),
            Content::Encrypted(_) => None,
        };
        let account = h.account.as_ref().map(HexId::to_string).or(plain_account);
        let account = account.ok_or((Refusal::NoAccount, None))?;
        let with = |why: Refusal| (why, Some(account.clone()));
        let unit = self
            .config
            .directory
            .lookup(h.receiver.as_ref(), h.line.as_ref(), &account)
            .ok_or_else(|| with(Refusal::UnknownAccount(account.clone())))?;
        let body = open(frame, &unit, &account).map_err(with)?;
        self.check_time(&body, h.id.encrypted, now.unix)
            .map_err(with)?;
        let payload = match kind {
            MessageKind::Null => Payload::LinkTest,
            MessageKind::AdmCid => {
                Payload::Event(message::parse_adm_cid(&body.data).map_err(|e| with(e.into()))?)
            }
            _ => Payload::Event(message::parse_sia_dcs(&body.data).map_err(|e| with(e.into()))?),
        };
        let ack = ack_for(h, &account, &unit, now);
        let seen = Seen {
            unit: unit_key(h, &account),
            seq: h.seq,
            digest: digest(kind.as_str(), &body),
        };
        if self.is_repeat(&seen, now.unix) {
            return Ok(Decision::Repeat { ack });
        }
        let message = Message {
            tenant: unit.tenant.clone(),
            account,
            known_account: unit.known,
            header: h.clone(),
            body,
            payload,
            raw: frame.raw.clone(),
        };
        Ok(Decision::Store {
            message: Box::new(message),
            ack,
            seen,
        })
    }

    fn check_time(&self, body: &Body, encrypted: bool, now: i64) -> Result<(), Refusal> {
        match body.timestamp {
            None if encrypted => Err(Refusal::NoTimestamp),
            None => Ok(()),
            Some(ts) if self.config.window.accepts(ts, now) => Ok(()),
            Some(ts) => Err(Refusal::Stale(ts.to_string())),
        }
    }

    fn is_repeat(&self, seen: &Seen, now: i64) -> bool {
        let window = i64::from(self.config.repeat_window_s);
        self.recent
            .get(&seen.unit)
            .is_some_and(|(seq, digest, at)| {
                *seq == seen.seq && *digest == seen.digest && now - at <= window
            })
    }

    /// The message of `seen` is durable: its repeats are acknowledged, not stored.
    pub fn stored(&mut self, seen: Seen, now_unix: i64) {
        if self.recent.len() >= self.config.max_remembered && !self.recent.contains_key(&seen.unit)
        {
            let window = i64::from(self.config.repeat_window_s);
            self.recent.retain(|_, (_, _, at)| now_unix - *at <= window);
            if self.recent.len() >= self.config.max_remembered {
                self.recent.clear();
            }
        }
        self.recent
            .insert(seen.unit, (seen.seq, seen.digest, now_unix));
    }
}

/// `DUH` for a frame whose CRC is right but whose header or body is not:
/// the header's fields are echoed when the header itself was readable.
fn unreadable(bytes: &[u8], e: FrameError) -> Decision {
    let header = frame::header_of(bytes);
    let fallback = Header {
        crc_form: super::crc::CrcForm::Hex,
        id: super::types::MessageId {
            kind: MessageKind::Duh,
            encrypted: false,
        },
        seq: Sequence::ZERO,
        receiver: None,
        line: None,
        account: None,
    };
    let header = header.unwrap_or(fallback);
    let account = header.account.as_ref().map(HexId::to_string);
    let bytes = reply::duh(&Addressee {
        header: &header,
        account: account.as_deref(),
    });
    Decision::Refuse {
        bytes,
        why: Refusal::Frame(e),
    }
}

/// The readable body: decrypted with the unit's key when encrypted.
fn open(frame: &Frame, unit: &Unit<'_>, account: &str) -> Result<Body, Refusal> {
    match &frame.content {
        Content::Plain(_) if unit.require_encryption => Err(Refusal::PlainRefused(account.into())),
        Content::Plain(body) => Ok(body.clone()),
        Content::Encrypted(cipher) => {
            let key = unit.key.ok_or_else(|| Refusal::NoKey(account.into()))?;
            let text = crypto::open(key, cipher)?;
            frame::parse_body(&text).map_err(Refusal::Frame)
        }
    }
}

fn ack_for(h: &Header, account: &str, unit: &Unit<'_>, now: Now) -> Vec<u8> {
    let to = Addressee {
        header: h,
        account: Some(account),
    };
    match unit.key {
        Some(key) if h.id.encrypted => {
            reply::ack_encrypted(&to, key, Timestamp::from_unix(now.unix), now.random)
                .unwrap_or_else(|_| reply::ack(&to))
        }
        _ => reply::ack(&to),
    }
}

/// `#acct|…` inside plain data.
fn data_account(data: &str) -> Option<String> {
    let (acct, _) = data.strip_prefix('#')?.split_once('|')?;
    HexId::parse(acct, 16).map(|a| a.to_string())
}

fn unit_key(h: &Header, account: &str) -> String {
    let part = |v: &Option<HexId>| v.as_ref().map(HexId::key).unwrap_or_default();
    format!(
        "{}/{}/{}",
        part(&h.receiver),
        part(&h.line),
        account.to_ascii_uppercase()
    )
}

/// FNV-1a over what makes a message the same message (not its timestamp:
/// a retransmission may carry a new one).
fn digest(kind: &str, body: &Body) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let parts = [kind, body.data.as_str()]
        .into_iter()
        .chain(body.extended.iter().map(String::as_str));
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
#[path = "receiver_tests.rs"]
mod tests;
