//! The Contact ID receiver (SIA DC-05): a pure state machine that answers an
//! alarm unit with the handshake, collects 16 DTMF digits, has the message
//! stored, and only then sends the kissoff (alarm-protocols.md §1.4, §1.7).
//!
//! The driver feeds digits (`handle_digit`), calls `handle_timeout` when
//! `poll_timeout` passes, reports storage (`confirm_stored`/`storage_failed`),
//! and drains `poll_event` after every call.
//!
//! Rules worth knowing:
//! - **No kissoff before storage.** `MessageDecoded` goes out; the kissoff
//!   starts only after `confirm_stored`, and not at all if that comes later
//!   than `storage_budget` after the last digit: the unit then repeats.
//! - **Two digit paths, one digit (P2).** A digit is dropped when the same
//!   digit from the *other* source was accepted with a start time within
//!   `dedupe_window` (30 ms) of its own. Real repeats (`…00…`) start ≥ 80 ms
//!   apart, so they survive. Starts come from `DigitMetrics::started_at`
//!   (block timing for in-band, the event timestamp for RFC 4733), which
//!   cancels the two paths' different reporting latencies.
//! - **Digits are ignored** before the first handshake, while awaiting
//!   storage and during the kissoff: the unit is silent then, so anything
//!   heard is an echo or the other path's copy, and must not cancel a kissoff.
//! - **Duplicates (P5).** A repeat of a stored message is acknowledged again,
//!   not re-stored; a repeat of one still being stored waits for that storage.
//! - **Gaps on the sender's clock.** Between RFC 4733 digits of one stream
//!   the inter-digit gap is judged on their RTP timestamps, so a sender or
//!   network that stalls and then delivers the rest at once keeps one
//!   message; the clock waits `rtp_stall_limit` for such a digit and still
//!   ends the message of a sender that really went quiet. Without
//!   timestamps (in-band, another SSRC) the gap is judged by arrival.
//! - **Voice (P7).** `SwitchToVoice` comes after our kissoff ends; digits are
//!   still decoded for `listen_after_voice`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::contact_id::{parse, ContactIdMessage, MESSAGE_LEN};
pub use super::receiver_types::*;
use crate::dsp::DigitMetrics;

/// The receiver's states, named by what they await.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverState {
    /// The line settles after answer.
    AwaitingSettle,
    /// The handshake is playing.
    SendingHandshake,
    /// After a handshake, before any digit of the call.
    AwaitingFirstDigit,
    /// Inside a message.
    CollectingDigits,
    /// A decoded message is being stored.
    AwaitingStorage,
    /// The kissoff is scheduled or playing.
    SendingKissoff,
    /// Between messages: the next one comes without a handshake.
    AwaitingNextMessage,
    /// Finished; nothing more happens.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    Pending,
    Stored,
    Failed,
}

#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    raw: String,
    storage: Storage,
}

/// The message being acknowledged.
#[derive(Debug, Clone)]
struct Pending {
    seq: u64,
    last_digit_at: Instant,
    voice: Option<VoiceReason>,
    playing: bool,
}

/// One Contact ID session (one call).
pub struct ContactIdReceiver {
    config: ReceiverConfig,
    policy: Box<dyn VoicePolicy>,
    state: ReceiverState,
    deadline: Option<Instant>,
    handshake_end: Option<Instant>,
    digits: Vec<DigitRecord>,
    recent: VecDeque<DigitRecord>,
    entries: Vec<Entry>,
    pending: Option<Pending>,
    voice_switched: bool,
    events: VecDeque<ReceiverEvent>,
    stats: ReceiverStats,
}

impl ContactIdReceiver {
    /// A session for a call answered at `answered_at`.
    pub fn new(
        answered_at: Instant,
        config: ReceiverConfig,
        policy: impl VoicePolicy + 'static,
    ) -> Self {
        Self {
            config,
            policy: Box::new(policy),
            state: ReceiverState::AwaitingSettle,
            deadline: Some(answered_at + config.settle),
            handshake_end: None,
            digits: Vec::with_capacity(MESSAGE_LEN),
            recent: VecDeque::with_capacity(8),
            entries: Vec::new(),
            pending: None,
            voice_switched: false,
            events: VecDeque::new(),
            stats: ReceiverStats::default(),
        }
    }

    /// The current state.
    pub fn state(&self) -> ReceiverState {
        self.state
    }

    /// Counters so far.
    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }

    /// The next output, oldest first.
    pub fn poll_event(&mut self) -> Option<ReceiverEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// A digit has ended and is reported at `now` (detector `DigitEnded`,
    /// RFC 4733 end bit). `metrics.started_at` dates it for de-duplication;
    /// without metrics its start is taken as `now`.
    pub fn handle_digit(
        &mut self,
        now: Instant,
        digit: char,
        source: DigitSource,
        metrics: Option<DigitMetrics>,
    ) {
        self.handle_stamped_digit(now, digit, source, metrics, None);
    }

    /// [`Self::handle_digit`] for a digit with its place on the RTP clock
    /// (an RFC 4733 event): the gap from the previous digit is judged on the
    /// timestamps when both share a stream, by arrival otherwise.
    pub fn handle_stamped_digit(
        &mut self,
        now: Instant,
        digit: char,
        source: DigitSource,
        metrics: Option<DigitMetrics>,
        rtp: Option<RtpStamp>,
    ) {
        use ReceiverState::*;
        let started_at = metrics.map_or(now, |m| m.started_at.min(now));
        let record = DigitRecord {
            digit,
            source,
            started_at,
            reported_at: now,
            metrics,
            rtp,
        };
        if !"0123456789*#ABCD".contains(digit)
            || matches!(
                self.state,
                AwaitingSettle | AwaitingStorage | SendingKissoff | Done
            )
        {
            self.stats.digits_ignored += 1;
            return;
        }
        if self.is_other_path_copy(&record) {
            self.stats.digits_deduplicated += 1;
            return;
        }
        if self.recent.len() == self.recent.capacity() {
            self.recent.pop_front();
        }
        self.recent.push_back(record);
        if self.state == SendingHandshake {
            self.events.push_back(ReceiverEvent::StopTone);
            self.handshake_end = Some(now);
        }
        if self.state == CollectingDigits && !self.continues(&record) {
            self.discard_partial();
        }
        self.state = CollectingDigits;
        self.digits.push(record);
        self.deadline = Some(now + self.digit_wait(&record));
        if self.digits.len() == MESSAGE_LEN {
            self.complete_message(now);
        }
    }

    /// Runs every timer due at or before `now`, each at its own deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(at) = self.deadline.filter(|d| *d <= now) {
            self.deadline = None;
            self.on_deadline(at);
        }
    }

    /// The journal holds message `seq` (fsynced): start the kissoff if still
    /// inside the budget.
    pub fn confirm_stored(&mut self, now: Instant, seq: u64) {
        self.set_storage(seq, Storage::Stored);
        let Some(last) = self.awaited(seq) else {
            self.stats.late_confirmations += 1;
            return;
        };
        if now > last + self.config.storage_budget {
            self.stats.late_confirmations += 1;
            self.withhold(now, seq, WithheldReason::StorageSlow);
        } else {
            self.schedule_kissoff(now, last);
        }
    }

    /// Message `seq` could not be stored: no kissoff, so the unit retries.
    pub fn storage_failed(&mut self, now: Instant, seq: u64) {
        self.set_storage(seq, Storage::Failed);
        if self.awaited(seq).is_some() {
            self.withhold(now, seq, WithheldReason::StorageFailed);
        }
    }

    fn on_deadline(&mut self, at: Instant) {
        use ReceiverState::*;
        match self.state {
            AwaitingSettle => self.send_handshake(at),
            SendingHandshake => {
                self.events.push_back(ReceiverEvent::StopTone);
                self.handshake_end = Some(at);
                self.enter(AwaitingFirstDigit, at + self.config.first_digit_timeout);
            }
            AwaitingFirstDigit if self.stats.handshakes < self.config.max_handshakes => {
                self.send_handshake(at)
            }
            AwaitingFirstDigit => {
                let handshakes = self.stats.handshakes;
                self.events.push_back(ReceiverEvent::GaveUp { handshakes });
                self.finish();
            }
            CollectingDigits => {
                self.discard_partial();
                self.await_next(at);
            }
            AwaitingStorage => {
                if let Some(seq) = self.pending.as_ref().map(|p| p.seq) {
                    self.withhold(at, seq, WithheldReason::StorageSlow);
                }
            }
            SendingKissoff => self.kissoff_edge(at),
            AwaitingNextMessage => self.end_session(),
            Done => {}
        }
    }

    fn send_handshake(&mut self, at: Instant) {
        let (tone, gap) = (self.config.handshake_tone, self.config.handshake_gap);
        self.stats.handshakes += 1;
        self.events
            .push_back(ReceiverEvent::PlayTone(ToneCommand::Handshake {
                tone,
                gap,
            }));
        self.enter(ReceiverState::SendingHandshake, at + tone + gap + tone);
    }

    fn enter(&mut self, state: ReceiverState, deadline: Instant) {
        self.state = state;
        self.deadline = Some(deadline);
    }

    /// Between messages; a longer window once the call is in voice mode.
    fn await_next(&mut self, at: Instant) {
        let wait = if self.voice_switched {
            self.config.listen_after_voice
        } else {
            self.config.quiet_line_timeout
        };
        self.enter(ReceiverState::AwaitingNextMessage, at + wait);
    }

    fn end_session(&mut self) {
        let reason = if self.voice_switched {
            EndReason::VoiceHandedOver
        } else {
            EndReason::QuietLine
        };
        self.events
            .push_back(ReceiverEvent::SessionEnded { reason });
        self.finish();
    }

    fn finish(&mut self) {
        self.state = ReceiverState::Done;
        self.deadline = None;
        self.pending = None;
    }

    /// The digits so far did not make a message: drop them, say what they were.
    fn discard_partial(&mut self) {
        let raw = self.digits.drain(..).map(|d| d.digit).collect();
        self.stats.partials += 1;
        self.events
            .push_back(ReceiverEvent::PartialDiscarded { raw });
    }

    /// How long the clock waits after `d` for the next digit: the
    /// inter-digit timeout, or for a digit on the RTP clock the stall
    /// limit (the next digit's timestamps then judge the gap).
    fn digit_wait(&self, d: &DigitRecord) -> Duration {
        match d.rtp {
            Some(_) => self.config.rtp_stall_limit,
            None => self.config.inter_digit_timeout,
        }
        .max(self.config.inter_digit_timeout)
    }

    /// True when `next` belongs to the message being collected. After a
    /// digit without timestamps the clock has judged already (its timer,
    /// which the pipeline holds while a digit may still sound); after one
    /// on the RTP clock the gap is the timestamps' when `next` is on the
    /// same stream, else the arrival's.
    fn continues(&self, next: &DigitRecord) -> bool {
        let Some(last) = self.digits.last().filter(|d| d.rtp.is_some()) else {
            return true;
        };
        let on_rtp = last.rtp.zip(next.rtp).and_then(|(a, b)| b.since(&a));
        let gap =
            on_rtp.unwrap_or_else(|| next.reported_at.saturating_duration_since(last.reported_at));
        gap <= self.config.inter_digit_timeout
    }

    /// True when `d` repeats a digit the other path delivered within the window.
    fn is_other_path_copy(&self, d: &DigitRecord) -> bool {
        self.recent.iter().any(|r| {
            let apart = if r.started_at > d.started_at {
                r.started_at - d.started_at
            } else {
                d.started_at - r.started_at
            };
            r.digit == d.digit && r.source != d.source && apart <= self.config.dedupe_window
        })
    }

    /// Sixteen digits are in: decode, then store, re-acknowledge or drop.
    fn complete_message(&mut self, now: Instant) {
        let digits: Vec<DigitRecord> = self.digits.drain(..).collect();
        let raw: String = digits.iter().map(|d| d.digit).collect();
        let message = match parse(&raw) {
            Ok(message) => message,
            Err(error) if error.is_checksum() => {
                self.stats.checksum_failures += 1;
                self.events.push_back(ReceiverEvent::ChecksumFailed { raw });
                return self.await_next(now);
            }
            Err(error) => {
                self.stats.malformed += 1;
                self.events
                    .push_back(ReceiverEvent::Malformed { raw, error });
                return self.await_next(now);
            }
        };
        let voice = self.voice_reason(&message);
        let known = self
            .entries
            .iter()
            .find(|e| e.raw == raw && e.storage != Storage::Failed);
        match known.map(|e| (e.seq, e.storage)) {
            Some((seq, Storage::Stored)) => {
                self.stats.duplicates += 1;
                self.events.push_back(ReceiverEvent::DuplicateAcknowledged {
                    seq_of_original: seq,
                });
                self.await_storage(now, seq, voice);
                self.schedule_kissoff(now, now);
            }
            Some((seq, _)) => self.await_storage(now, seq, voice),
            None => self.decoded(now, raw, message, digits, voice),
        }
    }

    fn decoded(
        &mut self,
        now: Instant,
        raw: String,
        message: ContactIdMessage,
        digits: Vec<DigitRecord>,
        voice: Option<VoiceReason>,
    ) {
        let seq = self.entries.len() as u64 + 1;
        self.entries.push(Entry {
            seq,
            raw: raw.clone(),
            storage: Storage::Pending,
        });
        self.stats.messages += 1;
        let handshake_to_first_digit = match (self.handshake_end.take(), digits.first()) {
            (Some(end), Some(first)) => Some(first.started_at.saturating_duration_since(end)),
            _ => None,
        };
        let timings = MessageTimings {
            handshake_to_first_digit,
            digits,
        };
        self.events.push_back(ReceiverEvent::MessageDecoded {
            seq,
            message,
            raw,
            timings,
        });
        self.await_storage(now, seq, voice);
    }

    fn voice_reason(&self, message: &ContactIdMessage) -> Option<VoiceReason> {
        if message.event.as_str() == "606" {
            Some(VoiceReason::ListenIn)
        } else if self.policy.needs_voice(message) {
            Some(VoiceReason::Classified {
                event: message.event.clone(),
            })
        } else {
            None
        }
    }

    fn await_storage(&mut self, last_digit_at: Instant, seq: u64, voice: Option<VoiceReason>) {
        self.pending = Some(Pending {
            seq,
            last_digit_at,
            voice,
            playing: false,
        });
        self.enter(
            ReceiverState::AwaitingStorage,
            last_digit_at + self.config.storage_budget,
        );
    }

    /// The last-digit time of `seq` if the receiver is waiting for its storage.
    fn awaited(&self, seq: u64) -> Option<Instant> {
        let p = self.pending.as_ref().filter(|p| p.seq == seq)?;
        (self.state == ReceiverState::AwaitingStorage).then_some(p.last_digit_at)
    }

    fn set_storage(&mut self, seq: u64, storage: Storage) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.seq == seq) {
            e.storage = storage;
        }
    }

    fn withhold(&mut self, now: Instant, seq: u64, reason: WithheldReason) {
        self.stats.kissoffs_withheld += 1;
        self.pending = None;
        self.events
            .push_back(ReceiverEvent::KissoffWithheld { seq, reason });
        self.await_next(now);
    }

    /// Kissoff at `kissoff_delay` after the last digit, or now if later.
    fn schedule_kissoff(&mut self, now: Instant, last_digit_at: Instant) {
        let start = (last_digit_at + self.config.kissoff_delay).max(now);
        self.enter(ReceiverState::SendingKissoff, start);
        if start <= now {
            self.deadline = None;
            self.kissoff_edge(now);
        }
    }

    /// Starts the scheduled kissoff, or ends the playing one.
    fn kissoff_edge(&mut self, at: Instant) {
        let Some(p) = self.pending.as_mut() else {
            return self.await_next(at);
        };
        if !p.playing {
            p.playing = true;
            let (seq, after_last_digit) = (p.seq, at.saturating_duration_since(p.last_digit_at));
            let duration = self.config.kissoff_duration;
            self.stats.kissoffs += 1;
            self.events
                .push_back(ReceiverEvent::PlayTone(ToneCommand::Kissoff { duration }));
            self.events.push_back(ReceiverEvent::KissoffStarted {
                seq,
                after_last_digit,
            });
            self.deadline = Some(at + duration);
            return;
        }
        let voice = self.pending.take().and_then(|p| p.voice);
        self.events.push_back(ReceiverEvent::StopTone);
        if let Some(reason) = voice.filter(|_| !self.voice_switched) {
            self.voice_switched = true;
            self.events
                .push_back(ReceiverEvent::SwitchToVoice { reason });
        }
        self.await_next(at);
    }
}

impl std::fmt::Debug for ContactIdReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactIdReceiver")
            .field("state", &self.state)
            .field("deadline", &self.deadline)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A policy that never asks for voice (606 still does).
pub fn no_voice(_: &ContactIdMessage) -> bool {
    false
}

#[cfg(test)]
#[path = "receiver_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "receiver_rtp_tests.rs"]
mod rtp_tests;
