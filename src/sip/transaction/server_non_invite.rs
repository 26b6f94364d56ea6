//! Non-INVITE server transactions (RFC 3261 §17.2.2) and CANCEL (§9.2).
//!
//! Trying --1xx--> Proceeding --final--> Completed (Timer J absorbs request
//! retransmissions, 64*T1 over UDP, zero over streams) --> Terminated.
//! A CANCEL is its own non-INVITE transaction, answered here: 200 when the
//! INVITE exists (and [`TxEvent::Cancelled`] while it is in Proceeding), 481 when not.

use super::layer::local_tag;
use super::*;
use crate::sip::message::{response_to, rsip::Method, serialize_response, set_to_tag};

impl TransactionLayer {
    /// A CANCEL that is not a retransmission.
    pub(super) fn on_cancel(&mut self, now: Instant, peer: Peer, cancel: Request, key: TxKey) {
        let invite_key = key.with_method(Method::Invite);
        let invite = self.by_key.get(&invite_key).and_then(|id| self.txs.get(id));
        let (code, to_tag, cancels) = match invite {
            Some(tx) => (200, tx.to_tag.clone(), tx.state == TxState::Proceeding),
            None => (481, None, false),
        };
        let to_tag = to_tag.unwrap_or_else(|| local_tag(key.branch.as_str()));
        if cancels {
            // The TU's 487 reuses this tag (server_invite_respond fills it in).
            let invite_id = self.by_key.get(&invite_key).copied();
            if let Some(tx) = invite_id.and_then(|id| self.txs.get_mut(&id)) {
                tx.to_tag = Some(to_tag.clone());
            }
        }
        let mut resp = response_to(&cancel, code, None);
        set_to_tag(&mut resp, &to_tag);
        self.create_server(peer, &cancel, key.clone(), None);
        let _ = self.respond(now, &key, resp);
        if cancels {
            self.events.push_back(TxEvent::Cancelled {
                invite: invite_key,
                request: cancel,
            });
        }
    }

    /// The TU's response on a non-INVITE server transaction.
    pub(super) fn server_non_invite_respond(
        &mut self,
        now: Instant,
        id: TxId,
        response: Response,
    ) -> Result<(), TxError> {
        let code = response.status_code.code();
        let Some(tx) = self.txs.get_mut(&id) else {
            return Err(self.invalid(id, "respond"));
        };
        if !matches!(tx.state, TxState::Trying | TxState::Proceeding) {
            return Err(self.invalid(id, "respond after the final response"));
        }
        let data = serialize_response(&response);
        tx.last = Some(data.clone());
        tx.state = if code < 200 {
            TxState::Proceeding
        } else {
            TxState::Completed
        };
        self.send_to_peer(id, data);
        if code >= 200 {
            let after = if self.is_reliable(id) {
                Duration::ZERO
            } else {
                self.config.timeout()
            };
            self.arm(id, Timer::J, now, after);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::sip::message::{parse, to_tag};

    fn options() -> Request {
        request("OPTIONS", "z9hG4bK-opt1", "OPTIONS", "")
    }

    #[test]
    fn trying_absorbs_then_the_final_is_resent_and_timer_j_ends_at_64_t1() {
        let mut layer = TransactionLayer::default();
        layer.handle_request(t0(), udp(), options());
        let key = request_key(&events(&mut layer));
        assert!(lines(&mut layer).is_empty(), "no 100 for non-INVITE");
        layer.handle_request(t0() + ms(500), udp(), options());
        assert!(lines(&mut layer).is_empty() && events(&mut layer).is_empty());
        layer
            .respond(t0() + ms(600), &key, reply(&options(), 200))
            .unwrap();
        layer.handle_request(t0() + ms(1000), udp(), options());
        assert_eq!(lines(&mut layer), vec!["SIP/2.0 200 OK"; 2]);
        assert!(layer.respond(t0(), &key, reply(&options(), 500)).is_err());
        let (_, evs) = run(&mut layer, Duration::from_secs(40));
        assert_eq!(evs, vec![(ms(32600), TxEvent::Terminated { key })]);
    }

    #[test]
    fn over_tcp_timer_j_is_zero() {
        let mut layer = TransactionLayer::default();
        layer.handle_request(t0(), tcp(), options());
        let key = request_key(&events(&mut layer));
        layer.respond(t0(), &key, reply(&options(), 200)).unwrap();
        assert_eq!(transmits(&mut layer)[0].peer, tcp(), "same connection");
        assert_eq!(events(&mut layer), vec![TxEvent::Terminated { key }]);
        assert_eq!(layer.counts(), TxCounts::default());
    }

    #[test]
    fn cancel_before_the_final_gets_200_and_the_tu_answers_487_with_the_same_tag() {
        let mut layer = TransactionLayer::default();
        let inv = invite("z9hG4bK-c1");
        layer.handle_request(t0(), udp(), inv.clone());
        let key = request_key(&events(&mut layer));
        lines(&mut layer);
        let cancel = request("CANCEL", "z9hG4bK-c1", "CANCEL", "");
        layer.handle_request(t0() + ms(100), udp(), cancel.clone());
        let sent = transmits(&mut layer);
        assert_eq!(first_line(&sent[0]), "SIP/2.0 200 OK");
        let ok_tag = to_tag(&parse(&sent[0].data).unwrap());
        let evs = events(&mut layer);
        assert_eq!(
            evs[0],
            TxEvent::Cancelled {
                invite: key.clone(),
                request: cancel.clone()
            }
        );
        layer
            .respond(t0() + ms(110), &key, response_to(&inv, 487, None))
            .unwrap();
        let sent = transmits(&mut layer);
        assert_eq!(first_line(&sent[0]), "SIP/2.0 487 Request Terminated");
        assert_eq!(to_tag(&parse(&sent[0].data).unwrap()), ok_tag);
        layer.handle_request(t0() + ms(150), udp(), cancel);
        assert_eq!(
            lines(&mut layer),
            vec!["SIP/2.0 200 OK"],
            "CANCEL retransmission"
        );
        let ack = request("ACK", "z9hG4bK-c1", "ACK", ok_tag.unwrap().as_str());
        layer.handle_request(t0() + ms(200), udp(), ack);
        assert!(events(&mut layer).is_empty());
        assert_eq!(layer.state(&key), Some(TxState::Confirmed));
    }

    #[test]
    fn cancel_after_the_final_gets_200_without_event() {
        let mut layer = TransactionLayer::default();
        let inv = invite("z9hG4bK-c2");
        layer.handle_request(t0(), udp(), inv.clone());
        let key = request_key(&events(&mut layer));
        layer.respond(t0(), &key, reply(&inv, 200)).unwrap();
        lines(&mut layer);
        layer.handle_request(
            t0() + ms(10),
            udp(),
            request("CANCEL", "z9hG4bK-c2", "CANCEL", ""),
        );
        assert_eq!(lines(&mut layer), vec!["SIP/2.0 200 OK"]);
        assert!(events(&mut layer).is_empty());
    }

    #[test]
    fn cancel_for_an_unknown_branch_gets_481() {
        let mut layer = TransactionLayer::default();
        layer.handle_request(t0(), udp(), request("CANCEL", "z9hG4bK-none", "CANCEL", ""));
        assert_eq!(
            lines(&mut layer),
            vec!["SIP/2.0 481 Call/Transaction Does Not Exist"]
        );
        assert!(events(&mut layer).is_empty());
    }
}
