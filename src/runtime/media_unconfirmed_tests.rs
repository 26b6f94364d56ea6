//! The media worker with a unit whose message never decodes and that hangs
//! up first: its `MediaStop` still yields the one queue request, of class
//! `Unconfirmed` with what was heard, so the switchboard keeps a callback
//! (before, the pipeline's outcome of a hung-up call was dropped). Real
//! RTP over loopback, simulated time (the rig of `media_alarm_tests`).

use super::*;
use crate::alarm::AttemptFault;

#[test]
fn a_unit_that_hangs_up_after_a_bad_message_is_requested_as_unconfirmed() {
    let dir = Dir::new("unconfirmed");
    let mut rig = Rig::with(Some(shared(&dir, true)));
    rig.run(0, 55);
    assert_eq!(state(&rig), Some(ReceiverState::AwaitingFirstDigit));
    let mut bad = message("101");
    let wrong = if bad.ends_with('1') { '2' } else { '1' };
    bad.pop();
    bad.push(wrong);
    rig.unit
        .session()
        .send_digits(&bad, 60)
        .expect("negotiated");
    let mut k = 55;
    while state(&rig) != Some(ReceiverState::AwaitingNextMessage) {
        assert!(k < 205, "the attempt is rejected");
        assert_ne!(state(&rig), Some(ReceiverState::AwaitingStorage));
        rig.run(k, k + 1);
        k += 1;
    }
    rig.run(k, k + 20);
    assert_ne!(
        state(&rig),
        Some(ReceiverState::SendingKissoff),
        "no kissoff"
    );
    assert!(rig.control.try_recv().is_err(), "nothing queued yet");

    let stop = CallEvent::MediaStop {
        call: DEVICE,
        group: DEVICE,
    };
    rig.worker
        .input(epoch() + 20 * MS * (k + 20), WorkerInput::Call(stop));
    let request = queued(&mut rig);
    assert_eq!(request.class, CallClass::Unconfirmed);
    let alarm = request.unconfirmed.expect("what was heard");
    let best = alarm.heard.best().map(|a| (a.digits.clone(), a.fault));
    assert_eq!(best, Some((bad, AttemptFault::Checksum)));
    assert_eq!(alarm.heard.attempts(), 1);
}
