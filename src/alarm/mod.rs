//! Ademco Contact ID (SIA DC-05): messages, event names, classification and
//! the receiver state machine. Pure: no sockets, no clock reads.
//!
//! | file | role |
//! |---|---|
//! | [`types`] | field newtypes (`AccountNo`, `EventCode`, `Qualifier`, `GroupNo`, `ZoneNo`) |
//! | [`contact_id`] | parse/encode the 16 DTMF digits, the mod-15 checksum |
//! | [`event_codes`] | DC-05 event code names |
//! | [`classify`] | rules from event code (+ qualifier) to [`classify::AlarmClass`] |
//! | [`receiver`] | handshake → digits → storage → kissoff, in simulated time |
//! | [`receiver_types`] | the receiver's config, events, timings, counters and voice policy |
//! | [`pipeline`] | one call's decoding: DTMF detector + RFC 4733 + receiver + our tones, for the media worker |
//! | [`pipeline_types`] | the pipeline's config, actions and per-message forensics |
//! | [`heard`] | the digits of attempts that never decoded (an unconfirmed alarm) |
//! | [`core`] | the alarm core for alarms decoded by any protocol: store, then acknowledge or withhold, list data alarms (`handle_decoded` / `handle_stored`) |
//! | [`core_queue`] | a call's one queue request (most urgent class) and the settle decision |
//! | [`report`] | an alarm that came as data (SCAIP, DC-09, supervision): what the switchboard lists |

pub mod classify;
pub mod contact_id;
pub mod core;
pub mod core_queue;
pub mod event_codes;
pub mod heard;
pub mod pipeline;
pub mod pipeline_types;
pub mod receiver;
pub mod receiver_types;
pub mod report;
pub mod types;

pub use classify::{AlarmClass, Classifier};
pub use contact_id::{ContactIdError, ContactIdMessage, MessageType};
pub use heard::{AttemptFault, Heard};

pub use pipeline::{AlarmPipeline, MessageForensics, PipelineAction, PipelineConfig};
pub use receiver::{
    ContactIdReceiver, ReceiverConfig, ReceiverConfigError, ReceiverEvent, ReceiverState,
};
pub use types::{AccountNo, EventCode, GroupNo, Qualifier, ZoneNo};

#[cfg(test)]
mod core_tests;
