//! The router's actions as outgoing legs, its events as journal records,
//! and recalls (operator first, then the device through the trunk).

use super::legs::{Leg, LegRole, Recall};
use super::recall_events::RecallEnd;
use super::{EventRecord, Output, Switchboard, SwitchboardConfig};
use crate::call::{CallHandle, EndReason, Originate};
use crate::labels::{Caller, TenantId};
use crate::routing::{
    CallRef, OfferOutcome, OperatorId, RecallId, RoutingAction, RoutingEvent, TargetId,
};
use serde_json::Value;
use std::time::Instant;

impl Switchboard {
    pub(crate) fn on_action(&mut self, now: Instant, action: RoutingAction) {
        match action {
            RoutingAction::Offer { call, operator } => self.offer(now, call, operator),
            RoutingAction::Forward { call, target } => self.forward(now, call, target),
            RoutingAction::CancelOffer { call, .. } | RoutingAction::CancelForward { call, .. } => {
                self.cancel_ringing(now, call)
            }
            RoutingAction::Release { call } => self.release_recall(now, call),
        }
    }

    /// Rings the operator's newest live contact; no contact is an
    /// unreachable phone, and the router moves on.
    fn offer(&mut self, now: Instant, call: CallRef, operator: OperatorId) {
        let contact = self
            .registrar
            .as_ref()
            .and_then(|r| r.contacts(&operator).into_iter().next());
        let Some(binding) = contact else {
            return self.offer_failed(now, call, &operator);
        };
        let mut first = None;
        let (parent, tenant, from_user, role) = match call {
            CallRef::Recall(id) => {
                let Some(recall) = self.recalls.get(&id) else {
                    return self.offer_failed(now, call, &operator);
                };
                let role = LegRole::RecallOperator {
                    recall: id,
                    operator: operator.clone(),
                };
                let number = recall.number.to_string();
                (None, recall.tenant.clone(), number, role)
            }
            CallRef::Device(device) => {
                let Some(d) = self.devices.get(&device) else {
                    return self.offer_failed(now, call, &operator);
                };
                let role = LegRole::Offer {
                    device,
                    operator: operator.clone(),
                };
                let caller = d.labels.caller.to_string();
                first = d.codec;
                (Some(device), d.labels.tenant.clone(), caller, role)
            }
        };
        let request = Originate {
            parent,
            request_uri: binding.contact.clone(),
            to: binding.contact,
            from_user,
            peer: binding.peer,
            codecs: unit_law_first(self.config.codecs_for(&tenant), first),
            tenant,
        };
        match self.start_leg(now, request, role) {
            Some(leg) => self.attach(call, leg),
            // Our side failed (no free RTP port, draining): the phone is
            // fine, so the operator is not marked unreachable; the call goes
            // to the next operator as if this one had declined.
            None => self.offer_outcome(now, call, &operator, OfferOutcome::Declined),
        }
    }

    /// No live contact: the phone is unreachable.
    fn offer_failed(&mut self, now: Instant, call: CallRef, operator: &OperatorId) {
        self.offer_outcome(now, call, operator, OfferOutcome::Unreachable);
    }

    fn offer_outcome(
        &mut self,
        now: Instant,
        call: CallRef,
        op: &OperatorId,
        outcome: OfferOutcome,
    ) {
        if let Some(router) = self.router.as_mut() {
            let _ = router.offer_result(now, call, op, outcome);
        }
    }

    fn forward(&mut self, now: Instant, call: CallRef, target: TargetId) {
        let device = match call {
            CallRef::Device(device) => Some(device),
            CallRef::Recall(_) => None,
        };
        let d = device.and_then(|device| self.devices.get(&device).map(|d| (device, d)));
        let (Some(route), Some((device, d))) = (self.config.targets.get(&target).cloned(), d)
        else {
            tracing::warn!(%target, "forward impossible: no route or no call");
            return self.forward_failed(now, call, &target);
        };
        let request = Originate {
            parent: Some(device),
            request_uri: route.uri.clone(),
            to: route.uri,
            from_user: d.labels.caller.to_string(),
            peer: route.peer,
            codecs: self.config.codecs_for(&d.labels.tenant),
            tenant: d.labels.tenant.clone(),
        };
        let role = LegRole::Forward {
            device,
            target: target.clone(),
        };
        match self.start_leg(now, request, role) {
            Some(leg) => self.attach(call, leg),
            None => self.forward_failed(now, call, &target),
        }
    }

    fn forward_failed(&mut self, now: Instant, call: CallRef, target: &TargetId) {
        if let Some(router) = self.router.as_mut() {
            let _ = router.forward_result(now, call, target, false);
        }
    }

    fn start_leg(&mut self, now: Instant, request: Originate, role: LegRole) -> Option<CallHandle> {
        match self
            .core
            .originate(self.endpoint.transactions(), now, request)
        {
            Ok(leg) => {
                let state = Leg {
                    role,
                    call_id: self.core.call_id_of(leg).map(|c| c.to_string()),
                    answered: false,
                    cancelled: false,
                };
                self.legs.insert(leg, state);
                Some(leg)
            }
            Err(err) => {
                tracing::warn!(%err, "outgoing leg not started");
                None
            }
        }
    }

    /// Remembers which leg serves a device call or a recall.
    fn attach(&mut self, call: CallRef, leg: CallHandle) {
        match call {
            CallRef::Recall(id) => {
                if let Some(recall) = self.recalls.get_mut(&id) {
                    recall.operator_leg = Some(leg);
                }
            }
            CallRef::Device(device) => {
                if let Some(d) = self.devices.get_mut(&device) {
                    d.leg = Some(leg);
                }
            }
        }
    }

    fn cancel_ringing(&mut self, now: Instant, call: CallRef) {
        let leg = match call {
            CallRef::Recall(id) => self.recalls.get(&id).and_then(|r| r.operator_leg),
            CallRef::Device(device) => self.devices.get_mut(&device).and_then(|d| d.leg.take()),
        };
        if let Some(leg) = leg {
            self.cancel(now, leg);
        }
    }

    /// Starts a recall: the router rings `operator` directly.
    pub(crate) fn start_recall(
        &mut self,
        now: Instant,
        operator: OperatorId,
        number: Caller,
        tenant: TenantId,
    ) -> Result<RecallId, crate::routing::RoutingError> {
        let recall = RecallId(self.next_recall);
        self.next_recall += 1;
        let entry = Recall {
            number,
            tenant,
            operator_leg: None,
            device_leg: None,
            connected: false,
        };
        self.recalls.insert(recall, entry);
        let result = match self.router.as_mut() {
            Some(router) => router.direct_offer(now, CallRef::Recall(recall), &operator),
            None => Err(crate::routing::RoutingError::UnknownOperator { operator }),
        };
        if result.is_err() {
            self.recalls.remove(&recall);
        }
        self.pump(now);
        result.map(|()| recall)
    }

    /// The operator answered a recall: call the device through the trunk.
    pub(crate) fn recall_device(
        &mut self,
        now: Instant,
        recall: RecallId,
        operator_leg: CallHandle,
    ) {
        let Some(r) = self.recalls.get(&recall).cloned() else {
            return;
        };
        let Some(route) = self.config.recall_trunks.get(&r.tenant).cloned() else {
            tracing::warn!(tenant = %r.tenant, "recall: the tenant has no trunk to call out on");
            return self.core.hang_up_call(
                self.endpoint.transactions(),
                now,
                operator_leg,
                EndReason::LegFailed,
            );
        };
        let uri = SwitchboardConfig::recall_uri(&route, r.number.as_str());
        let request = Originate {
            parent: Some(operator_leg),
            request_uri: uri.clone(),
            to: uri,
            from_user: self
                .config
                .presented_number
                .get(&r.tenant)
                .cloned()
                .unwrap_or_else(|| r.tenant.to_string()),
            peer: route.peer,
            codecs: self.config.codecs_for(&r.tenant),
            tenant: r.tenant.clone(),
        };
        let role = LegRole::RecallDevice {
            recall,
            operator_leg,
        };
        match self.start_leg(now, request, role) {
            Some(leg) => {
                if let Some(r) = self.recalls.get_mut(&recall) {
                    r.device_leg = Some(leg);
                }
            }
            None => self.core.hang_up_call(
                self.endpoint.transactions(),
                now,
                operator_leg,
                EndReason::LegFailed,
            ),
        }
    }

    /// One leg of a recall ended: end the other, free the operator.
    pub(crate) fn recall_leg_ended(
        &mut self,
        now: Instant,
        recall: RecallId,
        leg: CallHandle,
        call_id: &str,
    ) {
        let public = self.public_id(CallRef::Recall(recall));
        let Some(r) = self.recalls.remove(&recall) else {
            return;
        };
        // A disposition names the recall by its operator leg's Call-ID.
        let (id, end) = if r.operator_leg == Some(leg) {
            (call_id.to_string(), RecallEnd::OperatorLeg)
        } else {
            (public, RecallEnd::UnitLeg)
        };
        self.recent.remember(&id, &r.tenant);
        self.recall_ended(recall, id, &r, end);
        for other in [r.operator_leg, r.device_leg].into_iter().flatten() {
            if self.legs.contains_key(&other) {
                self.cancel(now, other);
            }
        }
        if let Some(router) = self.router.as_mut() {
            router.call_gone(now, CallRef::Recall(recall));
        }
    }

    fn release_recall(&mut self, now: Instant, call: CallRef) {
        let CallRef::Recall(id) = call else {
            return;
        };
        let public = self.public_id(call);
        if let Some(r) = self.recalls.remove(&id) {
            self.recall_ended(id, public, &r, RecallEnd::Released);
            for leg in [r.operator_leg, r.device_leg].into_iter().flatten() {
                self.cancel(now, leg);
            }
        }
    }

    /// A routing event as a journal record about the call's SIP Call-ID.
    pub(crate) fn on_routing_event(&mut self, event: RoutingEvent) {
        let kind = event.event_type();
        metrics::counter!(crate::telemetry::metrics::ROUTING_EVENTS, "type" => crate::bus::emit::short(kind))
            .increment(1);
        let mut data = event.data();
        let (subject, tenant) = match &event {
            RoutingEvent::OperatorState(e) => (e.operator.to_string(), None),
            RoutingEvent::Queued(e) => self.call_names(e.call),
            RoutingEvent::Offered(e) | RoutingEvent::Answered(e) => self.call_names(e.call),
            RoutingEvent::Overflowed(e) => self.call_names(e.call),
        };
        if let (Some(tenant), Value::Object(map)) = (tenant, &mut data) {
            map.insert("tenant".into(), Value::from(tenant.as_str()));
        }
        if let RoutingEvent::Answered(e) = &event {
            self.recent.took(&subject, &e.operator);
        }
        // A recall's number, for its call record (the router does not know it).
        if let (Some(number), Value::Object(map)) = (self.recall_number(&event), &mut data) {
            map.insert("calling_number".into(), Value::from(number));
        }
        self.out.push_back(Output::Event(EventRecord {
            kind,
            subject,
            data,
        }));
    }

    /// The number a recall calls, when `event` is about a recall.
    fn recall_number(&self, event: &RoutingEvent) -> Option<String> {
        let call = match event {
            RoutingEvent::Queued(e) => e.call,
            RoutingEvent::Offered(e) | RoutingEvent::Answered(e) => e.call,
            RoutingEvent::Overflowed(e) => e.call,
            RoutingEvent::OperatorState(_) => return None,
        };
        match call {
            CallRef::Recall(id) => self.recalls.get(&id).map(|r| r.number.to_string()),
            CallRef::Device(_) => None,
        }
    }

    /// The public id and tenant of a routed call or recall.
    fn call_names(&self, call: CallRef) -> (String, Option<TenantId>) {
        let (device, recall) = match call {
            CallRef::Device(device) => (self.devices.get(&device), None),
            CallRef::Recall(id) => (None, self.recalls.get(&id)),
        };
        if let Some(d) = device {
            return (d.labels.call_id.to_string(), Some(d.labels.tenant.clone()));
        }
        if let Some(r) = recall {
            let id = r
                .operator_leg
                .and_then(|l| self.legs.get(&l))
                .and_then(|l| l.call_id.clone());
            return (
                id.unwrap_or_else(|| call.to_string()),
                Some(r.tenant.clone()),
            );
        }
        (call.to_string(), None)
    }
}

/// The tenant's codecs with the unit's law first (when the tenant allows
/// it): an operator phone or browser that takes it gets the unit's audio in
/// its own law, G.711 decode and encode being exact.
fn unit_law_first(
    mut codecs: Vec<crate::sip::sdp::Codec>,
    unit: Option<crate::sip::sdp::Codec>,
) -> Vec<crate::sip::sdp::Codec> {
    if let Some(i) = unit.and_then(|u| codecs.iter().position(|c| *c == u)) {
        let law = codecs.remove(i);
        codecs.insert(0, law);
    }
    codecs
}

#[cfg(test)]
mod codec_order_tests {
    use super::unit_law_first;
    use crate::sip::sdp::Codec::{Pcma, Pcmu};

    #[test]
    fn the_units_law_goes_first_when_the_tenant_allows_it() {
        assert_eq!(unit_law_first(vec![Pcma, Pcmu], Some(Pcmu)), [Pcmu, Pcma]);
        assert_eq!(unit_law_first(vec![Pcma, Pcmu], Some(Pcma)), [Pcma, Pcmu]);
        assert_eq!(
            unit_law_first(vec![Pcma], Some(Pcmu)),
            [Pcma],
            "not allowed"
        );
        assert_eq!(unit_law_first(vec![Pcma, Pcmu], None), [Pcma, Pcmu]);
    }
}
