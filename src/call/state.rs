//! One call as the core keeps it, and what the core tells the driver.

use super::policy::HoldAudio;
use crate::labels::{Caller, TenantId};
use crate::sip::dialog::Dialog;
use crate::sip::message::Request;
use crate::sip::sdp::{Codec, NegotiatedMedia};
use crate::sip::transaction::TxKey;
use crate::sip::types::CallId;
use std::time::{Duration, Instant};

/// A handle to a call inside the core; never reused within a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub u64);

/// Where a call is in its life.
#[derive(Debug, Clone)]
pub enum CallState {
    /// 180 Ringing sent; the 200 OK goes out when the answer timer fires.
    Ringing {
        /// The INVITE server transaction.
        invite_tx: TxKey,
        /// The INVITE, kept to build the 200 OK.
        invite: Box<Request>,
    },
    /// 200 OK sent; the transaction layer retransmits it until the ACK.
    Answered,
    /// ACK received: the call is up.
    Confirmed,
    /// We sent BYE and wait for its final response.
    Ending {
        /// The BYE client transaction.
        bye_tx: TxKey,
        /// Why we hung up.
        reason: EndReason,
    },
}

/// Why a call ended; a metric label and a log field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The far end sent BYE.
    RemoteBye,
    /// The caller cancelled before the answer.
    Cancelled,
    /// `calls.max_duration_s` elapsed.
    MaxDuration,
    /// No ACK arrived for our 200 OK.
    NoAck,
    /// The node shut down and the grace period ran out.
    Shutdown,
    /// The media socket could not be opened.
    MediaFailed,
    /// Every alarm of the call was technical or test, acknowledged and stored:
    /// the gateway settled it and hung up.
    Settled,
    /// An outgoing leg was not answered (busy, declined, unreachable,
    /// rejected); a [`CallEvent::LegFailed`] said why.
    LegFailed,
    /// The other call of a bridge hung up, so the switchboard ended this one.
    BridgePeerHungUp,
    /// The call was handed on to an external target.
    Forwarded,
    /// The switchboard or an operator (API) ended the call.
    HungUp,
    /// The WebSocket flow of a browser on the call closed (a closed tab):
    /// nothing reaches it any more.
    FlowClosed,
}

impl EndReason {
    /// The label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::RemoteBye => "remote_bye",
            EndReason::Cancelled => "cancelled",
            EndReason::MaxDuration => "max_duration",
            EndReason::NoAck => "no_ack",
            EndReason::Shutdown => "shutdown",
            EndReason::MediaFailed => "media_failed",
            EndReason::Settled => "settled",
            EndReason::LegFailed => "leg_failed",
            EndReason::BridgePeerHungUp => "bridge_peer_hung_up",
            EndReason::Forwarded => "forwarded",
            EndReason::HungUp => "hung_up",
            EndReason::FlowClosed => "flow_closed",
        }
    }
}

/// What the driver must do or may log, in order.
///
/// Every call, incoming or an outgoing leg, ends with exactly one `Ended`.
/// A leg that is not answered reports [`CallEvent::LegFailed`] first; a leg
/// ended by [`super::CallCore::cancel_leg`] reports only `Ended { reason: Cancelled }`.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// Open the RTP socket on `local_port` and start sending hold audio.
    MediaStart {
        /// The call.
        call: CallHandle,
        /// The media group: the parent for a leg, the call itself otherwise.
        /// All calls of a group belong on one media worker.
        group: CallHandle,
        /// True for an outgoing leg (no alarm pipeline on it).
        outgoing: bool,
        /// Its Call-ID, for logs.
        call_id: CallId,
        /// The tenant that owns the call.
        tenant: TenantId,
        /// The calling number (the From URI's user part), for alarm records.
        caller: Caller,
        /// Our RTP port.
        local_port: u16,
        /// Codec, payload types, the far end's address, direction.
        media: NegotiatedMedia,
        /// What the caller hears while held.
        hold: HoldAudio,
    },
    /// The far end changed its media (hold, unhold, new address).
    MediaUpdate {
        /// The call.
        call: CallHandle,
        /// Its media group (see `MediaStart`).
        group: CallHandle,
        /// The new negotiated media.
        media: NegotiatedMedia,
    },
    /// Close the RTP socket of this call.
    MediaStop {
        /// The call.
        call: CallHandle,
        /// Its media group (see `MediaStart`).
        group: CallHandle,
    },
    /// The call is over.
    Ended {
        /// The call.
        call: CallHandle,
        /// Its Call-ID.
        call_id: CallId,
        /// Why.
        reason: EndReason,
        /// From the INVITE to the end.
        duration: Duration,
    },
    /// An outgoing leg got 180 or 183 (reported once per provisional).
    LegRinging {
        /// The leg.
        leg: CallHandle,
    },
    /// An outgoing leg was answered: 2xx, ACK sent; its `MediaStart` follows.
    LegAnswered {
        /// The leg.
        leg: CallHandle,
    },
    /// A DTMF key in a SIP INFO of the call's dialog
    /// (`application/dtmf-relay` or `application/dtmf`): the media engine
    /// relays it as the bridge relays RFC 4733 digits from that leg.
    InfoDigit {
        /// The call (an operator's leg, for a relay to the unit).
        call: CallHandle,
        /// Its media group (see `MediaStart`).
        group: CallHandle,
        /// The key.
        key: char,
        /// How long it was pressed, ms.
        duration_ms: u32,
    },
    /// An outgoing leg was not answered; its `Ended` follows.
    LegFailed {
        /// The leg.
        leg: CallHandle,
        /// What happened, for routing decisions.
        outcome: LegFailure,
        /// The final response's status code, `None` for a timeout or transport error.
        status: Option<u16>,
    },
}

/// Why an outgoing leg was not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegFailure {
    /// 486 Busy Here or 600 Busy Everywhere.
    Busy,
    /// 603 Decline.
    Declined,
    /// 408, 480, 5xx, no response (Timer B) or a transport error.
    Unreachable,
    /// Any other final response (3xx-6xx, 401/407 included).
    Rejected(u16),
}

impl LegFailure {
    /// The outcome a final non-2xx status means.
    pub fn from_status(code: u16) -> Self {
        match code {
            486 | 600 => LegFailure::Busy,
            603 => LegFailure::Declined,
            408 | 480 | 500..=599 => LegFailure::Unreachable,
            other => LegFailure::Rejected(other),
        }
    }
}

/// What an outgoing leg keeps beyond a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegInfo {
    /// The call it will be bridged to.
    pub parent: Option<CallHandle>,
    /// Codecs offered, in preference order.
    pub codecs: Vec<Codec>,
}

/// The core's record of one call.
#[derive(Debug)]
pub struct Call {
    /// Its handle.
    pub handle: CallHandle,
    /// The tenant.
    pub tenant: TenantId,
    /// The calling number (From user part).
    pub caller: Caller,
    /// The dialog (tags, CSeq, route set, the flow back).
    pub dialog: Dialog,
    /// Where the call is.
    pub state: CallState,
    /// Our RTP port.
    pub local_port: u16,
    /// The media in force, once negotiated.
    pub media: Option<NegotiatedMedia>,
    /// The SDP o= session id and version of our last description.
    pub sdp_session: (u64, u64),
    /// The INVITE arrived.
    pub started: Instant,
    /// Session-Expires we agreed to, if the caller asked for session timers.
    pub session_expires: Option<u32>,
    /// A span carrying the Call-ID; everything logged about the call is inside it.
    pub span: tracing::Span,
    /// Set for an outgoing leg (we sent the INVITE).
    pub leg: Option<LegInfo>,
}

impl Call {
    /// The Call-ID.
    pub fn call_id(&self) -> &CallId {
        &self.dialog.id.call_id
    }

    /// The media group: the parent of a leg, else the call itself.
    pub fn group(&self) -> CallHandle {
        self.leg
            .as_ref()
            .and_then(|l| l.parent)
            .unwrap_or(self.handle)
    }
}
