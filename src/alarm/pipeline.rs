//! One call's alarm decoding, sans-IO: the in-band DTMF detector, RFC 4733
//! digits, the Contact ID receiver and our handshake/kissoff tones, combined
//! into one state machine that the media worker drives (alarm-protocols.md §1).
//!
//! ## Calling order (the worker)
//! 1. `AlarmPipeline::new(answered_at, config, classifier)` when the call is answered.
//! 2. For every decoded frame: [`AlarmPipeline::handle_frame`] (or
//!    `handle_audio` / `handle_gap`); for every finished RFC 4733 event:
//!    [`AlarmPipeline::handle_telephone_event`] (or `handle_rfc4733`).
//!    `now` is the worker's clock when the frame or event was taken from the
//!    RTP session; the detector dates samples from it, so both digit paths
//!    share one timeline.
//! 3. When `poll_timeout()` passes: `handle_timeout(now)`. (Every input also
//!    runs the timers due before it first, so a late wake-up cannot reorder.)
//! 4. After **every** call, drain `poll_action()` and act on each, in order.
//!    For `Store`: append to the journal, fsync, then `confirm_stored(now, seq)`
//!    or `storage_failed(now, seq)`; the kissoff waits for it.
//! 5. If the unit hangs up: `handle_hangup(now)` (gives the call's outcome).
//!
//! ## Behaviour
//! - Handshake after the settle time; 16 digits; checksum; `Store`; kissoff
//!   only after the confirmation and inside the unit's 1.25 s window; the
//!   next message comes without a handshake. Repeats of a stored message are
//!   acknowledged again (`Acknowledged { duplicate: true }`), never re-stored.
//! - Classes come from the [`Classifier`]: a `Voice` event (or 606) ends in
//!   `SwitchToVoice` after our kissoff; later messages are still stored and
//!   acknowledged for `listen_after_voice`, then `ListeningEnded`.
//! - If every message was technical, test or cancel and acknowledged, the
//!   quiet line ends in `Settle` (the worker hangs up); anything unacknowledged
//!   or no message at all ends in `GaveUp`.
//! - Our own tone, echoed back, never becomes a digit: in-band digits that
//!   start while we play (or within `echo_guard` after) are dropped, and the
//!   receiver ignores all digits while storing and during the kissoff.
//! - Both digit paths may carry the same digit: the receiver keeps one copy
//!   (starts within 30 ms). `handle_telephone_event` dates an event by its
//!   RTP timestamp against the audio's, so late end-bit packets still match.
//! - Missing RTP is time ([`AudioTimeline`]): a timestamp jump between frames
//!   is silence (a unit with silence suppression between digits), no frame
//!   for 120 ms while a digit is on is silence by the clock (a unit that stops
//!   sending after its last digit: its kissoff still comes), and a lost
//!   packet is neither tone nor silence (a digit split by one stays one).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::classify::Classifier;
use super::heard::Heard;
pub use super::pipeline_types::*;
use super::receiver::{ContactIdReceiver, ReceiverState};
use super::receiver_types::{DigitSource, RtpStamp};
use crate::dsp::{AudioTimeline, DigitMetrics, DtmfDetector, DtmfEvent};
use crate::media::receiver::AudioFrame;
use crate::media::telephone_event::DigitEvent;

/// Gaps older than this are forgotten (a message never lasts as long).
const GAP_MEMORY: Duration = Duration::from_secs(120);
/// At most this many gap records are kept.
const GAP_RECORDS: usize = 256;
/// Longest the receiver's timers wait for a sounding digit's end.
const MAX_DEFER: Duration = Duration::from_millis(200);
/// An RFC 4733 start mapped further than this from `now` is not trusted.
const RTP_MAP_LIMIT: Duration = Duration::from_secs(10);

/// A decoded message and whether a kissoff went out for it.
#[derive(Debug, Clone)]
struct Decoded {
    seq: u64,
    raw: String,
    acknowledged: bool,
}

/// When our tone played: `(start, stop)`, stop `None` while playing.
#[derive(Debug, Clone, Copy, Default)]
struct ToneWindow(Option<(Instant, Option<Instant>)>);

impl ToneWindow {
    fn covers(&self, at: Instant, guard: Duration) -> bool {
        match self.0 {
            Some((start, stop)) => at >= start && stop.is_none_or(|s| at <= s + guard),
            None => false,
        }
    }
}

/// One call's alarm decoding; see the module docs for the calling order.
#[derive(Debug)]
pub struct AlarmPipeline {
    config: PipelineConfig,
    classifier: Classifier,
    receiver: ContactIdReceiver,
    dtmf: DtmfDetector,
    timeline: AudioTimeline,
    actions: VecDeque<PipelineAction>,
    tone: ToneWindow,
    gaps: VecDeque<(Instant, u32)>,
    attempts: Attempts,
    heard: Heard,
    decoded: Vec<Decoded>,
    duplicate_next: bool,
    voice: bool,
    rtp_anchor: Option<(u32, Instant)>,
    finished: bool,
    stats: PipelineStats,
}

impl AlarmPipeline {
    /// A pipeline for a call answered at `answered_at`. The classifier gives
    /// each message its class and decides which ones need a person.
    pub fn new(answered_at: Instant, config: PipelineConfig, classifier: Classifier) -> Self {
        Self {
            receiver: ContactIdReceiver::new(answered_at, config.receiver, classifier.clone()),
            dtmf: DtmfDetector::new(config.dtmf),
            timeline: AudioTimeline::default(),
            config,
            classifier,
            actions: VecDeque::new(),
            tone: ToneWindow::default(),
            gaps: VecDeque::new(),
            attempts: Attempts::default(),
            heard: Heard::default(),
            decoded: Vec::new(),
            duplicate_next: false,
            voice: false,
            rtp_anchor: None,
            finished: false,
            stats: PipelineStats::default(),
        }
    }

    /// The next action, oldest first.
    pub fn poll_action(&mut self) -> Option<PipelineAction> {
        self.actions.pop_front()
    }

    /// When `handle_timeout` must next be called; `None` once finished.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        let (silence, timer) = self.timers();
        [timer, silence].into_iter().flatten().min()
    }

    /// When silence by the clock is due, and when the receiver's next timer
    /// is: held back while a digit may still be sounding (its end, by the
    /// clock, comes first: a unit whose RTP stops after its last digit is not
    /// cut off by the inter-digit timeout), by at most [`MAX_DEFER`].
    fn timers(&self) -> (Option<Instant>, Option<Instant>) {
        let silence = self.timeline.poll_timeout(self.dtmf.is_idle());
        let timer = self.receiver.poll_timeout();
        let collecting = self.receiver.state() == ReceiverState::CollectingDigits;
        let timer = match (timer, silence.filter(|_| collecting)) {
            (Some(t), Some(s)) if s > t => Some(s.min(t + MAX_DEFER)),
            (t, _) => t,
        };
        (silence, timer)
    }

    /// Counters so far.
    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            receiver: self.receiver.stats(),
            ..self.stats
        }
    }

    /// The receiver's state (for logs and health).
    pub fn receiver_state(&self) -> ReceiverState {
        self.receiver.state()
    }

    /// True once a final action (`Settle`, `GaveUp`, `ListeningEnded`) went
    /// out or the unit hung up: inputs are ignored from then on.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Runs the timers due at or before `now`, each at its own deadline and
    /// in time order: the receiver's, and silence by the clock.
    pub fn handle_timeout(&mut self, now: Instant) {
        while !self.finished {
            let (silence, timer) = self.timers();
            let silence = silence.filter(|t| *t <= now);
            let timer = timer.filter(|t| *t <= now);
            match (silence, timer) {
                (Some(at), t) if t.is_none_or(|t| at <= t) => {
                    self.timeline.handle_timeout(at, &mut self.dtmf);
                    self.drain_dtmf(at);
                }
                (_, Some(at)) => {
                    self.receiver.handle_timeout(at);
                    self.drain_receiver(at);
                }
                _ => break,
            }
        }
    }

    /// One frame from the RTP session: audio (its RTP timestamp anchors
    /// [`Self::handle_telephone_event`]) or a gap.
    pub fn handle_frame(&mut self, now: Instant, frame: &AudioFrame) {
        match frame {
            AudioFrame::Audio {
                timestamp, samples, ..
            } => {
                self.rtp_anchor = Some((*timestamp, now));
                self.hear(now, Some(*timestamp), samples);
            }
            AudioFrame::Gap { packets, .. } => self.handle_gap(now, u32::from(*packets)),
        }
    }

    /// Decoded 8 kHz PCM (any length; `now` dates its first sample).
    pub fn handle_audio(&mut self, now: Instant, samples: &[i16]) {
        self.hear(now, None, samples);
    }

    /// Audio with its RTP timestamp when it came from RTP (silence between
    /// frames is then judged on the timestamps).
    fn hear(&mut self, now: Instant, timestamp: Option<u32>, samples: &[i16]) {
        self.handle_timeout(now);
        if self.finished {
            return;
        }
        self.timeline.audio(now, timestamp, samples, &mut self.dtmf);
        self.drain_dtmf(now);
    }

    /// Digits the detector finished, reported at `now`.
    fn drain_dtmf(&mut self, now: Instant) {
        while let Some(event) = self.dtmf.poll_event() {
            if let DtmfEvent::DigitEnded { digit, .. } = event {
                self.in_band_digit(now, digit, event.metrics());
            }
        }
    }

    /// `packets` RTP packets never came: lost time for the detector (not
    /// silence; a digit split by one packet stays one), counted into the
    /// current message's forensics. `now` only runs the timers due.
    pub fn handle_gap(&mut self, now: Instant, packets: u32) {
        self.handle_timeout(now);
        self.timeline.gap(packets);
        self.stats.packets_lost += u64::from(packets);
        while self.gaps.len() >= GAP_RECORDS
            || self
                .gaps
                .front()
                .is_some_and(|(t, _)| *t + GAP_MEMORY < now)
        {
            self.gaps.pop_front();
        }
        self.gaps.push_back((now, packets));
    }

    /// A finished RFC 4733 event from the RTP session, dated by its RTP
    /// timestamp against the latest audio frame's (else `now - duration`).
    pub fn handle_telephone_event(&mut self, now: Instant, event: &DigitEvent) {
        let Some(digit) = event.digit else {
            self.stats.non_digit_events += 1;
            return;
        };
        // 8 timestamp units per ms: 125 µs each.
        let duration = Duration::from_micros(u64::from(event.duration) * 125);
        let started_at = self
            .rtp_time(event.timestamp, now)
            .unwrap_or_else(|| now.checked_sub(duration).unwrap_or(now));
        let level = -f32::from(event.volume);
        let rtp = RtpStamp {
            ssrc: event.ssrc,
            timestamp: event.timestamp,
            duration: u32::from(event.duration),
        };
        self.rfc4733_digit(now, digit, (started_at, duration), level, Some(rtp));
    }

    /// An RFC 4733 digit that started at `started_at` and lasted `duration`,
    /// reported (end bit or timeout) at `now`.
    pub fn handle_rfc4733(
        &mut self,
        now: Instant,
        digit: char,
        started_at: Instant,
        duration: Duration,
    ) {
        self.rfc4733_digit(now, digit, (started_at, duration), f32::NAN, None);
    }

    /// The journal holds message `seq`: the kissoff may start.
    pub fn confirm_stored(&mut self, now: Instant, seq: u64) {
        self.handle_timeout(now);
        if !self.finished {
            self.receiver.confirm_stored(now, seq);
            self.drain_receiver(now);
        }
    }

    /// Message `seq` could not be stored: no kissoff, so the unit retries.
    pub fn storage_failed(&mut self, now: Instant, seq: u64) {
        self.handle_timeout(now);
        if !self.finished {
            self.receiver.storage_failed(now, seq);
            self.drain_receiver(now);
        }
    }

    /// The unit hung up: emits the call's outcome (`Settle`, `GaveUp`, or
    /// nothing after `SwitchToVoice`) and finishes.
    pub fn handle_hangup(&mut self, now: Instant) {
        self.handle_timeout(now);
        if self.voice {
            self.finished = true;
        }
        if let Some(outcome) = self.conclude(SettleReason::RemoteHangup) {
            self.actions.push_back(outcome);
        }
    }

    fn in_band_digit(&mut self, now: Instant, digit: char, metrics: Option<DigitMetrics>) {
        let started_at = metrics.map_or(now, |m| m.started_at);
        if self.tone.covers(started_at, self.config.echo_guard) {
            self.stats.echo_suppressed += 1;
            return;
        }
        self.stats.in_band_digits += 1;
        self.receiver
            .handle_digit(now, digit, DigitSource::InBand, metrics);
        self.drain_receiver(now);
    }

    fn rfc4733_digit(
        &mut self,
        now: Instant,
        digit: char,
        (started_at, duration): (Instant, Duration),
        level_dbm0: f32,
        rtp: Option<RtpStamp>,
    ) {
        self.handle_timeout(now);
        if self.finished {
            return;
        }
        let metrics = DigitMetrics {
            started_at: started_at.min(now),
            duration,
            level_dbm0,
            twist_db: f32::NAN,
            snr_db: f32::NAN,
        };
        self.stats.rfc4733_digits += 1;
        self.receiver
            .handle_stamped_digit(now, digit, DigitSource::Rfc4733, Some(metrics), rtp);
        self.drain_receiver(now);
    }

    /// The instant of RTP timestamp `ts` on the audio's timeline, if sane.
    fn rtp_time(&self, ts: u32, now: Instant) -> Option<Instant> {
        let (anchor_ts, anchor_at) = self.rtp_anchor?;
        let delta = ts.wrapping_sub(anchor_ts) as i32;
        let offset = Duration::from_micros(u64::from(delta.unsigned_abs()) * 125);
        let at = if delta >= 0 {
            anchor_at.checked_add(offset)?
        } else {
            anchor_at.checked_sub(offset)?
        };
        let apart = at.max(now).duration_since(at.min(now));
        (apart <= RTP_MAP_LIMIT).then_some(at)
    }
}

#[path = "pipeline_translate.rs"]
mod translate;

#[cfg(test)]
#[path = "pipeline_sim.rs"]
mod sim;

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "pipeline_rtp_tests.rs"]
mod rtp_tests;
#[cfg(test)]
#[path = "pipeline_silence_tests.rs"]
mod silence_tests;
#[cfg(test)]
#[path = "pipeline_unconfirmed_tests.rs"]
mod unconfirmed_tests;
