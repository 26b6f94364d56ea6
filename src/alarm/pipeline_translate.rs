//! From receiver events to pipeline actions: tones and their echo window,
//! `Store` with forensics, acknowledgements with the duplicate flag, and the
//! call's outcome (`Settle`, `GaveUp`, `ListeningEnded`).

use std::time::{Duration, Instant};

use super::{AlarmPipeline, Decoded, ToneWindow};
use crate::alarm::contact_id::ContactIdMessage;
use crate::alarm::heard::{AttemptFault, Heard};
use crate::alarm::pipeline_types::*;
use crate::alarm::receiver_types::{EndReason, MessageTimings, ReceiverEvent, ToneCommand};

impl AlarmPipeline {
    /// Turns every pending receiver event into actions.
    pub(super) fn drain_receiver(&mut self, now: Instant) {
        while let Some(event) = self.receiver.poll_event() {
            if let Some(action) = self.translate(now, event) {
                self.actions.push_back(action);
            }
        }
    }

    fn translate(&mut self, now: Instant, event: ReceiverEvent) -> Option<PipelineAction> {
        use PipelineAction as A;
        let action = match event {
            ReceiverEvent::PlayTone(command) => self.tone_started(now, command),
            ReceiverEvent::StopTone => self.tone_stopped(now),
            ReceiverEvent::MessageDecoded {
                seq,
                message,
                raw,
                timings,
            } => self.store(now, seq, message, raw, &timings),
            ReceiverEvent::ChecksumFailed { raw } => {
                self.attempts.checksum += 1;
                self.reject(raw, RejectReason::Checksum, AttemptFault::Checksum)
            }
            ReceiverEvent::Malformed { raw, error } => {
                self.reject(raw, RejectReason::Malformed(error), AttemptFault::Malformed)
            }
            ReceiverEvent::PartialDiscarded { raw } => {
                self.reject(raw, RejectReason::Partial, AttemptFault::Partial)
            }
            ReceiverEvent::DuplicateAcknowledged { .. } => {
                self.duplicate_next = true;
                return None;
            }
            ReceiverEvent::KissoffStarted {
                seq,
                after_last_digit,
            } => self.acknowledged(seq, after_last_digit),
            ReceiverEvent::KissoffWithheld { seq, reason } => A::Withheld { seq, reason },
            ReceiverEvent::SwitchToVoice { reason } => {
                self.voice = true;
                A::SwitchToVoice { reason }
            }
            ReceiverEvent::GaveUp { handshakes } => {
                self.finished = true;
                let reason = GiveUpReason::NoDigits { handshakes };
                A::GaveUp { reason }
            }
            ReceiverEvent::SessionEnded { reason } => return self.session_ended(reason),
        };
        Some(action)
    }

    fn tone_started(&mut self, now: Instant, command: ToneCommand) -> PipelineAction {
        self.tone = ToneWindow(Some((now, None)));
        PipelineAction::PlayTone(tone_spec(command, self.config.tone_level_dbm0))
    }

    fn tone_stopped(&mut self, now: Instant) -> PipelineAction {
        self.tone = ToneWindow(self.tone.0.map(|(start, _)| (start, Some(now))));
        PipelineAction::StopTone
    }

    fn store(
        &mut self,
        now: Instant,
        seq: u64,
        message: ContactIdMessage,
        raw: String,
        timings: &MessageTimings,
    ) -> PipelineAction {
        let lost = self.packets_lost_since(timings.first_digit_at(), now);
        let forensics = MessageForensics::new(timings, lost, std::mem::take(&mut self.attempts));
        let class = self.classifier.classify(&message);
        // Attempts before a good message were its own failed tries.
        self.heard = Heard::default();
        self.decoded.push(Decoded {
            seq,
            raw: raw.clone(),
            acknowledged: false,
        });
        PipelineAction::Store {
            seq,
            message,
            raw,
            class,
            forensics,
        }
    }

    fn reject(&mut self, raw: String, reason: RejectReason, fault: AttemptFault) -> PipelineAction {
        self.attempts.failed += 1;
        if !self.is_tail_of_decoded(&raw) {
            self.heard.record(&raw, fault);
        }
        PipelineAction::Rejected { raw, reason }
    }

    /// A fragment from inside or at the end of a message this call already
    /// decoded, but not its start: the tail of that message heard again (a
    /// gateway or softphone replaying its last frames, an echo). It tells
    /// nothing new, so it does not make the call an unconfirmed alarm. An
    /// attempt that starts like a decoded message (same account, a second
    /// alarm failing) still counts.
    fn is_tail_of_decoded(&self, raw: &str) -> bool {
        !raw.is_empty()
            && self.decoded.iter().any(|d| {
                !d.raw.starts_with(raw) && d.raw.get(1..).is_some_and(|rest| rest.contains(raw))
            })
    }

    fn acknowledged(&mut self, seq: u64, after_last_digit: Duration) -> PipelineAction {
        if let Some(d) = self.decoded.iter_mut().find(|d| d.seq == seq) {
            d.acknowledged = true;
        }
        PipelineAction::Acknowledged {
            seq,
            duplicate: std::mem::take(&mut self.duplicate_next),
            after_last_digit,
        }
    }

    fn session_ended(&mut self, reason: EndReason) -> Option<PipelineAction> {
        match reason {
            EndReason::QuietLine => self.conclude(SettleReason::QuietLine),
            EndReason::VoiceHandedOver => {
                self.finished = true;
                Some(PipelineAction::ListeningEnded)
            }
        }
    }

    /// Packets reported lost from `since` (the first digit) to `now`.
    fn packets_lost_since(&self, since: Option<Instant>, now: Instant) -> u32 {
        let Some(since) = since else { return 0 };
        self.gaps
            .iter()
            .filter(|(t, _)| *t >= since && *t <= now)
            .map(|(_, n)| *n)
            .sum()
    }

    /// The outcome of a tone-mode call that ended: `GaveUp` with
    /// `Unconfirmed` when an attempt of 4 or more digits failed after the
    /// last good message (or in a call with none), else `Settle` when every
    /// decoded message (by its digits) got a kissoff, else `GaveUp`. Once.
    pub(super) fn conclude(&mut self, reason: SettleReason) -> Option<PipelineAction> {
        if std::mem::replace(&mut self.finished, true) {
            return None;
        }
        // Attempts since the last good message (or of the whole call); a
        // few stray digits (talk-off in a voice call, noise) are not one.
        if self.heard.is_significant() {
            let heard = std::mem::take(&mut self.heard);
            let remote_hangup = reason == SettleReason::RemoteHangup;
            let reason = GiveUpReason::Unconfirmed {
                heard,
                remote_hangup,
            };
            return Some(PipelineAction::GaveUp { reason });
        }
        let unacknowledged: Vec<u64> = self
            .decoded
            .iter()
            .filter(|d| {
                !self
                    .decoded
                    .iter()
                    .any(|o| o.raw == d.raw && o.acknowledged)
            })
            .map(|d| d.seq)
            .collect();
        let action = if self.decoded.is_empty() {
            PipelineAction::GaveUp {
                reason: GiveUpReason::NoValidMessage,
            }
        } else if !unacknowledged.is_empty() {
            let reason = GiveUpReason::Unacknowledged {
                seqs: unacknowledged,
            };
            PipelineAction::GaveUp { reason }
        } else {
            PipelineAction::Settle { reason }
        };
        Some(action)
    }
}
