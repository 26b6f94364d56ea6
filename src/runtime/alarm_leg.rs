//! One call's alarm decoding, as the media worker drives it: the pure
//! [`AlarmPipeline`] on one side, the RTP session, the journal and the SIP
//! driver on the other.
//!
//! The order that keeps the promise "acknowledged means stored": the
//! pipeline asks to store a decoded message; the record goes to the journal,
//! whose writer thread syncs it to disk and only then calls back into this
//! worker; only `confirm_stored` lets the pipeline start the kissoff. A
//! journal error calls `storage_failed` instead: no kissoff, the unit
//! repeats, and the journal's health flag turns `/readyz` to 503. After the
//! kissoff an `alarm.acknowledged` event follows (not awaited).

use super::sip_driver::Control;
use crate::alarm::classify::{AlarmClass, Classifier};
use crate::alarm::pipeline::{AlarmPipeline, MessageForensics, PipelineAction, PipelineConfig};
use crate::bus::emit;
use crate::call::CallHandle;
use crate::clock;
use crate::events::{self, AlarmContext};
use crate::journal::JournalHandle;
use crate::media::receiver::AudioFrame;
use crate::media::tone::{ToneGenerator, ToneSpec};
use crate::media::RtpSession;
use crate::telemetry::metrics as m;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
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
    /// The pipeline's message sequence number.
    pub seq: u64,
    /// True when the record is durable.
    pub ok: bool,
}

/// The alarm side of one leg.
pub struct AlarmLeg {
    call: CallHandle,
    call_id: String,
    tenant: String,
    caller: String,
    pipeline: AlarmPipeline,
    /// Dates audio frames on the sender's RTP clock (see [`RtpClock`]).
    clock: RtpClock,
    voice: bool,
    /// What the caller hears while waiting for a person, if not silence.
    hold: Option<ToneSpec>,
    /// The `alarm.received` event id of each stored message (pipeline seq),
    /// for the `alarm.acknowledged` event that follows it.
    received: HashMap<u64, String>,
}

impl AlarmLeg {
    /// A pipeline for a call answered at `answered_at`.
    pub fn new(
        shared: &AlarmContextShared,
        call: CallHandle,
        ids: (&str, &str, &str),
        answered_at: Instant,
        hold: Option<ToneSpec>,
    ) -> Self {
        let (call_id, tenant, caller) = ids;
        let classifier = shared.classifiers.get(tenant).cloned().unwrap_or_default();
        Self {
            call,
            call_id: call_id.to_string(),
            tenant: tenant.to_string(),
            caller: caller.to_string(),
            pipeline: AlarmPipeline::new(answered_at, shared.config, classifier),
            clock: RtpClock::default(),
            voice: false,
            hold,
            received: HashMap::new(),
        }
    }

    /// Feeds what the RTP session decoded since the last tick.
    pub fn feed(&mut self, now: Instant, session: &mut RtpSession) {
        while let Some(frame) = session.poll_audio() {
            let at = match &frame {
                AudioFrame::Audio { timestamp, .. } => self.clock.date(*timestamp, now),
                AudioFrame::Gap { .. } => self.clock.last().unwrap_or(now),
            };
            self.pipeline.handle_frame(at, &frame);
        }
        while let Some(event) = session.poll_event() {
            self.pipeline.handle_telephone_event(now, &event);
        }
        if self.pipeline.poll_timeout().is_some_and(|t| t <= now) {
            self.pipeline.handle_timeout(now);
        }
    }

    /// A journal answer for one of this call's messages.
    pub fn stored(&mut self, now: Instant, seq: u64, ok: bool) {
        if ok {
            self.pipeline.confirm_stored(now, seq);
        } else {
            metrics::counter!(m::ALARMS_STORE_FAILED).increment(1);
            self.pipeline.storage_failed(now, seq);
        }
    }

    /// Carries out what the pipeline asks for.
    pub fn act(
        &mut self,
        shared: &AlarmContextShared,
        session: &mut RtpSession,
        worker: &mpsc::UnboundedSender<WorkerInput>,
        control: &mpsc::Sender<Control>,
    ) {
        while let Some(action) = self.pipeline.poll_action() {
            self.act_one(shared, session, worker, control, action);
        }
    }

    fn act_one(
        &mut self,
        shared: &AlarmContextShared,
        session: &mut RtpSession,
        worker: &mpsc::UnboundedSender<WorkerInput>,
        control: &mpsc::Sender<Control>,
        action: PipelineAction,
    ) {
        let call_id = self.call_id.as_str();
        match action {
            PipelineAction::PlayTone(spec) => {
                session.set_source(Box::new(ToneGenerator::new(spec)))
            }
            PipelineAction::StopTone => self.hold_or_silence(session),
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
                metrics::counter!(m::ALARMS_DECODED, "class" => class_label(class)).increment(1);
                let record = events::alarm_received(
                    &self.context(shared),
                    &message,
                    &raw,
                    class,
                    &forensics,
                );
                if let Some(meta) = crate::bus::EventMeta::parse(&record) {
                    self.received.insert(seq, meta.id);
                }
                self.store(shared, worker, seq, record);
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
                    &self.tenant,
                    &self.caller,
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
                self.voice = true;
                if !session.is_playing() {
                    self.hold_or_silence(session);
                }
            }
            PipelineAction::Settle { reason } => {
                tracing::info!(%call_id, ?reason, "alarms settled by the gateway");
                if shared.settle_technical && !self.voice {
                    let _ = control.try_send(Control::Settle(self.call));
                }
            }
            PipelineAction::GaveUp { reason } => {
                // A caller without a decodable alarm is a voice call of its
                // tenant: keep it up for a person, never drop it.
                tracing::warn!(%call_id, ?reason, "no alarm decoded: handled as a voice call");
                self.voice = true;
                self.hold_or_silence(session);
            }
            PipelineAction::ListeningEnded => {}
        }
    }

    /// After our tones: the hold tone once the call waits for a person, else silence.
    fn hold_or_silence(&self, session: &mut RtpSession) {
        match (&self.hold, self.voice) {
            (Some(spec), true) => session.set_source(Box::new(ToneGenerator::new(spec.clone()))),
            _ => session.stop_source(),
        }
    }

    fn store(
        &self,
        shared: &AlarmContextShared,
        worker: &mpsc::UnboundedSender<WorkerInput>,
        seq: u64,
        record: Vec<u8>,
    ) {
        let (call, worker) = (self.call, worker.clone());
        shared.journal.append_with(
            record,
            Box::new(move |result| {
                match &result {
                    Ok(_) => metrics::counter!(m::EVENTS_WRITTEN, "type" => "alarm.received")
                        .increment(1),
                    Err(err) => tracing::error!(%err, "journal append failed: no kissoff"),
                }
                let _ = worker.send(WorkerInput::Stored(Stored {
                    call,
                    seq,
                    ok: result.is_ok(),
                }));
            }),
        );
    }

    fn context<'a>(&'a self, shared: &'a AlarmContextShared) -> AlarmContext<'a> {
        AlarmContext {
            node: &shared.node,
            call_id: &self.call_id,
            tenant: &self.tenant,
            calling_number: &self.caller,
            time: clock::wall(),
            random: rand::random(),
        }
    }

    /// The call hung up: let the pipeline account for it.
    pub fn hangup(&mut self, now: Instant) {
        self.pipeline.handle_hangup(now);
    }
}

/// Dates audio frames by their RTP timestamps rather than by the tick that
/// delivered them: the reorder buffer may release several frames in one
/// tick, and both digit paths (in-band, dated by the frames; RFC 4733, dated
/// by event timestamps against the frames) must share one timeline, or one
/// digit arriving both ways is counted twice. Anchored at the first frame;
/// never later than `now`, never going back, and re-anchored when the
/// sender's clock strays more than 200 ms (a new SSRC, a clock jump).
#[derive(Debug, Default, Clone, Copy)]
pub struct RtpClock {
    anchor: Option<(u32, Instant)>,
    last: Option<Instant>,
}

impl RtpClock {
    const SLACK: Duration = Duration::from_millis(200);

    /// The instant of the frame whose first sample has `timestamp` (8 kHz).
    pub fn date(&mut self, timestamp: u32, now: Instant) -> Instant {
        let at = self.anchor.and_then(|(ts, base)| {
            let ticks = timestamp.wrapping_sub(ts) as i32;
            let offset = Duration::from_micros(u64::from(ticks.unsigned_abs()) * 125);
            let at = if ticks >= 0 {
                base.checked_add(offset)
            } else {
                base.checked_sub(offset)
            }?;
            let strayed = at > now + Self::SLACK || at + Self::SLACK < now;
            (!strayed).then_some(at)
        });
        let at = match at {
            Some(at) => at.min(now),
            None => {
                self.anchor = Some((timestamp, now));
                now
            }
        };
        let at = self.last.map_or(at, |last| at.max(last));
        self.last = Some(at);
        at
    }

    /// The instant of the latest frame dated.
    pub fn last(&self) -> Option<Instant> {
        self.last
    }
}

/// What a media worker receives.
#[derive(Debug)]
pub enum WorkerInput {
    /// A media event from the call core.
    Call(crate::call::CallEvent),
    /// A journal answer.
    Stored(Stored),
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

fn class_label(class: AlarmClass) -> &'static str {
    match class {
        AlarmClass::Voice => "voice",
        AlarmClass::Technical => "technical",
        AlarmClass::Test => "test",
        AlarmClass::Cancel => "cancel",
    }
}

#[cfg(test)]
mod tests {
    use super::RtpClock;
    use crate::clock::epoch;
    use std::time::Duration;

    #[test]
    fn frames_released_in_one_tick_keep_their_rtp_spacing() {
        let mut c = RtpClock::default();
        let t0 = epoch() + Duration::from_secs(1);
        assert_eq!(c.date(1000, t0), t0);
        // Three frames held by the reorder buffer, released together 60 ms later:
        // they are dated 20, 40 and 60 ms after the first, not all at the tick.
        let tick = t0 + Duration::from_millis(60);
        assert_eq!(c.date(1160, tick), t0 + Duration::from_millis(20));
        assert_eq!(c.date(1320, tick), t0 + Duration::from_millis(40));
        assert_eq!(c.date(1480, tick), t0 + Duration::from_millis(60));
    }

    #[test]
    fn never_in_the_future_never_backwards_and_reanchors_after_a_jump() {
        let mut c = RtpClock::default();
        let t0 = epoch() + Duration::from_secs(1);
        c.date(u32::MAX - 80, t0);
        // Across the timestamp wrap, a frame dated after `now` is held at `now`.
        let now = t0 + Duration::from_millis(10);
        assert_eq!(c.date(79, now), now);
        // An older timestamp does not move time back.
        assert_eq!(c.date(u32::MAX - 80, now + Duration::from_millis(5)), now);
        // A new SSRC with another timestamp base: re-anchored at `now`.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(c.date(123_456_789, later), later);
        assert_eq!(
            c.date(123_456_789 + 160, later + Duration::from_millis(20)),
            later + Duration::from_millis(20)
        );
    }
}
