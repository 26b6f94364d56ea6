//! SCAIP's MESSAGE as the call core sees it: admitted like an INVITE (limits,
//! access list, trunk or digest with the MESSAGE method), its tenant by the
//! Request-URI number; and the MESSAGE the centre sends back with its
//! `<mrs>` (out of any dialog, from the same identity as our probes).

use super::CallCore;
use super::OriginateError;
use crate::labels::TenantId;
use crate::sip::message::{self, Method, Request};
use crate::sip::transaction::{TransactionLayer, TxKey};
use crate::sip::types::Peer;
use std::time::Instant;

/// How a MESSAGE was admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageAdmission {
    /// Refused; the answer (403, 401, 503) is sent.
    Refused,
    /// Admitted; the tenant of its Request-URI number, if one has it.
    Admitted(Option<TenantId>),
}

impl CallCore {
    /// Admits a MESSAGE out of a dialog as an INVITE would be admitted.
    pub fn admit_message(
        &mut self,
        tl: &mut TransactionLayer,
        now: Instant,
        key: &TxKey,
        peer: &Peer,
        req: &Request,
    ) -> MessageAdmission {
        let mut lent = self.lend(tl);
        if !lent.admit_source(now, key, peer, req) {
            return MessageAdmission::Refused;
        }
        let did = message::request_user(req).unwrap_or_default();
        MessageAdmission::Admitted(self.config.tenant_for(&did).map(|t| t.id.clone()))
    }

    /// A MESSAGE to `uri` through `peer` with `body` of `content_type`.
    pub fn message_request(
        &mut self,
        peer: &Peer,
        uri: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Request, OriginateError> {
        let mut req = self.out_of_dialog(Method::Message, uri, uri, "alarmgate", peer)?;
        message::set_body(&mut req, content_type, body);
        Ok(req)
    }
}
