//! Tests of [`super::Heard`]: counters, the best attempt, the account rule
//! and the bound.

use super::*;

#[test]
fn counts_each_fault_and_keeps_the_longest_attempt() {
    let mut h = Heard::default();
    assert!(h.is_empty() && h.best().is_none() && h.account().is_none());
    h.record("123418", AttemptFault::Partial);
    h.record("1234181602000001", AttemptFault::Checksum);
    h.record("12341816", AttemptFault::Partial);
    assert_eq!(
        (
            h.attempts(),
            h.checksum_failures(),
            h.partials(),
            h.malformed()
        ),
        (3, 1, 2, 0)
    );
    let best = h.best().map(|a| a.digits.as_str());
    assert_eq!(best, Some("1234181602000001"));
    let json = serde_json::to_value(h.summary()).unwrap_or_default();
    assert_eq!(json["best"]["fault"], "checksum");
    assert_eq!(json["kept"].as_array().map(Vec::len), Some(3));
    let back: Result<HeardSummary, _> = serde_json::from_value(json);
    assert_eq!(back.ok(), Some(h.summary()));
}

/// Only full-length attempts with message type 18/98 give an account, and
/// it is never verified.
#[test]
fn account_only_from_full_attempts_with_a_contact_id_message_type() {
    let mut partial_only = Heard::default();
    partial_only.record("123418160200000", AttemptFault::Partial);
    assert_eq!(partial_only.account(), None, "15 digits: positions unknown");

    let mut shifted = Heard::default();
    // The first digit was lost and the 16th is noise: type reads "81".
    shifted.record("2341816020000021", AttemptFault::Checksum);
    assert_eq!(shifted.account(), None);

    let mut h = Heard::default();
    h.record("1234181602000001", AttemptFault::Checksum);
    h.record("9234181602000001", AttemptFault::Checksum);
    h.record("1234981602000003", AttemptFault::Checksum);
    let account = h.account().expect("an account");
    assert_eq!(account.digits, "1234");
    assert_eq!(account.agreeing_attempts, 2);
    assert_eq!(h.summary().account.map(|a| a.verified), Some(false));
}

/// A unit repeating forever keeps memory bounded, and the best attempt.
#[test]
fn bounded_and_the_best_attempt_survives() {
    let mut h = Heard::default();
    h.record("1234181602000001", AttemptFault::Checksum);
    for _ in 0..100 {
        h.record("12", AttemptFault::Partial);
    }
    assert_eq!(h.attempts(), 101);
    assert_eq!(h.kept().len(), KEPT);
    assert_eq!(
        h.best().map(|a| a.fault),
        Some(AttemptFault::Checksum),
        "the 16-digit attempt is kept"
    );
    let mut noisy = Heard::default();
    noisy.record("1", AttemptFault::Partial);
    assert!(!noisy.is_significant());
    noisy.record(&"7".repeat(40), AttemptFault::Partial);
    assert!(noisy.is_significant());
    assert_eq!(noisy.best().map(|a| a.digits.len()), Some(16));
}
