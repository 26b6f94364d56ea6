//! # alarmgate
//!
//! The telephony heart of a social-alarm receiving centre: SIP calls from alarm
//! units in, Contact ID alarms decoded, calls routed to operators, every event
//! out to a bus.
//!
//! ## Module map
//!
//! Pure protocol cores (no sockets, no tasks, no clock reads; they take `now`):
//!
//! | module | role |
//! |---|---|
//! | [`sip`] | SIP messages ([`sip::message`]), stream framing, the RFC 3261 §17 transaction layer, dialogs, SDP offer/answer, digest auth; [`sip::endpoint`]: the endpoint that owns the transaction layer, validates, answers statelessly and dispatches by method |
//! | [`call`] | the B2BUA call core: admission and the overload screen, INVITE/ACK/BYE/CANCEL/UPDATE and in-dialog handling, per-call state and timers, on the transaction layer the endpoint lends it |
//! | [`admission`] | trunk access lists (CIDR), call-rate and concurrency limits |
//! | [`media`] | RTP packets, G.711 A-law/µ-law, tone generation, RFC 4733 telephone-events |
//! | [`dsp`] | Goertzel DTMF and tone detection |
//! | [`alarm`] | Ademco Contact ID messages and the receiver state machine |
//! | [`dc09`] | SIA DC-09 over TCP/UDP: frames, CRC, AES, replies, the per-frame decision, stream reassembly |
//! | [`registrar`] | REGISTER for operators' softphones: digest auth, bindings per operator, expiry, OPTIONS keep-alives, blocking of repeated auth failures |
//! | [`routing`] | the ACD engine: queues per tenant, operator states, alarm priorities with aging, longest-idle offers, ring-no-answer, overflow to queues and external targets, last resort |
//! | [`switchboard`] | the SIP endpoint, call core, registrar and router wired together (REGISTER and keep-alives between endpoint and registrar): offers become outgoing legs, answered legs are bridged, either side's end ends the other, recalls, API commands |
//! | [`supervision`] | supervision of silent units: per-unit reporting deadlines, `fail_to_report` once, `restored`, rebuilt from the journal |
//! | [`timer_queue`] | the one deadline queue of the cores (transaction layer, call core): a min-heap with lazy cancellation |
//!
//! The thin async layer and the edges:
//!
//! | module | role |
//! |---|---|
//! | [`api`] | the operator-facing HTTP API (`/api/v1/operators`, `/calls`, `/queues`): bearer auth, validation, commands to the switchboard over a channel |
//! | [`bus`] | events out: the journal forwarded to NATS JetStream (in order, `Nats-Msg-Id`, acks, backoff), `GET /api/v1/events`, `alarmgate events` |
//! | [`labels`] | `TenantId`, `Caller` and `CallLabels`: the names that travel with a call |
//! | [`events`] | CloudEvents records (`alarmgate.alarm.received`), UUIDv7 ids, RFC 3339 times |
//! | [`config`] | strict TOML config and dialplan, `alarmgate check` with line numbers |
//! | [`runtime`] | tokio drivers: SIP transports (UDP/TCP/TLS), the SIP driver loop, per-call media tasks, shutdown |
//! | [`journal`] | the durable local alarm journal: CRC-checked records in segment files, group-commit `fdatasync` before kissoff, crash recovery, reading from a sequence number |
//! | [`telemetry`] | metric names, logging set-up, the HTTP listener (`/metrics`, `/healthz`, `/readyz`) |
//! | [`cli`] | the command line |
//! | [`recording`] | call recording: the writer thread (stereo WAV off the media thread, bounded), the file store with legal holds, retention per tenant |
//! | [`simulate`] | the alarm-unit simulator (`alarmgate simulate device`): a sans-IO unit core, its UDP driver, load runs |

pub mod admission;
pub mod alarm;
pub mod api;
pub mod bus;
pub mod call;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod console;
pub mod dc09;
pub mod dsp;
pub mod events;
pub mod journal;
pub mod labels;
pub mod media;
mod newtype;
pub mod recording;
pub mod records;
pub mod registrar;
pub mod routing;
pub mod runtime;
pub mod scaip;
pub mod simulate;
pub mod sip;
pub mod supervision;
pub mod switchboard;
pub mod telemetry;
pub mod timer_queue;
