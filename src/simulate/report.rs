//! What a simulation measured: per message, per call, and over a load run;
//! human text ([`std::fmt::Display`]) and JSON ([`serde::Serialize`]).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::args::{DtmfMode, Impairments};

/// How one message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageOutcome {
    /// A kissoff was heard.
    Acknowledged,
    /// Every attempt went without a valid kissoff.
    NoKissoff,
    /// No handshake was heard, so nothing was sent.
    NoHandshake,
    /// The call ended (or an earlier message failed) before this one.
    NotSent,
}

/// One Contact ID message of a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageReport {
    /// The 16 DTMF digits sent.
    pub digits: String,
    /// Attempts made (1 when the first was acknowledged).
    pub attempts: u32,
    /// The result.
    pub outcome: MessageOutcome,
    /// End of our last digit to the start of the kissoff, ms.
    pub last_digit_to_kissoff_ms: Option<f64>,
    /// Kissoff length, ms.
    pub kissoff_ms: Option<f64>,
}

impl MessageReport {
    /// A message not yet sent.
    pub fn pending(digits: &str) -> Self {
        Self {
            digits: digits.to_owned(),
            attempts: 0,
            outcome: MessageOutcome::NotSent,
            last_digit_to_kissoff_ms: None,
            kissoff_ms: None,
        }
    }
}

/// One call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallReport {
    /// 0-based index in the run.
    pub index: u32,
    /// The Call-ID.
    pub call_id: String,
    /// True when every message was acknowledged.
    pub success: bool,
    /// Why the call failed, if it did.
    pub failure: Option<String>,
    /// The final response to the INVITE.
    pub final_status: Option<u16>,
    /// INVITE sent to 200 OK received, ms.
    pub invite_to_answer_ms: Option<f64>,
    /// 200 OK to the end of the handshake, ms.
    pub answer_to_handshake_ms: Option<f64>,
    /// The codec agreed (`PCMA`/`PCMU`).
    pub codec: Option<String>,
    /// How digits were actually sent (in-band when events were asked but not agreed).
    pub dtmf: DtmfMode,
    /// The messages in order.
    pub messages: Vec<MessageReport>,
    /// RTP packets produced.
    pub rtp_packets: u64,
    /// Of them, dropped by `--loss`.
    pub rtp_dropped: u64,
    /// Sent out of order because of `--jitter-ms`.
    pub rtp_reordered: u64,
    /// The longest time between two RTP packets from the far end, ms (a
    /// receiver that sends nothing while it listens shows here).
    pub rx_longest_silence_ms: f64,
    /// Who hung up: `local`, `remote`, or `none` (never answered).
    pub hangup: &'static str,
    /// Call length from INVITE to the end, ms.
    pub duration_ms: f64,
}

/// Over every call of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Calls made.
    pub calls: u32,
    /// Calls where every message was acknowledged.
    pub successes: u32,
    /// The rest.
    pub failures: u32,
    /// Messages acknowledged over all calls.
    pub messages_acknowledged: u32,
    /// Messages that needed more than one attempt.
    pub messages_retried: u32,
    /// Median last digit → kissoff start, ms.
    pub kissoff_delay_p50_ms: Option<f64>,
    /// 99th percentile of the same, ms.
    pub kissoff_delay_p99_ms: Option<f64>,
}

/// The result of `alarmgate simulate device`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    /// The URI dialled.
    pub target: String,
    /// The impairment seed (repeat a run with `--seed`).
    pub seed: u64,
    /// The impairments applied.
    pub impairments: Impairments,
    /// Every call.
    pub calls: Vec<CallReport>,
    /// Totals.
    pub summary: Summary,
}

impl SimReport {
    /// Builds the report and its summary from the calls.
    pub fn new(
        target: String,
        seed: u64,
        impairments: Impairments,
        calls: Vec<CallReport>,
    ) -> Self {
        let summary = Summary::of(&calls);
        Self {
            target,
            seed,
            impairments,
            calls,
            summary,
        }
    }

    /// True when every call succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.summary.failures == 0
    }
}

impl Summary {
    /// Totals and percentiles over `calls`.
    pub fn of(calls: &[CallReport]) -> Self {
        let messages = calls.iter().flat_map(|c| &c.messages);
        let acked: Vec<&MessageReport> = messages
            .filter(|m| m.outcome == MessageOutcome::Acknowledged)
            .collect();
        let mut delays: Vec<f64> = acked
            .iter()
            .filter_map(|m| m.last_digit_to_kissoff_ms)
            .collect();
        delays.sort_by(f64::total_cmp);
        let successes = calls.iter().filter(|c| c.success).count() as u32;
        Self {
            calls: calls.len() as u32,
            successes,
            failures: calls.len() as u32 - successes,
            messages_acknowledged: acked.len() as u32,
            messages_retried: acked.iter().filter(|m| m.attempts > 1).count() as u32,
            kissoff_delay_p50_ms: percentile(&delays, 0.50),
            kissoff_delay_p99_ms: percentile(&delays, 0.99),
        }
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// A duration in milliseconds with 0.1 ms resolution.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

struct Ms(Option<f64>);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v:.0} ms"),
            None => f.write_str("-"),
        }
    }
}

impl fmt::Display for CallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.success { "OK" } else { "FAILED" };
        write!(f, "call {} {verdict}", self.index + 1)?;
        if let Some(why) = &self.failure {
            write!(f, " ({why})")?;
        }
        writeln!(f, "  Call-ID {}", self.call_id)?;
        let status = self.final_status.map_or("-".into(), |s| s.to_string());
        let codec = self.codec.as_deref().unwrap_or("-");
        writeln!(
            f,
            "  INVITE→{status} {}, answer→handshake {}, codec {codec}, dtmf {:?}, hangup {}",
            Ms(self.invite_to_answer_ms),
            Ms(self.answer_to_handshake_ms),
            self.dtmf,
            self.hangup
        )?;
        for (i, m) in self.messages.iter().enumerate() {
            writeln!(
                f,
                "  message {} {}: {:?} after {} attempt(s); last digit→kissoff {}, kissoff {}",
                i + 1,
                m.digits,
                m.outcome,
                m.attempts,
                Ms(m.last_digit_to_kissoff_ms),
                Ms(m.kissoff_ms)
            )?;
        }
        writeln!(
            f,
            "  RTP sent {} (dropped {}, reordered {}), {:.1} s",
            self.rtp_packets,
            self.rtp_dropped,
            self.rtp_reordered,
            self.duration_ms / 1000.0
        )
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "simulated unit → {} (seed {})", self.target, self.seed)?;
        let detailed = self.calls.len() <= 10;
        for call in self.calls.iter().filter(|c| detailed || !c.success) {
            write!(f, "{call}")?;
        }
        let s = &self.summary;
        writeln!(
            f,
            "calls {}: {} ok, {} failed; messages acknowledged {} ({} retried); \
             last digit→kissoff p50 {}, p99 {}",
            s.calls,
            s.successes,
            s.failures,
            s.messages_acknowledged,
            s.messages_retried,
            Ms(s.kissoff_delay_p50_ms),
            Ms(s.kissoff_delay_p99_ms)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(ms(Duration::from_micros(123_456)), 123.5);
    }
}
