//! The transaction layer's deadlines: the crate's one
//! [`crate::timer_queue::TimerQueue`], keyed by (transaction, timer), with
//! lazy deletion. Re-arming or disarming a timer leaves the old entry; it is
//! skipped when popped because the transaction's table no longer holds that
//! deadline. No scan of all transactions, O(log n) per timer.

use super::consts::Timer;

/// Internal transaction id, never reused.
pub(crate) type TxId = u64;

/// Pending deadlines, earliest first.
pub(crate) type TimerQueue = crate::timer_queue::TimerQueue<(TxId, Timer)>;
