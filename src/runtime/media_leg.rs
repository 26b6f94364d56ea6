//! One call's RTP leg in a media worker: the socket, the [`RtpSession`],
//! what the leg plays (its [`BridgePort`]: hold, our tones, or the bridged
//! leg), and what it decoded this tick (for the alarm pipeline and the
//! bridge); a [`Link`] moves one tick's audio and digits between two legs.
//!
//! A browser leg has a [`WebRtcTransport`] between the socket and the
//! session: the session sees decrypted RTP from, and sends to,
//! [`INNER_PEER`]; the transport answers ICE checks, runs DTLS and sends
//! SRTP to the checked address. Nothing above the session differs.

use super::{MediaSettings, RtpSockets};
use crate::call::{CallHandle, HoldAudio};
use crate::media::bridge::{Bridge, DigitRelay};
use crate::media::bridge_port::BridgePort;
use crate::media::receiver::AudioFrame;
use crate::media::recording::RecordingTap;
use crate::media::sender::Seeds;
use crate::media::source::{DropCounts, DropReason};
use crate::media::telephone_event::DigitEvent;
use crate::media::tone::{Component, ToneSpec};
use crate::media::webrtc::{FailReason, WebRtcState, WebRtcTransport, INNER_PEER};
use crate::media::{params_from_sdp, RtpSession};
use crate::recording::writer::RecorderHandle;
use crate::recording::RecordingId;
use crate::runtime::alarm_leg::{AlarmContextShared, AlarmLeg, WorkerInput};
use crate::runtime::sip_driver::Control;
use crate::sip::sdp::NegotiatedMedia;
use crate::telemetry::metrics as m;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Instant;
use tokio::sync::mpsc;

/// Backlog of each recorded direction before its oldest audio is dropped, ms.
const RECORDING_BACKLOG_MS: u32 = 200;

/// One call's RTP leg.
pub(super) struct Leg {
    socket: UdpSocket,
    /// The socket is IPv6 (dual-stack): IPv4 destinations are mapped.
    v6_socket: bool,
    session: RtpSession,
    pub(super) sending: bool,
    /// What the leg plays: its session's source for the whole call.
    pub(super) port: BridgePort,
    /// The far end negotiated telephone-event (RFC 4733).
    pub(super) telephone_event: bool,
    /// The Contact ID side, when alarms are decoded (device legs only).
    pub(super) alarm: Option<AlarmLeg>,
    /// Audio decoded this tick.
    pub(super) frames: Vec<AudioFrame>,
    /// RFC 4733 events finished this tick.
    pub(super) events: Vec<DigitEvent>,
    /// Drops already added to the metric.
    reported: DropCounts,
    /// The WebRTC transport of a browser leg; `None` for plain RTP.
    webrtc: Option<Box<WebRtcTransport>>,
    /// Its failure was reported.
    failure_reported: bool,
    /// Its connection was reported.
    connected_reported: bool,
}

/// The hold tone's spec, when the hold audio is a tone.
pub(super) fn hold_spec(hold: HoldAudio) -> Option<ToneSpec> {
    match hold {
        HoldAudio::Silence => None,
        HoldAudio::Tone {
            frequency_hz,
            level_dbm0,
            on_ms,
            off_ms,
        } => {
            let tone = Component {
                freq_hz: frequency_hz,
                level_dbm0,
            };
            Some(ToneSpec::cadence(vec![tone], on_ms, off_ms))
        }
    }
}

impl Leg {
    /// Takes the socket the core bound for `local_port` (or binds it) and
    /// starts the session, playing `port` (its hold audio).
    pub(super) fn open(
        now: Instant,
        settings: &MediaSettings,
        local_port: u16,
        media: &NegotiatedMedia,
        port: BridgePort,
        call: CallHandle,
    ) -> std::io::Result<Self> {
        let ip = settings.bind_ip;
        let socket = match settings.sockets.take(local_port) {
            Some(socket) => socket,
            None => RtpSockets::bind(ip, local_port)?,
        };
        let seed = call.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(local_port);
        let seeds = Seeds {
            ssrc: seed as u32,
            sequence_number: (seed >> 32) as u16,
            timestamp: (seed >> 40) as u32,
        };
        let mut params = params_from_sdp(media);
        params.source = settings.source;
        let webrtc = open_webrtc(now, settings, media, &mut params)?;
        let mut session = RtpSession::new(now, params, seeds, "alarmgate")
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        session.set_source(Box::new(port.clone()));
        Ok(Self {
            v6_socket: ip.is_ipv6(),
            socket,
            session,
            sending: media.direction.sends(),
            port,
            telephone_event: media.telephone_event_pt.is_some(),
            alarm: None,
            frames: Vec::new(),
            events: Vec::new(),
            reported: DropCounts::default(),
            webrtc,
            failure_reported: false,
            connected_reported: false,
        })
    }

    /// A re-INVITE or UPDATE was answered: its direction and address.
    pub(super) fn update(&mut self, media: &NegotiatedMedia) {
        self.sending = media.direction.sends();
        if self.webrtc.is_none() {
            self.session.renegotiate(media.remote);
        }
    }

    /// Reads every waiting datagram into the session and takes what it decoded.
    pub(super) fn receive(&mut self, now: Instant, buf: &mut [u8]) {
        while let Ok((n, from)) = self.socket.recv_from(buf) {
            let data = buf.get(..n).unwrap_or_default();
            let _ = match self.webrtc.as_mut() {
                Some(transport) => match transport.handle_datagram(now, from, data) {
                    Some(plain) => self.session.handle_packet(now, INNER_PEER, &plain),
                    None => Ok(()),
                },
                None => self.session.handle_packet(now, from, data),
            };
        }
        self.count_drops();
        self.session.handle_timeout(now);
        self.frames
            .extend(std::iter::from_fn(|| self.session.poll_audio()));
        self.events
            .extend(std::iter::from_fn(|| self.session.poll_event()));
    }

    /// Adds this tick's source drops to the metric and to the alarm
    /// forensics.
    fn count_drops(&mut self) {
        let dropped = self.session.dropped();
        if dropped == self.reported {
            return;
        }
        for reason in DropReason::ALL {
            let new = dropped.get(reason) - self.reported.get(reason);
            if new > 0 {
                metrics::counter!(m::RTP_DROPPED, "reason" => reason.label()).increment(new);
            }
        }
        self.reported = dropped;
        if let Some(alarm) = self.alarm.as_mut() {
            alarm.set_rtp_dropped(dropped);
        }
    }

    /// Feeds this tick's audio and digits to the alarm pipeline, if any, and
    /// forgets them (the bridge took its copy before).
    pub(super) fn listen(
        &mut self,
        now: Instant,
        shared: Option<&AlarmContextShared>,
        inbox: &mpsc::UnboundedSender<WorkerInput>,
        control: &mpsc::Sender<Control>,
    ) {
        if let (Some(alarm), Some(shared)) = (self.alarm.as_mut(), shared) {
            alarm.feed(now, &self.frames, &self.events);
            alarm.act(shared, inbox, control);
        }
        self.frames.clear();
        self.events.clear();
    }

    /// Sends `digit` as RFC 4733 events; false if the leg cannot.
    pub(super) fn send_digit(&mut self, digit: char, duration_ms: u32) -> bool {
        let mut key = [0u8; 4];
        let key = digit.encode_utf8(&mut key);
        self.session.send_digits(key, duration_ms).is_ok()
    }

    /// Sends what is due.
    pub(super) fn send(&mut self, now: Instant) {
        while let Some(t) = self.session.poll_transmit(now) {
            match (self.sending, self.webrtc.as_mut()) {
                (false, _) => {}
                (true, Some(transport)) => transport.send(&t.bytes),
                (true, None) => {
                    let _ = self.socket.send_to(&t.bytes, self.reachable(t.destination));
                }
            }
        }
        if let Some(transport) = self.webrtc.as_mut() {
            transport.handle_timeout(now);
        }
        self.flush_webrtc();
    }

    /// Sends what the WebRTC transport queued (check answers, DTLS, SRTP).
    fn flush_webrtc(&mut self) {
        let Some(transport) = self.webrtc.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        while let Some(d) = transport.poll_transmit() {
            out.push(d);
        }
        for d in out {
            let _ = self.socket.send_to(&d.bytes, self.reachable(d.destination));
        }
    }

    /// True once, when the browser leg's transport has come up.
    pub(super) fn take_connected(&mut self) -> bool {
        let up = self
            .webrtc
            .as_ref()
            .is_some_and(|t| *t.state() == WebRtcState::Connected);
        up && !std::mem::replace(&mut self.connected_reported, true)
    }

    /// The browser leg's transport failure, once (the leg should end).
    pub(super) fn take_failure(&mut self) -> Option<FailReason> {
        let WebRtcState::Failed(reason) = self.webrtc.as_ref()?.state() else {
            return None;
        };
        let reason = reason.clone();
        (!std::mem::replace(&mut self.failure_reported, true)).then_some(reason)
    }

    /// Ends the leg's transport: close_notify to a browser.
    pub(super) fn close(&mut self, now: Instant) {
        if let Some(transport) = self.webrtc.as_mut() {
            transport.close(now);
        }
        self.flush_webrtc();
    }

    /// A dual-stack socket reaches IPv4 peers through IPv4-mapped addresses.
    fn reachable(&self, dest: SocketAddr) -> SocketAddr {
        match (self.v6_socket, dest) {
            (true, SocketAddr::V4(v4)) => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            _ => dest,
        }
    }

    /// Where the socket is bound.
    #[cfg(test)]
    pub(super) fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }

    pub(super) fn report(&self) {
        let stats = self.session.stats();
        metrics::counter!(m::RTP_PACKETS_IN).increment(stats.packets_received);
        metrics::counter!(m::RTP_PACKETS_OUT).increment(stats.packets_sent);
    }
}

/// The WebRTC transport of a browser leg (`media.webrtc`): the session's
/// peer becomes [`INNER_PEER`] with RTCP on the RTP port.
fn open_webrtc(
    now: Instant,
    settings: &MediaSettings,
    media: &NegotiatedMedia,
    params: &mut crate::media::MediaParams,
) -> std::io::Result<Option<Box<WebRtcTransport>>> {
    let Some(webrtc) = media.webrtc.as_deref() else {
        return Ok(None);
    };
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let identity = settings
        .dtls
        .as_ref()
        .ok_or_else(|| invalid("WebRTC leg but no DTLS certificate".into()))?;
    params.remote = Some(INNER_PEER);
    params.rtcp_mux = true;
    params.source = crate::media::source::SourceRules::default();
    let transport =
        WebRtcTransport::new(now, identity, webrtc).map_err(|e| invalid(e.to_string()))?;
    Ok(Some(Box::new(transport)))
}

/// Two legs of one worker connected.
pub(super) struct Link {
    pub(super) device: CallHandle,
    pub(super) operator: CallHandle,
    pub(super) bridge: Bridge,
    /// The call's recording and its writer, when recorded.
    recording: Option<(RecordingId, RecorderHandle)>,
    /// Recording frames the writer's full queue refused.
    dropped: u64,
}

impl Link {
    pub(super) fn new(device: CallHandle, operator: CallHandle, bridge: Bridge) -> Self {
        Self {
            device,
            operator,
            bridge,
            recording: None,
            dropped: 0,
        }
    }

    /// Records the bridge from now on into `id` (already begun on `writer`).
    pub(super) fn record(&mut self, id: RecordingId, writer: RecorderHandle) {
        self.bridge.record(RecordingTap::new(RECORDING_BACKLOG_MS));
        self.recording = Some((id, writer));
    }

    /// This tick's recording frame to the writer (never waits).
    fn record_tick(&mut self) {
        let (Some((id, writer)), Some(frame)) = (&self.recording, self.bridge.record_tick()) else {
            return;
        };
        if !writer.audio(id, frame) {
            self.dropped += 1;
        }
    }

    /// Closes the recording, if any (the bridge ended).
    pub(super) fn finish_recording(&mut self) {
        if let Some((id, writer)) = self.recording.take() {
            writer.finish(&id, self.dropped);
        }
    }

    /// This tick's audio both ways, each side's RFC 4733 digits to the
    /// other, and the tick's recording frame.
    pub(super) fn carry(&mut self, legs: &mut HashMap<CallHandle, Leg>) {
        self.carry_audio(legs);
        self.record_tick();
    }

    fn carry_audio(&mut self, legs: &mut HashMap<CallHandle, Leg>) {
        let mut to_operator = Vec::new();
        if let Some(device) = legs.get(&self.device) {
            device
                .frames
                .iter()
                .for_each(|f| self.bridge.from_device(f));
            // Copies: the alarm pipeline hears the device's digits after us.
            to_operator.extend(device.events.iter().map(|e| self.bridge.device_digit(e)));
        }
        for relay in to_operator {
            self.deliver_to_operator(legs, relay);
        }
        let Some(operator) = legs.get_mut(&self.operator) else {
            return;
        };
        operator
            .frames
            .iter()
            .for_each(|f| self.bridge.from_operator(f));
        for event in std::mem::take(&mut operator.events) {
            let relay = self.bridge.operator_digit(&event);
            self.deliver(legs, relay);
        }
    }

    /// A key the operator sent another way (SIP INFO): relayed exactly as
    /// its RFC 4733 digits are.
    pub(super) fn relay_key(
        &mut self,
        legs: &mut HashMap<CallHandle, Leg>,
        key: char,
        duration_ms: u32,
    ) {
        let relay = self.bridge.operator_key(key, duration_ms);
        self.deliver(legs, relay);
    }

    /// Sends an events relay on the device leg (in-band if it cannot).
    fn deliver(&mut self, legs: &mut HashMap<CallHandle, Leg>, relay: Option<DigitRelay>) {
        let Some(DigitRelay::Events { digit, duration_ms }) = relay else {
            return;
        };
        let sent = legs
            .get_mut(&self.device)
            .is_some_and(|d| d.send_digit(digit, duration_ms));
        if !sent {
            self.bridge.relay_in_band(digit, duration_ms);
        }
    }

    /// Sends a device digit's events relay on the operator leg (in-band if
    /// it cannot).
    fn deliver_to_operator(
        &mut self,
        legs: &mut HashMap<CallHandle, Leg>,
        relay: Option<DigitRelay>,
    ) {
        let Some(DigitRelay::Events { digit, duration_ms }) = relay else {
            return;
        };
        let sent = legs
            .get_mut(&self.operator)
            .is_some_and(|o| o.send_digit(digit, duration_ms));
        if !sent {
            self.bridge.relay_in_band_to_operator(digit, duration_ms);
        }
    }
}
