//! Looking calls up from outside the core (the switchboard, the API), and
//! the call table itself: calls by handle, with the counts the admission
//! check and the gauges need kept on insert and remove, so no per-call
//! operation scans every call.

use super::{Call, CallCore, CallHandle};
use crate::sip::message;
use crate::sip::types::CallId;
use std::collections::HashMap;

/// The core's calls (incoming calls and answered outgoing legs) by handle.
/// A call's `leg` is set when it is inserted and never changes, so the
/// split between incoming calls and legs is counted at the door.
#[derive(Debug, Default)]
pub struct CallTable {
    calls: HashMap<CallHandle, Call>,
    incoming: usize,
}

impl CallTable {
    /// Adds (or replaces) a call.
    pub fn insert(&mut self, handle: CallHandle, call: Call) -> Option<Call> {
        self.incoming += usize::from(call.leg.is_none());
        let old = self.calls.insert(handle, call);
        self.uncount(old.as_ref());
        old
    }

    /// Removes a call.
    pub fn remove(&mut self, handle: &CallHandle) -> Option<Call> {
        let old = self.calls.remove(handle);
        self.uncount(old.as_ref());
        old
    }

    fn uncount(&mut self, gone: Option<&Call>) {
        if gone.is_some_and(|c| c.leg.is_none()) {
            self.incoming -= 1;
        }
    }

    /// The call with this handle.
    pub fn get(&self, handle: &CallHandle) -> Option<&Call> {
        self.calls.get(handle)
    }

    /// The call with this handle, to change its state (not its `leg`).
    pub fn get_mut(&mut self, handle: &CallHandle) -> Option<&mut Call> {
        self.calls.get_mut(handle)
    }

    /// Every call, in no order (tests only: a scan).
    #[cfg(test)]
    pub(crate) fn values(&self) -> impl Iterator<Item = &Call> {
        self.calls.values()
    }

    /// Every handle (drain only: a whole-node operation).
    pub fn keys(&self) -> impl Iterator<Item = &CallHandle> {
        self.calls.keys()
    }

    /// Calls alive.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// No call alive.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Incoming calls alive (what the concurrency limit counts), O(1).
    pub fn incoming(&self) -> usize {
        self.incoming
    }

    /// Answered outgoing legs alive, O(1).
    pub fn answered_legs(&self) -> usize {
        self.calls.len() - self.incoming
    }
}

impl CallCore {
    /// The SIP Call-ID of a call or of an outgoing leg, answered or not.
    pub fn call_id_of(&self, call: CallHandle) -> Option<CallId> {
        if let Some(c) = self.calls.get(&call) {
            return Some(c.call_id().clone());
        }
        let pending = self.uac.legs.get(&call)?;
        message::call_id(pending.invite.as_ref()).ok()
    }
}

impl CallCore {
    /// A reloaded dialplan: tenants (DIDs, codecs) for new calls, and
    /// whether REGISTER goes to the registrar. Calls in progress keep what
    /// they were set up with.
    pub fn set_routing(&mut self, tenants: Vec<super::TenantPolicy>, registrar: bool) {
        self.config.tenants = tenants.into();
        self.config.registrar = registrar;
    }
}
