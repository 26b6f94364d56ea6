//! Unconfirmed alarms in simulated time: a unit whose every attempt fails
//! (bad checksum, digits missing) is never acknowledged, and the call's
//! outcome carries what was heard ([`GiveUpReason::Unconfirmed`]).

use super::sim::{at, Sim, Unit};
use super::*;
use crate::alarm::heard::AttemptFault;

const PERIODIC: &str = "1234181602000002"; // 602, test
const BAD: &str = "1234181602000003"; // checksum fails
const PARTIAL: &str = "12341816020"; // 11 digits, then silence

/// The call's last action, which must be its outcome.
fn outcome(sim: &Sim) -> PipelineAction {
    sim.log.last().map(|(_, a)| a.clone()).expect("an outcome")
}

fn unconfirmed(action: PipelineAction) -> (Heard, bool) {
    match action {
        PipelineAction::GaveUp {
            reason:
                GiveUpReason::Unconfirmed {
                    heard,
                    remote_hangup,
                },
        } => (heard, remote_hangup),
        other => panic!("not an unconfirmed alarm: {other:?}"),
    }
}

/// No kissoff tone and no acknowledgement, ever.
fn assert_never_acknowledged(sim: &Sim) {
    let kinds = sim.kinds();
    assert!(
        !kinds
            .iter()
            .any(|k| k == "kissoff" || k.starts_with("ack") || k.starts_with("store")),
        "{kinds:?}"
    );
}

/// Two checksum failures and a partial, then the unit stays on the line:
/// after the quiet-line time the call gives up as an unconfirmed alarm with
/// the best attempt, the (unverified) account, and the counts.
#[test]
fn every_attempt_failing_gives_an_unconfirmed_alarm_with_what_was_heard() {
    let mut sim = Sim::new(Unit::new(&[BAD, BAD, PARTIAL]));
    sim.run(12_000);
    assert!(
        !sim.p.is_finished(),
        "still listening after the last attempt"
    );
    sim.run(20_000);
    assert_never_acknowledged(&sim);
    let (heard, remote_hangup) = unconfirmed(outcome(&sim));
    assert!(!remote_hangup);
    assert_eq!(
        (
            heard.attempts(),
            heard.checksum_failures(),
            heard.partials()
        ),
        (3, 2, 1)
    );
    let best = heard.best().expect("a best attempt");
    assert_eq!(
        (best.digits.as_str(), best.fault),
        (BAD, AttemptFault::Checksum)
    );
    let account = heard.account().expect("the account was heard");
    assert_eq!(
        (account.digits.as_str(), account.agreeing_attempts),
        ("1234", 2)
    );
    assert_eq!(
        heard.kept().last().map(|a| a.digits.as_str()),
        Some(PARTIAL)
    );
    assert!(sim.p.is_finished() && sim.p.poll_timeout().is_none());
}

/// Partial digits on every attempt: no account (positions unknown), and
/// the unit hanging up first still gives the outcome, once.
#[test]
fn a_unit_hanging_up_after_partials_gives_an_unconfirmed_alarm() {
    let mut sim = Sim::new(Unit::new(&[PARTIAL, PARTIAL]));
    sim.run(8_000);
    sim.p.handle_hangup(at(8_000));
    let last = sim.p.poll_action().expect("the outcome");
    assert_eq!(sim.p.poll_action(), None);
    let (heard, remote_hangup) = unconfirmed(last);
    assert!(remote_hangup);
    assert_eq!((heard.attempts(), heard.partials()), (2, 2));
    assert_eq!(heard.account(), None, "no full-length attempt");
    assert_never_acknowledged(&sim);
    sim.p.handle_hangup(at(8_100));
    assert_eq!(sim.p.poll_action(), None, "never twice");
}

/// A good message, then a message that never gets through: the call is an
/// unconfirmed alarm (not settled), and only the attempts after the good
/// message are reported. A stray digit after a good message is not.
#[test]
fn a_failed_message_after_a_good_one_is_still_unconfirmed() {
    let mut sim = Sim::new(Unit::new(&[PERIODIC, BAD, BAD]));
    sim.run(20_000);
    let kinds = sim.kinds();
    assert_eq!(kinds.iter().filter(|k| k.starts_with("ack")).count(), 1);
    let (heard, _) = unconfirmed(outcome(&sim));
    assert_eq!((heard.attempts(), heard.checksum_failures()), (2, 2));

    let mut noise = Sim::new(Unit::new(&[PERIODIC, "12"]));
    noise.run(20_000);
    assert!(
        matches!(outcome(&noise), PipelineAction::Settle { .. }),
        "{:?}",
        noise.kinds()
    );
}

/// The tail of an acknowledged message heard again after its kissoff (seen
/// with spandsp behind pjsua2: "00002" of "…602000002" about 1.8 s later)
/// is not a failed alarm: the call still settles. The start of a message
/// heard again (a second alarm of the same unit failing) still counts.
#[test]
fn the_tail_of_a_decoded_message_heard_again_is_not_an_unconfirmed_alarm() {
    let mut echo = Sim::new(Unit::new(&[PERIODIC, "00002"]));
    echo.run(20_000);
    assert!(
        matches!(outcome(&echo), PipelineAction::Settle { .. }),
        "{:?}",
        echo.kinds()
    );
    let mut second = Sim::new(Unit::new(&[PERIODIC, "1234181"]));
    second.run(20_000);
    let (heard, _) = unconfirmed(outcome(&second));
    assert_eq!(heard.partials(), 1);
}

/// A few stray digits in a call with no message (talk-off of a citizen's
/// voice, noise) are not an alarm: the call stays a plain voice call.
#[test]
fn stray_digits_alone_are_not_an_unconfirmed_alarm() {
    let mut sim = Sim::new(Unit::new(&["12", "3"]));
    sim.run(20_000);
    assert_eq!(
        outcome(&sim),
        PipelineAction::GaveUp {
            reason: GiveUpReason::NoValidMessage
        },
        "{:?}",
        sim.kinds()
    );
}
