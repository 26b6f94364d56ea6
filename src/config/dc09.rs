//! `[dc09]`, `[[dc09.listen]]`, `[[dc09.accounts]]`: the SIA DC-09 receiver
//! (see `crate::dc09`). Absent: no DC-09 sockets. Accounts map to tenants
//! by account (exact or prefix), receiver number (`R`) and line prefix
//! (`L`), first match wins; each may carry the AES key of its units.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::validate::Findings;
use super::xref::Ids;
use super::Problem;
use crate::dc09::accounts::{AccountMatch, AccountRule, Directory, UnknownAccount};
use crate::dc09::crypto::{Key, KeyFormat};
use crate::dc09::receiver::ReceiverConfig;
use crate::dc09::timestamp::Window;
use crate::labels::TenantId;

/// `[dc09]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dc09Config {
    /// `[[dc09.listen]]`: the sockets (TCP and UDP may share a port).
    pub listen: Vec<Dc09Listen>,
    /// Seconds a message's timestamp may lag our clock. Default 40.
    pub timestamp_past_s: u32,
    /// Seconds a message's timestamp may lead our clock. Default 20.
    pub timestamp_future_s: u32,
    /// An account no `[[dc09.accounts]]` rule covers: `"nak"` (refused,
    /// nothing stored) or `"accept"` (plain frames stored into
    /// `default_tenant`). Default `"nak"`.
    pub unknown_account: UnknownPolicy,
    /// The tenant of accepted unknown accounts; required with `"accept"`.
    pub default_tenant: Option<String>,
    /// Seconds a unit's last stored sequence number is remembered: its
    /// retransmission within this time is acknowledged again, not stored
    /// twice. Default 600.
    pub repeat_window_s: u32,
    /// Seconds a TCP connection may take to send its first complete frame,
    /// and a started frame to complete. Default 10.
    pub first_frame_s: u64,
    /// Seconds a TCP connection may stay silent between frames. Default 300.
    pub idle_s: u64,
    /// Open TCP connections in all. Default 4096.
    pub max_connections: usize,
    /// Open TCP connections per source address. Default 64.
    pub per_source: usize,
    /// `[[dc09.accounts]]`: first match wins.
    pub accounts: Vec<Dc09Account>,
}

impl Default for Dc09Config {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            timestamp_past_s: 40,
            timestamp_future_s: 20,
            unknown_account: UnknownPolicy::Nak,
            default_tenant: None,
            repeat_window_s: 600,
            first_frame_s: 10,
            idle_s: 300,
            max_connections: 4096,
            per_source: 64,
            accounts: Vec::new(),
        }
    }
}

/// `dc09.unknown_account`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownPolicy {
    /// Answer `NAK`.
    Nak,
    /// Store into `default_tenant`.
    Accept,
}

/// `dc09.listen[].transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dc09Transport {
    /// TCP: frames in a stream, several per connection.
    Tcp,
    /// UDP: one frame per datagram.
    Udp,
}

/// `[[dc09.listen]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dc09Listen {
    /// `ip:port` to bind (port 0: any free port).
    pub address: SocketAddr,
    /// `"tcp"` or `"udp"`.
    pub transport: Dc09Transport,
}

/// `[[dc09.accounts]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dc09Account {
    /// One account (letters and digits, compared case-insensitively).
    pub account: Option<String>,
    /// Accounts starting with this (instead of `account`). Neither: any account.
    pub prefix: Option<String>,
    /// Only frames with this receiver number (`R`, hex), when set.
    pub receiver: Option<String>,
    /// Only frames with this line prefix (`L`, hex), when set.
    pub line: Option<String>,
    /// The tenant (a `[[tenants]]` id).
    pub tenant: String,
    /// The AES-128/192/256 key of encrypted frames. None: encrypted frames
    /// are answered `DUH`.
    pub key: Option<String>,
    /// `"ascii"` (16/24/32 characters, as pysiaalarm and Ajax) or `"hex"`
    /// (32/48/64 hex digits). Default `"hex"`.
    #[serde(default = "hex_format")]
    pub key_format: KeyFormat,
    /// Refuse plain frames (`DUH`) from these units. Default false.
    #[serde(default)]
    pub require_encryption: bool,
}

fn hex_format() -> KeyFormat {
    KeyFormat::Hex
}

impl Dc09Config {
    /// The pure receiver's settings. Keys that do not parse were reported by
    /// [`Self::check`]; here they are left out.
    pub fn receiver_config(&self) -> ReceiverConfig {
        let rules = self.accounts.iter().map(Dc09Account::rule).collect();
        let unknown = match (self.unknown_account, &self.default_tenant) {
            (UnknownPolicy::Accept, Some(t)) => UnknownAccount::Accept(TenantId::from(t.as_str())),
            _ => UnknownAccount::Nak,
        };
        ReceiverConfig {
            directory: Directory { rules, unknown },
            window: Window {
                past_s: self.timestamp_past_s,
                future_s: self.timestamp_future_s,
            },
            repeat_window_s: self.repeat_window_s,
            max_remembered: 1_000_000,
        }
    }

    /// `first_frame_s`.
    pub fn first_frame(&self) -> Duration {
        Duration::from_secs(self.first_frame_s)
    }

    /// `idle_s`.
    pub fn idle(&self) -> Duration {
        Duration::from_secs(self.idle_s)
    }

    pub(crate) fn check(&self, ids: &Ids<'_>, out: &mut Findings) {
        let limits = [
            (
                "timestamp_past_s",
                u64::from(self.timestamp_past_s),
                0,
                86_400,
            ),
            (
                "timestamp_future_s",
                u64::from(self.timestamp_future_s),
                0,
                86_400,
            ),
            (
                "repeat_window_s",
                u64::from(self.repeat_window_s),
                0,
                86_400,
            ),
            ("first_frame_s", self.first_frame_s, 1, 3600),
            ("idle_s", self.idle_s, 1, 86_400),
            ("max_connections", self.max_connections as u64, 1, 1 << 20),
            ("per_source", self.per_source as u64, 1, 1 << 20),
        ];
        for (name, value, min, max) in limits {
            if value < min || value > max {
                let expected = "within the documented range (see docs/configuration.md)";
                out.push(
                    format!("dc09.{name}"),
                    Problem::Invalid {
                        value: value.to_string(),
                        expected,
                    },
                );
            }
        }
        if self.listen.is_empty() {
            out.push(
                "dc09.listen",
                Problem::Missing {
                    because: "when [dc09] is present",
                },
            );
        }
        match (self.unknown_account, &self.default_tenant) {
            (UnknownPolicy::Accept, None) => out.push(
                "dc09.default_tenant",
                Problem::Missing {
                    because: "with unknown_account = \"accept\"",
                },
            ),
            (_, Some(t)) if !ids.has_tenant(t) => out.push(
                "dc09.default_tenant",
                Problem::Invalid {
                    value: t.clone(),
                    expected: "a [[tenants]] id",
                },
            ),
            _ => {}
        }
        for (i, a) in self.accounts.iter().enumerate() {
            a.check(&format!("dc09.accounts[{i}]"), ids, out);
        }
    }
}

impl Dc09Account {
    fn rule(&self) -> AccountRule {
        let account = match (&self.account, &self.prefix) {
            (Some(a), _) => AccountMatch::Exact(a.clone()),
            (None, Some(p)) => AccountMatch::Prefix(p.clone()),
            (None, None) => AccountMatch::Any,
        };
        AccountRule {
            account,
            receiver: self.receiver.clone(),
            line: self.line.clone(),
            tenant: TenantId::from(self.tenant.as_str()),
            key: self
                .key
                .as_ref()
                .and_then(|k| Key::parse(k, self.key_format).ok()),
            require_encryption: self.require_encryption,
        }
    }

    fn check(&self, path: &str, ids: &Ids<'_>, out: &mut Findings) {
        if self.account.is_some() && self.prefix.is_some() {
            out.push(
                format!("{path}.prefix"),
                Problem::Forbidden {
                    because: "together with account",
                },
            );
        }
        let ids_ok = [
            (
                "account",
                &self.account,
                16,
                "1-16 letters or digits",
                false,
            ),
            ("prefix", &self.prefix, 16, "1-16 letters or digits", false),
            ("receiver", &self.receiver, 6, "1-6 hex digits", true),
            ("line", &self.line, 6, "1-6 hex digits", true),
        ];
        for (name, value, max, expected, hex) in ids_ok {
            let Some(v) = value else { continue };
            let chars_ok = v.bytes().all(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_alphanumeric()
                }
            });
            if v.is_empty() || v.len() > max || !chars_ok {
                out.push(
                    format!("{path}.{name}"),
                    Problem::Invalid {
                        value: v.clone(),
                        expected,
                    },
                );
            }
        }
        if !ids.has_tenant(&self.tenant) {
            let value = self.tenant.clone();
            out.push(
                format!("{path}.tenant"),
                Problem::Invalid {
                    value,
                    expected: "a [[tenants]] id",
                },
            );
        }
        if let Some(key) = &self.key {
            if Key::parse(key, self.key_format).is_err() {
                let expected = match self.key_format {
                    KeyFormat::Ascii => "16, 24 or 32 characters (key_format = \"ascii\")",
                    KeyFormat::Hex => "32, 48 or 64 hex digits (key_format = \"hex\")",
                };
                out.push(
                    format!("{path}.key"),
                    Problem::Invalid {
                        value: "(hidden)".into(),
                        expected,
                    },
                );
            }
        } else if self.require_encryption {
            out.push(
                format!("{path}.key"),
                Problem::Missing {
                    because: "with require_encryption = true",
                },
            );
        }
    }
}
