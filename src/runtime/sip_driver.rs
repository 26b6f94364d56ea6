//! The SIP driver: one task that owns the [`Switchboard`] (the call core,
//! the registrar and the router) and feeds it.
//!
//! It waits on four things: a message from the transports, a control
//! command (drain, media failure, a call to queue, a new dialplan), an API
//! command, or the switchboard's next deadline. After each wake-up it drains
//! the transmits to the transports, media commands to the media engine, and
//! call and routing events to the journal. The cores are single-threaded by
//! design: one owner, no locks, and the order of events is the order of
//! arrival.
//!
//! It also measures its own lag for the overload screen ([`super::load`]):
//! before each batch of transport events, the backlog behind it times the
//! measured cost of one event, and every 100 ms the media workers' tick lag.

use super::load::LoadMeter;
use super::media::MediaHandle;
use super::transport::{TransportEvent, TransportSender};
use crate::api::ApiCommand;
use crate::bus::emit::CallEvents;
use crate::call::{CallEvent, CallHandle};
use crate::clock;
use crate::journal::JournalHandle;
use crate::switchboard::{EventRecord, Output, Switchboard};
use crate::telemetry::health::Health;
use crate::telemetry::metrics as m;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Commands from the rest of the daemon to the SIP driver.
#[derive(Debug)]
pub enum Control {
    /// Start draining: refuse new calls, hang up the rest after `grace`.
    Drain {
        /// How long calls in progress may continue.
        grace: Duration,
    },
    /// The media engine could not open the socket of a call.
    MediaFailed(CallHandle),
    /// The alarm pipeline settled a call: hang up.
    Settle(CallHandle),
    /// A device call needs a person: route it (once per call, from the media worker).
    Queue(super::alarm_leg::QueueRequest),
    /// An alarm that came as data (SCAIP, DC-09, supervision), durable in
    /// the journal: list it for the operators.
    DataAlarm(Box<crate::alarm::report::DataAlarm>),
    /// SIGHUP: a new, validated dialplan, its routes resolved.
    Reload(Box<super::switchboard_setup::Reload>),
}

/// How many transport events are handled before transmits are flushed.
const BATCH: usize = 128;

/// Where the driver's inputs come from.
pub struct Inputs {
    /// Messages from the transports.
    pub transport: mpsc::Receiver<TransportEvent>,
    /// Commands from the rest of the daemon.
    pub control: mpsc::Receiver<Control>,
    /// Commands from the HTTP API.
    pub api: mpsc::Receiver<ApiCommand>,
    /// Outcomes of SCAIP stores (see [`super::scaip_store`]).
    pub stored: mpsc::UnboundedReceiver<super::scaip_store::Stored>,
}

/// Where the driver's outputs go.
pub struct Outputs {
    /// The transports.
    pub sender: TransportSender,
    /// The media engine.
    pub media: MediaHandle,
    /// Readiness and the journal's health.
    pub health: Health,
    /// Call start/end records.
    pub call_events: CallEvents,
    /// Routing and disposition records.
    pub journal: Option<JournalHandle>,
    /// This node's name, the events' source.
    pub node: Arc<str>,
    /// Where SCAIP store outcomes go (the other end is [`Inputs::stored`]).
    pub stored: mpsc::UnboundedSender<super::scaip_store::Stored>,
    /// `[cluster]`: where the events the cluster shares are copied; `None`
    /// for a single node (nothing copied).
    pub cluster: Option<super::cluster::ClusterTap>,
}

/// Runs the switchboard until the transports close or the drain completes.
pub async fn run(mut sb: Switchboard, mut inputs: Inputs, mut outputs: Outputs) {
    let mut load = LoadMeter::default();
    loop {
        sb.core().set_storage_ok(outputs.health.journal_ok());
        let deadline = sb.poll_timeout().map(tokio::time::Instant::from_std);
        let mut batch = None;
        // Control, due timers and the API go before SIP traffic, so that a
        // flood of messages cannot hold back retransmissions, ring timeouts,
        // keep-alives or an operator's command.
        tokio::select! {
            biased;
            Some(cmd) = inputs.control.recv() => apply_control(&mut sb, cmd, &outputs.sender),
            Some((token, ok)) = inputs.stored.recv() => sb.scaip_stored(clock::now(), token, ok),
            _ = sleep_until(deadline) => sb.handle_timeout(clock::now()),
            Some(cmd) = inputs.api.recv() => {
                let (request, reply) = cmd.split();
                reply.send(sb.handle_api(clock::now(), request));
            }
            event = inputs.transport.recv() => {
                let Some(event) = event else { break };
                // Read again: the journal may have healed while we waited.
                sb.core().set_storage_ok(outputs.health.journal_ok());
                let started = clock::now();
                load.before_batch(sb.core(), started, inputs.transport.len() + 1);
                let served = serve_batch(&mut sb, &mut inputs.transport, event);
                batch = Some((served, started));
            }
        }
        flush(&mut sb, &mut outputs);
        let now = clock::now();
        if let Some((served, started)) = batch {
            load.after_batch(served, started, now);
        }
        load.sample(sb.core(), now);
        if sb.core().is_drained() {
            tracing::info!("all calls drained");
            break;
        }
    }
}

/// Handles `first` and up to `BATCH - 1` more waiting transport events;
/// returns how many were handled.
fn serve_batch(
    sb: &mut Switchboard,
    transport: &mut mpsc::Receiver<TransportEvent>,
    first: TransportEvent,
) -> usize {
    handle_event(sb, first);
    let mut served = 1;
    while served < BATCH {
        match transport.try_recv() {
            Ok(event) => handle_event(sb, event),
            Err(_) => break,
        }
        served += 1;
    }
    served
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn apply_control(sb: &mut Switchboard, cmd: Control, sender: &TransportSender) {
    let now = clock::now();
    match cmd {
        Control::Drain { grace } => sb.with_core(now, |core, _, now| core.begin_drain(now, grace)),
        Control::MediaFailed(call) => {
            sb.with_core(now, |core, tl, now| core.media_failed(tl, now, call))
        }
        Control::Settle(call) => sb.with_core(now, |core, tl, now| core.settle(tl, now, call)),
        Control::Queue(request) => match request.unconfirmed {
            Some(alarm) => sb.queue_unconfirmed(now, request.call, alarm),
            None => sb.queue(now, request.call, request.class, request.event_code),
        },
        Control::DataAlarm(alarm) => sb.queue_data_alarm(now, *alarm),
        Control::Reload(mut reload) => {
            if let Some(tls) = reload.tls.take() {
                sender.set_tls_peers(tls);
            }
            super::switchboard_setup::reload(sb, *reload, now)
        }
    }
}

fn handle_event(sb: &mut Switchboard, event: TransportEvent) {
    let now = clock::now();
    match event {
        TransportEvent::Message { peer, data, .. } => sb.handle_message(now, peer, &data),
        TransportEvent::StreamError {
            peer,
            reason,
            partial,
        } => {
            tracing::debug!(%reason, from = %peer.addr, "stream framing error");
            sb.handle_stream_error(now, peer, partial.as_deref());
        }
        TransportEvent::SendFailed { peer, reason } => {
            tracing::debug!(%reason, to = %peer.addr, "send failed");
            sb.handle_send_failed(now, peer);
        }
        TransportEvent::Closed { peer } => sb.handle_flow_closed(now, peer),
    }
}

fn flush(sb: &mut Switchboard, out: &mut Outputs) {
    while let Some(t) = sb.poll_transmit() {
        out.sender.send(t);
    }
    while let Some(output) = sb.poll_output() {
        match output {
            Output::Call(event) => {
                if let CallEvent::Ended {
                    call_id,
                    reason,
                    duration,
                    ..
                } = &event
                {
                    tracing::debug!(%call_id, reason = reason.as_str(), duration_s = duration.as_secs_f64(), "call ended");
                    if let Some(tap) = &out.cluster {
                        tap.send(
                            crate::events::CALL_ENDED,
                            call_id.as_str(),
                            &serde_json::Value::Null,
                        );
                    }
                }
                out.call_events.observe(&event);
                out.media.apply(event);
            }
            Output::Bridge { group, a, b } => out.media.bridge(group, a, b),
            Output::Event(record) => write_event(out, record),
            Output::Digits {
                group,
                leg,
                digits,
                duration_ms,
            } => out.media.send_digits(group, leg, digits, duration_ms),
            Output::StopAlarm { group } => out.media.stop_alarm(group),
            Output::Store { token, record } => super::scaip_store::store_then_answer(
                out.journal.as_ref(),
                &out.node,
                token,
                record,
                &out.stored,
            ),
        }
    }
    record_counts(sb);
}

/// A routing or disposition event into the journal (not awaited).
fn write_event(out: &Outputs, record: EventRecord) {
    if let Some(tap) = &out.cluster {
        tap.send(record.kind, &record.subject, &record.data);
    }
    let Some(journal) = out.journal.as_ref() else {
        return;
    };
    let payload = crate::events::record(
        &out.node,
        &record.subject,
        record.kind,
        clock::wall(),
        rand::random(),
        record.data,
    );
    crate::bus::emit::append(journal, record.kind, payload);
}

fn record_counts(sb: &mut Switchboard) {
    metrics::gauge!(m::CALLS_WAITING).set(sb.waiting_count() as f64);
    metrics::gauge!(m::CALLBACKS_OPEN).set(sb.callback_count() as f64);
    for (state, count) in sb.operator_state_counts() {
        metrics::gauge!(m::OPERATORS, "state" => state).set(count as f64);
    }
    let counts = sb.transaction_counts();
    metrics::gauge!(m::SIP_TRANSACTIONS, "kind" => "server_invite")
        .set(counts.server_invite as f64);
    metrics::gauge!(m::SIP_TRANSACTIONS, "kind" => "server_non_invite")
        .set(counts.server_non_invite as f64);
    metrics::gauge!(m::SIP_TRANSACTIONS, "kind" => "client_invite")
        .set(counts.client_invite as f64);
    metrics::gauge!(m::SIP_TRANSACTIONS, "kind" => "client_non_invite")
        .set(counts.client_non_invite as f64);
}
