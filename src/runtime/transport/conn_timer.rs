//! The timers of one stream connection, as one deadline the reader obeys.
//!
//! A pure state machine (times come in as `now`):
//! - **first message**: an inbound connection must deliver one complete SIP
//!   message within this time of its TCP accept (a TLS handshake counts
//!   against it, and CRLF keep-alives do not count as a message), so idle
//!   connections that never speak SIP are closed in seconds;
//! - **idle**: once it has spoken, a connection that receives nothing
//!   (keep-alives count) for this long is closed;
//! - **slow message**: once part of a message has arrived, the rest must
//!   follow within this time (slowloris guard).

use std::time::{Duration, Instant};

use super::TransportLimits;

/// Which timer ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No complete SIP message in time after the accept.
    FirstMessage,
    /// A message stayed incomplete too long.
    SlowMessage,
    /// Nothing received for the idle timeout.
    Idle,
}

/// The deadlines of one connection.
#[derive(Debug, Clone)]
pub struct ConnTimer {
    idle: Duration,
    message: Duration,
    /// Set until the first complete message: the time it must arrive by.
    first_message_by: Option<Instant>,
    last_activity: Instant,
    /// When the bytes now buffered began to arrive, if any are.
    partial_since: Option<Instant>,
}

impl ConnTimer {
    /// An inbound connection accepted at `accepted`: it must send a message
    /// within the first-message timeout.
    pub fn inbound(limits: &TransportLimits, accepted: Instant, now: Instant) -> Self {
        Self {
            first_message_by: Some(accepted + limits.first_message_timeout),
            ..Self::outbound(limits, now)
        }
    }

    /// A connection we opened: the peer owes us nothing until we send.
    pub fn outbound(limits: &TransportLimits, now: Instant) -> Self {
        Self {
            idle: limits.idle_timeout,
            message: limits.message_timeout,
            first_message_by: None,
            last_activity: now,
            partial_since: None,
        }
    }

    /// Bytes arrived at `now`; `messages` complete SIP messages were framed
    /// from them, and `partial` if part of a message is still buffered.
    pub fn received(&mut self, now: Instant, messages: usize, partial: bool) {
        self.last_activity = now;
        if messages > 0 {
            self.first_message_by = None;
        }
        self.partial_since = match (partial, self.partial_since) {
            (false, _) => None,
            (true, since) => since.or(Some(now)),
        };
    }

    /// True until the connection has delivered a complete message.
    pub fn awaiting_first_message(&self) -> bool {
        self.first_message_by.is_some()
    }

    /// When the next timer fires.
    pub fn deadline(&self) -> Instant {
        let idle = self.last_activity + self.idle;
        [self.first_message_by, self.message_deadline()]
            .into_iter()
            .flatten()
            .fold(idle, Instant::min)
    }

    /// The timer that has fired at `now`, if any.
    pub fn expired(&self, now: Instant) -> Option<Expiry> {
        if self.first_message_by.is_some_and(|by| by <= now) {
            Some(Expiry::FirstMessage)
        } else if self.message_deadline().is_some_and(|by| by <= now) {
            Some(Expiry::SlowMessage)
        } else if self.last_activity + self.idle <= now {
            Some(Expiry::Idle)
        } else {
            None
        }
    }

    fn message_deadline(&self) -> Option<Instant> {
        self.partial_since.map(|since| since + self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn limits() -> TransportLimits {
        TransportLimits {
            first_message_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(900),
            message_timeout: Duration::from_secs(30),
            ..TransportLimits::default()
        }
    }

    fn secs(s: u64) -> Instant {
        epoch() + Duration::from_secs(s)
    }

    #[test]
    fn a_silent_inbound_connection_expires_at_the_first_message_timeout() {
        let t = ConnTimer::inbound(&limits(), secs(0), secs(0));
        assert_eq!(t.deadline(), secs(10));
        assert_eq!(t.expired(secs(9)), None);
        assert_eq!(t.expired(secs(10)), Some(Expiry::FirstMessage));
    }

    #[test]
    fn the_tls_handshake_counts_against_the_first_message() {
        // Accepted at 0, handshake done at 7: 3 s are left.
        let t = ConnTimer::inbound(&limits(), secs(0), secs(7));
        assert_eq!(t.deadline(), secs(10));
    }

    #[test]
    fn keep_alives_and_partial_messages_do_not_count_as_a_message() {
        let mut t = ConnTimer::inbound(&limits(), secs(0), secs(0));
        t.received(secs(3), 0, false); // a CRLF ping
        t.received(secs(6), 0, true); // half a REGISTER
        assert!(t.awaiting_first_message());
        assert_eq!(t.deadline(), secs(10));
        assert_eq!(t.expired(secs(10)), Some(Expiry::FirstMessage));
    }

    #[test]
    fn after_a_message_the_idle_and_slow_message_timers_rule() {
        let mut t = ConnTimer::inbound(&limits(), secs(0), secs(0));
        t.received(secs(2), 1, false);
        assert!(!t.awaiting_first_message());
        assert_eq!(t.deadline(), secs(902));
        assert_eq!(t.expired(secs(901)), None);
        t.received(secs(100), 0, false); // keep-alive resets idle
        assert_eq!(t.deadline(), secs(1000));
        t.received(secs(200), 0, true);
        t.received(secs(220), 0, true); // more of the same message
        assert_eq!(t.deadline(), secs(230));
        assert_eq!(t.expired(secs(230)), Some(Expiry::SlowMessage));
        t.received(secs(225), 1, false);
        assert_eq!(t.expired(secs(1124)), None);
        assert_eq!(t.expired(secs(1125)), Some(Expiry::Idle));
    }

    #[test]
    fn outbound_connections_have_no_first_message_timer() {
        let t = ConnTimer::outbound(&limits(), secs(0));
        assert!(!t.awaiting_first_message());
        assert_eq!(t.deadline(), secs(900));
        assert_eq!(t.expired(secs(899)), None);
        assert_eq!(t.expired(secs(900)), Some(Expiry::Idle));
    }
}
