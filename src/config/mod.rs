//! The configuration file and dialplan: strict TOML, documented key by key.
//!
//! Every section is a `#[serde(deny_unknown_fields)]` struct whose fields
//! carry their meaning and default in their doc comment; `docs/configuration.md`
//! is the same reference for operators. [`load_file`] and [`load_str`] parse,
//! deserialise and validate, and report *every* problem with its file, line,
//! column and dotted key (`tenants[1].dids[0]`): that is `alarmgate check`.
//!
//! Cores never see TOML: they take plain settings built here, such as
//! [`Config::admission_settings`] for [`crate::admission`].
//!
//! | file | sections |
//! |---|---|
//! | `general.rs` | `[node]`, `[log]`, `[http]` |
//! | `sip.rs` | `[sip]`, `[[sip.listen]]`, `[sip.timers]` |
//! | `sip_connections.rs` | `[sip.connections]` |
//! | `media.rs` | `[media]`, `[media.hold_tone]` |
//! | `calls.rs` | `[calls]` |
//! | `auth.rs` | `[auth]`, `[[auth.devices]]`, HA1 hashing |
//! | `bus.rs` | `[bus]` (NATS JetStream forwarding) |
//! | `cluster.rs` | `[cluster]` (nodes sharing operators and alarms over NATS KV) |
//! | `routing.rs` | `[[tenants]]` |
//! | `trunks.rs` | `[[trunks]]`, `[[targets]]` |
//! | `operators.rs` | `[[operators]]` |
//! | `queues.rs` | `[[queues]]`, `[queues.priorities]`, `[[queues.overflow]]` |
//! | `registrar.rs` | `[registrar]` |
//! | `api.rs` | `[api]`, `[[api.tokens]]` |
//! | `supervision.rs` | `[tenants.supervision]`, `[[units]]` (supervision of silent units) |
//! | `records.rs` | `[records]`, tenant `timezone`/`language`, `[tenants.frequent_callers]` |
//! | `recording.rs` | `[recording]`, the tenants' `recording` and `recording_retention_days` |
//! | `dc09.rs` | `[dc09]`, `[[dc09.listen]]`, `[[dc09.accounts]]` (SIA DC-09 receiver) |
//! | `scaip.rs` | `[scaip]`, `[[scaip.tenants]]`, `[[scaip.units]]` |
//! | `xref.rs` | checks across sections (references, last resort, ports) |
//! | `plan.rs` | settings for the routing engine, the registrar and the API |
//! | `reload.rs` | SIGHUP: [`reload`], what needs a restart |
//! | `load.rs`, `locate.rs`, `validate.rs`, `error.rs` | parsing, positions, checks, errors |

mod alarm;
mod api;
mod auth;
mod bus;
mod calls;
mod cluster;
mod dc09;
mod error;
mod general;
mod load;
mod locate;
mod media;
mod operators;
mod plan;
mod queues;
mod recording;
mod records;
mod registrar;
mod reload;
mod routing;
mod scaip;
mod sip;
mod sip_connections;
mod supervision;
mod trunk_tls;
mod trunks;
mod validate;
mod xref;

pub use alarm::AlarmConfig;
pub use api::{token_sha256_hex, token_sha256_line, ApiSection, ApiToken};
pub use api::{TokenEntry, TokenScope};
pub use auth::{device_ha1_lines, AuthConfig, ChallengeAlgorithm, Device, DEFAULT_REALM};
pub use bus::{BusConfig, BusStorage, DEFAULT_BUS_STREAM, DEFAULT_BUS_URL};
pub use calls::{CallsConfig, MAX_ANSWER_DELAY_MS, RFC4028_MIN_SE_S};
pub use cluster::ClusterConfig;
pub use dc09::{Dc09Account, Dc09Config, Dc09Listen, Dc09Transport, UnknownPolicy};
pub use error::{ConfigError, ConfigErrors, Problem};
pub use general::{
    HttpConfig, LogConfig, LogFormat, NodeConfig, DEFAULT_HTTP_LISTEN, DEFAULT_LOG_LEVEL,
    DEFAULT_NODE_NAME,
};
pub use media::{HoldKind, HoldTone, MediaConfig, DEFAULT_RTP_PORT_MAX, DEFAULT_RTP_PORT_MIN};
pub use operators::Operator;
pub use queues::{OverflowRule, Priorities, Queue, MAX_RING_TIMEOUT_S, MAX_WRAP_UP_S};
pub use recording::{RecordingConfig, DEFAULT_RETENTION_DAYS};
pub use records::{frequent_thresholds, FrequentCallers, RecordsConfig, DEFAULT_TIMEZONE};
pub use registrar::RegistrarSection;
pub use reload::reload;
pub use routing::{normalise_did, Codec, Tenant};
pub use scaip::{ScaipConfig, ScaipTenant, ScaipUnit};
pub use sip::{
    ListenConfig, ListenTransport, SipConfig, SipTimers, TlsPaths, DEFAULT_T1_MS, DEFAULT_T2_MS,
    DEFAULT_T4_MS, DEFAULT_USER_AGENT,
};
pub use sip_connections::{
    SipConnections, DEFAULT_FIRST_MESSAGE_S, DEFAULT_IDLE_S, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PER_SOURCE, DEFAULT_TRUNK_PER_SOURCE,
};
pub use supervision::{Reports, TenantSupervision, UnitEntry};
pub use trunk_tls::{TrunkTls, SYSTEM_CA_BUNDLE};
pub use trunks::{HostPort, HostPortError, Target, Trunk};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::admission::{AccessList, Admission, AdmissionSettings};
use crate::sip::types::Transport;

/// The shipped development dialplan, compiled into the binary so that the
/// daemon runs with no file at all.
const EMBEDDED_DEFAULT: &str = include_str!("../../dialplans/default.toml");

/// The origin label used for the embedded default in error messages.
pub const EMBEDDED_ORIGIN: &str = "<embedded default.toml>";

/// The whole configuration file. Every section is optional and defaults as
/// documented on its fields.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[node]`: this daemon's identity.
    pub node: NodeConfig,
    /// `[log]`: log format and filter.
    pub log: LogConfig,
    /// `[http]`: metrics and health endpoint.
    pub http: HttpConfig,
    /// `[sip]`: SIP listeners, identity and timers.
    pub sip: SipConfig,
    /// `[media]`: RTP ports and hold audio.
    pub media: MediaConfig,
    /// `[calls]`: limits, overload answers, shutdown, session timers.
    pub calls: CallsConfig,
    /// `[auth]`: digest authentication for devices on no trunk.
    pub auth: AuthConfig,
    /// `[alarm]`: the Contact ID receiver and the alarm journal.
    pub alarm: AlarmConfig,
    /// `[bus]`: forwarding events to NATS JetStream; no bus when absent.
    pub bus: Option<BusConfig>,
    /// `[cluster]`: nodes sharing operators and waiting alarms; a single
    /// node when absent.
    pub cluster: Option<ClusterConfig>,
    /// `[[trunks]]`: sources trusted without authentication, first match wins.
    pub trunks: Vec<Trunk>,
    /// `[[tenants]]`: the municipalities we answer for, selected by DID.
    pub tenants: Vec<Tenant>,
    /// `[[targets]]`: external SIP destinations calls can be forwarded to.
    pub targets: Vec<Target>,
    /// `[[queues]]`: where calls for a person wait.
    pub queues: Vec<Queue>,
    /// `[[operators]]`: the people who answer.
    pub operators: Vec<Operator>,
    /// `[registrar]`: REGISTER for operators' softphones.
    pub registrar: RegistrarSection,
    /// `[api]`: bearer tokens for the operator API.
    pub api: ApiSection,
    /// `[[units]]`: units supervised with their own interval, or not at all.
    pub units: Vec<UnitEntry>,
    /// `[records]`: the call-records database (monthly extracts, frequent callers).
    pub records: RecordsConfig,
    /// `[recording]`: where call recordings go.
    pub recording: RecordingConfig,
    /// `[dc09]`: the SIA DC-09 receiver; none when absent.
    pub dc09: Option<Dc09Config>,
    /// `[scaip]`: SCAIP alarms over SIP MESSAGE.
    pub scaip: ScaipConfig,
    /// Normalised DID → index into `tenants`; built by validation.
    #[serde(skip)]
    did_index: HashMap<String, usize>,
}

/// Reads, parses and validates a config file.
///
/// # Errors
/// Every problem found, each with `file:line:col: key: message`.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let origin = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(&text, &origin),
        Err(e) => Err(ConfigErrors {
            errors: vec![ConfigError {
                file: origin,
                line: 1,
                column: 1,
                key: String::new(),
                problem: Problem::Io {
                    reason: e.to_string(),
                },
            }],
        }),
    }
}

/// Parses and validates config text; `origin` names it in errors.
///
/// # Errors
/// Every problem found, each with `origin:line:col: key: message`.
pub fn load_str(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
    load::load_text(text, origin)
}

/// The text of `dialplans/default.toml`, as compiled in.
pub fn embedded_default() -> &'static str {
    EMBEDDED_DEFAULT
}

/// The embedded default, parsed. A test keeps it valid.
///
/// # Errors
/// Only if the shipped file is broken, which the test suite prevents.
pub fn load_default() -> Result<Config, ConfigErrors> {
    load_str(EMBEDDED_DEFAULT, EMBEDDED_ORIGIN)
}

impl Config {
    /// The tenant a called number belongs to. Separators `-.() ` are ignored
    /// on both sides; a leading `+` must match as written.
    pub fn tenant_for_did(&self, did: &str) -> Option<&Tenant> {
        let index = *self.did_index.get(&normalise_did(did))?;
        self.tenants.get(index)
    }

    /// Every tenant's recording settings (`recording`, `recording_retention_days`).
    pub fn recording_tenants(
        &self,
    ) -> HashMap<crate::labels::TenantId, crate::recording::TenantRecording> {
        recording::tenant_settings(&self.tenants)
    }

    /// The tenant with this id.
    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// The SIP sockets to open: transport, address, and TLS files for TLS.
    pub fn listen_specs(&self) -> Vec<(Transport, SocketAddr, Option<TlsPaths>)> {
        let spec = |l: &ListenConfig| (Transport::from(l.transport), l.addr, l.tls_paths());
        self.sip.listen.iter().map(spec).collect()
    }

    /// The trusted-trunk access list, in file order.
    pub fn access_list(&self) -> AccessList {
        AccessList::new(self.trunks.iter().map(Trunk::acl).collect())
    }

    /// Settings for the admission core.
    pub fn admission_settings(&self) -> AdmissionSettings {
        AdmissionSettings {
            access: self.access_list(),
            devices_configured: !self.auth.devices.is_empty(),
            max_concurrent: self.calls.max_concurrent,
            max_per_second: self.calls.max_per_second,
            burst: self.calls.burst(),
            retry_after: self.calls.retry_after(),
            overload: self.overload_settings(),
        }
    }

    /// The overload part of the admission settings: `[calls.overload]`, and
    /// the called numbers and devices configured as normal priority.
    fn overload_settings(&self) -> crate::admission::OverloadSettings {
        use crate::admission::Priority::Normal;
        let dids = self.tenants.iter().filter(|t| t.priority == Normal);
        let dids = dids.flat_map(|t| t.dids.iter().map(|d| normalise_did(d)));
        let devices = self.auth.devices.iter().filter(|d| d.priority == Normal);
        let devices = devices.map(|d| d.username.clone());
        self.calls
            .overload
            .settings(dids.collect(), devices.collect())
    }

    /// The log format for the telemetry layer.
    pub fn log_format(&self) -> crate::telemetry::logging::LogFormat {
        use crate::telemetry::logging::LogFormat as Out;
        match self.log.format {
            LogFormat::Human => Out::Human,
            LogFormat::Json => Out::Json,
        }
    }
}

// Here rather than in `admission`, so that the admission core never sees
// the config types.
impl Admission {
    /// An admission core for this configuration.
    pub fn from_config(config: &Config) -> Self {
        Self::new(config.admission_settings())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_dc09;
#[cfg(test)]
mod tests_operators;
#[cfg(test)]
mod tests_supervision;
#[cfg(test)]
mod tests_support;
