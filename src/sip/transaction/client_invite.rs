//! INVITE client transactions (RFC 3261 §17.1.1 with RFC 6026 §7.2, §8.4),
//! the ACK for a non-2xx (§17.1.1.3) and CANCEL (§9.1).
//!
//! Calling (Timer A resends over UDP, Timer B gives up) --1xx--> Proceeding
//! --2xx--> Accepted (Timer M; 2xx retransmissions go up for re-ACK)
//! --300-699--> Completed (ACK sent, resent per retransmitted final; Timer D) --> Terminated.

use super::*;
use crate::sip::message::{
    header_value, rsip, rsip::Header, rsip::Method, serialize_request, split_commas, MAX_CSEQ,
};

impl TransactionLayer {
    pub(super) fn start_client_invite(
        &mut self,
        now: Instant,
        peer: Peer,
        key: TxKey,
        request: Request,
    ) {
        let data = serialize_request(&request);
        let mut tx = Tx::new(key, peer, TxState::Calling, self.config.t1);
        tx.last = Some(data.clone());
        tx.request = Some(Box::new(request));
        let id = self.insert(tx);
        self.send_to_peer(id, data);
        if !peer.transport.is_reliable() {
            self.arm(id, Timer::A, now, self.config.t1);
        }
        self.arm(id, Timer::B, now, self.config.timeout());
    }

    /// Timer A: resend the INVITE, doubling the interval (no cap, §17.1.1.2).
    pub(super) fn client_invite_timer_a(&mut self, now: Instant, id: TxId) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        if tx.state != TxState::Calling {
            return;
        }
        tx.interval *= 2;
        let next = tx.interval;
        self.resend_last(id);
        self.arm(id, Timer::A, now, next);
    }

    /// Timer B: no response at all; a CANCEL still waiting is dropped too.
    pub(super) fn client_invite_timer_b(&mut self, id: TxId) {
        self.drop_pending_cancel(id);
        self.timeout(id, Timer::B);
    }

    fn drop_pending_cancel(&mut self, id: TxId) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        if tx.pending_cancel.take().is_some() {
            let key = tx.key.with_method(Method::Cancel);
            self.events.push_back(TxEvent::Terminated { key });
        }
    }

    pub(super) fn client_invite_response(&mut self, now: Instant, id: TxId, response: Response) {
        let Some(tx) = self.txs.get(&id) else { return };
        let (state, key) = (tx.state, tx.key.clone());
        let code = response.status_code.code();
        match (state, code) {
            (TxState::Calling | TxState::Proceeding, 100..=199) => {
                self.set_state(id, TxState::Proceeding);
                self.disarm(id, &[Timer::A, Timer::B]);
                self.events.push_back(TxEvent::Response { key, response });
                self.send_pending_cancel(now, id);
            }
            (TxState::Calling | TxState::Proceeding, 200..=299) => {
                self.set_state(id, TxState::Accepted);
                self.disarm(id, &[Timer::A, Timer::B]);
                self.drop_pending_cancel(id);
                self.events.push_back(TxEvent::Response { key, response });
                self.arm(id, Timer::M, now, self.config.timeout());
            }
            (TxState::Calling | TxState::Proceeding, _) => self.invite_failed(now, id, response),
            (TxState::Accepted, 200..=299) => {
                self.events.push_back(TxEvent::Response { key, response });
            }
            (TxState::Completed, 300..) => {
                if let Some(ack) = self.txs.get(&id).and_then(|tx| tx.ack.clone()) {
                    self.send_to_peer(id, ack);
                }
            }
            _ => {}
        }
    }

    fn set_state(&mut self, id: TxId, state: TxState) {
        if let Some(tx) = self.txs.get_mut(&id) {
            tx.state = state;
        }
    }

    /// A 300-699 final: ACK it (same branch), report it, wait Timer D.
    fn invite_failed(&mut self, now: Instant, id: TxId, response: Response) {
        self.set_state(id, TxState::Completed);
        self.disarm(id, &[Timer::A, Timer::B]);
        self.drop_pending_cancel(id);
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        let ack = tx
            .request
            .as_deref()
            .map(|req| serialize_request(&build_ack(req, &response)));
        tx.ack = ack.clone();
        let key = tx.key.clone();
        if let Some(ack) = ack {
            self.send_to_peer(id, ack);
        }
        self.events.push_back(TxEvent::Response { key, response });
        let after = self.config.timer_d(self.is_reliable(id));
        self.arm(id, Timer::D, now, after);
    }

    /// Cancels a client INVITE (§9.1). Before any provisional the CANCEL
    /// waits and goes out when one arrives. Returns the CANCEL's key.
    pub fn cancel(&mut self, now: Instant, invite: &TxKey) -> Result<TxKey, TxError> {
        let id = self.id_of(invite)?;
        let cancel_key = invite.with_method(Method::Cancel);
        if self.by_key.contains_key(&cancel_key) {
            return Ok(cancel_key);
        }
        let Some(tx) = self.txs.get_mut(&id) else {
            return Err(self.invalid(id, "cancel"));
        };
        let cancel = match (&tx.request, invite.role, tx.state) {
            (Some(req), Role::Client, TxState::Calling | TxState::Proceeding) => build_cancel(req),
            _ => return Err(self.invalid(id, "cancel")),
        };
        if tx.state == TxState::Calling {
            tx.pending_cancel = Some(Box::new(cancel));
        } else {
            let peer = tx.peer;
            self.start_client_non_invite(now, peer, cancel_key.clone(), cancel);
        }
        Ok(cancel_key)
    }

    fn send_pending_cancel(&mut self, now: Instant, id: TxId) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        let Some(cancel) = tx.pending_cancel.take() else {
            return;
        };
        let (peer, key) = (tx.peer, tx.key.with_method(Method::Cancel));
        self.start_client_non_invite(now, peer, key, *cancel);
    }
}

/// The headers ACK and CANCEL copy from the INVITE: the top Via only, Route,
/// From, Call-ID; To comes from the response (ACK) or the INVITE (CANCEL).
fn derived_request(invite: &Request, method: Method, to: Option<Header>) -> Request {
    let mut headers = rsip::Headers::default();
    if let Some(top) = header_value(invite, "Via").and_then(|v| split_commas(v).first().copied()) {
        headers.push(Header::Via(rsip::headers::Via::new(top)));
    }
    for h in invite.headers.iter() {
        match h {
            Header::Route(_) | Header::From(_) | Header::CallId(_) => headers.push(h.clone()),
            Header::To(_) if to.is_none() => headers.push(h.clone()),
            _ => {}
        }
    }
    headers.extend(to.into_iter().collect());
    let num = message::cseq(invite)
        .map(|(n, _)| n)
        .unwrap_or(1)
        .min(MAX_CSEQ);
    headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
        "{num} {method}"
    ))));
    headers.push(Header::MaxForwards(rsip::headers::MaxForwards::new("70")));
    Request {
        method,
        uri: invite.uri.clone(),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// §17.1.1.3: the ACK for a non-2xx final, with the response's To.
fn build_ack(invite: &Request, response: &Response) -> Request {
    let to = response
        .headers
        .iter()
        .find(|h| matches!(h, Header::To(_)))
        .cloned();
    derived_request(invite, Method::Ack, to)
}

/// §9.1: the CANCEL for an INVITE.
fn build_cancel(invite: &Request) -> Request {
    derived_request(invite, Method::Cancel, None)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::sip::message::{parse, to_tag, top_via};

    fn send(peer: Peer) -> (TransactionLayer, TxKey, Request) {
        let mut layer = TransactionLayer::default();
        let inv = invite("z9hG4bK-out1");
        let key = layer.send_request(t0(), peer, inv.clone()).unwrap();
        assert_eq!(
            lines(&mut layer),
            vec!["INVITE sip:112@alarm.example SIP/2.0"]
        );
        (layer, key, inv)
    }

    #[test]
    fn timer_a_doubles_without_cap_and_timer_b_times_out_at_64_t1() {
        let (mut layer, key, _) = send(udp());
        let (sent, evs) = run(&mut layer, Duration::from_secs(40));
        assert_eq!(
            times(&sent, "INVITE"),
            vec![500, 1500, 3500, 7500, 15500, 31500]
        );
        assert_eq!(
            evs[0],
            (
                Duration::from_secs(32),
                TxEvent::Timeout {
                    key: key.clone(),
                    timer: Timer::B
                }
            )
        );
        assert_eq!(evs[1].1, TxEvent::Terminated { key });
    }

    #[test]
    fn over_tcp_there_is_no_timer_a_but_timer_b_remains() {
        let (mut layer, key, _) = send(tcp());
        let (sent, evs) = run(&mut layer, Duration::from_secs(40));
        assert!(sent.is_empty());
        assert_eq!(
            evs[0],
            (
                Duration::from_secs(32),
                TxEvent::Timeout {
                    key,
                    timer: Timer::B
                }
            )
        );
    }

    #[test]
    fn provisional_then_2xx_enters_accepted_and_timer_m_passes_retransmissions_up() {
        let (mut layer, key, inv) = send(udp());
        layer.handle_response(t0() + ms(100), udp(), reply(&inv, 180));
        assert!(matches!(
            &events(&mut layer)[..],
            [TxEvent::Response { .. }]
        ));
        layer.handle_response(t0() + ms(200), udp(), reply(&inv, 200));
        assert_eq!(layer.state(&key), Some(TxState::Accepted));
        layer.handle_response(t0() + ms(700), udp(), reply(&inv, 200));
        assert_eq!(
            events(&mut layer).len(),
            2,
            "the 2xx and its retransmission"
        );
        let (sent, evs) = run(&mut layer, Duration::from_secs(40));
        assert!(
            sent.is_empty(),
            "no INVITE retransmission after a provisional"
        );
        assert_eq!(evs, vec![(ms(32200), TxEvent::Terminated { key })]);
    }

    #[test]
    fn a_4xx_is_acked_on_the_same_branch_and_timer_d_ends_it() {
        let (mut layer, key, inv) = send(udp());
        layer.handle_response(t0() + ms(100), udp(), reply(&inv, 486));
        let ack = transmits(&mut layer);
        let ack = match parse(&ack[0].data).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!(),
        };
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(top_via(&ack).unwrap().branch, Some(key.branch.clone()));
        assert_eq!(to_tag(&ack).unwrap().as_str(), "tu-tag");
        assert_eq!(message::cseq(&ack).unwrap(), (1, Method::Ack));
        assert!(matches!(
            &events(&mut layer)[..],
            [TxEvent::Response { .. }]
        ));
        layer.handle_response(t0() + ms(600), udp(), reply(&inv, 486));
        assert_eq!(lines(&mut layer), vec!["ACK sip:112@alarm.example SIP/2.0"]);
        assert!(
            events(&mut layer).is_empty(),
            "retransmitted final absorbed"
        );
        let (_, evs) = run(&mut layer, Duration::from_secs(40));
        assert_eq!(evs, vec![(ms(32100), TxEvent::Terminated { key })]);
    }

    #[test]
    fn over_tcp_timer_d_is_zero() {
        let (mut layer, key, inv) = send(tcp());
        layer.handle_response(t0() + ms(100), tcp(), reply(&inv, 404));
        assert_eq!(lines(&mut layer).len(), 1, "the ACK");
        let evs = events(&mut layer);
        assert_eq!(evs.last(), Some(&TxEvent::Terminated { key }));
    }

    #[test]
    fn cancel_waits_for_a_provisional_and_is_refused_after_a_final() {
        let (mut layer, key, inv) = send(udp());
        let cancel_key = layer.cancel(t0() + ms(10), &key).unwrap();
        assert!(
            lines(&mut layer).is_empty(),
            "no CANCEL before a provisional"
        );
        layer.handle_response(t0() + ms(100), udp(), reply(&inv, 180));
        assert_eq!(
            lines(&mut layer),
            vec!["CANCEL sip:112@alarm.example SIP/2.0"]
        );
        assert_eq!(layer.state(&cancel_key), Some(TxState::Trying));
        assert_eq!(cancel_key.branch, key.branch);
        layer.handle_response(
            t0() + ms(150),
            udp(),
            reply(&request("CANCEL", "z9hG4bK-out1", "CANCEL", ""), 200),
        );
        layer.handle_response(t0() + ms(200), udp(), reply(&inv, 487));
        assert_eq!(lines(&mut layer), vec!["ACK sip:112@alarm.example SIP/2.0"]);
        assert!(
            layer.cancel(t0() + ms(300), &key).is_ok(),
            "the CANCEL exists: same key"
        );
        let (mut layer, key, inv) = send(udp());
        layer.handle_response(t0() + ms(100), udp(), reply(&inv, 200));
        assert!(matches!(
            layer.cancel(t0(), &key),
            Err(TxError::InvalidState { .. })
        ));
    }

    #[test]
    fn unknown_branches_are_dropped_and_counted_and_branchless_requests_refused() {
        let (mut layer, _, _) = send(udp());
        layer.handle_response(t0(), udp(), reply(&invite("z9hG4bK-nobody"), 200));
        assert!(events(&mut layer).is_empty());
        assert_eq!(layer.counts().unmatched_responses, 1);
        let err = layer.send_request(t0(), udp(), invite(""));
        assert!(matches!(err, Err(TxError::InvalidRequest { .. })));
        let dup = layer.send_request(t0(), udp(), invite("z9hG4bK-out1"));
        assert!(matches!(dup, Err(TxError::Duplicate { .. })));
    }
}
