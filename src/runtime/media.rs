//! The media engine: RTP sockets of all calls, served by a few ticking workers.
//!
//! A task per call waking every 20 ms would cost 50 wake-ups per second per
//! call; instead each worker owns a share of the calls and wakes once per
//! packet time for all of them. Sockets are non-blocking std sockets polled on
//! the tick, so no reactor registration is paid per call either.
//!
//! Each leg is an [`RtpSession`] (the pure core in [`crate::media`]): it
//! latches onto the far end's source address (symmetric RTP, through NAT),
//! decodes G.711, collects RFC 4733 digits, sends RTCP receiver reports, and
//! plays the hold audio (silence, or the configured cadenced tone).

use super::alarm_leg::{AlarmContextShared, AlarmLeg, Stored, WorkerInput};
use super::sip_driver::Control;
use crate::call::{CallEvent, CallHandle, HoldAudio};
use crate::clock;
use crate::media::sender::Seeds;
use crate::media::tone::{Component, ToneGenerator, ToneSpec};
use crate::media::{params_from_sdp, RtpSession};
use crate::sip::sdp::NegotiatedMedia;
use crate::telemetry::metrics as m;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;
use tokio::sync::mpsc;

/// The packet time the workers tick at.
const TICK: Duration = Duration::from_millis(20);

/// Sends call events to the worker that owns the call.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    workers: Vec<mpsc::UnboundedSender<WorkerInput>>,
}

impl MediaHandle {
    /// Starts `workers` media workers binding RTP sockets on `bind_ip`; with
    /// `alarm`, every answered call runs the Contact ID pipeline.
    pub fn start(
        bind_ip: IpAddr,
        workers: usize,
        control: mpsc::Sender<Control>,
        alarm: Option<AlarmContextShared>,
    ) -> Self {
        let workers = (0..workers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                let worker = Worker {
                    legs: HashMap::new(),
                    bind_ip,
                    control: control.clone(),
                    alarm: alarm.clone(),
                    inbox: tx.clone(),
                };
                tokio::spawn(worker.run(rx));
                tx
            })
            .collect();
        Self { workers }
    }

    /// Routes a call event to the worker of its media group (both legs of a
    /// bridge on one worker); events other than media ones are ignored.
    pub fn apply(&self, event: CallEvent) {
        let group = match &event {
            CallEvent::MediaStart { group, .. }
            | CallEvent::MediaUpdate { group, .. }
            | CallEvent::MediaStop { group, .. } => *group,
            _ => return,
        };
        let index = (group.0 % self.workers.len() as u64) as usize;
        if let Some(worker) = self.workers.get(index) {
            let _ = worker.send(WorkerInput::Call(event));
        }
    }
}

/// One call's RTP leg.
struct Leg {
    socket: UdpSocket,
    /// The socket is IPv6 (dual-stack): IPv4 destinations are mapped.
    v6_socket: bool,
    session: RtpSession,
    sending: bool,
    /// The Contact ID side, when alarms are decoded.
    alarm: Option<AlarmLeg>,
}

/// A worker: a share of the calls, one tick per packet time for all of them.
struct Worker {
    legs: HashMap<CallHandle, Leg>,
    bind_ip: IpAddr,
    control: mpsc::Sender<Control>,
    alarm: Option<AlarmContextShared>,
    /// Its own inbox, for journal callbacks.
    inbox: mpsc::UnboundedSender<WorkerInput>,
}

impl Worker {
    async fn run(mut self, mut inputs: mpsc::UnboundedReceiver<WorkerInput>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut buf = vec![0u8; 2048];
        loop {
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(WorkerInput::Call(event)) => self.apply(event).await,
                    Some(WorkerInput::Stored(stored)) => self.stored(stored),
                    None => break,
                },
                _ = tick.tick() => self.tick(&mut buf),
            }
        }
    }

    fn tick(&mut self, buf: &mut [u8]) {
        let now = clock::now();
        for leg in self.legs.values_mut() {
            leg.receive(now, buf);
            if let (Some(alarm), Some(shared)) = (leg.alarm.as_mut(), self.alarm.as_ref()) {
                alarm.feed(now, &mut leg.session);
                alarm.act(shared, &mut leg.session, &self.inbox, &self.control);
            }
            leg.send(now);
        }
    }

    fn stored(&mut self, stored: Stored) {
        let now = clock::now();
        let (Some(leg), Some(shared)) = (self.legs.get_mut(&stored.call), self.alarm.as_ref())
        else {
            return;
        };
        if let Some(alarm) = leg.alarm.as_mut() {
            alarm.stored(now, stored.seq, stored.ok);
            alarm.act(shared, &mut leg.session, &self.inbox, &self.control);
        }
    }

    async fn apply(&mut self, event: CallEvent) {
        match event {
            CallEvent::MediaStart {
                call,
                call_id,
                tenant,
                caller,
                local_port,
                media,
                hold,
                ..
            } => match Leg::open(self.bind_ip, local_port, &media, hold, call) {
                Ok(mut leg) => {
                    if let Some(shared) = &self.alarm {
                        let ids = (call_id.as_str(), tenant.as_str(), caller.as_str());
                        let alarm = AlarmLeg::new(shared, call, ids, clock::now(), hold_spec(hold));
                        leg.session.stop_source();
                        leg.alarm = Some(alarm);
                    }
                    self.legs.insert(call, leg);
                }
                Err(err) => {
                    tracing::warn!(%err, port = local_port, "cannot open RTP leg");
                    let _ = self.control.send(Control::MediaFailed(call)).await;
                }
            },
            CallEvent::MediaUpdate { call, media, .. } => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.sending = media.direction.sends();
                }
            }
            CallEvent::MediaStop { call, .. } => {
                if let Some(mut leg) = self.legs.remove(&call) {
                    if let Some(alarm) = leg.alarm.as_mut() {
                        alarm.hangup(clock::now());
                    }
                    leg.report();
                }
            }
            _ => {}
        }
    }
}

/// The hold tone's spec, when the hold audio is a tone.
fn hold_spec(hold: HoldAudio) -> Option<ToneSpec> {
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
    fn open(
        ip: IpAddr,
        port: u16,
        media: &NegotiatedMedia,
        hold: HoldAudio,
        call: CallHandle,
    ) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, port))?;
        socket.set_nonblocking(true)?;
        let seed = call.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(port);
        let seeds = Seeds {
            ssrc: seed as u32,
            sequence_number: (seed >> 32) as u16,
            timestamp: (seed >> 40) as u32,
        };
        let mut session = RtpSession::new(clock::now(), params_from_sdp(media), seeds, "alarmgate")
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        if let Some(spec) = hold_spec(hold) {
            session.set_source(Box::new(ToneGenerator::new(spec)));
        }
        Ok(Self {
            v6_socket: ip.is_ipv6(),
            socket,
            session,
            sending: media.direction.sends(),
            alarm: None,
        })
    }

    /// Reads every waiting datagram into the session.
    fn receive(&mut self, now: std::time::Instant, buf: &mut [u8]) {
        while let Ok((n, from)) = self.socket.recv_from(buf) {
            let _ = self
                .session
                .handle_packet(now, from, buf.get(..n).unwrap_or_default());
        }
        self.session.handle_timeout(now);
        if self.alarm.is_none() {
            // Nothing listens to the audio: drain it so the buffers stay bounded.
            while self.session.poll_audio().is_some() {}
            while self.session.poll_event().is_some() {}
        }
    }

    /// Sends what is due.
    fn send(&mut self, now: std::time::Instant) {
        while let Some(t) = self.session.poll_transmit(now) {
            if self.sending {
                let _ = self.socket.send_to(&t.bytes, self.reachable(t.destination));
            }
        }
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

    fn report(&self) {
        let stats = self.session.stats();
        metrics::counter!(m::RTP_PACKETS_IN).increment(stats.packets_received);
        metrics::counter!(m::RTP_PACKETS_OUT).increment(stats.packets_sent);
    }
}
