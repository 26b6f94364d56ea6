//! What each outgoing leg is for, and what the call core's events mean for
//! the router and the other side of a bridge.

use super::{Device, Output, Switchboard};
use crate::call::{CallEvent, CallHandle, EndReason, LegFailure};
use crate::labels::{CallLabels, Caller, TenantId};
use crate::routing::{CallRef, OfferOutcome, OperatorId, RecallId, TargetId};
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Why we placed an outgoing leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegRole {
    /// Ringing an operator for a waiting device call.
    Offer {
        /// The device call.
        device: CallHandle,
        /// The operator.
        operator: OperatorId,
    },
    /// Forwarding a device call to an external target.
    Forward {
        /// The device call.
        device: CallHandle,
        /// The target.
        target: TargetId,
    },
    /// A recall's first leg: the operator.
    RecallOperator {
        /// The recall.
        recall: RecallId,
        /// The operator.
        operator: OperatorId,
    },
    /// A recall's second leg: the device, called through the trunk.
    RecallDevice {
        /// The recall.
        recall: RecallId,
        /// The operator's leg it is bridged to.
        operator_leg: CallHandle,
    },
}

/// One outgoing leg.
#[derive(Debug, Clone)]
pub(crate) struct Leg {
    pub role: LegRole,
    /// Its SIP Call-ID (the public id of a recall).
    pub call_id: Option<String>,
    /// The far end answered.
    pub answered: bool,
    /// We cancelled it: its end means nothing to the router.
    pub cancelled: bool,
}

/// A recall in progress.
#[derive(Debug, Clone)]
pub(crate) struct Recall {
    pub number: Caller,
    pub tenant: TenantId,
    pub operator_leg: Option<CallHandle>,
    pub device_leg: Option<CallHandle>,
    /// The unit answered (its talk time started).
    pub connected: bool,
}

/// Calls that ended recently, so a disposition set after the hang-up
/// still finds its call, and who answered each call, so that an operator's
/// session classifies only calls it took (bounded: the oldest are forgotten
/// first).
#[derive(Debug, Default)]
pub(crate) struct Recent {
    order: VecDeque<String>,
    tenants: HashMap<String, TenantId>,
    taken_order: VecDeque<String>,
    taken: HashMap<String, Vec<OperatorId>>,
}

/// Ended calls remembered for dispositions.
const RECENT_MAX: usize = 10_000;

impl Recent {
    pub fn remember(&mut self, call_id: &str, tenant: &TenantId) {
        if self
            .tenants
            .insert(call_id.into(), tenant.clone())
            .is_none()
        {
            self.order.push_back(call_id.into());
        }
        while self.order.len() > RECENT_MAX {
            if let Some(old) = self.order.pop_front() {
                self.tenants.remove(&old);
            }
        }
    }

    pub fn tenant(&self, call_id: &str) -> Option<&TenantId> {
        self.tenants.get(call_id)
    }

    /// `operator` answered the call `call_id` (a requeued call may be
    /// answered by several).
    pub fn took(&mut self, call_id: &str, operator: &OperatorId) {
        let list = self.taken.entry(call_id.into()).or_default();
        if list.is_empty() {
            self.taken_order.push_back(call_id.into());
        }
        if !list.contains(operator) {
            list.push(operator.clone());
        }
        while self.taken_order.len() > RECENT_MAX {
            if let Some(old) = self.taken_order.pop_front() {
                self.taken.remove(&old);
            }
        }
    }

    /// True when `operator` answered the call `call_id`.
    pub fn taken_by(&self, call_id: &str, operator: &OperatorId) -> bool {
        self.taken
            .get(call_id)
            .is_some_and(|list| list.contains(operator))
    }
}

/// The router's outcome for a leg that was not answered.
fn outcome(failure: LegFailure) -> OfferOutcome {
    match failure {
        LegFailure::Busy => OfferOutcome::Busy,
        LegFailure::Declined | LegFailure::Rejected(_) => OfferOutcome::Declined,
        LegFailure::Unreachable => OfferOutcome::Unreachable,
    }
}

/// The far end hung up on purpose (or the node is stopping): the other side
/// of the bridge ends too. Any other end of an answered leg (its media could
/// not open, our 200's ACK never came) is a failure of the leg, not the end
/// of the conversation.
fn hung_up_by_person(reason: EndReason) -> bool {
    matches!(
        reason,
        EndReason::RemoteBye | EndReason::Shutdown | EndReason::MaxDuration
    )
}

impl Switchboard {
    /// The operator's leg failed after the answer: the citizen is not
    /// dropped, the call goes back to its queue (its original class).
    fn requeue(&mut self, now: Instant, device: CallHandle, reason: EndReason) {
        let Some(d) = self.devices.get_mut(&device) else {
            return;
        };
        let Some((class, code)) = d.request.clone() else {
            return;
        };
        tracing::warn!(call_id = %d.labels.call_id, reason = reason.as_str(), "the operator's leg failed: the call goes back to the queue");
        self.queue(now, device, class, code);
    }

    pub(crate) fn on_call_event(&mut self, now: Instant, event: CallEvent) {
        // Media and end events go out first, so that a bridge follows the
        // leg's MediaStart and a hang-up follows the end that caused it.
        // An unanswered leg's end is not passed on: it never had media, and
        // the journal would take it for a device call that was not answered.
        let unanswered_leg = matches!(&event, CallEvent::Ended { call, .. }
            if self.legs.get(call).is_some_and(|l| !l.answered));
        if !unanswered_leg
            && !matches!(
                event,
                CallEvent::LegRinging { .. }
                    | CallEvent::LegAnswered { .. }
                    | CallEvent::LegFailed { .. }
            )
        {
            self.out.push_back(Output::Call(event.clone()));
        }
        match &event {
            CallEvent::MediaStart { .. } => self.on_media_start(now, &event),
            CallEvent::LegRinging { leg } => {
                self.record_ring_delay(now, *leg);
                self.on_leg_outcome(now, *leg, OfferOutcome::Ringing)
            }
            CallEvent::LegAnswered { leg } => self.on_leg_answered(now, *leg),
            CallEvent::LegFailed {
                leg, outcome: f, ..
            } => self.on_leg_failed(now, *leg, *f),
            CallEvent::Ended {
                call,
                call_id,
                reason,
                ..
            } => self.on_ended(now, *call, call_id.as_str(), *reason),
            CallEvent::MediaUpdate { .. }
            | CallEvent::MediaStop { .. }
            | CallEvent::InfoDigit { .. } => {}
        }
    }

    /// From entering the queue to the first phone ringing for the call
    /// (for an alarm, the queue is entered right after the kissoff).
    fn record_ring_delay(&mut self, now: Instant, leg: CallHandle) {
        let Some(LegRole::Offer { device, .. }) = self.legs.get(&leg).map(|l| &l.role) else {
            return;
        };
        let queued = self
            .devices
            .get_mut(device)
            .and_then(|d| d.queued_at.take());
        if let Some(at) = queued {
            metrics::histogram!(crate::telemetry::metrics::QUEUE_TO_RING_SECONDS)
                .record(now.saturating_duration_since(at).as_secs_f64());
        }
    }

    /// A device call's media opened: remember it. A leg's media opened:
    /// bridge it (or, for a recall's operator leg, call the device now).
    fn on_media_start(&mut self, now: Instant, event: &CallEvent) {
        let CallEvent::MediaStart {
            call,
            group,
            call_id,
            tenant,
            caller,
            media,
            ..
        } = event
        else {
            return;
        };
        let Some(leg) = self.legs.get(call).cloned() else {
            let device = Device {
                labels: CallLabels::new(call_id.clone(), tenant.clone(), caller.clone()),
                leg: None,
                routed: false,
                queued_at: None,
                request: None,
                unconfirmed: None,
                served: false,
                alarm: None,
                codec: Some(media.codec),
            };
            let id = device.labels.call_id.as_str().to_owned();
            self.device_ids.insert(id, *call);
            self.devices.insert(*call, device);
            return self.link_scaip(now, *call);
        };
        match leg.role {
            LegRole::Offer { device, .. } | LegRole::Forward { device, .. } => {
                self.bridge(*group, device, *call)
            }
            LegRole::RecallOperator { recall, .. } => self.recall_device(now, recall, *call),
            LegRole::RecallDevice {
                recall,
                operator_leg,
            } => {
                self.recall_connected(recall);
                self.bridge(*group, *call, operator_leg)
            }
        }
    }

    fn bridge(&mut self, group: CallHandle, a: CallHandle, b: CallHandle) {
        self.out.push_back(Output::Bridge { group, a, b });
    }

    fn on_leg_outcome(&mut self, now: Instant, leg: CallHandle, outcome: OfferOutcome) {
        let Some(l) = self.legs.get(&leg).filter(|l| !l.cancelled) else {
            return;
        };
        let (call, operator) = match &l.role {
            LegRole::Offer { device, operator } => (CallRef::Device(*device), operator.clone()),
            LegRole::RecallOperator { recall, operator } => {
                (CallRef::Recall(*recall), operator.clone())
            }
            _ => return,
        };
        let Some(router) = self.router.as_mut() else {
            return;
        };
        if let Err(err) = router.offer_result(now, call, &operator, outcome) {
            tracing::debug!(%err, "stale offer outcome: hanging up the leg");
            self.cancel(now, leg);
        }
    }

    fn on_leg_answered(&mut self, now: Instant, leg: CallHandle) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        l.answered = true;
        if l.cancelled {
            return self.core.cancel_leg(self.endpoint.transactions(), now, leg);
        }
        if let LegRole::Offer { device, .. } | LegRole::Forward { device, .. } = &l.role {
            if let Some(d) = self.devices.get_mut(device) {
                d.served = true;
            }
        }
        match l.role.clone() {
            LegRole::Forward { device, target } => {
                if let Some(router) = self.router.as_mut() {
                    let _ = router.forward_result(now, CallRef::Device(device), &target, true);
                }
            }
            LegRole::RecallDevice { .. } => {}
            _ => self.on_leg_outcome(now, leg, OfferOutcome::Answered),
        }
    }

    fn on_leg_failed(&mut self, now: Instant, leg: CallHandle, failure: LegFailure) {
        let Some(l) = self.legs.get(&leg).filter(|l| !l.cancelled).cloned() else {
            return;
        };
        match l.role {
            LegRole::Forward { device, target } => {
                if let Some(router) = self.router.as_mut() {
                    let _ = router.forward_result(now, CallRef::Device(device), &target, false);
                }
            }
            LegRole::RecallDevice { operator_leg, .. } => self.core.hang_up_call(
                self.endpoint.transactions(),
                now,
                operator_leg,
                EndReason::BridgePeerHungUp,
            ),
            _ => self.on_leg_outcome(now, leg, outcome(failure)),
        }
    }

    /// Cancels (or hangs up) one of our legs; its end is then ignored.
    pub(crate) fn cancel(&mut self, now: Instant, leg: CallHandle) {
        if let Some(l) = self.legs.get_mut(&leg) {
            l.cancelled = true;
        }
        self.core.cancel_leg(self.endpoint.transactions(), now, leg);
    }

    fn on_ended(&mut self, now: Instant, call: CallHandle, call_id: &str, reason: EndReason) {
        if let Some(device) = self.devices.remove(&call) {
            let id = device.labels.call_id.as_str();
            if self.device_ids.get(id) == Some(&call) {
                self.device_ids.remove(id);
            }
            return self.device_ended(now, call, device);
        }
        let Some(leg) = self.legs.remove(&call) else {
            return;
        };
        self.leg_ended(now, call, leg, call_id, reason);
    }

    fn device_ended(&mut self, now: Instant, call: CallHandle, device: Device) {
        (self.recent).remember(device.labels.call_id.as_str(), &device.labels.tenant);
        self.unconfirmed_ended(now, &device);
        if let Some(leg) = device.leg {
            self.cancel(now, leg);
        }
        if device.routed {
            if let Some(router) = self.router.as_mut() {
                router.call_gone(now, CallRef::Device(call));
            }
        }
    }

    fn leg_ended(
        &mut self,
        now: Instant,
        handle: CallHandle,
        leg: Leg,
        call_id: &str,
        reason: EndReason,
    ) {
        let forward = matches!(leg.role, LegRole::Forward { .. });
        match leg.role {
            LegRole::Offer { device, .. } | LegRole::Forward { device, .. } => {
                if let Some(d) = self.devices.get_mut(&device) {
                    if d.leg == Some(handle) {
                        d.leg = None;
                    }
                }
                if leg.answered && !leg.cancelled {
                    // An answered forward stays in the router (forwarded,
                    // done) until it is gone: requeueing needs it gone.
                    if let Some(router) = self.router.as_mut() {
                        if forward {
                            router.call_gone(now, CallRef::Device(device));
                        } else {
                            router.connected_ended(now, CallRef::Device(device));
                        }
                    }
                    if hung_up_by_person(reason) {
                        self.core.hang_up_call(
                            self.endpoint.transactions(),
                            now,
                            device,
                            EndReason::BridgePeerHungUp,
                        );
                    } else {
                        self.requeue(now, device, reason);
                    }
                }
            }
            LegRole::RecallOperator { recall, .. } | LegRole::RecallDevice { recall, .. } => {
                self.recall_leg_ended(now, recall, handle, call_id)
            }
        }
    }
}
