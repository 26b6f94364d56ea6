//! When a call needs a person: the one [`QueueRequest`] per call that the
//! media worker sends to the SIP driver (and on to the switchboard). The
//! decisions (once per call, the most urgent class, settle or queue) are
//! the pure `crate::alarm::core_queue`; this file executes them.
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
pub use crate::alarm::core_queue::{call_class, unconfirmed_request, QueueRequest, QueueState};
use crate::alarm::pipeline::{GiveUpReason, PipelineAction};
use crate::bus::emit;
use crate::clock;
use crate::runtime::sip_driver::Control;
use crate::switchboard::UnconfirmedAlarm;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// The CloudEvents type of an alarm that was attempted but never decoded.
pub const ALARM_UNCONFIRMED: &str = "alarmgate.alarm.unconfirmed";

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
    use crate::alarm::core_queue::tests::alarm;

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
}
