//! The commands the API sends to the switchboard, and the errors it may
//! answer with. The API holds no state: each request becomes one
//! [`ApiCommand`] on an mpsc channel, answered through its oneshot `reply`.
//! The SIP driver splits a command into the plain [`ApiRequest`] the
//! switchboard answers with an [`ApiReply`] value, and the [`ReplyTo`]
//! channel it sends that value on: the switchboard holds no channel.
//! Values here are already validated (lengths, characters, known states).

use super::scope::OperatorScope;
use super::views::{CallView, OperatorView, QueueView, RecallAccepted};
use crate::labels::{Caller, TenantId};
use crate::routing::OperatorId;
pub use crate::scaip::control::InCallCommand;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use tokio::sync::oneshot;

pub use super::error::ApiError;

/// The switchboard's answer to one command.
pub type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// One request from an operator's client, for the switchboard.
///
/// `by` is the name of the bearer token the request came with, for the
/// events it causes (who paused an operator, who set a disposition).
#[derive(Debug)]
pub enum ApiCommand {
    /// Every configured operator with its state.
    ListOperators {
        /// The answer.
        reply: Reply<Vec<OperatorView>>,
    },
    /// Log in, log out, pause or free an operator.
    SetOperatorState {
        /// The operator.
        id: OperatorId,
        /// The state asked for.
        state: RequestedState,
        /// The token's name.
        by: String,
        /// The operator afterwards; `NotFound` for an unknown id, `Conflict`
        /// when the engine refuses (such as pausing an operator on a call).
        reply: Reply<OperatorView>,
    },
    /// Calls waiting, ringing, connected or being forwarded.
    ListCalls {
        /// The answer.
        reply: Reply<Vec<CallView>>,
    },
    /// Ring the operator, then call the number through the tenant's trunk
    /// and bridge them.
    Recall {
        /// The operator to ring.
        operator: OperatorId,
        /// The device's number (digits, optional leading `+`).
        number: Caller,
        /// The tenant whose trunk places the call.
        tenant: TenantId,
        /// The token's name.
        by: String,
        /// The new call's id; `Conflict` when the operator is not available.
        reply: Reply<RecallAccepted>,
    },
    /// The operator's verdict on a call, emitted as an event.
    Disposition {
        /// The call's public id (SIP Call-ID).
        call: String,
        /// The category.
        disposition: Disposition,
        /// A free-text note, at most [`NOTE_MAX`] characters.
        note: Option<String>,
        /// The token's name.
        by: String,
        /// An operator's session: the call must be one it took (`Forbidden`
        /// otherwise). `None`: an admin token, any call.
        taken_by: Option<OperatorId>,
        /// `NotFound` for a call the switchboard does not know (or no longer keeps).
        reply: Reply<()>,
    },
    /// Every queue with its waiting calls and operators.
    ListQueues {
        /// The answer.
        reply: Reply<Vec<QueueView>>,
    },
    /// An in-call command to the SCAIP unit of a device call (its digit,
    /// RFC 4733, on the unit's leg).
    UnitCommand {
        /// The device call's public id (SIP Call-ID).
        call: String,
        /// The command.
        command: InCallCommand,
        /// The token's name.
        by: String,
        /// An operator's session: the call must be one it took
        /// (`Forbidden` otherwise). `None`: an admin token, any call.
        taken_by: Option<OperatorId>,
        /// `NotFound` for no such device call; `Conflict` when the call
        /// carries no SCAIP alarm (its unit speaks no SCAIP commands).
        reply: Reply<UnitCommandSent>,
    },
    /// The console's sign-in: the operator's softphone password, checked
    /// by the registrar (its blocking of guessing sources applies).
    SignIn {
        /// The operator.
        operator: OperatorId,
        /// The password given.
        password: Password,
        /// Where the request came from (the blocker counts per source).
        source: IpAddr,
        /// What the session may see; `Unauthorized` or `Blocked` otherwise.
        reply: Reply<OperatorScope>,
    },
}

/// A password on its way to the registrar: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// An [`ApiCommand`] without its reply channel: what the switchboard
/// answers, a plain value (no channel, no task).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiRequest {
    /// See [`ApiCommand::ListOperators`].
    ListOperators,
    /// See [`ApiCommand::SetOperatorState`].
    SetOperatorState {
        /// The operator.
        id: OperatorId,
        /// The state asked for.
        state: RequestedState,
        /// The token's name.
        by: String,
    },
    /// See [`ApiCommand::ListCalls`].
    ListCalls,
    /// See [`ApiCommand::Recall`].
    Recall {
        /// The operator to ring.
        operator: OperatorId,
        /// The device's number.
        number: Caller,
        /// The tenant whose trunk places the call.
        tenant: TenantId,
        /// The token's name.
        by: String,
    },
    /// See [`ApiCommand::Disposition`].
    Disposition {
        /// The call's public id (SIP Call-ID).
        call: String,
        /// The category.
        disposition: Disposition,
        /// A free-text note.
        note: Option<String>,
        /// The token's name.
        by: String,
        /// See [`ApiCommand::Disposition`].
        taken_by: Option<OperatorId>,
    },
    /// See [`ApiCommand::ListQueues`].
    ListQueues,
    /// See [`ApiCommand::UnitCommand`].
    UnitCommand {
        /// The device call's public id.
        call: String,
        /// The command.
        command: InCallCommand,
        /// The token's name.
        by: String,
        /// See [`ApiCommand::UnitCommand`].
        taken_by: Option<OperatorId>,
    },
    /// See [`ApiCommand::SignIn`].
    SignIn {
        /// The operator.
        operator: OperatorId,
        /// The password given.
        password: Password,
        /// Where the request came from.
        source: IpAddr,
    },
}

/// The switchboard's answer to an [`ApiRequest`], one variant per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiReply {
    /// To `ListOperators`.
    Operators(Result<Vec<OperatorView>, ApiError>),
    /// To `SetOperatorState`.
    Operator(Result<OperatorView, ApiError>),
    /// To `ListCalls`.
    Calls(Result<Vec<CallView>, ApiError>),
    /// To `Recall`.
    Recall(Result<RecallAccepted, ApiError>),
    /// To `Disposition`.
    Disposition(Result<(), ApiError>),
    /// To `ListQueues`.
    Queues(Result<Vec<QueueView>, ApiError>),
    /// To `UnitCommand`.
    UnitCommand(Result<UnitCommandSent, ApiError>),
    /// To `SignIn`.
    SignIn(Result<OperatorScope, ApiError>),
}

/// The reply channel of an [`ApiCommand`], kept by the driver while the
/// switchboard works out the answer.
#[derive(Debug)]
pub enum ReplyTo {
    /// For `ListOperators`.
    Operators(Reply<Vec<OperatorView>>),
    /// For `SetOperatorState`.
    Operator(Reply<OperatorView>),
    /// For `ListCalls`.
    Calls(Reply<Vec<CallView>>),
    /// For `Recall`.
    Recall(Reply<RecallAccepted>),
    /// For `Disposition`.
    Disposition(Reply<()>),
    /// For `ListQueues`.
    Queues(Reply<Vec<QueueView>>),
    /// For `UnitCommand`.
    UnitCommand(Reply<UnitCommandSent>),
    /// For `SignIn`.
    SignIn(Reply<OperatorScope>),
}

impl ApiCommand {
    /// The request as a plain value, and where its answer goes.
    pub fn split(self) -> (ApiRequest, ReplyTo) {
        use ApiCommand as C;
        match self {
            C::ListOperators { reply } => (ApiRequest::ListOperators, ReplyTo::Operators(reply)),
            C::SetOperatorState {
                id,
                state,
                by,
                reply,
            } => (
                ApiRequest::SetOperatorState { id, state, by },
                ReplyTo::Operator(reply),
            ),
            C::ListCalls { reply } => (ApiRequest::ListCalls, ReplyTo::Calls(reply)),
            C::ListQueues { reply } => (ApiRequest::ListQueues, ReplyTo::Queues(reply)),
            C::UnitCommand {
                call,
                command,
                by,
                taken_by,
                reply,
            } => {
                let request = ApiRequest::UnitCommand {
                    call,
                    command,
                    by,
                    taken_by,
                };
                (request, ReplyTo::UnitCommand(reply))
            }
            C::Recall {
                operator,
                number,
                tenant,
                by,
                reply,
            } => {
                let request = ApiRequest::Recall {
                    operator,
                    number,
                    tenant,
                    by,
                };
                (request, ReplyTo::Recall(reply))
            }
            C::Disposition {
                call,
                disposition,
                note,
                by,
                taken_by,
                reply,
            } => {
                let request = ApiRequest::Disposition {
                    call,
                    disposition,
                    note,
                    by,
                    taken_by,
                };
                (request, ReplyTo::Disposition(reply))
            }
            C::SignIn {
                operator,
                password,
                source,
                reply,
            } => {
                let request = ApiRequest::SignIn {
                    operator,
                    password,
                    source,
                };
                (request, ReplyTo::SignIn(reply))
            }
        }
    }
}

impl ReplyTo {
    /// Sends `reply` to the client that asked. A reply of another kind
    /// than the request (a switchboard bug) drops the channel: the client
    /// is answered 503 as when the switchboard is gone.
    pub fn send(self, reply: ApiReply) {
        let _ = match (self, reply) {
            (ReplyTo::Operators(tx), ApiReply::Operators(r)) => tx.send(r).is_ok(),
            (ReplyTo::Operator(tx), ApiReply::Operator(r)) => tx.send(r).is_ok(),
            (ReplyTo::Calls(tx), ApiReply::Calls(r)) => tx.send(r).is_ok(),
            (ReplyTo::Recall(tx), ApiReply::Recall(r)) => tx.send(r).is_ok(),
            (ReplyTo::Disposition(tx), ApiReply::Disposition(r)) => tx.send(r).is_ok(),
            (ReplyTo::Queues(tx), ApiReply::Queues(r)) => tx.send(r).is_ok(),
            (ReplyTo::UnitCommand(tx), ApiReply::UnitCommand(r)) => tx.send(r).is_ok(),
            (ReplyTo::SignIn(tx), ApiReply::SignIn(r)) => tx.send(r).is_ok(),
            (to, reply) => {
                tracing::error!(?to, ?reply, "API reply of the wrong kind: dropped");
                false
            }
        };
    }
}

/// `202` to `POST /api/v1/calls/{id}/unit-command`: the command went to
/// the unit's leg as its digit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitCommandSent {
    /// The device call.
    pub call: String,
    /// The command.
    pub command: InCallCommand,
    /// The DTMF digit sent (RFC 4733).
    pub digit: String,
}

/// The longest disposition note accepted, in characters.
pub const NOTE_MAX: usize = 2000;

/// The state an operator is put in through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedState {
    /// Logged in and free.
    Available,
    /// Logged in, not taking calls.
    Paused {
        /// Why (a break, training); 1 to 64 characters.
        reason: String,
    },
    /// Not taking calls until logged in again.
    LoggedOut,
    /// Logged in: the engine decides (available unless a rule pauses).
    LoggedIn,
}

/// The categories the municipality's monthly extract counts calls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// A real emergency: help was sent.
    Emergency,
    /// The citizen needed reassurance or a talk.
    Reassurance,
    /// Pressed by mistake, no need.
    FalseAlarm,
    /// The call was a recall (the centre called the citizen back).
    Recall,
    /// A technical matter (battery, line, unit fault).
    Technical,
}

impl Disposition {
    /// The label used in events and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Emergency => "emergency",
            Disposition::Reassurance => "reassurance",
            Disposition::FalseAlarm => "false_alarm",
            Disposition::Recall => "recall",
            Disposition::Technical => "technical",
        }
    }
}
