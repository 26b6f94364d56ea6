//! The sans-IO transaction layer (RFC 3261 §17, with RFC 6026's Accepted
//! states and RFC 3261 §9 / §8.2.2.2 for CANCEL and merged requests).
//!
//! Inputs are `handle_request`, `handle_response`, `handle_timeout`,
//! `transport_error` and the TU's `respond`, `send_request`, `cancel`,
//! `send_stateless`, each taking `now`. After any input, drain
//! [`TransactionLayer::poll_transmit`] and [`TransactionLayer::poll_event`],
//! then sleep until [`TransactionLayer::poll_timeout`] and call
//! `handle_timeout` (an early wake-up is harmless).
//!
//! Transactions live in a `HashMap` by id with indexes by key, dialog and
//! peer; deadlines are a heap with lazy deletion ([`timer`]). Every
//! per-transaction operation is O(1) or O(log n) in the live transactions:
//! nothing scans a peer's or the layer's whole set. Each response is serialised once and
//! its bytes kept for retransmission. Every transaction ends on a timer or
//! immediately over reliable transports, so memory is bounded by the request rate.

mod client_invite;
mod client_non_invite;
mod consts;
mod key;
mod server_invite;
mod server_non_invite;
#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests_index;
mod timer;

pub use consts::{Timer, TimerConfig};
pub use key::{server_key, Role, TxKey, MAGIC_COOKIE};

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::sip::message::{self, MessageError, Request, Response, SipMessage};
use crate::sip::types::{Peer, Tag, Transmit};
use consts::TimerTable;
use key::DialogKey;
use timer::{TimerQueue, TxId};

/// What the layer tells the transaction user (TU).
#[derive(Debug, Clone, PartialEq)]
pub enum TxEvent {
    /// A new request (retransmissions absorbed); for an INVITE the layer already sent 100 Trying.
    Request {
        /// The server transaction to answer with [`TransactionLayer::respond`].
        key: TxKey,
        /// Where it came from.
        peer: Peer,
        /// The request, its top Via stamped with `received`/`rport`.
        request: Request,
    },
    /// An ACK for a 2xx (its INVITE transaction stopped retransmitting the 2xx), or a stray ACK for the dialog layer.
    Ack {
        /// Where it came from.
        peer: Peer,
        /// The ACK.
        request: Request,
    },
    /// A CANCEL matched an INVITE in Proceeding: the layer answered the CANCEL 200; the TU must answer the INVITE 487.
    Cancelled {
        /// The INVITE server transaction.
        invite: TxKey,
        /// The CANCEL.
        request: Request,
    },
    /// A response on a client transaction (retransmissions filtered; 2xx retransmissions in Accepted passed up for re-ACK).
    Response {
        /// The client transaction.
        key: TxKey,
        /// The response.
        response: Response,
    },
    /// Timer B or F (client: treat as 408), H (no ACK for a non-2xx) or L without ACK for a 2xx (TU must BYE).
    Timeout {
        /// The transaction.
        key: TxKey,
        /// Which timer fired.
        timer: Timer,
    },
    /// The driver reported it could not reach the transaction's peer.
    TransportError {
        /// The transaction.
        key: TxKey,
    },
    /// The transaction ended and was freed.
    Terminated {
        /// The transaction.
        key: TxKey,
    },
}

/// Why a TU call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// No live transaction has this key.
    #[error("no transaction {key:?}")]
    UnknownTransaction {
        /// The key asked for.
        key: TxKey,
    },
    /// The transaction's state does not allow the call.
    #[error("transaction {key:?} in state {state:?} cannot {action}")]
    InvalidState {
        /// The transaction.
        key: TxKey,
        /// Its state.
        state: TxState,
        /// What was attempted.
        action: &'static str,
    },
    /// A transaction with this key exists already.
    #[error("transaction {key:?} exists already")]
    Duplicate {
        /// The key.
        key: TxKey,
    },
    /// The request cannot start a client transaction (no branch, an ACK...).
    #[error("request cannot start a transaction: {reason}")]
    InvalidRequest {
        /// Why.
        reason: &'static str,
    },
    /// A header the layer needs is unusable.
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// Transaction states (RFC 3261 §17 figures 5-8, RFC 6026 figures 5-6); Terminated ones are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxState {
    /// Client INVITE sent, nothing heard.
    Calling,
    /// Non-INVITE received or sent, nothing answered or heard.
    Trying,
    /// A provisional response sent or received.
    Proceeding,
    /// A final (non-2xx for INVITE) response sent or received.
    Completed,
    /// Server INVITE: the ACK for the non-2xx arrived.
    Confirmed,
    /// INVITE: a 2xx sent or received (RFC 6026).
    Accepted,
}

/// Live transactions by kind, and responses dropped as unmatched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxCounts {
    /// Live INVITE server transactions.
    pub server_invite: usize,
    /// Live non-INVITE server transactions.
    pub server_non_invite: usize,
    /// Live INVITE client transactions.
    pub client_invite: usize,
    /// Live non-INVITE client transactions.
    pub client_non_invite: usize,
    /// Responses that matched no client transaction (dropped), since start.
    pub unmatched_responses: u64,
}

/// One transaction. Which fields matter depends on the kind (see each file).
#[derive(Debug)]
struct Tx {
    key: TxKey,
    /// Server: where responses go; client: where the request went.
    peer: Peer,
    state: TxState,
    timers: TimerTable,
    /// Server: last response sent; client: the request's bytes.
    last: Option<Bytes>,
    /// Client INVITE: the ACK sent for a non-2xx final.
    ack: Option<Bytes>,
    /// The current retransmission interval (A, E, G).
    interval: Duration,
    /// Client INVITE: the request, to build ACK and CANCEL from.
    request: Option<Box<Request>>,
    /// Server: the entry this transaction owns in the dialog index.
    dialog: Option<DialogKey>,
    /// Server INVITE: the To tag used so far.
    to_tag: Option<Tag>,
    /// Server INVITE in Accepted: the ACK for the 2xx arrived.
    acked: bool,
    /// Client INVITE: a CANCEL waiting for a provisional response.
    pending_cancel: Option<Box<Request>>,
}

impl Tx {
    fn new(key: TxKey, peer: Peer, state: TxState, interval: Duration) -> Self {
        Self {
            key,
            peer,
            state,
            timers: TimerTable::default(),
            last: None,
            ack: None,
            interval,
            request: None,
            dialog: None,
            to_tag: None,
            acked: false,
            pending_cancel: None,
        }
    }
}

/// The transaction layer: all server and client transactions of one SIP endpoint.
#[derive(Debug)]
pub struct TransactionLayer {
    config: TimerConfig,
    next_id: TxId,
    txs: HashMap<TxId, Tx>,
    by_key: HashMap<TxKey, TxId>,
    by_dialog: HashMap<DialogKey, TxId>,
    /// Live transactions by peer, for `transport_error`, in creation order:
    /// a set, so ending one of a peer's many transactions (a carrier's SBC
    /// carries them all) is O(log n), not a scan of the peer's list.
    by_peer: HashMap<Peer, BTreeSet<TxId>>,
    timers: TimerQueue,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
    counts: TxCounts,
}

mod layer;
