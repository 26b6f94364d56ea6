//! When a call needs a person: the one [`QueueRequest`] per call that the
//! media worker sends to the SIP driver (and on to the switchboard).
//!
//! Sent once per call, never twice: on `SwitchToVoice` (a voice alarm was
//! acknowledged), on `GaveUp` (no decodable alarm: a voice-only unit or a
//! citizen calling the number), when settling is disabled and the quiet
//! line would have settled a technical call, or at once at `MediaStart`
//! when alarms are not decoded at all. The class is the most urgent of the
//! call's decoded messages (an emergency for 1xx medical/fire/panic codes
//! the classifier sends to a person), or the trigger's own.
//!
//! An **unconfirmed alarm** (`GaveUp` with `Unconfirmed`: the unit's
//! attempts never decoded) is journalled as `alarmgate.alarm.unconfirmed`
//! with what was heard, then requested with class `Unconfirmed` and that
//! data, which the switchboard keeps as a callback if the call already
//! ended (the unit hung up first). It is never acknowledged to the unit.

use super::AlarmContextShared;
use crate::alarm::classify::AlarmClass;
use crate::alarm::pipeline::{GiveUpReason, PipelineAction};
use crate::alarm::{AccountNo, ContactIdMessage, EventCode};
use crate::bus::emit;
use crate::call::CallHandle;
use crate::clock;
use crate::routing::CallClass;
use crate::runtime::sip_driver::Control;
use crate::switchboard::UnconfirmedAlarm;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

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
    match class {
        AlarmClass::Voice if event.as_str().starts_with('1') => CallClass::Emergency,
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

/// The CloudEvents type of an alarm that was attempted but never decoded.
pub const ALARM_UNCONFIRMED: &str = "alarmgate.alarm.unconfirmed";

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

/// The JSON bytes of an `alarmgate.alarm.unconfirmed` event: what was heard
/// of a unit's attempts that never decoded (never acknowledged to it).
pub fn unconfirmed_record(
    node: &str,
    alarm: &UnconfirmedAlarm,
    remote_hangup: bool,
    time: std::time::SystemTime,
    random: u128,
) -> Vec<u8> {
    let data = serde_json::json!({
        "tenant": alarm.labels.tenant,
        "calling_number": alarm.labels.caller,
        "heard": alarm.heard.summary(),
        "remote_hangup": remote_hangup,
        "acknowledged": false,
    });
    crate::events::record(
        node,
        alarm.labels.call_id.as_str(),
        ALARM_UNCONFIRMED,
        time,
        random,
        data,
    )
}

impl super::AlarmLeg {
    /// No message got through: journal what was heard, then queue the call
    /// as an unconfirmed alarm (a callback if the unit already hung up).
    /// Never a kissoff: the pipeline only acknowledges stored messages.
    /// The call hung up: the pipeline's outcome counts only if it is an
    /// unconfirmed alarm (journalled, and a callback: the unit hung up
    /// first); any other outcome of a call that is gone needs nothing.
    pub fn hung_up(
        &mut self,
        now: Instant,
        shared: Option<&AlarmContextShared>,
        control: &mpsc::Sender<Control>,
    ) {
        self.pipeline.handle_hangup(now);
        while let Some(action) = self.pipeline.poll_action() {
            if let (
                PipelineAction::GaveUp {
                    reason: GiveUpReason::Unconfirmed { heard, .. },
                },
                Some(shared),
            ) = (action, shared)
            {
                self.unconfirmed(shared, control, heard, true);
            }
        }
    }

    pub(super) fn unconfirmed(
        &mut self,
        shared: &AlarmContextShared,
        control: &mpsc::Sender<Control>,
        heard: crate::alarm::Heard,
        remote_hangup: bool,
    ) {
        let alarm = UnconfirmedAlarm {
            labels: self.labels.clone(),
            heard,
            event_code: None,
        };
        let best = alarm.heard.best().map(|a| a.digits.clone());
        let (call_id, attempts) = (self.labels.call_id.as_str(), alarm.heard.attempts());
        tracing::warn!(%call_id, ?best, attempts, remote_hangup, "alarm attempted but never decoded: unconfirmed alarm");
        let record = unconfirmed_record(
            &shared.node,
            &alarm,
            remote_hangup,
            clock::wall(),
            rand::random(),
        );
        emit::append(&shared.journal, ALARM_UNCONFIRMED, record);
        metrics::counter!(crate::telemetry::metrics::ALARMS_UNCONFIRMED).increment(1);
        self.voice = true;
        self.port.stop_override();
        self.port.set_hold(self.hold.clone());
        if let Some(request) = unconfirmed_request(&mut self.queue, self.call, alarm) {
            send_control(control, Control::Queue(request));
        }
    }
}

/// Sends `cmd` to the SIP driver without blocking the worker: at once, or
/// from a task when the channel is full (a queue request must not be lost).
pub fn send_control(control: &mpsc::Sender<Control>, cmd: Control) {
    let Err(TrySendError::Full(cmd)) = control.try_send(cmd) else {
        return;
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let control = control.clone();
            runtime.spawn(async move {
                let _ = control.send(cmd).await;
            });
        }
        Err(_) => tracing::error!(?cmd, "control channel full outside a runtime: dropped"),
    }
}

#[cfg(test)]
mod tests {
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

    fn alarm() -> UnconfirmedAlarm {
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

    /// The `alarm.unconfirmed` record holds the heard digits, is never
    /// acknowledged, and validates against the event schema.
    #[test]
    fn unconfirmed_record_validates() {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_339_246);
        let bytes = unconfirmed_record("n1", &alarm(), true, time, 9);
        let event: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(crate::bus::schema::validate(&event), Vec::<String>::new());
        assert_eq!(event["type"], ALARM_UNCONFIRMED);
        assert_eq!(event["data"]["acknowledged"], false);
        let heard = &event["data"]["heard"];
        assert_eq!(heard["best"]["digits"], "1234181602000003");
        assert_eq!(heard["account"]["digits"], "1234");
        assert_eq!(heard["account"]["verified"], false);
        assert_eq!(
            (
                heard["checksum_failures"].as_u64(),
                heard["partials"].as_u64()
            ),
            (Some(1), Some(1))
        );
        let mut broken = event.clone();
        broken["data"]["acknowledged"] = serde_json::json!(true);
        assert!(!crate::bus::schema::validate(&broken).is_empty());
    }

    const MSG_100: &str = "100";
    const MSG_602: &str = "602";
    const MSG_606: &str = "606";
}
