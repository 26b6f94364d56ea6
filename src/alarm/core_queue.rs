//! When a call needs a person, in any protocol: the one [`QueueRequest`]
//! per call, with the most urgent class of its alarms, and what a call
//! whose alarms were all technical becomes ([`settle`]). Pure: the media
//! worker (`runtime::alarm_leg`) executes what these decide.
//!
//! Sent once per call, never twice: on `SwitchToVoice` (a voice alarm was
//! acknowledged), on `GaveUp` (no decodable alarm: a voice-only unit or a
//! citizen calling the number), when settling is disabled and the quiet
//! line would have settled a technical call, or at once at `MediaStart`
//! when alarms are not decoded at all. The class is the most urgent of the
//! call's decoded messages (an emergency for 1xx medical/fire/panic codes
//! the classifier sends to a person), or the trigger's own. An unconfirmed
//! alarm (every attempt failed) is requested with class `Unconfirmed` and
//! what was heard.

use crate::alarm::classify::AlarmClass;
use crate::alarm::{AccountNo, ContactIdMessage, EventCode};
use crate::call::CallHandle;
use crate::routing::CallClass;
use crate::switchboard::UnconfirmedAlarm;

/// A call waits for a person: route it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRequest {
    /// The device call (its handle is the routing engine's `CallRef`).
    pub call: CallHandle,
    /// Its priority class.
    pub class: CallClass,
    /// The event code that set the class, if an alarm was decoded.
    pub event_code: Option<EventCode>,
    /// The unit's account, if an alarm was decoded.
    pub account: Option<AccountNo>,
    /// With class `Unconfirmed`: the call and what was heard, so the
    /// switchboard can keep a callback entry even if the call already ended.
    pub unconfirmed: Option<UnconfirmedAlarm>,
}

impl QueueRequest {
    /// A call without a decoded alarm.
    pub fn voice(call: CallHandle) -> Self {
        Self {
            call,
            class: CallClass::Voice,
            event_code: None,
            account: None,
            unconfirmed: None,
        }
    }
}

/// The routing class of a decoded message: the classifier's class, with
/// voice alarms of the 1xx group (medical, fire, panic) as emergencies.
pub fn call_class(class: AlarmClass, event: &EventCode) -> CallClass {
    routing_class(class, Some(event))
}

/// The one classification every protocol routes by: [`call_class`], and
/// an alarm for a person with no Contact ID equivalent (a SIA or SCAIP
/// code the tables do not map) as an emergency: nobody can tell it is not one.
pub fn routing_class(class: AlarmClass, event: Option<&EventCode>) -> CallClass {
    let urgent = event.is_none_or(|e| e.as_str().starts_with('1'));
    match class {
        AlarmClass::Voice if urgent => CallClass::Emergency,
        AlarmClass::Voice => CallClass::Voice,
        AlarmClass::Technical | AlarmClass::Test | AlarmClass::Cancel => CallClass::Technical,
    }
}

/// Higher is more urgent.
fn rank(class: CallClass) -> u8 {
    match class {
        // Ties keep the floor: a failed alarm after a decoded emergency
        // stays unconfirmed (the decoded code still sets the priority).
        CallClass::Emergency | CallClass::Unconfirmed => 3,
        CallClass::Voice | CallClass::Recall => 2,
        CallClass::Technical => 1,
    }
}

/// What one call has told the router, and its most urgent message so far.
#[derive(Debug, Default)]
pub struct QueueState {
    sent: bool,
    worst: Option<(CallClass, EventCode, AccountNo)>,
}

impl QueueState {
    /// A message was decoded with `class`; the first of the highest rank counts.
    pub fn decoded(&mut self, class: AlarmClass, message: &ContactIdMessage) {
        let class = call_class(class, &message.event);
        if self.worst.as_ref().is_none_or(|w| rank(class) > rank(w.0)) {
            self.worst = Some((class, message.event.clone(), message.account.clone()));
        }
    }

    /// The request for `call`, at least as urgent as `floor`; `None` once sent.
    pub fn request(&mut self, call: CallHandle, floor: CallClass) -> Option<QueueRequest> {
        if std::mem::replace(&mut self.sent, true) {
            return None;
        }
        let mut request = QueueRequest {
            class: floor,
            ..QueueRequest::voice(call)
        };
        if let Some((class, event, account)) = self.worst.clone() {
            request.class = if rank(class) > rank(floor) {
                class
            } else {
                floor
            };
            request.event_code = Some(event);
            request.account = Some(account);
        }
        Some(request)
    }

    /// True once the request went out.
    pub fn is_sent(&self) -> bool {
        self.sent
    }
}

/// The request for an unconfirmed alarm (class `Unconfirmed`, at least as
/// urgent as anything decoded before); `None` once a request went out.
pub fn unconfirmed_request(
    state: &mut QueueState,
    call: CallHandle,
    alarm: UnconfirmedAlarm,
) -> Option<QueueRequest> {
    let mut request = state.request(call, CallClass::Unconfirmed)?;
    request.unconfirmed = Some(UnconfirmedAlarm {
        event_code: request.event_code.clone(),
        ..alarm
    });
    Some(request)
}

/// What a call becomes once its alarms are settled by the gateway (all
/// technical or tests, acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Already waiting for a person: nothing changes.
    KeepForPerson,
    /// Hang up: nothing for a person to do.
    HangUp,
    /// Settling is off (`alarm.settle_technical = false`): a person must
    /// see the technical call; queue it as technical.
    QueueTechnical,
}

/// The settle decision: `voice` when the call already waits for a person.
pub fn settle(voice: bool, settle_technical: bool) -> Settled {
    match (voice, settle_technical) {
        (true, _) => Settled::KeepForPerson,
        (false, true) => Settled::HangUp,
        (false, false) => Settled::QueueTechnical,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::alarm::contact_id::{check_digit, parse};

    /// A new-event message of account 1234 with `event`.
    fn message(event: &str) -> ContactIdMessage {
        let first15 = format!("1234181{event}01001");
        let check = check_digit(&first15).expect("digits");
        parse(&format!("{first15}{check}")).expect("valid Contact ID")
    }

    #[test]
    fn classes_follow_the_classifier_and_the_1xx_group() {
        let code = |c: &str| EventCode::new(c).expect("code");
        assert_eq!(
            call_class(AlarmClass::Voice, &code("100")),
            CallClass::Emergency
        );
        assert_eq!(
            call_class(AlarmClass::Voice, &code("121")),
            CallClass::Emergency
        );
        assert_eq!(
            call_class(AlarmClass::Voice, &code("606")),
            CallClass::Voice
        );
        assert_eq!(
            call_class(AlarmClass::Test, &code("602")),
            CallClass::Technical
        );
        assert_eq!(
            call_class(AlarmClass::Technical, &code("1B0")),
            CallClass::Technical
        );
        assert_eq!(
            routing_class(AlarmClass::Voice, None),
            CallClass::Emergency,
            "an alarm nobody can classify is treated as urgent"
        );
        assert_eq!(routing_class(AlarmClass::Test, None), CallClass::Technical);
    }

    #[test]
    fn one_request_per_call_with_the_most_urgent_message() {
        let call = CallHandle(7);
        let mut q = QueueState::default();
        q.decoded(AlarmClass::Test, &message(MSG_602));
        q.decoded(AlarmClass::Voice, &message(MSG_100));
        q.decoded(AlarmClass::Voice, &message(MSG_606));
        let r = q.request(call, CallClass::Voice).expect("first");
        assert_eq!(r.class, CallClass::Emergency);
        assert_eq!(
            r.event_code.map(|e| e.as_str().to_owned()),
            Some("100".into())
        );
        assert_eq!(
            r.account.map(|a| a.as_str().to_owned()),
            Some("1234".into())
        );
        assert!(q.is_sent());
        assert_eq!(q.request(call, CallClass::Voice), None, "never twice");
    }

    #[test]
    fn no_alarm_is_voice_and_technical_only_as_the_floor_allows() {
        let mut q = QueueState::default();
        assert_eq!(
            q.request(CallHandle(1), CallClass::Voice),
            Some(QueueRequest::voice(CallHandle(1)))
        );
        let mut q = QueueState::default();
        q.decoded(AlarmClass::Test, &message(MSG_602));
        let r = q
            .request(CallHandle(2), CallClass::Technical)
            .expect("first");
        assert_eq!(r.class, CallClass::Technical);
        let mut q = QueueState::default();
        q.decoded(AlarmClass::Test, &message(MSG_602));
        let r = q.request(CallHandle(3), CallClass::Voice).expect("first");
        assert_eq!(
            r.class,
            CallClass::Voice,
            "a technical alarm that gave up still reaches a person"
        );
    }

    /// An unconfirmed alarm of call `c1@unit` (also the runtime's tests' fixture).
    pub(crate) fn alarm() -> UnconfirmedAlarm {
        let mut heard = crate::alarm::Heard::default();
        heard.record("1234181602000003", crate::alarm::AttemptFault::Checksum);
        heard.record("123418", crate::alarm::AttemptFault::Partial);
        UnconfirmedAlarm {
            labels: crate::labels::CallLabels::new(
                crate::sip::types::CallId::new("c1@unit"),
                "demo".into(),
                "4512345678".into(),
            ),
            heard,
            event_code: None,
        }
    }

    /// Class unconfirmed with what was heard; after a decoded emergency it
    /// stays unconfirmed and keeps the decoded code; once per call.
    #[test]
    fn unconfirmed_requests_carry_what_was_heard() {
        let mut q = QueueState::default();
        let r = unconfirmed_request(&mut q, CallHandle(4), alarm()).expect("first");
        assert_eq!(r.class, CallClass::Unconfirmed);
        assert_eq!(r.unconfirmed, Some(alarm()));
        assert_eq!(unconfirmed_request(&mut q, CallHandle(4), alarm()), None);

        let mut q = QueueState::default();
        q.decoded(AlarmClass::Voice, &message(MSG_100));
        let r = unconfirmed_request(&mut q, CallHandle(5), alarm()).expect("first");
        assert_eq!(r.class, CallClass::Unconfirmed);
        let code = r.unconfirmed.and_then(|u| u.event_code);
        assert_eq!(code.map(|c| c.as_str().to_owned()), Some("100".into()));
    }

    #[test]
    fn a_technical_call_settles_unless_a_person_waits_or_settling_is_off() {
        assert_eq!(settle(true, true), Settled::KeepForPerson);
        assert_eq!(settle(false, true), Settled::HangUp);
        assert_eq!(settle(false, false), Settled::QueueTechnical);
    }

    const MSG_100: &str = "100";
    const MSG_602: &str = "602";
    const MSG_606: &str = "606";
}
