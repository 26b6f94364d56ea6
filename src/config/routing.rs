//! `[[tenants]]`: on whose behalf we answer.
//!
//! A tenant is a municipality (or any customer) the centre answers for. It
//! is selected by the called number (the Request-URI user). Its calls for a
//! person go to `default_queue`, and when nobody can take them, to
//! `last_resort` (checked in `xref.rs`). Trunks are in `trunks.rs`.

use std::collections::HashMap;

use serde::Deserialize;

use super::validate::Findings;
use super::xref::id_ok;
use super::Problem;
use crate::routing::{CallClass, QueueId, TargetId};

/// An audio codec we offer and accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Codec {
    /// G.711 A-law, RTP payload type 8 (Europe).
    #[serde(rename = "PCMA")]
    Pcma,
    /// G.711 µ-law, RTP payload type 0.
    #[serde(rename = "PCMU")]
    Pcmu,
}

impl From<Codec> for crate::sip::sdp::Codec {
    fn from(c: Codec) -> Self {
        match c {
            Codec::Pcma => crate::sip::sdp::Codec::Pcma,
            Codec::Pcmu => crate::sip::sdp::Codec::Pcmu,
        }
    }
}

impl Codec {
    /// The SDP encoding name (`a=rtpmap:8 PCMA/8000`).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcma => "PCMA",
            Codec::Pcmu => "PCMU",
        }
    }
    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcma => 8,
            Codec::Pcmu => 0,
        }
    }
}

/// One `[[tenants]]` entry: a municipality the centre answers for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Stable identifier in events and monthly extracts: lowercase letters,
    /// digits and `-`. Required, unique.
    pub id: String,
    /// Display name, e.g. `"Aarhus Kommune"`. Required.
    pub name: String,
    /// Called numbers (the Request-URI user part) that select this tenant.
    /// Visual separators `-`, `.`, `(`, `)` and spaces are ignored when
    /// matching; a leading `+` is significant. Required, not empty, unique
    /// across all tenants.
    pub dids: Vec<String>,
    /// Codecs in order of preference, from `"PCMA"` and `"PCMU"`.
    /// Default `["PCMA", "PCMU"]`.
    #[serde(default = "default_codecs")]
    pub codecs: Vec<Codec>,
    /// `[[tenants.classify]]`: rules that override the built-in alarm
    /// classification for this tenant, first match wins, e.g.
    /// `codes = { range = { from = "100", to = "102" } }`, `qualifier = "3"`,
    /// `class = "technical"` (classes: voice, technical, test, cancel).
    /// Default: none (the built-in rules: 1xx alarms voice, 3xx technical,
    /// 601-608 test, 406 cancel, unknown codes voice).
    #[serde(default)]
    pub classify: Vec<crate::alarm::classify::ClassRule>,
    /// The queue this tenant's calls for a person wait in, by id; it must
    /// belong to this tenant. Optional when the tenant has exactly one
    /// queue (that one is the default); required with several. Once the
    /// dialplan has `[[queues]]` or `[[operators]]`, every tenant needs a
    /// queue.
    #[serde(default)]
    pub default_queue: Option<QueueId>,
    /// The `[[targets]]` id a call goes to when no rule or operator takes it.
    /// Required once the dialplan has `[[queues]]` or `[[operators]]`: an
    /// alarm is never rejected.
    #[serde(default)]
    pub last_resort: Option<TargetId>,
    /// The class of a call with no decodable alarm (a voice-only unit, a
    /// citizen calling): `"emergency"`, `"voice"` or `"technical"`.
    /// Default `"voice"`.
    #[serde(default = "default_class")]
    pub default_class: CallClass,
    /// The `[[trunks]]` name recalls to this tenant's devices go out over;
    /// it must have a `proxy`. Optional: without it, recalls for this
    /// tenant are refused.
    #[serde(default)]
    pub recall_trunk: Option<String>,
    /// `"alarm"` or `"normal"`: under overload, calls to a normal tenant's
    /// numbers are shed first, whatever trunk they come over. Default
    /// `"alarm"`.
    #[serde(default)]
    pub priority: crate::admission::Priority,
    /// `[tenants.supervision]`: the tenant's units must report every
    /// `interval_s` (see `config::supervision`). Optional: without it only
    /// units listed in `[[units]]` with their own interval are supervised.
    #[serde(default)]
    pub supervision: Option<super::supervision::TenantSupervision>,
    /// The IANA time zone of this tenant's monthly extract (month bounds,
    /// days and hours of day, local times). Default `"Europe/Copenhagen"`.
    #[serde(default = "super::records::default_timezone")]
    pub timezone: String,
    /// The language of the extract's categories and headings: `"da"`
    /// (Danish) or `"nb"` (Norwegian bokmål). Default `"da"`.
    #[serde(default)]
    pub language: crate::records::report::Language,
    /// `[tenants.frequent_callers]`: thresholds for frequent callers.
    /// Optional: without it, none of this tenant's callers is flagged.
    #[serde(default)]
    pub frequent_callers: Option<super::records::FrequentCallers>,
    /// Record this tenant's bridged calls (unit and operator in one stereo
    /// file under `[recording] dir`). Default `false`.
    #[serde(default)]
    pub recording: bool,
    /// Days a recording is kept before retention deletes it (a legal hold
    /// keeps it longer), 1 to 3650. Default 90.
    #[serde(default = "super::recording::default_retention_days")]
    pub recording_retention_days: u32,
}

fn default_class() -> CallClass {
    CallClass::Voice
}

fn default_codecs() -> Vec<Codec> {
    vec![Codec::Pcma, Codec::Pcmu]
}

/// A DID without visual separators: `+45 70-00.01 12` → `+4570000112`.
pub fn normalise_did(did: &str) -> String {
    did.chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect()
}

fn did_ok(normalised: &str) -> bool {
    let digits = normalised.strip_prefix('+').unwrap_or(normalised);
    !digits.is_empty()
        && digits
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '#' | '_'))
}

/// Checks tenants and builds the DID index (normalised DID → tenant index).
pub(crate) fn check_tenants(tenants: &[Tenant], out: &mut Findings) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    let mut dids: HashMap<String, String> = HashMap::new();
    let mut index = HashMap::new();
    for (i, t) in tenants.iter().enumerate() {
        let path = format!("tenants[{i}]");
        check_tenant_fields(t, &path, out);
        super::records::check_tenant_records(t, &path, out);
        if let Some(first) = ids.insert(t.id.as_str(), i) {
            let first = format!("tenants[{first}].id");
            out.push(
                format!("{path}.id"),
                Problem::Duplicate {
                    value: t.id.clone(),
                    first,
                },
            );
        }
        for (j, did) in t.dids.iter().enumerate() {
            let did_path = format!("{path}.dids[{j}]");
            let key = normalise_did(did);
            if !did_ok(&key) {
                let expected =
                    "a number (digits, optional leading +, separators - . ( ) and spaces)";
                out.push(
                    did_path,
                    Problem::Invalid {
                        value: format!("{did:?}"),
                        expected,
                    },
                );
            } else if let Some(first) = dids.get(&key) {
                out.push(
                    did_path,
                    Problem::Duplicate {
                        value: did.clone(),
                        first: first.clone(),
                    },
                );
            } else {
                dids.insert(key.clone(), did_path);
                index.insert(key, i);
            }
        }
    }
    index
}

fn check_tenant_fields(t: &Tenant, path: &str, out: &mut Findings) {
    if let Some(supervision) = &t.supervision {
        supervision.check(&format!("{path}.supervision"), out);
    }
    if !id_ok(&t.id) {
        let expected = "lowercase letters, digits and `-` ([a-z0-9-]+)";
        out.push(
            format!("{path}.id"),
            Problem::Invalid {
                value: format!("{:?}", t.id),
                expected,
            },
        );
    }
    if t.name.trim().is_empty() {
        out.push(
            format!("{path}.name"),
            Problem::Invalid {
                value: "\"\"".into(),
                expected: "a display name",
            },
        );
    }
    if t.dids.is_empty() {
        out.push(
            format!("{path}.dids"),
            Problem::Missing {
                because: "(at least one called number)",
            },
        );
    }
    if t.codecs.is_empty() {
        out.push(
            format!("{path}.codecs"),
            Problem::Missing {
                because: "(at least one of PCMA, PCMU)",
            },
        );
    }
    if let Some(c) = t
        .codecs
        .iter()
        .enumerate()
        .find_map(|(i, c)| t.codecs[..i].contains(c).then_some(c))
    {
        let detail = format!("lists {} twice", c.name());
        out.push(format!("{path}.codecs"), Problem::Conflict { detail });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str, dids: &[&str]) -> Tenant {
        Tenant {
            id: id.into(),
            name: format!("{id} kommune"),
            dids: dids.iter().map(|d| d.to_string()).collect(),
            codecs: default_codecs(),
            classify: Vec::new(),
            default_queue: None,
            last_resort: None,
            default_class: CallClass::Voice,
            recall_trunk: None,
            priority: Default::default(),
            supervision: None,
            timezone: super::super::records::default_timezone(),
            language: Default::default(),
            frequent_callers: None,
            recording: false,
            recording_retention_days: 90,
        }
    }

    fn keys(out: &Findings) -> Vec<&str> {
        out.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn normalising_dids() {
        assert_eq!(normalise_did("+45 70-00.01 (12)"), "+4570000112");
        assert_eq!(normalise_did("112"), "112");
    }

    #[test]
    fn duplicate_ids_and_dids() {
        let tenants = [
            tenant("a", &["112", "+45 1"]),
            tenant("a", &["1-1-2", "451"]),
            tenant("b", &["+451"]),
        ];
        let mut out = Findings::default();
        let index = check_tenants(&tenants, &mut out);
        assert_eq!(
            keys(&out),
            ["tenants[1].id", "tenants[1].dids[0]", "tenants[2].dids[0]"]
        );
        assert_eq!(index.get("451"), Some(&1));
        assert_eq!(index.get("+451"), Some(&0));
    }

    #[test]
    fn tenant_field_checks() {
        let mut t = tenant("Bad_Id", &[]);
        t.codecs = vec![];
        let mut u = tenant("ok", &["--"]);
        u.codecs = vec![Codec::Pcma, Codec::Pcma];
        let mut out = Findings::default();
        check_tenants(&[t, u], &mut out);
        assert_eq!(
            keys(&out),
            [
                "tenants[0].id",
                "tenants[0].dids",
                "tenants[0].codecs",
                "tenants[1].codecs",
                "tenants[1].dids[0]"
            ]
        );
    }

    #[test]
    fn codec_properties() {
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::Pcmu.name(), "PCMU");
    }
}
