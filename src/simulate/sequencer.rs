//! The unit's side of Contact ID (SIA DC-05, alarm-protocols.md §1.4), pure:
//! wait for the handshake (1400 Hz ~100 ms, gap ~100 ms, 2300 Hz ~100 ms),
//! pause, send the 16 digits, accept a kissoff (1400 Hz of `kissoff_min` to
//! `kissoff_max`, starting within `kissoff_window` of the last digit), else
//! repeat the message after the pause, up to `attempts` times. The next
//! message follows the pause after a kissoff, without a new handshake.
//!
//! Inputs: tone edges from the detectors (`on_tone`), the planned end of a
//! digit burst (`burst_planned`, from the media leg) and `handle_timeout`.
//! Outputs: [`SeqAction`]s and per-message [`MessageReport`]s.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::args::DeviceConfig;
use super::report::{ms, MessageOutcome, MessageReport};
use crate::dsp::ToneEvent;

/// Handshake bursts and gap are accepted at 70-130 ms (spandsp's sender),
/// widened by the detector's ±10 ms edge error.
const BURST_MS: std::ops::RangeInclusive<u128> = 60..=140;
/// Kissoff start may be reported this much before the last digit's end
/// (detector edge error), still counting as a kissoff.
const EARLY_SLACK: Duration = Duration::from_millis(20);

/// Which detector an edge comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToneId {
    /// 1400 Hz: first handshake burst and kissoff.
    Low,
    /// 2300 Hz: second handshake burst.
    High,
}

/// What the device must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeqAction {
    /// Send `digits` starting at `at` (then call [`Sequencer::burst_planned`]).
    SendDigits {
        /// Earliest start.
        at: Instant,
        /// The 16 DTMF digits.
        digits: String,
    },
    /// Every message is done (or given up): end the call.
    HangUp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    AwaitHandshake {
        deadline: Instant,
    },
    AwaitBurst,
    AwaitKissoff {
        last_end: Instant,
        tone_start: Option<Instant>,
    },
    Done,
}

/// The Contact ID sender of one call.
#[derive(Debug)]
pub struct Sequencer {
    cfg: DeviceConfig,
    answered_at: Instant,
    phase: Phase,
    current: usize,
    reports: Vec<MessageReport>,
    low_burst: Option<(Instant, Instant)>,
    high_start: Option<Instant>,
    handshake_at: Option<Instant>,
    actions: VecDeque<SeqAction>,
}

impl Sequencer {
    /// A unit whose call was answered at `answered_at`.
    pub fn new(answered_at: Instant, cfg: &DeviceConfig) -> Self {
        Self {
            reports: cfg
                .messages
                .iter()
                .map(|m| MessageReport::pending(m))
                .collect(),
            phase: Phase::AwaitHandshake {
                deadline: answered_at + cfg.handshake_timeout,
            },
            cfg: cfg.clone(),
            answered_at,
            current: 0,
            low_burst: None,
            high_start: None,
            handshake_at: None,
            actions: VecDeque::new(),
        }
    }

    /// The per-message results so far.
    pub fn reports(&self) -> &[MessageReport] {
        &self.reports
    }

    /// Answer to the end of the handshake.
    pub fn answer_to_handshake(&self) -> Option<Duration> {
        self.handshake_at
            .map(|h| h.saturating_duration_since(self.answered_at))
    }

    /// True once the unit has nothing more to do.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The next action.
    pub fn poll_action(&mut self) -> Option<SeqAction> {
        self.actions.pop_front()
    }

    /// When `handle_timeout` is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::AwaitHandshake { deadline } => Some(deadline),
            Phase::AwaitKissoff {
                last_end,
                tone_start: None,
            } => Some(last_end + self.cfg.kissoff_window),
            Phase::AwaitKissoff {
                tone_start: Some(s),
                ..
            } => Some(self.tone_give_up(s)),
            Phase::AwaitBurst | Phase::Done => None,
        }
    }

    fn tone_give_up(&self, start: Instant) -> Instant {
        start + self.cfg.kissoff_max + Duration::from_millis(100)
    }

    /// A tone edge from the detector `id`.
    pub fn on_tone(&mut self, id: ToneId, event: ToneEvent) {
        match self.phase {
            Phase::AwaitHandshake { .. } => self.handshake_edge(id, event),
            Phase::AwaitKissoff {
                last_end,
                tone_start,
            } if id == ToneId::Low => self.kissoff_edge(last_end, tone_start, event),
            _ => {}
        }
    }

    fn handshake_edge(&mut self, id: ToneId, event: ToneEvent) {
        match (id, event) {
            (ToneId::Low, ToneEvent::Ended { at, duration, .. }) => {
                let ok = BURST_MS.contains(&duration.as_millis());
                self.low_burst = ok.then(|| (at - duration, at));
            }
            (ToneId::High, ToneEvent::Started { at }) => self.high_start = Some(at),
            (ToneId::High, ToneEvent::Ended { at, duration, .. }) => {
                let gap = match (self.low_burst, self.high_start) {
                    (Some((_, low_end)), Some(start)) => start.checked_duration_since(low_end),
                    _ => None,
                };
                let ok = BURST_MS.contains(&duration.as_millis())
                    && gap.is_some_and(|g| BURST_MS.contains(&g.as_millis()));
                if ok {
                    self.handshake_at = Some(at);
                    self.begin(at + self.cfg.pause);
                }
                self.low_burst = None;
            }
            _ => {}
        }
    }

    fn kissoff_edge(&mut self, last_end: Instant, tone_start: Option<Instant>, event: ToneEvent) {
        match (event, tone_start) {
            (ToneEvent::Started { at }, None) => {
                let window = last_end.checked_sub(EARLY_SLACK).unwrap_or(last_end)
                    ..=last_end + self.cfg.kissoff_window;
                if window.contains(&at) {
                    self.phase = Phase::AwaitKissoff {
                        last_end,
                        tone_start: Some(at),
                    };
                }
            }
            (ToneEvent::Ended { at, duration, .. }, Some(start)) => {
                if (self.cfg.kissoff_min..=self.cfg.kissoff_max).contains(&duration) {
                    self.acknowledged(last_end, start, duration, at);
                } else {
                    self.phase = Phase::AwaitKissoff {
                        last_end,
                        tone_start: None,
                    };
                    if at >= last_end + self.cfg.kissoff_window {
                        self.attempt_failed(at);
                    }
                }
            }
            _ => {}
        }
    }

    /// The media leg will finish the burst's last digit at `last_end`.
    pub fn burst_planned(&mut self, last_end: Instant) {
        if self.phase == Phase::AwaitBurst {
            self.phase = Phase::AwaitKissoff {
                last_end,
                tone_start: None,
            };
        }
    }

    /// Runs the deadline if it passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_none_or(|d| d > now) {
            return;
        }
        match self.phase {
            Phase::AwaitHandshake { .. } => {
                for r in &mut self.reports {
                    r.outcome = MessageOutcome::NoHandshake;
                }
                self.finish();
            }
            Phase::AwaitKissoff { .. } => self.attempt_failed(now),
            Phase::AwaitBurst | Phase::Done => {}
        }
    }

    /// Starts an attempt of the current message at `at`.
    fn begin(&mut self, at: Instant) {
        let Some(report) = self.reports.get_mut(self.current) else {
            return self.finish();
        };
        report.attempts += 1;
        let digits = report.digits.clone();
        self.phase = Phase::AwaitBurst;
        self.actions.push_back(SeqAction::SendDigits { at, digits });
    }

    fn acknowledged(&mut self, last_end: Instant, start: Instant, length: Duration, end: Instant) {
        if let Some(r) = self.reports.get_mut(self.current) {
            r.outcome = MessageOutcome::Acknowledged;
            r.last_digit_to_kissoff_ms = Some(ms(start.saturating_duration_since(last_end)));
            r.kissoff_ms = Some(ms(length));
        }
        self.current += 1;
        if self.current < self.reports.len() {
            self.begin(end + self.cfg.pause);
        } else {
            self.finish();
        }
    }

    fn attempt_failed(&mut self, now: Instant) {
        let attempts = self
            .reports
            .get(self.current)
            .map_or(u32::MAX, |r| r.attempts);
        if attempts < self.cfg.attempts {
            return self.begin(now + self.cfg.pause);
        }
        if let Some(r) = self.reports.get_mut(self.current) {
            r.outcome = MessageOutcome::NoKissoff;
        }
        self.finish();
    }

    fn finish(&mut self) {
        if self.phase != Phase::Done {
            self.phase = Phase::Done;
            self.actions.push_back(SeqAction::HangUp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::simulate::args::{DeviceArgs, DeviceConfig};
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DeviceArgs,
    }

    fn cfg(extra: &[&str]) -> DeviceConfig {
        let mut argv = vec!["x", "sip:1@127.0.0.1"];
        argv.extend_from_slice(extra);
        DeviceConfig::from_args(&Cli::try_parse_from(argv).expect("args").args).expect("valid")
    }

    fn t(ms: u64) -> Instant {
        epoch() + Duration::from_millis(ms)
    }

    fn ended(end: u64, len: u64) -> ToneEvent {
        ToneEvent::Ended {
            at: t(end),
            duration: Duration::from_millis(len),
            level_dbm0: -11.0,
        }
    }

    fn handshake(seq: &mut Sequencer, at: u64) {
        seq.on_tone(ToneId::Low, ToneEvent::Started { at: t(at) });
        seq.on_tone(ToneId::Low, ended(at + 100, 100));
        seq.on_tone(ToneId::High, ToneEvent::Started { at: t(at + 200) });
        seq.on_tone(ToneId::High, ended(at + 300, 100));
    }

    fn expect_send(seq: &mut Sequencer, at: u64) {
        match seq.poll_action() {
            Some(SeqAction::SendDigits { at: when, .. }) => assert_eq!(when, t(at)),
            other => panic!("expected digits at {at}: {other:?}"),
        }
    }

    #[test]
    fn handshake_digits_kissoff_then_next_message_then_hang_up() {
        let mut seq = Sequencer::new(
            t(0),
            &cfg(&["-m", "1234 18 1 602 00 000", "-m", "1234 18 1 101 01 001"]),
        );
        handshake(&mut seq, 500);
        expect_send(&mut seq, 1050);
        seq.burst_planned(t(2800));
        seq.on_tone(ToneId::Low, ToneEvent::Started { at: t(2900) });
        seq.on_tone(ToneId::Low, ended(3750, 850));
        expect_send(&mut seq, 4000);
        seq.burst_planned(t(5750));
        seq.on_tone(ToneId::Low, ToneEvent::Started { at: t(5850) });
        seq.on_tone(ToneId::Low, ended(6700, 850));
        assert_eq!(seq.poll_action(), Some(SeqAction::HangUp));
        let r = seq.reports();
        assert_eq!(r[1].outcome, MessageOutcome::Acknowledged);
        assert_eq!(
            (
                r[0].attempts,
                r[0].last_digit_to_kissoff_ms,
                r[0].kissoff_ms
            ),
            (1, Some(100.0), Some(850.0))
        );
        assert_eq!(seq.answer_to_handshake(), Some(Duration::from_millis(800)));
    }

    #[test]
    fn a_late_or_short_kissoff_is_a_retry_and_four_failures_give_up() {
        let mut seq = Sequencer::new(t(0), &cfg(&[]));
        handshake(&mut seq, 500);
        expect_send(&mut seq, 1050);
        seq.burst_planned(t(2800));
        // Too short: not a kissoff; the window then runs out.
        seq.on_tone(ToneId::Low, ToneEvent::Started { at: t(2900) });
        seq.on_tone(ToneId::Low, ended(3200, 300));
        seq.handle_timeout(t(4049));
        assert_eq!(seq.poll_action(), None);
        seq.handle_timeout(t(4050));
        expect_send(&mut seq, 4300);
        for n in 0..3 {
            let end = 6000 + n * 3000;
            seq.burst_planned(t(end));
            // A kissoff starting after the 1.25 s window does not count.
            seq.on_tone(ToneId::Low, ToneEvent::Started { at: t(end + 1300) });
            seq.handle_timeout(t(end + 1250));
            if n < 2 {
                assert!(matches!(
                    seq.poll_action(),
                    Some(SeqAction::SendDigits { .. })
                ));
            }
        }
        assert_eq!(seq.poll_action(), Some(SeqAction::HangUp));
        assert_eq!(seq.reports()[0].outcome, MessageOutcome::NoKissoff);
        assert_eq!(seq.reports()[0].attempts, 4);
    }

    #[test]
    fn no_handshake_or_a_malformed_one_times_out() {
        let mut seq = Sequencer::new(t(0), &cfg(&[]));
        // 2300 Hz too long: not a handshake.
        seq.on_tone(ToneId::Low, ended(600, 100));
        seq.on_tone(ToneId::High, ToneEvent::Started { at: t(700) });
        seq.on_tone(ToneId::High, ended(1000, 300));
        assert_eq!(seq.poll_action(), None);
        seq.handle_timeout(t(10_000));
        assert_eq!(seq.poll_action(), Some(SeqAction::HangUp));
        assert_eq!(seq.reports()[0].outcome, MessageOutcome::NoHandshake);
        assert!(seq.is_done() && seq.poll_timeout().is_none());
    }
}
