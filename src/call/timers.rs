//! The call core's own timers, by name, in the crate's deadline queue.
//!
//! Entries are never removed early: a timer whose call is gone, or whose
//! generation no longer matches, is skipped when it fires (lazy deletion keeps
//! arming a timer O(log n) with no search).

use super::state::CallHandle;

/// The timers a call can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallTimer {
    /// `answer_delay` elapsed after 180 Ringing: send the 200 OK.
    Answer,
    /// `max_duration` reached: hang up with BYE.
    MaxDuration,
    /// The shutdown grace period is over: hang up with BYE.
    Drain,
    /// Our BYE got no final response in time: forget the call anyway.
    ByeGuard,
    /// Our CANCEL got no final response to the INVITE in 64*T1 (RFC 3261
    /// §9.1): consider the leg cancelled.
    CancelGuard,
}

/// A deadline-ordered queue of `(call, timer)` entries: the crate's one
/// [`crate::timer_queue::TimerQueue`].
pub type TimerQueue = crate::timer_queue::TimerQueue<(CallHandle, CallTimer)>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_deadline_order_and_not_before() {
        let t0 = crate::clock::epoch();
        let mut q = TimerQueue::default();
        q.arm(
            t0 + Duration::from_secs(2),
            (CallHandle(1), CallTimer::MaxDuration),
        );
        q.arm(
            t0 + Duration::from_secs(1),
            (CallHandle(2), CallTimer::Answer),
        );
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(q.pop_due(t0), None);
        assert_eq!(
            q.pop_due(t0 + Duration::from_secs(5)),
            Some((
                t0 + Duration::from_secs(1),
                (CallHandle(2), CallTimer::Answer)
            ))
        );
        assert_eq!(
            q.pop_due(t0 + Duration::from_secs(5)),
            Some((
                t0 + Duration::from_secs(2),
                (CallHandle(1), CallTimer::MaxDuration)
            ))
        );
        assert_eq!(q.pop_due(t0 + Duration::from_secs(5)), None);
    }
}
