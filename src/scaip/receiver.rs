//! What the centre does with one SCAIP MESSAGE, decided without I/O:
//! [`decide`] turns a body into a SIP refusal, a `<mrs>` refusal, a
//! heartbeat, or an alarm to store first; [`assess`] classifies a stored
//! request for its tenant; [`answer`] is the `<mrs>` once the journal has
//! spoken (only a durable request gets `snu=0`).
//!
//! Alarms that want a voice call wait in the [`LinkTable`] (`link`) until
//! the unit's INVITE arrives, the unit withdraws them (`RE`), or the window
//! passes and they go to the operators as data alarms.

use super::codes::{self, Code};
use super::request::{MessageType, Mrq, RequestError};
use super::response::{Mrs, Status, VoiceRequest};
use super::xml::XmlError;
use crate::alarm::classify::{AlarmClass, Classifier};
use crate::alarm::contact_id::{ContactIdMessage, MessageType as CidType};
use crate::alarm::{AccountNo, EventCode, GroupNo, Qualifier, ZoneNo};

pub use super::link::{LinkTable, WaitingAlarm};

/// The MIME type of SCAIP bodies.
pub const CONTENT_TYPE: &str = "application/scaip+xml";

/// A tenant's answers: how its units place their voice call, and the
/// heartbeat interval it sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `mre`/`cre`/`tnu` for alarms that want voice.
    pub voice: VoiceRequest,
    /// `hbi` in answers to heartbeats, when set.
    pub hbi: Option<u32>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            voice: VoiceRequest {
                mre: 1,
                cre: 61,
                tnu: None,
            },
            hbi: None,
        }
    }
}

/// What to do with a MESSAGE.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Refuse the MESSAGE itself with this SIP status (415, 413, 400): no
    /// `<mrs>` (there is no `ref` to answer).
    Refuse(u16),
    /// 200, then this `<mrs>` (a request the standard rejects: 2, 3, 7).
    Reject(Mrs),
    /// 200; journal the heartbeat (not waited for) and answer at once.
    Heartbeat(Box<Mrq>),
    /// 200; store the request, then answer with [`answer`].
    Store(Box<Mrq>),
}

/// Decides on a MESSAGE's body by its `Content-Type` (parameters ignored).
pub fn decide(content_type: Option<&str>, body: &[u8]) -> Decision {
    let mime = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    if mime.as_deref() != Some(CONTENT_TYPE) {
        return Decision::Refuse(415);
    }
    match Mrq::parse(body) {
        Ok(mrq) if mrq.mty == MessageType::Heartbeat => Decision::Heartbeat(Box::new(mrq)),
        Ok(mrq) => Decision::Store(Box::new(mrq)),
        Err(RequestError::Xml(XmlError::TooLarge { .. })) => Decision::Refuse(413),
        Err(RequestError::Xml(_)) => Decision::Refuse(400),
        Err(RequestError::Missing(_)) => reject(body, Status::MandatoryMissing),
        Err(RequestError::Wrong { .. }) => reject(body, Status::WrongData),
    }
}

/// A `<mrs>` refusal that still echoes the `ref` when there is one.
fn reject(body: &[u8], status: Status) -> Decision {
    let reference = super::xml::read(body, "mrq")
        .ok()
        .and_then(|f| f.into_iter().find(|f| f.tag == "ref"))
        .map(|f| f.text)
        .unwrap_or_default();
    Decision::Reject(Mrs::new(&reference, status))
}

/// A stored request, classified for its tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The Contact ID equivalent of its status, when there is one.
    pub event_code: Option<EventCode>,
    /// The tenant classifier's class (an alarm with no equivalent is voice).
    pub class: AlarmClass,
    /// A person must handle it (ME/IN of class voice).
    pub for_person: bool,
    /// It waits for the unit's voice call (for a person, `mty=ME`, the unit
    /// calls, `crd` is not `no-voice:`).
    pub wants_voice: bool,
}

/// Classifies `mrq` with the tenant's `classifier`.
pub fn assess(mrq: &Mrq, classifier: &Classifier) -> Assessment {
    let event_code =
        codes::contact_id_equivalent(mrq.stc, Some(mrq.dty)).and_then(|c| EventCode::new(c).ok());
    let class = match (&event_code, mrq.mty) {
        (_, MessageType::Reset) => AlarmClass::Cancel,
        (Some(code), _) => classify(classifier, code, codes::is_restore(mrq.stc)),
        (None, _) => AlarmClass::Voice,
    };
    let for_person = class == AlarmClass::Voice && mrq.mty != MessageType::Reset;
    let wants_voice =
        for_person && mrq.mty == MessageType::Alarm && !mrq.callback && !mrq.no_voice();
    Assessment {
        event_code,
        class,
        for_person,
        wants_voice,
    }
}

/// The classifier's class of `code` as a Contact ID event (account and zone
/// play no part in classification).
fn classify(classifier: &Classifier, code: &EventCode, restore: bool) -> AlarmClass {
    let parts = (
        AccountNo::new("0000"),
        Qualifier::new(if restore { "3" } else { "1" }),
        GroupNo::new("00"),
        ZoneNo::new("000"),
    );
    let (Ok(account), Ok(qualifier), Ok(group), Ok(zone)) = parts else {
        return AlarmClass::Voice;
    };
    classifier.classify(&ContactIdMessage {
        account,
        message_type: CidType::Preferred18,
        qualifier,
        event: code.clone(),
        group,
        zone,
    })
}

/// The `<mrs>` for a stored (or not) request: `snu=0` only when `durable`,
/// with the voice call asked for when it waits for one.
pub fn answer(mrq: &Mrq, a: &Assessment, policy: &Policy, durable: bool) -> Mrs {
    if !durable {
        return Mrs::new(&mrq.reference, Status::NotTreated);
    }
    let mut mrs = Mrs::new(&mrq.reference, Status::Ok);
    if a.wants_voice {
        mrs.voice = Some(policy.voice.clone());
    }
    mrs
}

/// The answer to a heartbeat (`hbi` when the tenant sets one).
pub fn heartbeat_answer(mrq: &Mrq, policy: &Policy) -> Mrs {
    let mut mrs = Mrs::new(&mrq.reference, Status::Ok);
    mrs.hbi = policy.hbi;
    mrs
}

/// The names of a request's codes, for the event and the operators.
pub fn code_names(mrq: &Mrq) -> serde_json::Value {
    let stc: Option<Code> = Some(mrq.stc);
    serde_json::json!({
        "dty_name": codes::device_type_name(mrq.dty),
        "stc_name": stc.and_then(codes::status_name),
        "lco_name": mrq.lco.and_then(codes::location_name),
    })
}

#[cfg(test)]
#[path = "receiver_tests.rs"]
mod tests;
