//! What the switchboard needs from the dialplan beyond the cores' own
//! settings: where targets and trunks are, what to offer, operators' names.
//! Built by the runtime (which resolves host names), never from TOML here.

use crate::labels::TenantId;
use crate::routing::{CallClass, OperatorId, TargetId};
use crate::sip::sdp::Codec;
use crate::sip::types::Peer;
use std::collections::HashMap;

/// Where an outgoing INVITE goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// For a target, its SIP URI; for a trunk, `host[:port]` to put after
    /// the number (`sip:<number>@<uri>`).
    pub uri: String,
    /// The next hop: the trunk's proxy or the target itself.
    pub peer: Peer,
}

/// See the module documentation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SwitchboardConfig {
    /// External targets (partner centres, night staff) by name.
    pub targets: HashMap<TargetId, Route>,
    /// Per tenant: the trunk recalls go out through.
    pub recall_trunks: HashMap<TenantId, Route>,
    /// Per tenant: the codecs to offer on outgoing legs, in order.
    pub codecs: HashMap<TenantId, Vec<Codec>>,
    /// Operators' display names, for the API.
    pub operator_names: HashMap<OperatorId, String>,
    /// Per tenant: the number a recall presents to the unit (the tenant's
    /// first DID: the number the unit itself calls, so it recognises the centre).
    pub presented_number: HashMap<TenantId, String>,
    /// Per tenant: the class of a call with no decodable alarm (a voice-only
    /// unit, a citizen calling the number); voice when absent.
    pub default_class: HashMap<TenantId, CallClass>,
    /// SCAIP: served or not, link window, per-tenant answers, known units.
    pub scaip: super::scaip::ScaipSettings,
}

impl SwitchboardConfig {
    /// The codecs offered on a leg for `tenant` (A-law then µ-law by default).
    pub fn codecs_for(&self, tenant: &TenantId) -> Vec<Codec> {
        self.codecs
            .get(tenant)
            .filter(|c| !c.is_empty())
            .cloned()
            .unwrap_or_else(|| vec![Codec::Pcma, Codec::Pcmu])
    }

    /// The Request-URI of a recall to `number` through `route`.
    pub fn recall_uri(route: &Route, number: &str) -> String {
        format!("sip:{number}@{}", route.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_default_to_alaw_then_ulaw() {
        let config = SwitchboardConfig::default();
        assert_eq!(
            config.codecs_for(&"x".into()),
            vec![Codec::Pcma, Codec::Pcmu]
        );
    }

    #[test]
    fn a_recall_puts_the_number_at_the_trunk() {
        let route = Route {
            uri: "192.0.2.1:5060".into(),
            peer: Peer::udp(([192, 0, 2, 1], 5060).into()),
        };
        assert_eq!(
            SwitchboardConfig::recall_uri(&route, "4512345678"),
            "sip:4512345678@192.0.2.1:5060"
        );
    }
}
