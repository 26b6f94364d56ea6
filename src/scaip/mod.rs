//! SCAIP (SS 91100 / CLC/TS 50134-9): social-alarm units report over SIP
//! MESSAGE with a short-tag XML body (`application/scaip+xml`), then place
//! a voice call the centre links to the alarm (alarm-protocols.md §4).
//!
//! Pure parts, one per protocol element: [`xml`] (the hardened reader),
//! [`codes`] (device types, status and location codes and their names),
//! [`request`] (the typed `<mrq>`), [`response`] (the `<mrs>` writer and
//! reader), [`receiver`] (the decision per message), [`link`] (alarms
//! waiting for their voice call), [`report`] (the event and the operators'
//! fields), [`control`] (in-call commands as DTMF), [`repeats`] (retransmitted
//! requests answered once). The SIP side is `switchboard::scaip`.

pub mod codes;
pub mod control;
pub mod link;
pub mod receiver;
pub mod repeats;
pub mod report;
pub mod request;
pub mod response;
pub mod xml;

pub use receiver::{Decision, Policy, CONTENT_TYPE};
pub use request::{MessageType, Mrq};
pub use response::{Mrs, Status, VoiceRequest};
