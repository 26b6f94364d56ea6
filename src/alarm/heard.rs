//! What the receiver heard of Contact ID messages that never decoded: the
//! digits of each failed attempt (checksum failure, malformed, partial), so
//! that an alarm that never got through is still recognisable to a person
//! (an *unconfirmed alarm*, issue 9 item 5).
//!
//! Nothing here is guessed: digits are reported as they arrived, and the
//! account is only read from an attempt whose 16 digits all came *and*
//! whose message type (digits 5-6) is `18` or `98`, so the first four digits
//! stand where an account stands. Even then no checksum vouched for them:
//! the account is always reported as unverified, with the number of
//! attempts that agree on it.

use serde::{Deserialize, Serialize};

/// At most this many attempts are kept (the best one always among them).
const KEPT: usize = 8;
/// Digits kept per attempt (a message has 16).
const MAX_DIGITS: usize = 16;
/// An attempt is taken for a message only with this many digits (fewer is
/// line noise, or talk-off of a citizen's voice, rather than a unit).
const SIGNIFICANT_DIGITS: usize = 4;

/// Why an attempt was not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptFault {
    /// 16 digits, bad checksum.
    Checksum,
    /// 16 digits, good checksum, not Contact ID.
    Malformed,
    /// Fewer than 16 digits before the inter-digit timeout.
    Partial,
}

impl AttemptFault {
    /// The label in events and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptFault::Checksum => "checksum",
            AttemptFault::Malformed => "malformed",
            AttemptFault::Partial => "partial",
        }
    }
}

/// One failed attempt: its digits as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeardAttempt {
    /// `0-9 * # A-D`, in arrival order (at most 16).
    pub digits: String,
    /// Why it was not a message.
    pub fault: AttemptFault,
}

/// An account read from failed attempts: never checked by a checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeardAccount {
    /// The first four digits of a full-length attempt.
    pub digits: String,
    /// How many full-length attempts start with them.
    pub agreeing_attempts: u32,
}

/// Failed attempts of one call, bounded; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heard {
    kept: Vec<HeardAttempt>,
    attempts: u32,
    checksum_failures: u32,
    malformed: u32,
    partials: u32,
}

impl Heard {
    /// Records one failed attempt.
    pub fn record(&mut self, digits: &str, fault: AttemptFault) {
        self.attempts = self.attempts.saturating_add(1);
        let counter = match fault {
            AttemptFault::Checksum => &mut self.checksum_failures,
            AttemptFault::Malformed => &mut self.malformed,
            AttemptFault::Partial => &mut self.partials,
        };
        *counter = counter.saturating_add(1);
        if self.kept.len() >= KEPT {
            let best = self.best_index();
            let drop = usize::from(best == Some(0));
            self.kept.remove(drop);
        }
        let digits = digits.chars().take(MAX_DIGITS).collect();
        self.kept.push(HeardAttempt { digits, fault });
    }

    /// True when no attempt was heard.
    pub fn is_empty(&self) -> bool {
        self.attempts == 0
    }

    /// True when an attempt carried enough digits (4) to be a message
    /// rather than line noise or talk-off: an unconfirmed alarm.
    pub fn is_significant(&self) -> bool {
        self.kept
            .iter()
            .any(|a| a.digits.chars().count() >= SIGNIFICANT_DIGITS)
    }

    /// Failed attempts in all.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Of those, checksum failures.
    pub fn checksum_failures(&self) -> u32 {
        self.checksum_failures
    }

    /// Of those, 16 digits with a good checksum that were not Contact ID.
    pub fn malformed(&self) -> u32 {
        self.malformed
    }

    /// Of those, attempts with digits missing.
    pub fn partials(&self) -> u32 {
        self.partials
    }

    /// The attempts kept, oldest first.
    pub fn kept(&self) -> &[HeardAttempt] {
        &self.kept
    }

    /// The attempt with the most digits (the latest of equals).
    pub fn best(&self) -> Option<&HeardAttempt> {
        self.best_index().and_then(|i| self.kept.get(i))
    }

    fn best_index(&self) -> Option<usize> {
        let len = |i: usize| self.kept.get(i).map_or(0, |a| a.digits.chars().count());
        (0..self.kept.len()).max_by_key(|i| (len(*i), *i))
    }

    /// The account, if a full-length attempt with a Contact ID message type
    /// carried it; the most agreed-on one (the latest of equals).
    pub fn account(&self) -> Option<HeardAccount> {
        let candidates: Vec<String> = self.kept.iter().filter_map(account_of).collect();
        let agreeing = |a: &String| candidates.iter().filter(|c| *c == a).count();
        let (digits, n) = candidates
            .iter()
            .enumerate()
            .max_by_key(|(i, a)| (agreeing(a), *i))
            .map(|(_, a)| (a.clone(), agreeing(a)))?;
        Some(HeardAccount {
            digits,
            agreeing_attempts: u32::try_from(n).unwrap_or(u32::MAX),
        })
    }

    /// The `heard` object of events and the API.
    pub fn summary(&self) -> HeardSummary {
        let attempt = |a: &HeardAttempt| HeardAttemptView {
            digits: a.digits.clone(),
            fault: a.fault,
        };
        HeardSummary {
            best: self.best().map(attempt),
            account: self.account().map(|a| HeardAccountView {
                digits: a.digits,
                verified: false,
                agreeing_attempts: a.agreeing_attempts,
            }),
            attempts: self.attempts,
            checksum_failures: self.checksum_failures,
            malformed: self.malformed,
            partials: self.partials,
            kept: self.kept.iter().map(attempt).collect(),
        }
    }
}

/// What was heard of an unconfirmed alarm, as events and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeardSummary {
    /// The attempt with the most digits.
    pub best: Option<HeardAttemptView>,
    /// The account, if a full-length attempt carried one; never verified.
    pub account: Option<HeardAccountView>,
    /// Failed attempts in all.
    pub attempts: u32,
    /// Of those, 16 digits with a bad checksum.
    pub checksum_failures: u32,
    /// Of those, 16 digits with a good checksum that were not Contact ID.
    pub malformed: u32,
    /// Of those, digits missing.
    pub partials: u32,
    /// The attempts kept (at most 8, the best among them), oldest first.
    pub kept: Vec<HeardAttemptView>,
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeardAttemptView {
    /// The digits as received.
    pub digits: String,
    /// Why it was not a message.
    pub fault: AttemptFault,
}

/// An account read from failed attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeardAccountView {
    /// The four digits.
    pub digits: String,
    /// Always `false`: no checksum covered them.
    pub verified: bool,
    /// Full-length attempts that start with them.
    pub agreeing_attempts: u32,
}

/// The first four digits of a full attempt whose message type is 18 or 98.
fn account_of(a: &HeardAttempt) -> Option<String> {
    let digits: Vec<char> = a.digits.chars().collect();
    if digits.len() != MAX_DIGITS || a.fault == AttemptFault::Partial {
        return None;
    }
    let message_type: String = digits.get(4..6)?.iter().collect();
    if message_type != "18" && message_type != "98" {
        return None;
    }
    Some(digits.get(..4)?.iter().collect())
}

#[cfg(test)]
#[path = "heard_tests.rs"]
mod tests;
