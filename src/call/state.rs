//! One call as the core keeps it, and what the core tells the driver.

use super::policy::HoldAudio;
use crate::sip::dialog::Dialog;
use crate::sip::message::Request;
use crate::sip::sdp::NegotiatedMedia;
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
        }
    }
}

/// What the driver must do or may log, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// Open the RTP socket on `local_port` and start sending hold audio.
    MediaStart {
        /// The call.
        call: CallHandle,
        /// Its Call-ID, for logs.
        call_id: CallId,
        /// The tenant that owns the call.
        tenant: String,
        /// The calling number (the From URI's user part), for alarm records.
        caller: String,
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
        /// The new negotiated media.
        media: NegotiatedMedia,
    },
    /// Close the RTP socket of this call.
    MediaStop {
        /// The call.
        call: CallHandle,
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
}

/// The core's record of one call.
#[derive(Debug)]
pub struct Call {
    /// Its handle.
    pub handle: CallHandle,
    /// The tenant.
    pub tenant: String,
    /// The calling number (From user part).
    pub caller: String,
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
}

impl Call {
    /// The Call-ID.
    pub fn call_id(&self) -> &CallId {
        &self.dialog.id.call_id
    }
}
