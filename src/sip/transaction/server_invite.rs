//! INVITE server transactions (RFC 3261 §17.2.1 with RFC 6026 §7.1, §8.5-8.7),
//! new-request intake and merged-request detection (§8.2.2.2).
//!
//! Proceeding --1xx--> Proceeding; --2xx--> Accepted (2xx resent on Timer G
//! over UDP until the ACK, Timer L ends it, no ACK by then is a Timeout);
//! --300-699--> Completed (Timer G resends, Timer H gives up) --ACK-->
//! Confirmed (Timer I absorbs ACKs) --> Terminated.

use super::layer::local_tag;
use super::*;
use crate::sip::message::{response_target, response_to, serialize_response, set_to_tag, to_tag};

impl TransactionLayer {
    /// A request that matches no transaction: a new server transaction, or a 482.
    pub(super) fn on_new_request(
        &mut self,
        now: Instant,
        peer: Peer,
        request: Request,
        key: TxKey,
    ) {
        let dialog = DialogKey::of(&request);
        let merged = to_tag(&request).is_none()
            && dialog
                .as_ref()
                .and_then(|d| self.by_dialog.get(d))
                .is_some();
        let id = self.create_server(
            peer,
            &request,
            key.clone(),
            (!merged).then_some(dialog).flatten(),
        );
        if merged {
            let mut resp = response_to(&request, 482, Some("Loop Detected"));
            set_to_tag(&mut resp, &local_tag(key.branch.as_str()));
            let _ = self.respond(now, &key, resp);
            return;
        }
        if key.is_invite() {
            let trying = response_to(&request, 100, None);
            let data = serialize_response(&trying);
            if let Some(tx) = self.txs.get_mut(&id) {
                tx.last = Some(data.clone());
            }
            self.send_to_peer(id, data);
        }
        self.events
            .push_back(TxEvent::Request { key, peer, request });
    }

    /// Creates a server transaction answering to `response_target(request, peer)`.
    pub(super) fn create_server(
        &mut self,
        peer: Peer,
        request: &Request,
        key: TxKey,
        dialog: Option<DialogKey>,
    ) -> TxId {
        let state = if key.is_invite() {
            TxState::Proceeding
        } else {
            TxState::Trying
        };
        let mut tx = Tx::new(key, response_target(request, peer), state, self.config.t1);
        if let Some(d) = dialog.filter(|d| !self.by_dialog.contains_key(d)) {
            tx.dialog = Some(d);
        }
        let dialog = tx.dialog.clone();
        let id = self.insert(tx);
        if let Some(d) = dialog {
            self.by_dialog.insert(d, id);
        }
        id
    }

    /// A retransmitted request: resend the last response, or absorb it.
    pub(super) fn on_retransmission(&mut self, id: TxId) {
        let Some(tx) = self.txs.get(&id) else { return };
        match tx.state {
            TxState::Proceeding | TxState::Completed => self.resend_last(id),
            _ => {}
        }
    }

    /// An ACK with the branch of an INVITE server transaction.
    pub(super) fn on_ack_for_tx(&mut self, now: Instant, id: TxId, peer: Peer, ack: Request) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        match tx.state {
            TxState::Completed => {
                tx.state = TxState::Confirmed;
                self.disarm(id, &[Timer::G, Timer::H]);
                let after = if self.is_reliable(id) {
                    Duration::ZERO
                } else {
                    self.config.t4
                };
                self.arm(id, Timer::I, now, after);
            }
            TxState::Accepted => self.ack_accepted(id, peer, ack),
            _ => {}
        }
    }

    /// An ACK matching no transaction by branch: a 2xx ACK (matched by
    /// Call-ID, CSeq number and From tag) or a stray one for the dialog layer.
    pub(super) fn on_unmatched_ack(&mut self, peer: Peer, ack: Request) {
        let id = DialogKey::of(&ack).and_then(|d| self.by_dialog.get(&d).copied());
        let accepted = id.filter(|id| {
            self.txs
                .get(id)
                .is_some_and(|tx| tx.key.is_invite() && tx.state == TxState::Accepted)
        });
        match accepted {
            Some(id) => self.ack_accepted(id, peer, ack),
            None => self.events.push_back(TxEvent::Ack { peer, request: ack }),
        }
    }

    /// The first ACK for our 2xx stops its retransmission and goes up; later copies are absorbed.
    fn ack_accepted(&mut self, id: TxId, peer: Peer, ack: Request) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        if tx.acked {
            return;
        }
        tx.acked = true;
        tx.timers.set(Timer::G, None);
        self.events.push_back(TxEvent::Ack { peer, request: ack });
    }

    /// The TU's response on an INVITE server transaction.
    pub(super) fn server_invite_respond(
        &mut self,
        now: Instant,
        id: TxId,
        mut response: Response,
    ) -> Result<(), TxError> {
        let code = response.status_code.code();
        let Some(tx) = self.txs.get_mut(&id) else {
            return Err(self.invalid(id, "respond"));
        };
        let allowed = match tx.state {
            TxState::Proceeding => code >= 100,
            TxState::Accepted => (200..300).contains(&code),
            _ => false,
        };
        if !allowed {
            return Err(self.invalid(id, "send this response"));
        }
        match (&tx.to_tag, to_tag(&response)) {
            (Some(tag), None) => set_to_tag(&mut response, tag),
            (None, Some(tag)) => tx.to_tag = Some(tag),
            _ => {}
        }
        let data = serialize_response(&response);
        tx.last = Some(data.clone());
        self.send_to_peer(id, data);
        match code {
            100..=199 => {}
            200..=299 => self.enter_accepted(now, id),
            _ => self.enter_completed(now, id),
        }
        Ok(())
    }

    fn enter_accepted(&mut self, now: Instant, id: TxId) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        if tx.state == TxState::Accepted {
            return;
        }
        tx.state = TxState::Accepted;
        tx.interval = self.config.t1;
        if !self.is_reliable(id) {
            self.arm(id, Timer::G, now, self.config.t1);
        }
        self.arm(id, Timer::L, now, self.config.timeout());
    }

    fn enter_completed(&mut self, now: Instant, id: TxId) {
        if let Some(tx) = self.txs.get_mut(&id) {
            tx.state = TxState::Completed;
            tx.interval = self.config.t1;
        }
        if !self.is_reliable(id) {
            self.arm(id, Timer::G, now, self.config.t1);
        }
        self.arm(id, Timer::H, now, self.config.timeout());
    }

    /// Timer G: resend the final (non-2xx in Completed, 2xx in Accepted), doubling up to T2.
    pub(super) fn server_invite_timer_g(&mut self, now: Instant, id: TxId) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        let resend = tx.state == TxState::Completed || tx.state == TxState::Accepted && !tx.acked;
        if !resend {
            return;
        }
        tx.interval = (tx.interval * 2).min(self.config.t2);
        let next = tx.interval;
        self.resend_last(id);
        self.arm(id, Timer::G, now, next);
    }

    /// Timer L: Accepted ends; without an ACK the TU must tear the call down.
    pub(super) fn server_invite_timer_l(&mut self, id: TxId) {
        if self.txs.get(&id).is_some_and(|tx| !tx.acked) {
            self.timeout(id, Timer::L);
        } else {
            self.terminate(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    fn start(peer: Peer) -> (TransactionLayer, TxKey, Request) {
        let mut layer = TransactionLayer::default();
        let inv = invite("z9hG4bK-inv1");
        layer.handle_request(t0(), peer, inv.clone());
        assert_eq!(lines(&mut layer), vec!["SIP/2.0 100 Trying"]);
        let key = request_key(&events(&mut layer));
        (layer, key, inv)
    }

    #[test]
    fn invite_retransmissions_get_the_latest_response() {
        let (mut layer, key, inv) = start(udp());
        layer.handle_request(t0() + ms(100), udp(), inv.clone());
        assert_eq!(lines(&mut layer), vec!["SIP/2.0 100 Trying"]);
        assert!(events(&mut layer).is_empty(), "retransmission absorbed");
        layer
            .respond(t0() + ms(150), &key, reply(&inv, 180))
            .unwrap();
        layer.handle_request(t0() + ms(200), udp(), inv.clone());
        assert_eq!(lines(&mut layer), vec!["SIP/2.0 180 Ringing"; 2]);
        layer
            .respond(t0() + ms(300), &key, reply(&inv, 486))
            .unwrap();
        layer.handle_request(t0() + ms(400), udp(), inv.clone());
        assert_eq!(lines(&mut layer), vec!["SIP/2.0 486 Busy Here"; 2]);
        assert!(events(&mut layer).is_empty());
    }

    #[test]
    fn timer_g_doubles_to_t2_and_timer_h_gives_up_at_64_t1() {
        let (mut layer, key, inv) = start(udp());
        layer.respond(t0(), &key, reply(&inv, 486)).unwrap();
        lines(&mut layer);
        let (sent, evs) = run(&mut layer, Duration::from_secs(40));
        let g = times(&sent, "SIP/2.0 486");
        assert_eq!(&g[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert_eq!(*g.last().unwrap(), 31500);
        let timeout = TxEvent::Timeout {
            key: key.clone(),
            timer: Timer::H,
        };
        assert_eq!(evs[0], (Duration::from_secs(32), timeout));
        assert_eq!(evs[1].1, TxEvent::Terminated { key });
        assert_eq!(layer.counts().server_invite, 0);
    }

    #[test]
    fn ack_for_a_non_2xx_stops_timer_g_and_timer_i_ends_after_t4() {
        let (mut layer, key, inv) = start(udp());
        layer.respond(t0(), &key, reply(&inv, 486)).unwrap();
        lines(&mut layer);
        run(&mut layer, ms(600));
        assert_eq!(layer.state(&key), Some(TxState::Completed));
        let ack = request("ACK", "z9hG4bK-inv1", "ACK", "tu-tag");
        layer.handle_request(t0() + ms(1000), udp(), ack.clone());
        assert_eq!(layer.state(&key), Some(TxState::Confirmed));
        layer.handle_request(t0() + ms(1200), udp(), ack);
        assert!(events(&mut layer).is_empty(), "ACKs absorbed");
        let (sent, evs) = run(&mut layer, Duration::from_secs(60));
        assert!(sent.is_empty(), "no retransmission after the ACK");
        assert_eq!(
            evs,
            vec![(ms(6000), TxEvent::Terminated { key })],
            "Timer I = T4"
        );
    }

    #[test]
    fn over_tcp_there_is_no_timer_g_and_timer_i_is_zero() {
        let (mut layer, key, inv) = start(tcp());
        layer.respond(t0(), &key, reply(&inv, 486)).unwrap();
        assert_eq!(lines(&mut layer), vec!["SIP/2.0 486 Busy Here"]);
        let ack = request("ACK", "z9hG4bK-inv1", "ACK", "tu-tag");
        layer.handle_request(t0() + ms(10), tcp(), ack);
        assert_eq!(
            events(&mut layer),
            vec![TxEvent::Terminated { key: key.clone() }]
        );
        assert_eq!(layer.poll_timeout(), None);
        let (mut layer, key, inv) = start(tcp());
        layer.respond(t0(), &key, reply(&inv, 486)).unwrap();
        lines(&mut layer);
        let (sent, evs) = run(&mut layer, Duration::from_secs(40));
        assert!(sent.is_empty());
        assert_eq!(
            evs[0],
            (
                Duration::from_secs(32),
                TxEvent::Timeout {
                    key,
                    timer: Timer::H
                }
            )
        );
    }

    #[test]
    fn a_2xx_is_retransmitted_until_its_ack_then_timer_l_ends_quietly() {
        let (mut layer, key, inv) = start(udp());
        layer.respond(t0(), &key, reply(&inv, 200)).unwrap();
        assert_eq!(layer.state(&key), Some(TxState::Accepted));
        lines(&mut layer);
        let (sent, _) = run(&mut layer, ms(2000));
        assert_eq!(times(&sent, "SIP/2.0 200"), vec![500, 1500]);
        layer.handle_request(t0() + ms(2000), udp(), inv.clone());
        assert!(
            lines(&mut layer).is_empty(),
            "INVITE retransmission absorbed in Accepted"
        );
        let ack = request("ACK", "z9hG4bK-ack2", "ACK", "tu-tag");
        layer.handle_request(t0() + ms(2100), udp(), ack.clone());
        assert!(matches!(&events(&mut layer)[..], [TxEvent::Ack { .. }]));
        layer.handle_request(t0() + ms(2200), udp(), ack);
        assert!(events(&mut layer).is_empty(), "a repeated ACK is absorbed");
        let (sent, evs) = run(&mut layer, Duration::from_secs(40));
        assert!(sent.is_empty());
        assert_eq!(
            evs,
            vec![(Duration::from_secs(32), TxEvent::Terminated { key })]
        );
    }

    #[test]
    fn a_2xx_without_ack_times_out_on_timer_l() {
        let (mut layer, key, inv) = start(udp());
        layer.respond(t0(), &key, reply(&inv, 200)).unwrap();
        lines(&mut layer);
        let (sent, evs) = run(&mut layer, Duration::from_secs(40));
        let resent = times(&sent, "SIP/2.0 200");
        assert_eq!(&resent[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(
            evs[0],
            (
                Duration::from_secs(32),
                TxEvent::Timeout {
                    key,
                    timer: Timer::L
                }
            )
        );
    }

    #[test]
    fn a_merged_request_gets_482_and_no_event() {
        let (mut layer, _, _) = start(udp());
        layer.handle_request(t0() + ms(5), udp(), invite("z9hG4bK-other-path"));
        assert_eq!(lines(&mut layer), vec!["SIP/2.0 482 Loop Detected"]);
        assert!(events(&mut layer).is_empty());
        assert_eq!(layer.counts().server_invite, 2, "the 482 waits for its ACK");
    }

    #[test]
    fn rfc2543_invite_ack_and_cancel_match_without_a_branch() {
        let mut layer = TransactionLayer::default();
        let inv = invite("");
        layer.handle_request(t0(), udp(), inv.clone());
        let key = request_key(&events(&mut layer));
        layer.handle_request(t0() + ms(100), udp(), inv.clone());
        assert_eq!(lines(&mut layer), vec!["SIP/2.0 100 Trying"; 2]);
        layer.handle_request(t0() + ms(200), udp(), request("CANCEL", "", "CANCEL", ""));
        assert_eq!(lines(&mut layer), vec!["SIP/2.0 200 OK"]);
        assert!(matches!(
            &events(&mut layer)[..],
            [TxEvent::Cancelled { .. }]
        ));
        layer
            .respond(t0() + ms(300), &key, reply(&inv, 487))
            .unwrap();
        layer.handle_request(t0() + ms(400), udp(), request("ACK", "", "ACK", "tu-tag"));
        assert_eq!(layer.state(&key), Some(TxState::Confirmed));
    }
}
