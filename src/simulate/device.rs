//! One simulated alarm-unit call, sans-IO: the SIP client side on the
//! crate's transaction layer (INVITE client transaction, ACK for the 2xx
//! sent statelessly, BYE as a non-INVITE client transaction), the RTP leg
//! ([`MediaLeg`]) and the Contact ID behaviour ([`Sequencer`]).
//!
//! Feed it datagrams (`handle_sip`, `handle_rtp`) and `handle_timeout` at
//! `poll_timeout`; after each call drain `poll_output`. It never reads the
//! clock or touches a socket; `is_finished` tells the driver to stop.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::args::DeviceConfig;
use super::media::{params_from_sdp, MediaLeg, Shape};
use super::report::{ms, CallReport, MessageOutcome};
use super::sequencer::{SeqAction, Sequencer};
use super::uac::{self, CallIdentity, UacDialog};
use super::SimError;
use crate::sip::message::{self, response_to, rsip::Method, Request, Response, SipMessage};
use crate::sip::sdp::{self, Direction, LocalMedia, MediaPolicy};
use crate::sip::transaction::{TransactionLayer, TxEvent, TxKey};
use crate::sip::types::Peer;

/// How long after `--call-timeout-s` a call still hanging up is abandoned.
const HARD_STOP: Duration = Duration::from_secs(5);
/// Where one call runs.
#[derive(Debug, Clone)]
pub struct DeviceSetup {
    /// The unit's settings.
    pub config: DeviceConfig,
    /// Our SIP socket.
    pub local_sip: SocketAddr,
    /// Our RTP socket.
    pub local_rtp: SocketAddr,
    /// The resolved target.
    pub server: SocketAddr,
    /// Seed for identifiers, SSRC and impairments.
    pub seed: u64,
    /// The call's index in the run.
    pub index: u32,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// From the SIP socket.
    Sip {
        /// Destination.
        to: SocketAddr,
        /// The message.
        data: Bytes,
    },
    /// From the RTP socket.
    Rtp {
        /// Destination.
        to: SocketAddr,
        /// The packet.
        data: Vec<u8>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Inviting,
    Answered,
    HangingUp,
    Ended,
}

/// One call of the simulated unit.
#[derive(Debug)]
pub struct Device {
    setup: DeviceSetup,
    identity: CallIdentity,
    offer: String,
    layer: TransactionLayer,
    invite_key: TxKey,
    bye_key: Option<TxKey>,
    dialog: Option<UacDialog>,
    media: Option<MediaLeg>,
    counts: (u64, u64, u64),
    rx_silence: Duration,
    seq: Option<Sequencer>,
    state: State,
    started_at: Instant,
    answered_at: Option<Instant>,
    ended_at: Option<Instant>,
    final_status: Option<u16>,
    failure: Option<String>,
    hangup: &'static str,
    call_deadline: Instant,
    bye_wait_until: Option<Instant>,
    branches: u64,
    codec: Option<String>,
    outputs: VecDeque<Output>,
}

impl Device {
    /// Starts the call: the INVITE goes out at `now`.
    pub fn new(now: Instant, setup: DeviceSetup) -> Result<Self, SimError> {
        let cfg = &setup.config;
        let identity = CallIdentity {
            target: cfg.target.clone(),
            user: cfg.from_user.clone(),
            local: setup.local_sip,
            call_id: format!("{:016x}-{}@alarmgate-sim", setup.seed, setup.index),
            local_tag: format!("{:08x}", (setup.seed as u32) ^ setup.index),
        };
        let local = LocalMedia {
            addr: setup.local_rtp.ip(),
            port: setup.local_rtp.port(),
            session_id: setup.seed >> 1,
            session_version: 1,
            username: "alarmunit".into(),
        };
        let offer = sdp::offer(&policy(cfg), &local, Direction::SendRecv);
        let invite = uac::invite(&identity, &branch(setup.seed, 0), &offer)?;
        let mut layer = TransactionLayer::default();
        let invite_key = layer
            .send_request(now, Peer::udp(setup.server), invite)
            .map_err(|e| SimError::Sip(e.to_string()))?;
        let mut device = Self {
            call_deadline: now + cfg.call_timeout,
            setup,
            identity,
            offer,
            layer,
            invite_key,
            bye_key: None,
            dialog: None,
            media: None,
            counts: (0, 0, 0),
            rx_silence: Duration::ZERO,
            seq: None,
            state: State::Inviting,
            started_at: now,
            answered_at: None,
            ended_at: None,
            final_status: None,
            failure: None,
            hangup: "none",
            bye_wait_until: None,
            branches: 1,
            codec: None,
            outputs: VecDeque::new(),
        };
        device.flush(now);
        Ok(device)
    }

    /// A datagram on the SIP socket.
    pub fn handle_sip(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        match message::parse(bytes) {
            Ok(SipMessage::Response(r)) => self.layer.handle_response(now, Peer::udp(from), r),
            Ok(SipMessage::Request(r)) => self.layer.handle_request(now, Peer::udp(from), r),
            Err(_) => return,
        }
        self.process(now);
    }

    /// A datagram on the RTP socket.
    pub fn handle_rtp(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        if let Some(media) = self.media.as_mut() {
            media.handle_packet(now, from, bytes);
        }
        self.process(now);
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        if let Some(media) = self.media.as_mut() {
            media.handle_timeout(now);
        }
        if self.state == State::HangingUp && now >= self.call_deadline + HARD_STOP {
            // The far end answers neither CANCEL nor BYE (gone, or a dead
            // line): give up on the call instead of waiting for 64*T1.
            self.end(now);
        } else if self.state != State::Ended
            && self.state != State::HangingUp
            && now >= self.call_deadline
        {
            self.failure.get_or_insert_with(|| "call timeout".into());
            self.hang_up(now);
        }
        if self.bye_wait_until.is_some_and(|t| now >= t) {
            self.bye_wait_until = None;
            self.hang_up(now);
        }
        self.process(now);
    }

    /// The next datagram to send.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When `handle_timeout` is next due; `None` once finished. Never an
    /// instant already handled, so a driver sleeping until it cannot spin.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Ended {
            return None;
        }
        let candidates = [
            self.layer.poll_timeout(),
            self.media.as_ref().map(MediaLeg::poll_timeout),
            self.seq.as_ref().and_then(Sequencer::poll_timeout),
            self.bye_wait_until,
            // While hanging up, the call deadline has fired: only the hard stop remains.
            Some(if self.state == State::HangingUp {
                self.call_deadline + HARD_STOP
            } else {
                self.call_deadline
            }),
        ];
        candidates.into_iter().flatten().min()
    }

    /// True once the call is over.
    pub fn is_finished(&self) -> bool {
        self.state == State::Ended
    }

    /// Transaction events, sequencer actions, then outputs.
    fn process(&mut self, now: Instant) {
        while let Some(event) = self.layer.poll_event() {
            self.on_tx_event(now, event);
        }
        self.pump_sequencer(now);
        self.flush(now);
    }

    fn on_tx_event(&mut self, now: Instant, event: TxEvent) {
        match event {
            TxEvent::Response { key, response } if key == self.invite_key => {
                self.on_invite_response(now, response)
            }
            TxEvent::Response { key, response }
                if Some(&key) == self.bye_key.as_ref() && response.status_code.code() >= 200 =>
            {
                self.end(now)
            }
            TxEvent::Timeout { key, .. } | TxEvent::TransportError { key } => {
                if key == self.invite_key && self.state == State::Inviting {
                    self.failure = Some("no final response to the INVITE".into());
                    self.end(now);
                } else if Some(&key) == self.bye_key.as_ref() {
                    self.end(now);
                }
            }
            TxEvent::Request { key, request, .. } => self.on_request(now, &key, &request),
            _ => {}
        }
    }

    fn on_invite_response(&mut self, now: Instant, response: Response) {
        let code = response.status_code.code();
        match code {
            100..=199 => {}
            200..=299 if self.dialog.is_some() => self.send_ack(),
            200..=299 => self.answered(now, &response),
            _ => {
                self.final_status = Some(code);
                if self.state == State::Inviting {
                    self.failure = Some(format!("INVITE answered {code} {}", response.status_code));
                }
                self.end(now);
            }
        }
    }

    /// The first 2xx: dialog, ACK, media and the sequencer.
    fn answered(&mut self, now: Instant, response: &Response) {
        self.final_status = Some(response.status_code.code());
        self.answered_at = Some(now);
        self.state = State::Answered;
        let Some(dialog) = UacDialog::from_2xx(&self.identity, response) else {
            self.failure = Some("2xx without a To tag".into());
            return self.end(now);
        };
        self.dialog = Some(dialog);
        self.send_ack();
        let cfg = &self.setup.config;
        let body = String::from_utf8_lossy(&response.body);
        let negotiated =
            sdp::parse(&body).and_then(|answer| sdp::negotiated_from_answer(&policy(cfg), &answer));
        let media = match negotiated {
            Ok(m) => m,
            Err(e) => {
                self.failure = Some(format!("unusable SDP answer: {e}"));
                return self.hang_up(now);
            }
        };
        let Some(remote) = media.remote else {
            self.failure = Some("SDP answer has no media address".into());
            return self.hang_up(now);
        };
        self.codec = Some(media.codec.encoding_name().to_string());
        let shape = Shape {
            on: cfg.tone_on,
            off: cfg.tone_off,
            impairments: cfg.impairments,
        };
        let params = params_from_sdp(&media);
        self.media = Some(MediaLeg::new(
            now,
            params,
            remote,
            cfg.dtmf,
            shape,
            self.setup.seed,
        ));
        self.seq = Some(Sequencer::new(now, cfg));
    }

    fn send_ack(&mut self) {
        let branch = self.next_branch();
        if let Some(Ok(ack)) = self.dialog.as_ref().map(|d| d.ack(&branch)) {
            let peer = Peer::udp(self.setup.server);
            self.layer.send_stateless(peer, SipMessage::Request(ack));
        }
    }

    /// A request from the far end: BYE ends the call; OPTIONS and a
    /// re-INVITE get 200 (the latter with our SDP); anything else 501.
    fn on_request(&mut self, now: Instant, key: &TxKey, request: &Request) {
        let mut response = match request.method {
            Method::Bye | Method::Options | Method::Invite => response_to(request, 200, None),
            _ => response_to(request, 501, None),
        };
        if request.method == Method::Invite {
            message::set_body(
                &mut response,
                "application/sdp",
                self.offer.clone().into_bytes(),
            );
        }
        let _ = self.layer.respond(now, key, response);
        if request.method == Method::Bye && self.state != State::Ended {
            self.hangup = "remote";
            self.end(now);
        }
    }

    fn pump_sequencer(&mut self, now: Instant) {
        let (Some(seq), Some(media)) = (self.seq.as_mut(), self.media.as_mut()) else {
            return;
        };
        while let Some((id, event)) = media.poll_tone() {
            seq.on_tone(id, event);
        }
        seq.handle_timeout(now);
        let mut hang_up = false;
        while let Some(action) = seq.poll_action() {
            match action {
                SeqAction::SendDigits { at, digits } => {
                    let end = media.start_burst(at, &digits);
                    seq.burst_planned(end);
                }
                SeqAction::HangUp => hang_up = true,
            }
        }
        if hang_up && self.state == State::Answered {
            if self.setup.config.wait_bye {
                self.bye_wait_until = Some(now + self.setup.config.bye_timeout);
            } else {
                self.hang_up(now);
            }
        }
    }

    /// CANCEL before the answer, BYE after it.
    fn hang_up(&mut self, now: Instant) {
        self.stop_media();
        match self.state {
            State::Inviting => {
                if self.layer.cancel(now, &self.invite_key).is_err() {
                    self.end(now);
                }
                self.state = State::HangingUp;
            }
            State::Answered => {
                self.hangup = "local";
                self.state = State::HangingUp;
                let branch = self.next_branch();
                let bye = self
                    .dialog
                    .as_mut()
                    .map(|d| d.request(Method::Bye, &branch));
                let peer = Peer::udp(self.setup.server);
                match bye.map(|b| b.map(|b| self.layer.send_request(now, peer, b))) {
                    Some(Ok(Ok(key))) => self.bye_key = Some(key),
                    _ => self.end(now),
                }
            }
            State::HangingUp | State::Ended => {}
        }
    }

    fn end(&mut self, now: Instant) {
        self.stop_media();
        self.state = State::Ended;
        self.ended_at.get_or_insert(now);
    }

    fn stop_media(&mut self) {
        if let Some(media) = self.media.take() {
            self.counts = media.counts();
            self.rx_silence = media.longest_rx_silence();
            self.setup.config.dtmf = media.mode();
        }
    }

    fn next_branch(&mut self) -> String {
        self.branches += 1;
        branch(self.setup.seed ^ u64::from(self.setup.index), self.branches)
    }

    fn flush(&mut self, now: Instant) {
        while let Some(t) = self.layer.poll_transmit() {
            self.outputs.push_back(Output::Sip {
                to: t.peer.addr,
                data: t.data,
            });
        }
        if let Some(media) = self.media.as_mut() {
            while let Some((to, data)) = media.poll_transmit(now) {
                self.outputs.push_back(Output::Rtp { to, data });
            }
        }
    }

    /// The call's report (complete once finished).
    pub fn report(&self) -> CallReport {
        let messages = self
            .seq
            .as_ref()
            .map(|s| s.reports().to_vec())
            .unwrap_or_else(|| {
                let cfg = &self.setup.config;
                cfg.messages
                    .iter()
                    .map(|m| super::report::MessageReport::pending(m))
                    .collect()
            });
        let failure = self.failure.clone().or_else(|| message_failure(&messages));
        let end = self.ended_at.unwrap_or(self.started_at);
        let counts = self.media.as_ref().map_or(self.counts, MediaLeg::counts);
        CallReport {
            index: self.setup.index,
            call_id: self.identity.call_id.clone(),
            success: failure.is_none(),
            failure,
            final_status: self.final_status,
            invite_to_answer_ms: self.answered_at.map(|a| ms(a - self.started_at)),
            answer_to_handshake_ms: self
                .seq
                .as_ref()
                .and_then(Sequencer::answer_to_handshake)
                .map(ms),
            codec: self.codec.clone(),
            dtmf: self
                .media
                .as_ref()
                .map_or(self.setup.config.dtmf, MediaLeg::mode),
            messages,
            rtp_packets: counts.0,
            rtp_dropped: counts.1,
            rtp_reordered: counts.2,
            rx_longest_silence_ms: ms(self
                .media
                .as_ref()
                .map_or(self.rx_silence, MediaLeg::longest_rx_silence)),
            hangup: self.hangup,
            duration_ms: ms(end.saturating_duration_since(self.started_at)),
        }
    }
}

/// The first message that was not acknowledged, as a failure reason.
fn message_failure(messages: &[super::report::MessageReport]) -> Option<String> {
    let (i, m) = messages
        .iter()
        .enumerate()
        .find(|(_, m)| m.outcome != MessageOutcome::Acknowledged)?;
    Some(match m.outcome {
        MessageOutcome::NoHandshake => "no handshake heard".into(),
        MessageOutcome::NoKissoff => format!(
            "message {}: no kissoff after {} attempts",
            i + 1,
            m.attempts
        ),
        _ => format!("message {} not sent", i + 1),
    })
}

fn policy(cfg: &DeviceConfig) -> MediaPolicy {
    MediaPolicy {
        codecs: cfg.codecs.clone(),
        ptime_ms: 20,
    }
}

fn branch(seed: u64, n: u64) -> String {
    format!("z9hG4bK-sim{seed:x}-{n}")
}
