//! `alarmgate simulate dc09`: plays a SIA DC-09 panel towards a receiver to
//! commission a line: an alarm, a link test (`NULL`), a burst, and the
//! faults a receiver must answer (bad CRC → silence, wrong key → `DUH`,
//! stale timestamp → `NAK`). This file is pure: the frames a scenario sends
//! and what an answer means; `dc09_driver` does the sockets.

use clap::{Args, ValueEnum};

use crate::dc09::crc::CrcForm;
use crate::dc09::crypto::{self, Key, KeyFormat};
use crate::dc09::frame::{self, seal, Content};
use crate::dc09::timestamp::Timestamp;
use crate::dc09::types::MessageKind;

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// One alarm (`--message` as ADM-CID, or `--sia` as SIA-DCS); expects ACK.
    Alarm,
    /// One `NULL` link test; expects ACK.
    Heartbeat,
    /// `--count` alarms, one after the other; expects an ACK each.
    Burst,
    /// An alarm with a wrong CRC; expects no answer.
    BadCrc,
    /// An alarm encrypted with a key that is not the account's; expects DUH.
    WrongKey,
    /// An alarm timestamped 10 minutes ago; expects NAK with the receiver's time.
    Stale,
}

/// `alarmgate simulate dc09` options.
#[derive(Debug, Clone, Args)]
pub struct Dc09Args {
    /// The receiver, `host:port`.
    #[arg(long)]
    pub to: String,
    /// Send over UDP (default TCP).
    #[arg(long)]
    pub udp: bool,
    /// What to send.
    #[arg(long, value_enum, default_value = "alarm")]
    pub scenario: Scenario,
    /// The account (3-16 hex).
    #[arg(long, default_value = "1234")]
    pub account: String,
    /// Receiver number `R` (hex), if any.
    #[arg(long)]
    pub receiver: Option<String>,
    /// Line prefix `L` (hex).
    #[arg(long, default_value = "1")]
    pub line: String,
    /// The account's AES key: frames are sent encrypted.
    #[arg(long)]
    pub key: Option<String>,
    /// How `--key` is written.
    #[arg(long, value_enum, default_value = "ascii")]
    pub key_format: KeyFormatArg,
    /// Contact ID `QXYZ GG CCC` for ADM-CID.
    #[arg(long, default_value = "1101 01 001")]
    pub message: String,
    /// SIA-DCS data after `N` (e.g. `ri1/MA001`) instead of ADM-CID.
    #[arg(long)]
    pub sia: Option<String>,
    /// The first sequence number.
    #[arg(long, default_value_t = 1)]
    pub seq: u16,
    /// Messages in a burst.
    #[arg(long, default_value_t = 10)]
    pub count: u16,
    /// How long to wait for each answer, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--key-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyFormatArg {
    /// The key's characters are its bytes.
    Ascii,
    /// Hex digits.
    Hex,
}

/// What the receiver should answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// `ACK` (or `*ACK`).
    Ack,
    /// Nothing.
    Silence,
    /// `DUH`.
    Duh,
    /// `NAK`.
    Nak,
}

/// One frame to send.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Its sequence number.
    pub seq: u16,
    /// The frame.
    pub bytes: Vec<u8>,
    /// The answer it should get.
    pub expect: Expect,
}

/// Why the options cannot make frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Dc09SimError {
    /// `--key` is not a key.
    #[error("--key: {0}")]
    Key(#[from] crypto::CryptoError),
    /// `--scenario wrong-key` needs `--key` (the account's real key).
    #[error("--scenario wrong-key needs --key (the account's key, to differ from)")]
    WrongKeyNeedsKey,
}

impl Dc09Args {
    fn key(&self) -> Result<Option<Key>, Dc09SimError> {
        let format = match self.key_format {
            KeyFormatArg::Ascii => KeyFormat::Ascii,
            KeyFormatArg::Hex => KeyFormat::Hex,
        };
        Ok(self
            .key
            .as_deref()
            .map(|k| Key::parse(k, format))
            .transpose()?)
    }

    /// The frames of the scenario at wall time `now_unix`, pads from `random`.
    pub fn plan(&self, now_unix: i64, random: [u8; 16]) -> Result<Vec<Planned>, Dc09SimError> {
        let key = self.key()?;
        let n = if self.scenario == Scenario::Burst {
            self.count.max(1)
        } else {
            1
        };
        let mut out = Vec::new();
        for i in 0..n {
            let seq = (u32::from(self.seq) + u32::from(i)) % 10_000;
            let seq = u16::try_from(seq).unwrap_or(1);
            out.push(self.one(seq, key.as_ref(), now_unix, random)?);
        }
        Ok(out)
    }

    fn one(
        &self,
        seq: u16,
        key: Option<&Key>,
        now: i64,
        random: [u8; 16],
    ) -> Result<Planned, Dc09SimError> {
        let (expect, time, key) = match self.scenario {
            Scenario::Stale => (Expect::Nak, now - 600, key.cloned()),
            Scenario::BadCrc => (Expect::Silence, now, key.cloned()),
            Scenario::WrongKey => {
                let real = key.ok_or(Dc09SimError::WrongKeyNeedsKey)?;
                let wrong = Key::from_bytes(vec![0x5A; real.bits() / 8])?;
                (Expect::Duh, now, Some(wrong))
            }
            _ => (Expect::Ack, now, key.cloned()),
        };
        let (id, data) = match (self.scenario, &self.sia) {
            (Scenario::Heartbeat, _) => ("NULL", String::new()),
            (_, Some(sia)) => ("SIA-DCS", format!("#{}|N{sia}", self.account)),
            (_, None) => ("ADM-CID", format!("#{}|{}", self.account, self.message)),
        };
        let ts = Timestamp::from_unix(time);
        let r = self
            .receiver
            .as_ref()
            .map(|r| format!("R{r}"))
            .unwrap_or_default();
        let head = format!("{seq:04}{r}L{}#{}[", self.line, self.account);
        let region = match key {
            Some(k) => {
                let sealed = crypto::seal(&k, &format!("{data}]_{ts}"), random)?;
                format!("\"*{id}\"{head}{}", crypto::to_hex(&sealed))
            }
            None => format!("\"{id}\"{head}{data}]_{ts}"),
        };
        let mut bytes = seal(region.as_bytes(), CrcForm::Hex);
        if self.scenario == Scenario::BadCrc {
            if let Some(b) = bytes.get_mut(1) {
                *b = if *b == b'0' { b'1' } else { b'0' };
            }
        }
        Ok(Planned { seq, bytes, expect })
    }
}

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answer {
    /// `ACK`, `*ACK`, `NAK`, `DUH`, `RSP`, or `none`/`unreadable`.
    pub kind: String,
    /// The receiver's time, from a `NAK` or a decrypted `*ACK`.
    pub receiver_time: Option<String>,
    /// The frame as text.
    pub raw: String,
}

/// Reads an answer (an `*ACK` is opened with `key`).
pub fn read_answer(bytes: Option<&[u8]>, key: Option<&Key>) -> Answer {
    let Some(bytes) = bytes else {
        return Answer {
            kind: "none".into(),
            receiver_time: None,
            raw: String::new(),
        };
    };
    let raw = String::from_utf8_lossy(bytes).trim().to_string();
    let Ok(f) = frame::parse(bytes) else {
        return Answer {
            kind: "unreadable".into(),
            receiver_time: None,
            raw,
        };
    };
    let time = match (&f.content, key) {
        (Content::Plain(b), _) => b.timestamp.map(|t| t.to_string()),
        (Content::Encrypted(c), Some(k)) => crypto::open(k, c).ok().and_then(|t| {
            frame::parse_body(&t)
                .ok()?
                .timestamp
                .map(|ts| ts.to_string())
        }),
        (Content::Encrypted(_), None) => None,
    };
    let kind = match f.header.id.kind {
        MessageKind::Ack | MessageKind::Nak | MessageKind::Duh | MessageKind::Rsp => {
            f.header.id.to_string()
        }
        _ => "unexpected".into(),
    };
    Answer {
        kind,
        receiver_time: time,
        raw,
    }
}

/// True when `answer` is what `expect` wanted.
pub fn as_expected(expect: Expect, answer: &Answer) -> bool {
    match expect {
        Expect::Ack => answer.kind == "ACK" || answer.kind == "*ACK",
        Expect::Silence => answer.kind == "none",
        Expect::Duh => answer.kind == "DUH",
        Expect::Nak => answer.kind == "NAK",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dc09::accounts::{AccountMatch, AccountRule, Directory, UnknownAccount};
    use crate::dc09::receiver::{Dc09Receiver, Decision, Now, ReceiverConfig};
    use crate::dc09::timestamp::Window;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Dc09Args,
    }

    const NOW: i64 = 1_800_000_000;

    fn receiver() -> Dc09Receiver {
        Dc09Receiver::new(ReceiverConfig {
            directory: Directory {
                rules: vec![AccountRule {
                    account: AccountMatch::Any,
                    receiver: None,
                    line: None,
                    tenant: "t".into(),
                    key: Key::parse("0123456789abcdef", KeyFormat::Ascii).ok(),
                    require_encryption: false,
                }],
                unknown: UnknownAccount::Nak,
            },
            window: Window::default(),
            repeat_window_s: 600,
            max_remembered: 100,
        })
    }

    /// Every scenario against the real receiver core gets what it expects.
    #[test]
    fn every_scenario_gets_its_expected_answer_from_the_receiver_core() {
        for (scenario, extra) in [
            ("alarm", vec![]),
            ("alarm", vec!["--key", "0123456789abcdef"]),
            ("alarm", vec!["--sia", "ri1/MA001"]),
            ("heartbeat", vec!["--key", "0123456789abcdef"]),
            ("burst", vec!["--count", "3"]),
            ("bad-crc", vec![]),
            ("wrong-key", vec!["--key", "0123456789abcdef"]),
            ("stale", vec![]),
        ] {
            let mut argv = vec!["x", "--to", "127.0.0.1:1", "--scenario", scenario];
            argv.extend(extra);
            let args = Cli::try_parse_from(&argv).unwrap().args;
            let key = args.key().unwrap();
            let rx = receiver();
            for p in args.plan(NOW, [1; 16]).unwrap() {
                let reply = match rx.decide(
                    &p.bytes,
                    Now {
                        unix: NOW,
                        random: [2; 16],
                    },
                ) {
                    Decision::Silent(_) => None,
                    Decision::Refuse { bytes, .. } => Some(bytes),
                    Decision::Repeat { ack } | Decision::Store { ack, .. } => Some(ack),
                };
                let answer = read_answer(reply.as_deref(), key.as_ref());
                assert!(as_expected(p.expect, &answer), "{scenario}: {answer:?}");
            }
        }
    }
}
