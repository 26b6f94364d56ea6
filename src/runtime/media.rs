//! The media engine: RTP sockets of all calls, served by a few ticking workers.
//!
//! A task per call waking every 20 ms would cost 50 wake-ups per second per
//! call; instead each worker owns a share of the calls and wakes once per
//! packet time for all of them. Sockets are non-blocking std sockets polled on
//! the tick, so no reactor registration is paid per call either.
//!
//! Each leg is an [`RtpSession`](crate::media::RtpSession) (the pure core in
//! [`crate::media`]): it latches onto the far end's source address
//! (symmetric RTP, through NAT), decodes G.711, collects RFC 4733 digits,
//! sends RTCP receiver reports, and plays its
//! [`BridgePort`](crate::media::bridge_port::BridgePort): the hold audio
//! (silence, or the configured cadenced tone), the alarm pipeline's tones,
//! or the leg it is bridged to.
//!
//! All legs of a media group (a device call and the operator legs it
//! spawned) live on one worker, chosen by the group's handle, so a bridge
//! moves audio between two legs of one worker without locks or channels.
//! Each tick: every leg reads its socket; every bridge moves the decoded
//! audio both ways and relays RFC 4733 digits both ways; the device leg's
//! alarm pipeline hears the same audio; every leg sends what is due.

use super::alarm_leg::{
    send_control, AlarmContextShared, AlarmLeg, QueueRequest, Stored, WorkerInput,
};
use super::sip_driver::Control;
use crate::call::{CallEvent, CallHandle, HoldAudio};
use crate::clock;
use crate::labels::CallLabels;
use crate::media::bridge::{Bridge, BridgeConfig};
use crate::media::bridge_port::BridgePort;
use crate::media::source::SourceRules;
use crate::media::webrtc::DtlsIdentity;
use crate::recording::writer::RecordingMeta;
use crate::recording::{Recorder, RecordingId};
use crate::sip::sdp::NegotiatedMedia;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[path = "media_leg.rs"]
mod leg;
use leg::{hold_spec, Leg, Link};
#[path = "media_pairs.rs"]
mod pairs;
#[path = "media_ports.rs"]
pub mod ports;
pub use ports::RtpSockets;

/// How the workers open legs.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// The address RTP sockets bind.
    pub bind_ip: IpAddr,
    /// Where a leg's RTP may come from (`[media] rtp_source`).
    pub source: SourceRules,
    /// Sockets the call core bound when it drew the port.
    pub sockets: RtpSockets,
    /// Call recording, for the tenants that have it.
    pub recorder: Option<Recorder>,
    /// Our DTLS certificate, for browser (WebRTC) legs; without it such a
    /// leg fails to open.
    pub dtls: Option<DtlsIdentity>,
}

impl MediaSettings {
    /// Strict SDP-address rules; sockets bound on `bind_ip` as the core draws.
    pub fn new(bind_ip: IpAddr) -> Self {
        Self {
            bind_ip,
            source: SourceRules::default(),
            sockets: RtpSockets::new(bind_ip),
            recorder: None,
            dtls: None,
        }
    }
}

/// The packet time the workers tick at.
const TICK: Duration = Duration::from_millis(20);
/// Bridges waiting for a leg's media, per worker (a request whose legs are
/// on another worker, by a wrong group, would otherwise wait forever).
const MAX_PENDING: usize = 256;

/// Sends call events and bridge commands to the worker that owns the group.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    workers: Vec<mpsc::UnboundedSender<WorkerInput>>,
}

impl MediaHandle {
    /// Starts `workers` media workers opening legs by `settings`; with
    /// `alarm`, every answered device call runs the Contact ID pipeline.
    pub fn start(
        settings: MediaSettings,
        workers: usize,
        control: mpsc::Sender<Control>,
        alarm: Option<AlarmContextShared>,
    ) -> Self {
        let workers = (0..workers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                let worker =
                    Worker::new(settings.clone(), control.clone(), alarm.clone(), tx.clone());
                tokio::spawn(worker.run(rx));
                tx
            })
            .collect();
        Self { workers }
    }

    /// Routes a call event to its group's worker; events other than media
    /// ones are ignored.
    pub fn apply(&self, event: CallEvent) {
        let group = match &event {
            CallEvent::MediaStart { group, .. }
            | CallEvent::MediaUpdate { group, .. }
            | CallEvent::MediaStop { group, .. }
            | CallEvent::InfoDigit { group, .. } => *group,
            _ => return,
        };
        self.send(group, WorkerInput::Call(event));
    }

    /// Connects device leg `a` (the citizen's unit: it gets the operator's
    /// digits) and operator leg `b` of media `group`: audio both ways, each
    /// side in its own codec. Ends any bridge either leg was in. Unknown
    /// legs: logged and ignored. Either leg's `MediaStop` ends the bridge.
    pub fn bridge(&self, group: CallHandle, a: CallHandle, b: CallHandle) {
        self.send(group, WorkerInput::Bridge { group, a, b });
    }

    /// Ends the bridge `leg` of `group` is in (either side): both legs go
    /// back to their hold audio.
    pub fn unbridge(&self, group: CallHandle, leg: CallHandle) {
        self.send(group, WorkerInput::Unbridge { group, leg });
    }

    /// Sends `digits` as RFC 4733 events on `leg` of `group` (an operator's
    /// in-call command to a unit); a leg without telephone-event: logged.
    pub fn send_digits(
        &self,
        group: CallHandle,
        leg: CallHandle,
        digits: String,
        duration_ms: u32,
    ) {
        self.send(
            group,
            WorkerInput::Digits {
                group,
                leg,
                digits,
                duration_ms,
            },
        );
    }

    /// Stops the Contact ID receiver on device call `group` (a linked
    /// SCAIP alarm: the unit talks): no handshake, no kissoff, hold audio.
    pub fn stop_alarm(&self, group: CallHandle) {
        self.send(group, WorkerInput::StopAlarm { group });
    }

    fn send(&self, group: CallHandle, input: WorkerInput) {
        let index = (group.0 % self.workers.len() as u64) as usize;
        if let Some(worker) = self.workers.get(index) {
            let _ = worker.send(input);
        }
    }
}

/// What `MediaStart` says about the leg to open.
struct LegSpec {
    call: CallHandle,
    outgoing: bool,
    local_port: u16,
    hold: HoldAudio,
}

/// A worker: a share of the media groups, one tick per packet time for all.
struct Worker {
    legs: HashMap<CallHandle, Leg>,
    /// Bridges: (device, operator, link), found by either leg.
    links: pairs::Pairs<Link>,
    /// Bridges asked for before both legs' `MediaStart` came: (device, operator).
    pending: pairs::Pairs<()>,
    /// Each open leg's call labels (the device leg's tenant decides recording).
    labels: HashMap<CallHandle, CallLabels>,
    settings: MediaSettings,
    control: mpsc::Sender<Control>,
    alarm: Option<AlarmContextShared>,
    /// Its own inbox, for journal callbacks.
    inbox: mpsc::UnboundedSender<WorkerInput>,
}

impl Worker {
    fn new(
        settings: MediaSettings,
        control: mpsc::Sender<Control>,
        alarm: Option<AlarmContextShared>,
        inbox: mpsc::UnboundedSender<WorkerInput>,
    ) -> Self {
        Self {
            legs: HashMap::new(),
            links: pairs::Pairs::default(),
            pending: pairs::Pairs::default(),
            labels: HashMap::new(),
            settings,
            control,
            alarm,
            inbox,
        }
    }

    async fn run(mut self, mut inputs: mpsc::UnboundedReceiver<WorkerInput>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut buf = vec![0u8; 2048];
        loop {
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(input) => self.input(clock::now(), input),
                    None => break,
                },
                due = tick.tick() => { super::load::media_tick(due); self.tick(clock::now(), &mut buf) }
            }
        }
    }

    fn input(&mut self, now: Instant, input: WorkerInput) {
        match input {
            WorkerInput::Call(event) => self.apply(now, event),
            WorkerInput::Stored(stored) => self.stored(now, stored),
            WorkerInput::Bridge { a, b, .. } => self.connect(a, b),
            WorkerInput::Unbridge { leg, .. } => self.disconnect(leg),
            WorkerInput::StopAlarm { group } => {
                if let Some(alarm) = self.legs.get_mut(&group).and_then(|l| l.alarm.take()) {
                    tracing::info!(
                        call = group.0,
                        "alarm decoding stopped: the call carries a linked SCAIP alarm"
                    );
                    alarm.stand_down();
                }
            }
            WorkerInput::Digits {
                leg,
                digits,
                duration_ms,
                ..
            } => {
                let sent = self
                    .legs
                    .get_mut(&leg)
                    .is_some_and(|l| digits.chars().all(|d| l.send_digit(d, duration_ms)));
                if !sent {
                    tracing::warn!(leg = leg.0, %digits, "digits not sent: no such leg or no telephone-event");
                }
            }
        }
    }

    fn tick(&mut self, now: Instant, buf: &mut [u8]) {
        for leg in self.legs.values_mut() {
            leg.receive(now, buf);
        }
        for link in self.links.values_mut() {
            link.carry(&mut self.legs);
        }
        for (call, leg) in self.legs.iter_mut() {
            leg.listen(now, self.alarm.as_ref(), &self.inbox, &self.control);
            leg.send(now);
            if leg.take_connected() {
                tracing::info!(call = call.0, "WebRTC leg connected (ICE, DTLS, SRTP)");
                metrics::counter!(crate::telemetry::metrics::WEBRTC_CONNECTED).increment(1);
            }
            if let Some(reason) = leg.take_failure() {
                tracing::warn!(call = call.0, reason = reason.label(), "WebRTC leg failed");
                metrics::counter!(crate::telemetry::metrics::WEBRTC_FAILED, "reason" => reason.label())
                    .increment(1);
                send_control(&self.control, Control::MediaFailed(*call));
            }
        }
    }

    fn stored(&mut self, now: Instant, stored: Stored) {
        let (Some(leg), Some(shared)) = (self.legs.get_mut(&stored.call), self.alarm.as_ref())
        else {
            return;
        };
        if let Some(alarm) = leg.alarm.as_mut() {
            alarm.stored(now, stored.id, stored.ok);
            alarm.act(shared, &self.inbox, &self.control);
        }
    }

    /// A DTMF key from a SIP INFO of `call`: relayed to the device when
    /// `call` is the operator side of a bridge, as its RFC 4733 digits are.
    fn info_digit(&mut self, call: CallHandle, key: char, duration_ms: u32) {
        match self.links.get_mut(call).filter(|(_, op, _)| *op == call) {
            Some((_, _, link)) => link.relay_key(&mut self.legs, key, duration_ms),
            None => tracing::debug!(
                call = call.0,
                "INFO digit outside an operator's bridge: not relayed"
            ),
        }
    }

    /// Bridges two legs, or remembers the request until both have media
    /// (a leg's `MediaStart` follows its answer).
    fn connect(&mut self, device: CallHandle, operator: CallHandle) {
        if device == operator {
            return;
        }
        self.disconnect(device);
        self.disconnect(operator);
        let (Some(d), Some(o)) = (self.legs.get(&device), self.legs.get(&operator)) else {
            return self.wait_for_media(device, operator);
        };
        let te = d.telephone_event;
        let bridge = Bridge::new(BridgeConfig::default(), d.port.clone(), o.port.clone(), te)
            .with_operator_events(o.telephone_event);
        tracing::info!(
            device = device.0,
            operator = operator.0,
            rfc4733_to_device = te,
            rfc4733_to_operator = o.telephone_event,
            "bridged"
        );
        let mut link = Link::new(device, operator, bridge);
        self.start_recording(&mut link);
        self.links.insert(device, operator, link);
    }

    /// Starts recording a new bridge when the device call's tenant records.
    fn start_recording(&self, link: &mut Link) {
        let (Some(recorder), Some(labels)) =
            (&self.settings.recorder, self.labels.get(&link.device))
        else {
            return;
        };
        if !recorder.records(&labels.tenant) {
            return;
        }
        let id = RecordingId::from_random(rand::random());
        tracing::info!(recording = %id, call_id = %labels.call_id, "recording the bridged call");
        recorder.writer.begin(RecordingMeta {
            id: id.clone(),
            tenant: labels.tenant.clone(),
            call_id: labels.call_id.to_string(),
        });
        link.record(id, recorder.writer.clone());
    }

    fn wait_for_media(&mut self, device: CallHandle, operator: CallHandle) {
        tracing::debug!(
            device = device.0,
            operator = operator.0,
            "bridge waits for media"
        );
        if self.pending.len() >= MAX_PENDING {
            tracing::warn!("too many bridges waiting for media: the oldest is dropped");
            self.pending.pop_oldest();
        }
        self.pending.insert(device, operator, ());
    }

    /// The bridge waiting for `leg`'s media, now that both legs have it.
    fn connect_pending(&mut self, leg: CallHandle) {
        let ready = |&(a, b): &(CallHandle, CallHandle)| {
            self.legs.contains_key(&a) && self.legs.contains_key(&b)
        };
        if let Some((device, operator)) = self.pending.pair_of(leg).filter(ready) {
            self.pending.remove(leg);
            self.connect(device, operator);
        }
    }

    /// Ends the bridge `leg` is in; both legs go back to hold.
    fn disconnect(&mut self, leg: CallHandle) {
        self.pending.remove(leg);
        let Some((_, _, mut link)) = self.links.remove(leg) else {
            return;
        };
        link.finish_recording();
        let stats = link.bridge.stats();
        tracing::info!(
            device = link.device.0,
            operator = link.operator.0,
            dropped = stats.to_device.dropped + stats.to_operator.dropped,
            underrun = stats.to_device.underrun + stats.to_operator.underrun,
            digits = stats.digits_events + stats.digits_in_band,
            "bridge ended"
        );
    }

    fn apply(&mut self, now: Instant, event: CallEvent) {
        match event {
            CallEvent::MediaStart {
                call,
                outgoing,
                call_id,
                tenant,
                caller,
                local_port,
                media,
                hold,
                ..
            } => {
                let labels = CallLabels::new(call_id, tenant, caller);
                self.labels.insert(call, labels.clone());
                let leg = LegSpec {
                    call,
                    outgoing,
                    local_port,
                    hold,
                };
                self.start(now, leg, labels, &media);
            }
            CallEvent::MediaUpdate { call, media, .. } => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.update(&media);
                }
            }
            CallEvent::MediaStop { call, .. } => self.stop(now, call),
            CallEvent::InfoDigit {
                call,
                key,
                duration_ms,
                ..
            } => self.info_digit(call, key, duration_ms),
            _ => {}
        }
    }

    /// Opens a leg; a device call also gets its alarm pipeline, or, when
    /// alarms are not decoded, its queue request at once.
    fn start(&mut self, now: Instant, spec: LegSpec, labels: CallLabels, media: &NegotiatedMedia) {
        let (call, hold) = (spec.call, hold_spec(spec.hold));
        let port = BridgePort::new(BridgeConfig::default().capacity_ms);
        let mut leg = match Leg::open(
            now,
            &self.settings,
            spec.local_port,
            media,
            port.clone(),
            call,
        ) {
            Ok(leg) => leg,
            Err(err) => {
                tracing::warn!(%err, port = spec.local_port, "cannot open RTP leg");
                return send_control(&self.control, Control::MediaFailed(call));
            }
        };
        match (&self.alarm, spec.outgoing) {
            (Some(shared), false) => {
                leg.alarm = Some(AlarmLeg::new(shared, call, labels, now, hold, port));
            }
            (None, false) => {
                port.set_hold(hold);
                send_control(&self.control, Control::Queue(QueueRequest::voice(call)));
            }
            (_, true) => port.set_hold(hold),
        }
        self.legs.insert(call, leg);
        self.connect_pending(call);
    }

    fn stop(&mut self, now: Instant, call: CallHandle) {
        self.disconnect(call);
        self.labels.remove(&call);
        if let Some(mut leg) = self.legs.remove(&call) {
            leg.close(now);
            if let Some(alarm) = leg.alarm.as_mut() {
                alarm.hung_up(now, self.alarm.as_ref(), &self.control);
            }
            leg.report();
        }
    }
}

#[cfg(test)]
#[path = "media_tests.rs"]
mod tests;
