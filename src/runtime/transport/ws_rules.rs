//! The pure rules of SIP over WebSocket (RFC 7118): which upgrades are
//! accepted, what a data frame is to SIP, and the ping keep-alive of a
//! silent browser, as a timer driven with `now`.
//!
//! Decisions:
//! - The upgrade must offer the `sip` subprotocol (RFC 7118 §4.1); any
//!   other upgrade is refused with HTTP 400 and a reason in the body, so a
//!   misconfigured web phone shows why rather than a bare close.
//! - One SIP message per data frame (§5.1). Text frames carry it; a binary
//!   frame is accepted when it is UTF-8 (§5.3 allows binary frames for SIP),
//!   and refused with close code 1003 when it is not (no SIP we speak has a
//!   binary body). A frame holding only CR/LF is a keep-alive, not a message.
//! - Keep-alive: a WebSocket ping after `interval` of silence; if nothing at
//!   all arrives within a further `interval`, the flow is dead and closes,
//!   which takes the browser's bindings out at once.

use std::time::{Duration, Instant};

/// The WebSocket subprotocol of SIP (RFC 7118 §4.1, IANA registry).
pub const SUBPROTOCOL: &str = "sip";

/// Why an upgrade request was refused, as the HTTP error says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeRefusal {
    /// No `Sec-WebSocket-Protocol`, or one without `sip`.
    #[error("SIP over WebSocket needs the 'sip' subprotocol (RFC 7118); offered: {offered:?}")]
    NoSipSubprotocol {
        /// What the client offered, comma-joined (empty when nothing).
        offered: String,
    },
}

/// Checks the `Sec-WebSocket-Protocol` values of an upgrade request.
pub fn check_subprotocols<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<(), UpgradeRefusal> {
    let offered: Vec<&str> = values
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if offered.iter().any(|t| t.eq_ignore_ascii_case(SUBPROTOCOL)) {
        return Ok(());
    }
    Err(UpgradeRefusal::NoSipSubprotocol {
        offered: offered.join(", "),
    })
}

/// What one data frame is to SIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramePayload<'a> {
    /// A SIP message (not yet parsed).
    Message(&'a [u8]),
    /// CR/LF only: a keep-alive (RFC 5626 §4.4.1 style), not a message.
    KeepAlive,
    /// A binary frame that is not UTF-8: not SIP; close with 1003.
    NotSip,
}

/// Classifies a data frame; `binary` for a binary frame (a text frame is
/// UTF-8 already, the codec checks).
pub fn classify(payload: &[u8], binary: bool) -> FramePayload<'_> {
    if payload.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return FramePayload::KeepAlive;
    }
    if binary && std::str::from_utf8(payload).is_err() {
        return FramePayload::NotSip;
    }
    FramePayload::Message(payload)
}

/// What the ping timer asks for at its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingAction {
    /// Not due yet (woken early).
    Wait,
    /// Send a ping now.
    Ping,
    /// A ping went unanswered (nothing heard) for a whole interval.
    Dead,
}

/// The ping keep-alive of one flow.
#[derive(Debug, Clone)]
pub struct PingTimer {
    interval: Duration,
    last_heard: Instant,
    ping_sent: Option<Instant>,
}

impl PingTimer {
    /// A flow opened (or upgraded) at `now`.
    pub fn new(interval: Duration, now: Instant) -> Self {
        Self {
            interval,
            last_heard: now,
            ping_sent: None,
        }
    }

    /// Any frame arrived at `now` (a pong, a message, a ping).
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.ping_sent = None;
    }

    /// When [`Self::on_deadline`] has something to do.
    pub fn deadline(&self) -> Instant {
        match self.ping_sent {
            Some(at) => at + self.interval,
            None => self.last_heard + self.interval,
        }
    }

    /// The deadline passed (or the caller woke early): what to do.
    pub fn on_deadline(&mut self, now: Instant) -> PingAction {
        if now < self.deadline() {
            return PingAction::Wait;
        }
        if self.ping_sent.is_some() {
            return PingAction::Dead;
        }
        self.ping_sent = Some(now);
        PingAction::Ping
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn secs(s: u64) -> Instant {
        epoch() + Duration::from_secs(s)
    }

    #[test]
    fn the_sip_subprotocol_is_required_among_those_offered() {
        assert_eq!(check_subprotocols(["sip"]), Ok(()));
        assert_eq!(check_subprotocols(["chat, SIP"]), Ok(()));
        assert_eq!(check_subprotocols(["chat", "sip"]), Ok(()));
        let refused = check_subprotocols(["chat, mqtt"]).unwrap_err();
        assert!(refused.to_string().contains("'sip' subprotocol"));
        assert!(refused.to_string().contains("chat, mqtt"));
        assert!(check_subprotocols([]).is_err());
        assert!(check_subprotocols(["sips"]).is_err());
    }

    #[test]
    fn frames_are_messages_keep_alives_or_not_sip() {
        let register = b"REGISTER sip:x SIP/2.0\r\n\r\n";
        assert_eq!(
            classify(register, false),
            FramePayload::Message(&register[..])
        );
        assert_eq!(
            classify(register, true),
            FramePayload::Message(&register[..])
        );
        assert_eq!(classify(b"\r\n\r\n", false), FramePayload::KeepAlive);
        assert_eq!(classify(b"", true), FramePayload::KeepAlive);
        assert_eq!(classify(&[0xff, 0xfe, 0x00], true), FramePayload::NotSip);
        // Text garbage is still handed to the SIP parser (which answers 400 or drops).
        assert_eq!(classify(b"hello", false), FramePayload::Message(b"hello"));
    }

    #[test]
    fn a_silent_flow_is_pinged_then_declared_dead() {
        let mut t = PingTimer::new(Duration::from_secs(30), secs(0));
        assert_eq!(t.deadline(), secs(30));
        assert_eq!(t.on_deadline(secs(29)), PingAction::Wait);
        assert_eq!(t.on_deadline(secs(30)), PingAction::Ping);
        assert_eq!(t.deadline(), secs(60));
        assert_eq!(t.on_deadline(secs(59)), PingAction::Wait);
        assert_eq!(t.on_deadline(secs(60)), PingAction::Dead);
    }

    #[test]
    fn an_answered_ping_or_any_frame_keeps_the_flow() {
        let mut t = PingTimer::new(Duration::from_secs(30), secs(0));
        assert_eq!(t.on_deadline(secs(30)), PingAction::Ping);
        t.heard(secs(31)); // the pong
        assert_eq!(t.deadline(), secs(61));
        t.heard(secs(50)); // a REGISTER refresh
        assert_eq!(t.on_deadline(secs(61)), PingAction::Wait);
        assert_eq!(t.on_deadline(secs(80)), PingAction::Ping);
        t.heard(secs(109));
        assert_eq!(t.on_deadline(secs(110)), PingAction::Wait);
    }
}
