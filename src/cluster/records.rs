//! The values of the shared buckets, serde JSON with a version field `v`.
//!
//! A node refuses a value of a version it does not know (a newer node in a
//! rolling upgrade) with [`CodecError::Version`] rather than misreading it;
//! the caller treats that key as unknown. Optional fields are added with
//! `#[serde(default)]` without a version bump; a change of meaning bumps it.

use serde::{Deserialize, Serialize};

use crate::alarm::report::Protocol;
use crate::routing::{CallClass, OperatorId};

use super::{NodeId, TicketId};

/// The one version this build writes and reads.
pub const VERSION: u32 = 1;

/// Why a value read from a bucket was not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// Not the JSON of this record.
    #[error("undecodable cluster record: {0}")]
    Json(String),
    /// Written by a build with another record version.
    #[error("cluster record version {found}, this build reads {VERSION}")]
    Version {
        /// The `v` found.
        found: u32,
    },
}

/// `node.<id>` in `ag-nodes`: a node's presence, rewritten every refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The record version.
    pub v: u32,
    /// The node.
    pub node: NodeId,
    /// When the node started (wall clock, ms since the Unix epoch).
    pub started_ms: u64,
    /// Its refresh counter: every refresh writes a new value.
    pub beat: u64,
}

/// Where a ticket stands (design §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum TicketPhase {
    /// Waiting in a queue of its holder.
    Waiting,
    /// Ringing at an operator.
    Ringing {
        /// The operator rung.
        operator: OperatorId,
    },
    /// Answered: bridged to an operator (audio lives on the holder).
    Connected {
        /// The operator talking.
        operator: OperatorId,
    },
    /// Adopted by a survivor after its holder died: listed as a data alarm.
    Adopted {
        /// The node that held it before.
        from: NodeId,
        /// Whether its audio was bridged to an operator when the holder died.
        was_connected: bool,
    },
}

/// `t.<ticket>` in `ag-tickets`: everything a survivor needs to list the
/// alarm as a data alarm and recall the unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketRecord {
    /// The record version.
    pub v: u32,
    /// The ticket (the call's or alarm's public id).
    pub ticket: TicketId,
    /// The node holding it: the call's node, or the adopter.
    pub holder: NodeId,
    /// The tenant.
    pub tenant: String,
    /// The unit's number or account.
    pub caller: String,
    /// The priority class.
    pub class: CallClass,
    /// The protocol of its alarm, `None` for a plain voice call.
    #[serde(default)]
    pub protocol: Option<Protocol>,
    /// The unit's account within its protocol.
    #[serde(default)]
    pub account: String,
    /// The Contact ID event code, if any (as in events: `"101"`).
    #[serde(default)]
    pub event_code: Option<String>,
    /// The decoded fields the operator sees.
    #[serde(default)]
    pub fields: serde_json::Value,
    /// The number a recall calls.
    #[serde(default)]
    pub recall: Option<String>,
    /// When the alarm arrived (wall clock, ms since the Unix epoch).
    pub enqueued_ms: u64,
    /// Where it stands.
    #[serde(flatten)]
    pub phase: TicketPhase,
}

/// `op.<id>` in `ag-operators`: who, if anyone, has the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ClaimState {
    /// Free for any node to claim.
    Available,
    /// Rung by `node` for `ticket`.
    Ringing {
        /// The claiming node.
        node: NodeId,
        /// The call rung.
        ticket: TicketId,
    },
    /// On a call (or its wrap-up) at `node`.
    Busy {
        /// The node holding the call.
        node: NodeId,
        /// The call.
        ticket: TicketId,
    },
}

impl ClaimState {
    /// The node holding the claim, if it is held.
    pub fn holder(&self) -> Option<&NodeId> {
        match self {
            ClaimState::Available => None,
            ClaimState::Ringing { node, .. } | ClaimState::Busy { node, .. } => Some(node),
        }
    }
}

/// The value of `op.<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    /// The record version.
    pub v: u32,
    /// The claim.
    #[serde(flatten)]
    pub state: ClaimState,
}

/// A record with a version field.
pub trait Versioned: Serialize + for<'de> Deserialize<'de> {
    /// Its `v`.
    fn version(&self) -> u32;
}

impl Versioned for NodeRecord {
    fn version(&self) -> u32 {
        self.v
    }
}
impl Versioned for TicketRecord {
    fn version(&self) -> u32 {
        self.v
    }
}
impl Versioned for ClaimRecord {
    fn version(&self) -> u32 {
        self.v
    }
}

/// The bytes written to the bucket.
pub fn encode<T: Versioned>(record: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail (string keys, no maps
    // with non-string keys); an empty value would be refused on read.
    serde_json::to_vec(record).unwrap_or_default()
}

/// A value read back; the version is checked before the fields.
pub fn decode<T: Versioned>(bytes: &[u8]) -> Result<T, CodecError> {
    #[derive(Deserialize)]
    struct Head {
        v: u32,
    }
    let head: Head = serde_json::from_slice(bytes).map_err(|e| CodecError::Json(e.to_string()))?;
    if head.v != VERSION {
        return Err(CodecError::Version { found: head.v });
    }
    serde_json::from_slice(bytes).map_err(|e| CodecError::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn ticket(id: &str, holder: &str) -> TicketRecord {
        TicketRecord {
            v: VERSION,
            ticket: TicketId::new(id),
            holder: NodeId::new(holder),
            tenant: "acme".into(),
            caller: "+4512345678".into(),
            class: CallClass::Emergency,
            protocol: Some(Protocol::ContactId),
            account: "1234".into(),
            event_code: Some("101".into()),
            fields: serde_json::json!({"event": "medical"}),
            recall: Some("+4512345678".into()),
            enqueued_ms: 1_700_000_000_000,
            phase: TicketPhase::Ringing {
                operator: OperatorId::new("anna"),
            },
        }
    }

    #[test]
    fn a_ticket_round_trips_with_its_phase_flattened() {
        let record = ticket("c1", "node-a");
        let bytes = encode(&record);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["phase"], "ringing");
        assert_eq!(json["operator"], "anna");
        assert_eq!(decode::<TicketRecord>(&bytes), Ok(record));
    }

    #[test]
    fn a_claim_round_trips() {
        let record = ClaimRecord {
            v: VERSION,
            state: ClaimState::Busy {
                node: NodeId::new("b"),
                ticket: TicketId::new("t"),
            },
        };
        assert_eq!(decode::<ClaimRecord>(&encode(&record)), Ok(record));
    }

    #[test]
    fn another_version_or_garbage_is_refused_not_misread() {
        let newer = br#"{"v":2,"state":"available","lease":9}"#;
        assert_eq!(
            decode::<ClaimRecord>(newer),
            Err(CodecError::Version { found: 2 })
        );
        assert!(matches!(
            decode::<ClaimRecord>(b"\xff"),
            Err(CodecError::Json(_))
        ));
        assert!(matches!(
            decode::<NodeRecord>(br#"{"v":1}"#),
            Err(CodecError::Json(_))
        ));
    }
}
