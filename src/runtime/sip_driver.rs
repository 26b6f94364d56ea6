//! The SIP driver: one task that owns the [`CallCore`] and feeds it.
//!
//! It waits on three things: a message from the transports, a control
//! command (drain, media failure), or the core's next deadline. After each
//! wake-up it drains the core's transmits to the transports and its events to
//! the media engine (and, through `bus::emit`, the call events to the
//! journal). The core is single-threaded by design: one owner, no
//! locks, and the order of events is the order of arrival.

use super::media::MediaHandle;
use super::transport::{TransportEvent, TransportSender};
use crate::bus::emit::CallEvents;
use crate::call::{CallCore, CallEvent, CallHandle};
use crate::clock;
use crate::telemetry::health::Health;
use crate::telemetry::metrics as m;
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
}

/// How many transport events are handled before transmits are flushed.
const BATCH: usize = 128;

/// Runs the core until the transports close or the drain completes.
pub async fn run(
    mut core: CallCore,
    mut transport_events: mpsc::Receiver<TransportEvent>,
    sender: TransportSender,
    media: MediaHandle,
    mut control: mpsc::Receiver<Control>,
    health: Health,
    mut call_events: CallEvents,
) {
    loop {
        core.set_storage_ok(health.journal_ok());
        let deadline = core.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            biased;
            Some(cmd) = control.recv() => apply_control(&mut core, cmd),
            event = transport_events.recv() => {
                let Some(event) = event else { break };
                handle_event(&mut core, event);
                for _ in 1..BATCH {
                    match transport_events.try_recv() {
                        Ok(event) => handle_event(&mut core, event),
                        Err(_) => break,
                    }
                }
            }
            _ = sleep_until(deadline) => core.handle_timeout(clock::now()),
        }
        flush(&mut core, &sender, &media, &mut call_events);
        if core.is_drained() {
            tracing::info!("all calls drained");
            break;
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn apply_control(core: &mut CallCore, cmd: Control) {
    let now = clock::now();
    match cmd {
        Control::Drain { grace } => core.begin_drain(now, grace),
        Control::MediaFailed(call) => core.media_failed(now, call),
        Control::Settle(call) => core.settle(now, call),
        Control::Queue(request) => {
            tracing::info!(?request, "call waits for an operator (routing not wired yet)");
        }
    }
}

fn handle_event(core: &mut CallCore, event: TransportEvent) {
    let now = clock::now();
    match event {
        TransportEvent::Message { peer, data, .. } => core.handle_message(now, peer, &data),
        TransportEvent::StreamError {
            peer,
            reason,
            partial,
        } => {
            tracing::debug!(%reason, from = %peer.addr, "stream framing error");
            core.handle_stream_error(peer, partial.as_deref());
        }
        TransportEvent::SendFailed { peer, reason } => {
            tracing::debug!(%reason, to = %peer.addr, "send failed");
            core.handle_send_failed(now, peer);
        }
        TransportEvent::Closed { .. } => {}
    }
}

fn flush(
    core: &mut CallCore,
    sender: &TransportSender,
    media: &MediaHandle,
    call_events: &mut CallEvents,
) {
    while let Some(t) = core.poll_transmit() {
        sender.send(t);
    }
    while let Some(event) = core.poll_event() {
        if let CallEvent::Ended {
            call_id,
            reason,
            duration,
            ..
        } = &event
        {
            tracing::debug!(%call_id, reason = reason.as_str(), duration_s = duration.as_secs_f64(), "call ended");
        }
        call_events.observe(&event);
        media.apply(event);
    }
    let counts = core.transaction_counts();
    metrics::gauge!(m::SIP_TRANSACTIONS, "kind" => "server_invite")
        .set(counts.server_invite as f64);
    metrics::gauge!(m::SIP_TRANSACTIONS, "kind" => "server_non_invite")
        .set(counts.server_non_invite as f64);
    metrics::gauge!(m::SIP_TRANSACTIONS, "kind" => "client_invite")
        .set(counts.client_invite as f64);
    metrics::gauge!(m::SIP_TRANSACTIONS, "kind" => "client_non_invite")
        .set(counts.client_non_invite as f64);
}
