//! One call's alarm decoding, as the media worker drives it: the pure
//! [`AlarmPipeline`] on one side, the RTP session, the journal and the SIP
//! driver on the other.
//!
//! The order that keeps the promise "acknowledged means stored": the
//! pipeline decodes a message and hands it to the alarm core
//! (`crate::alarm::core`, the one every protocol uses), whose `Store` goes
//! to the journal; the journal's writer thread syncs it to disk and only
//! then calls back into this worker; the core's `Acknowledge` is the
//! pipeline's `confirm_stored`, which lets it start the kissoff. A journal
//! error (or a core `Withhold`) calls `storage_failed` instead: no kissoff,
//! the unit repeats, and the journal's health flag turns `/readyz` to 503.
//! After the kissoff an `alarm.acknowledged` event follows (not awaited).
//!
//! The leg's tones go to its [`BridgePort`], over whatever else it plays
//! (hold tone, or the operator's voice once bridged): the pipeline keeps
//! listening after the bridge starts, and its kissoff wins while it plays.
//! When the call needs a person, one [`QueueRequest`] goes to the SIP
//! driver (see [`QueueState`]).

use super::sip_driver::Control;
use crate::alarm::classify::Classifier;
use crate::alarm::core::{AlarmAction, AlarmCore, AlarmId, CoreConfig, StoreRecord};
use crate::alarm::core_queue::{settle, Settled};
use crate::alarm::pipeline::{
    AlarmPipeline, GiveUpReason, MessageForensics, PipelineAction, PipelineConfig,
};
use crate::bus::emit;
use crate::call::CallHandle;
use crate::clock;
use crate::events;
use crate::journal::JournalHandle;
use crate::labels::CallLabels;
use crate::media::bridge_port::BridgePort;
use crate::media::receiver::AudioFrame;
use crate::media::source::{DropCounts, DropReason};
use crate::media::telephone_event::DigitEvent;
use crate::media::tone::ToneSpec;
use crate::routing::CallClass;
use crate::telemetry::metrics as m;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// What every alarm leg of the node shares.
#[derive(Clone)]
pub struct AlarmContextShared {
    /// Where decoded alarms are made durable.
    pub journal: JournalHandle,
    /// Per-tenant classification (built-in rules plus the tenant's overrides).
    pub classifiers: Arc<HashMap<String, Classifier>>,
    /// Timings and detector thresholds.
    pub config: PipelineConfig,
    /// Hang up calls whose alarms were all technical/test once settled.
    pub settle_technical: bool,
    /// This node's name, the events' source.
    pub node: Arc<str>,
}

/// A journal result coming back to the worker that owns the call.
#[derive(Debug)]
pub struct Stored {
    /// The call.
    pub call: CallHandle,
    /// The alarm core's id of the message.
    pub id: AlarmId,
    /// True when the record is durable.
    pub ok: bool,
}

/// The alarm side of one leg.
pub struct AlarmLeg {
    call: CallHandle,
    labels: CallLabels,
    pipeline: AlarmPipeline,
    /// Dates audio frames on the sender's RTP clock (see [`RtpClock`]).
    clock: RtpClock,
    voice: bool,
    /// What the caller hears while waiting for a person, if not silence.
    hold: Option<ToneSpec>,
    /// The `alarm.received` event id of each stored message (pipeline seq),
    /// for the `alarm.acknowledged` event that follows it.
    received: HashMap<u64, String>,
    /// What the unit hears: our tones override it.
    port: BridgePort,
    /// The one queue request of the call.
    queue: QueueState,
    /// RTP the leg refused by its source rules (strict media), for the
    /// stored record's forensics.
    rtp_dropped: DropCounts,
    /// Store, then acknowledge or withhold: the decisions.
    core: AlarmCore,
    /// The pipeline's sequence number of each message the core holds.
    seqs: HashMap<AlarmId, u64>,
}

/// A call's alarm core: the receiver's own kissoff deadline withholds a
/// slow store first, so the core's timeout only bounds its memory.
const CONTACT_ID_CORE: CoreConfig = CoreConfig {
    store_timeout: std::time::Duration::from_secs(60),
    list_technical: false,
    max_pending: 64,
};

impl AlarmLeg {
    /// A pipeline for a call answered at `answered_at`, playing its tones
    /// on `port` (and `hold` there once the call waits for a person).
    pub fn new(
        shared: &AlarmContextShared,
        call: CallHandle,
        labels: CallLabels,
        answered_at: Instant,
        hold: Option<ToneSpec>,
        port: BridgePort,
    ) -> Self {
        let classifier = (shared.classifiers)
            .get(labels.tenant.as_str())
            .cloned()
            .unwrap_or_default();
        Self {
            call,
            labels,
            pipeline: AlarmPipeline::new(answered_at, shared.config, classifier),
            clock: RtpClock::default(),
            voice: false,
            hold,
            received: HashMap::new(),
            port,
            queue: QueueState::default(),
            rtp_dropped: DropCounts::default(),
            core: AlarmCore::new(CONTACT_ID_CORE),
            seqs: HashMap::new(),
        }
    }

    /// The leg's source-rule drops so far.
    pub fn set_rtp_dropped(&mut self, dropped: DropCounts) {
        self.rtp_dropped = dropped;
    }

    /// Feeds what the leg's RTP session decoded since the last tick.
    pub fn feed(&mut self, now: Instant, frames: &[AudioFrame], events: &[DigitEvent]) {
        for frame in frames {
            let at = match frame {
                AudioFrame::Audio { timestamp, .. } => self.clock.date(*timestamp, now),
                AudioFrame::Gap { .. } => self.clock.last().unwrap_or(now),
            };
            self.pipeline.handle_frame(at, frame);
        }
        for event in events {
            self.pipeline.handle_telephone_event(now, event);
        }
        if self.pipeline.poll_timeout().is_some_and(|t| t <= now) {
            self.pipeline.handle_timeout(now);
        }
    }

    /// A journal answer for one of this call's messages, for the core.
    pub fn stored(&mut self, now: Instant, id: AlarmId, ok: bool) {
        let actions = self.core.handle_stored(now, id, ok);
        self.execute(now, actions);
    }

    /// The core's word to the pipeline: kissoff only for what is durable.
    fn execute(&mut self, now: Instant, actions: Vec<AlarmAction>) {
        for action in actions {
            match action {
                AlarmAction::Acknowledge { id } => {
                    if let Some(seq) = self.seqs.remove(&id) {
                        self.pipeline.confirm_stored(now, seq);
                    }
                }
                AlarmAction::Withhold { id, reason } => {
                    tracing::error!(call_id = %self.labels.call_id, ?reason, "alarm not stored: no kissoff");
                    metrics::counter!(m::ALARMS_STORE_FAILED).increment(1);
                    if let Some(seq) = self.seqs.remove(&id) {
                        self.pipeline.storage_failed(now, seq);
                    }
                }
                // The call carries the alarm: the core never lists it; a
                // store is handed out by `handle_decoded` only.
                AlarmAction::List(_) | AlarmAction::Store { .. } => {}
            }
        }
    }

    /// Carries out what the pipeline asks for.
    pub fn act(
        &mut self,
        shared: &AlarmContextShared,
        worker: &mpsc::UnboundedSender<WorkerInput>,
        control: &mpsc::Sender<Control>,
    ) {
        while let Some(action) = self.pipeline.poll_action() {
            self.act_one(shared, worker, control, action);
        }
    }

    fn act_one(
        &mut self,
        shared: &AlarmContextShared,
        worker: &mpsc::UnboundedSender<WorkerInput>,
        control: &mpsc::Sender<Control>,
        action: PipelineAction,
    ) {
        let call_id = self.labels.call_id.as_str();
        match action {
            PipelineAction::PlayTone(spec) => self.port.play_override(spec),
            PipelineAction::StopTone => self.port.stop_override(),
            PipelineAction::Store {
                seq,
                message,
                raw,
                class,
                forensics,
            } => {
                record_forensics(&forensics);
                tracing::info!(
                    %call_id,
                    %raw,
                    event = %message.event,
                    account = %message.account,
                    class = ?class,
                    handshake_to_first_digit_ms = forensics.handshake_to_first_digit.map(|d| d.as_millis() as u64),
                    message_ms = forensics.message_duration.as_millis() as u64,
                    level_dbm0 = ?forensics.level_dbm0,
                    twist_db = ?forensics.twist_db,
                    snr_db = ?forensics.snr_db,
                    packets_lost = forensics.packets_lost,
                    retries = forensics.retries,
                    checksum_failures = forensics.checksum_failures,
                    digit_ms = ?forensics.durations_ms(),
                    "alarm decoded; storing"
                );
                metrics::counter!(m::ALARMS_DECODED, "class" => events::class_name(class))
                    .increment(1);
                self.queue.decoded(class, &message);
                let forensics =
                    with_rtp_dropped(events::forensics_json(&forensics), self.rtp_dropped);
                let alarm =
                    events::contact_id_alarm(&self.labels, &message, &raw, class, forensics);
                self.decoded(shared, worker, seq, alarm);
            }
            PipelineAction::Acknowledged {
                seq,
                duplicate,
                after_last_digit,
            } => {
                tracing::info!(%call_id, seq, duplicate, kissoff_after_ms = after_last_digit.as_millis() as u64, "alarm acknowledged (kissoff)");
                metrics::counter!(m::ALARMS_ACKNOWLEDGED).increment(1);
                metrics::histogram!(m::KISSOFF_DELAY).record(after_last_digit.as_secs_f64());
                let record = emit::alarm_acknowledged(
                    &shared.node,
                    call_id,
                    self.labels.tenant.as_str(),
                    self.labels.caller.as_str(),
                    self.received.get(&seq).map(String::as_str),
                    duplicate,
                    after_last_digit.as_millis() as u64,
                );
                emit::append(&shared.journal, events::ALARM_ACKNOWLEDGED, record);
            }
            PipelineAction::Withheld { seq, reason } => {
                tracing::warn!(%call_id, seq, ?reason, "kissoff withheld: not stored in time");
                metrics::counter!(m::ALARMS_WITHHELD).increment(1);
            }
            PipelineAction::Rejected { raw, reason } => {
                tracing::info!(%call_id, %raw, ?reason, "message rejected; the unit will repeat");
                metrics::counter!(m::ALARMS_REJECTED).increment(1);
            }
            PipelineAction::SwitchToVoice { reason } => {
                tracing::info!(%call_id, ?reason, "alarm needs a person: call stays up for an operator");
                self.wait_for_person(control, CallClass::Voice);
            }
            PipelineAction::Settle { reason } => {
                tracing::info!(%call_id, ?reason, "alarms settled by the gateway");
                match settle(self.voice, shared.settle_technical) {
                    Settled::KeepForPerson => {}
                    Settled::HangUp => send_control(control, Control::Settle(self.call)),
                    // Nobody hangs up: a person must see the technical call.
                    Settled::QueueTechnical => self.wait_for_person(control, CallClass::Technical),
                }
            }
            PipelineAction::GaveUp {
                reason:
                    GiveUpReason::Unconfirmed {
                        heard,
                        remote_hangup,
                    },
            } => self.unconfirmed(shared, control, heard, remote_hangup),
            PipelineAction::GaveUp { reason } => {
                // A caller without a decodable alarm is a voice call of its
                // tenant: keep it up for a person, never drop it.
                tracing::warn!(%call_id, ?reason, "no alarm decoded: handled as a voice call");
                self.port.stop_override();
                self.wait_for_person(control, CallClass::Voice);
            }
            PipelineAction::ListeningEnded => {}
        }
    }

    /// The call waits for a person: hold audio under our tones, and the
    /// call's one queue request, at least as urgent as `floor`.
    fn wait_for_person(&mut self, control: &mpsc::Sender<Control>, floor: CallClass) {
        self.voice = true;
        self.port.set_hold(self.hold.clone());
        if let Some(request) = self.queue.request(self.call, floor) {
            let (call_id, class) = (self.labels.call_id.as_str(), request.class.as_str());
            tracing::info!(%call_id, class, event = ?request.event_code, "queued for an operator");
            send_control(control, Control::Queue(request));
        }
    }

    /// Message `seq` of the pipeline, for the core: stored first (or
    /// withheld at once).
    fn decoded(
        &mut self,
        shared: &AlarmContextShared,
        worker: &mpsc::UnboundedSender<WorkerInput>,
        seq: u64,
        alarm: crate::alarm::core::DecodedAlarm,
    ) {
        let now = clock::now();
        for action in self.core.handle_decoded(now, alarm) {
            let id = match &action {
                AlarmAction::Store { id, .. }
                | AlarmAction::Acknowledge { id }
                | AlarmAction::Withhold { id, .. } => *id,
                AlarmAction::List(_) => continue,
            };
            self.seqs.insert(id, seq);
            match action {
                AlarmAction::Store { id, record } => self.store(shared, worker, seq, id, record),
                other => self.execute(now, vec![other]),
            }
        }
    }

    /// Appends the core's record; the journal's answer comes back to this
    /// worker as [`WorkerInput::Stored`].
    fn store(
        &mut self,
        shared: &AlarmContextShared,
        worker: &mpsc::UnboundedSender<WorkerInput>,
        seq: u64,
        id: AlarmId,
        record: StoreRecord,
    ) {
        let bytes = record.into_event(&shared.node, clock::wall(), rand::random());
        if let Some(meta) = crate::bus::EventMeta::parse(&bytes) {
            self.received.insert(seq, meta.id);
        }
        let (call, worker) = (self.call, worker.clone());
        shared.journal.append_with(
            bytes,
            Box::new(move |result| {
                match &result {
                    Ok(_) => metrics::counter!(m::EVENTS_WRITTEN, "type" => "alarm.received")
                        .increment(1),
                    Err(err) => tracing::error!(%err, "journal append failed: no kissoff"),
                }
                let _ = worker.send(WorkerInput::Stored(Stored {
                    call,
                    id,
                    ok: result.is_ok(),
                }));
            }),
        );
    }

    /// Stops listening for good: our tones stop, the unit hears the hold
    /// audio (its call waits for a person, queued by the switchboard).
    pub fn stand_down(self) {
        self.port.stop_override();
        self.port.set_hold(self.hold);
    }

    /// Where the Contact ID exchange stands (for logs and tests).
    pub fn state(&self) -> crate::alarm::ReceiverState {
        self.pipeline.receiver_state()
    }
}

/// What a media worker receives.
#[derive(Debug)]
pub enum WorkerInput {
    /// A media event from the call core.
    Call(crate::call::CallEvent),
    /// A journal answer.
    Stored(Stored),
    /// Connect device leg `a` and operator leg `b` of media `group`
    /// ([`super::media::MediaHandle::bridge`]).
    Bridge {
        /// The media group (routes the input to its worker).
        group: CallHandle,
        /// The device leg: it gets the operator's digits.
        a: CallHandle,
        /// The operator leg.
        b: CallHandle,
    },
    /// End the bridge `leg` is in ([`super::media::MediaHandle::unbridge`]).
    Unbridge {
        /// The media group.
        group: CallHandle,
        /// Either leg of the bridge.
        leg: CallHandle,
    },
    /// Stop decoding alarms on a device leg: its call carries an alarm
    /// that came as data (a linked SCAIP alarm); the unit talks, it sends
    /// no DTMF ([`super::media::MediaHandle::stop_alarm`]).
    StopAlarm {
        /// The media group (the device call).
        group: CallHandle,
    },
    /// Send digits on a leg ([`super::media::MediaHandle::send_digits`]).
    Digits {
        /// The media group.
        group: CallHandle,
        /// The leg.
        leg: CallHandle,
        /// The digits.
        digits: String,
        /// Each digit's length.
        duration_ms: u32,
    },
}

/// Adds `rtp_dropped` (datagrams refused by reason, from call start) to
/// a message's forensics.
fn with_rtp_dropped(mut forensics: serde_json::Value, dropped: DropCounts) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> = DropReason::ALL
        .iter()
        .map(|r| (r.label().to_string(), dropped.get(*r).into()))
        .collect();
    if let Some(f) = forensics.as_object_mut() {
        f.insert("rtp_dropped".into(), counts.into());
    }
    forensics
}

/// Per-message signal quality as metrics, so a degrading line shows before it fails.
fn record_forensics(f: &MessageForensics) {
    if let Some(d) = f.handshake_to_first_digit {
        metrics::histogram!(m::HANDSHAKE_TO_FIRST_DIGIT).record(d.as_secs_f64());
    }
    for digit in &f.digits {
        metrics::histogram!(m::DIGIT_DURATION).record(f64::from(digit.duration_ms) / 1000.0);
        if let Some(level) = digit.level_dbm0 {
            metrics::histogram!(m::DIGIT_LEVEL).record(f64::from(level));
        }
        if let Some(twist) = digit.twist_db {
            metrics::histogram!(m::DIGIT_TWIST).record(f64::from(twist));
        }
        if let Some(snr) = digit.snr_db {
            metrics::histogram!(m::DIGIT_SNR).record(f64::from(snr));
        }
    }
    metrics::counter!(m::PACKETS_LOST_IN_MESSAGE).increment(u64::from(f.packets_lost));
    metrics::counter!(m::MESSAGE_RETRIES).increment(u64::from(f.retries));
    metrics::counter!(m::CHECKSUM_FAILURES).increment(u64::from(f.checksum_failures));
}

#[path = "alarm_clock.rs"]
mod rtp_clock;
pub use rtp_clock::RtpClock;

#[path = "alarm_queue.rs"]
mod queue;
pub use queue::{
    call_class, send_control, unconfirmed_record, unconfirmed_request, QueueRequest, QueueState,
    ALARM_UNCONFIRMED,
};
