//! Looking calls up from outside the core (the switchboard, the API).

use super::{CallCore, CallHandle};
use crate::sip::message;
use crate::sip::types::CallId;

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
        self.config.tenants = tenants;
        self.config.registrar = registrar;
    }
}
