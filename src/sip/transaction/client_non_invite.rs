//! Non-INVITE client transactions (RFC 3261 §17.1.2), CANCEL included.
//!
//! Trying (Timer E resends over UDP: T1 doubling, capped at T2; Timer F gives
//! up) --1xx--> Proceeding (Timer E at T2) --final--> Completed (Timer K
//! absorbs response retransmissions, T4 over UDP, zero over streams) --> Terminated.

use super::*;
use crate::sip::message::serialize_request;

impl TransactionLayer {
    pub(super) fn start_client_non_invite(
        &mut self,
        now: Instant,
        peer: Peer,
        key: TxKey,
        request: Request,
    ) {
        let data = serialize_request(&request);
        let mut tx = Tx::new(key, peer, TxState::Trying, self.config.t1);
        tx.last = Some(data.clone());
        let id = self.insert(tx);
        self.send_to_peer(id, data);
        if !peer.transport.is_reliable() {
            self.arm(id, Timer::E, now, self.config.t1);
        }
        self.arm(id, Timer::F, now, self.config.timeout());
    }

    /// Timer E: resend; the interval doubles up to T2 in Trying and is T2 in Proceeding.
    pub(super) fn client_non_invite_timer_e(&mut self, now: Instant, id: TxId) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        tx.interval = match tx.state {
            TxState::Trying => (tx.interval * 2).min(self.config.t2),
            TxState::Proceeding => self.config.t2,
            _ => return,
        };
        let next = tx.interval;
        self.resend_last(id);
        self.arm(id, Timer::E, now, next);
    }

    pub(super) fn client_non_invite_response(
        &mut self,
        now: Instant,
        id: TxId,
        response: Response,
    ) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        if !matches!(tx.state, TxState::Trying | TxState::Proceeding) {
            return;
        }
        let key = tx.key.clone();
        let code = response.status_code.code();
        self.events.push_back(TxEvent::Response { key, response });
        if code < 200 {
            tx.state = TxState::Proceeding;
            return;
        }
        tx.state = TxState::Completed;
        self.disarm(id, &[Timer::E, Timer::F]);
        let after = if self.is_reliable(id) {
            Duration::ZERO
        } else {
            self.config.t4
        };
        self.arm(id, Timer::K, now, after);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    fn send(peer: Peer) -> (TransactionLayer, TxKey, Request) {
        let mut layer = TransactionLayer::default();
        let opt = request("OPTIONS", "z9hG4bK-o1", "OPTIONS", "");
        let key = layer.send_request(t0(), peer, opt.clone()).unwrap();
        lines(&mut layer);
        (layer, key, opt)
    }

    #[test]
    fn timer_e_doubles_up_to_t2_and_timer_f_times_out() {
        let (mut layer, key, _) = send(udp());
        let (sent, evs) = run(&mut layer, Duration::from_secs(40));
        let e = times(&sent, "OPTIONS");
        assert_eq!(&e[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert!(e.windows(2).all(|w| w[1] - w[0] <= 4000), "capped at T2");
        assert_eq!(
            evs[0],
            (
                Duration::from_secs(32),
                TxEvent::Timeout {
                    key,
                    timer: Timer::F
                }
            )
        );
    }

    #[test]
    fn in_proceeding_timer_e_runs_at_t2() {
        let (mut layer, _, opt) = send(udp());
        layer.handle_response(t0() + ms(100), udp(), reply(&opt, 100));
        let (sent, _) = run(&mut layer, ms(12000));
        assert_eq!(times(&sent, "OPTIONS"), vec![500, 4500, 8500]);
    }

    #[test]
    fn a_final_completes_and_timer_k_absorbs_for_t4() {
        let (mut layer, key, opt) = send(udp());
        layer.handle_response(t0() + ms(100), udp(), reply(&opt, 200));
        assert_eq!(layer.state(&key), Some(TxState::Completed));
        layer.handle_response(t0() + ms(200), udp(), reply(&opt, 200));
        assert_eq!(events(&mut layer).len(), 1, "retransmission absorbed");
        let (sent, evs) = run(&mut layer, Duration::from_secs(40));
        assert!(sent.is_empty());
        assert_eq!(evs, vec![(ms(5100), TxEvent::Terminated { key })]);
    }

    #[test]
    fn over_tcp_timer_k_is_zero_and_e_absent() {
        let (mut layer, key, opt) = send(tcp());
        assert_eq!(
            layer.poll_timeout(),
            Some(t0() + Duration::from_secs(32)),
            "only F"
        );
        layer.handle_response(t0() + ms(100), tcp(), reply(&opt, 200));
        assert_eq!(
            events(&mut layer).last(),
            Some(&TxEvent::Terminated { key })
        );
    }

    #[test]
    fn a_transport_error_fails_the_transaction() {
        let (mut layer, key, _) = send(tcp());
        layer.transport_error(t0() + ms(5), tcp());
        let evs = events(&mut layer);
        assert_eq!(
            evs,
            vec![
                TxEvent::TransportError { key: key.clone() },
                TxEvent::Terminated { key }
            ]
        );
        assert_eq!(layer.counts(), TxCounts::default());
    }
}
