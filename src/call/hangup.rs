//! How calls end: our BYE, the far end's failures, timers, and the drain.
//!
//! Every call ends through [`CallCore::end_call`], which releases the port,
//! stops media, forgets the dialog and reports `Ended` exactly once.

use super::state::{CallEvent, CallHandle, CallState, EndReason};
use super::timers::CallTimer;
use super::Lent;
use crate::sip::dialog::ViaSpec;
use crate::sip::message::{self, Method, Response};
use crate::sip::transaction::TxKey;
use crate::sip::types::Branch;
use crate::telemetry::metrics as m;
use std::time::{Duration, Instant};

/// How long we wait for the final response to our BYE before forgetting the call
/// (64*T1 with the default T1, as Timer F would give).
const BYE_GUARD: Duration = Duration::from_secs(32);

impl Lent<'_> {
    pub(crate) fn on_call_timer(&mut self, now: Instant, handle: CallHandle, timer: CallTimer) {
        match timer {
            CallTimer::Answer => self.answer_now(now, handle),
            CallTimer::MaxDuration => self.hang_up(now, handle, EndReason::MaxDuration),
            CallTimer::Drain => self.hang_up(now, handle, EndReason::Shutdown),
            CallTimer::ByeGuard => {
                if matches!(
                    self.calls.get(&handle).map(|c| &c.state),
                    Some(CallState::Ending { .. })
                ) {
                    let reason = self.ending_reason(handle);
                    self.end_call(now, handle, reason);
                }
            }
            CallTimer::CancelGuard => {
                let leg = self.uac.legs.get(&handle).and_then(|l| l.cancelling);
                if let Some(reason) = leg {
                    self.end_pending(now, handle, reason);
                }
            }
        }
    }

    /// Ends a call from our side: BYE if answered, 480 if still ringing,
    /// CANCEL for an early outgoing leg.
    pub(crate) fn hang_up(&mut self, now: Instant, handle: CallHandle, reason: EndReason) {
        if self.uac.legs.contains_key(&handle) {
            return self.cancel_pending(now, handle, reason);
        }
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        match std::mem::replace(&mut call.state, CallState::Answered) {
            CallState::Ringing { invite_tx, invite } => {
                let tag = call.dialog.id.local_tag.clone();
                let resp = self.response(&invite, 480, None, Some(&tag));
                self.send_response(now, &invite_tx, resp);
                self.end_call(now, handle, reason);
            }
            CallState::Ending { bye_tx, reason } => {
                call.state = CallState::Ending { bye_tx, reason };
            }
            CallState::Answered | CallState::Confirmed => self.send_bye(now, handle, reason, None),
        }
    }

    /// Hangs up a leg whose 2xx carried an SDP answer we cannot use (ACKed
    /// already): its BYE says why in a `Reason: SIP;cause=488` header
    /// (RFC 3326), since a 2xx cannot be answered with a 488.
    pub(crate) fn hang_up_refused_answer(&mut self, now: Instant, handle: CallHandle, why: &str) {
        let text = why.replace(['"', '\\'], "'");
        let reason = format!("SIP;cause=488;text=\"{text}\"");
        if let Some(call) = self.calls.get_mut(&handle) {
            call.state = CallState::Answered;
        }
        self.send_bye(now, handle, EndReason::LegFailed, Some(&reason));
    }

    fn send_bye(&mut self, now: Instant, handle: CallHandle, reason: EndReason, why: Option<&str>) {
        let branch = Branch::new(format!("z9hG4bK{}", self.token()));
        let core = &mut *self.core;
        let Some(call) = core.calls.get_mut(&handle) else {
            return;
        };
        let peer = call.dialog.peer;
        let via = ViaSpec {
            transport: peer.transport.via_token(),
            sent_by: core.config.sent_by(&peer),
        };
        let mut bye = call.dialog.request(Method::Bye, &via, &branch);
        if let Some(why) = why {
            message::add_header(&mut bye, "Reason", why);
        }
        call.span
            .in_scope(|| tracing::info!(reason = reason.as_str(), "hanging up"));
        let group = call.group();
        self.events.push_back(CallEvent::MediaStop {
            call: handle,
            group,
        });
        match self.tl.send_request(now, peer, bye) {
            Ok(key) => {
                self.by_bye.insert(key.clone(), handle);
                if let Some(call) = self.calls.get_mut(&handle) {
                    call.state = CallState::Ending {
                        bye_tx: key,
                        reason,
                    };
                }
                self.timers
                    .arm(now + BYE_GUARD, (handle, CallTimer::ByeGuard));
            }
            Err(err) => {
                tracing::warn!(%err, "BYE could not be sent");
                self.end_call(now, handle, reason);
            }
        }
    }

    /// A response to one of our requests: our INVITE or OPTIONS (see
    /// [`super::uac`]), or our BYE, whose final response ends the call.
    pub(crate) fn on_response(&mut self, now: Instant, key: &TxKey, resp: &Response) {
        if self.on_uac_response(now, key, resp) || resp.status_code.code() < 200 {
            return;
        }
        if let Some(handle) = self.by_bye.remove(key) {
            let reason = self.ending_reason(handle);
            self.end_call(now, handle, reason);
        }
    }

    /// A transaction failed (timeout, transport error).
    pub(crate) fn on_tx_failed(&mut self, now: Instant, key: &TxKey) {
        if self.on_uac_failed(now, key) {
            return;
        }
        if let Some(handle) = self.by_bye.remove(key) {
            let reason = self.ending_reason(handle);
            return self.end_call(now, handle, reason);
        }
        // An INVITE server transaction whose 2xx was never ACKed (RFC 3261 §13.3.1.4).
        if let Some(handle) = self.by_invite.remove(key) {
            if matches!(
                self.calls.get(&handle).map(|c| &c.state),
                Some(CallState::Answered)
            ) {
                self.hang_up(now, handle, EndReason::NoAck);
            }
        }
    }

    fn ending_reason(&self, handle: CallHandle) -> EndReason {
        match self.calls.get(&handle).map(|c| &c.state) {
            Some(CallState::Ending { reason, .. }) => *reason,
            _ => EndReason::Shutdown,
        }
    }

    /// Forgets a call: port, dialog, media, and one `Ended` event.
    pub(crate) fn end_call(&mut self, now: Instant, handle: CallHandle, reason: EndReason) {
        let Some(call) = self.calls.remove(&handle) else {
            return;
        };
        self.by_dialog.remove(&(
            call.dialog.id.call_id.clone(),
            call.dialog.id.local_tag.clone(),
        ));
        self.ports.release(call.local_port);
        let duration = now.saturating_duration_since(call.started);
        if !matches!(call.state, CallState::Ending { .. }) {
            self.events.push_back(CallEvent::MediaStop {
                call: handle,
                group: call.group(),
            });
        }
        call.span.in_scope(|| {
            tracing::info!(
                reason = reason.as_str(),
                duration_s = duration.as_secs_f64(),
                "call ended"
            )
        });
        metrics::counter!(m::CALLS_ENDED, "reason" => reason.as_str()).increment(1);
        metrics::histogram!(m::CALL_DURATION).record(duration.as_secs_f64());
        self.events.push_back(CallEvent::Ended {
            call: handle,
            call_id: call.dialog.id.call_id,
            reason,
            duration,
        });
    }
}
