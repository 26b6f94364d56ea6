//! The cluster's pure cores (issue 13, design in `docs/cluster.md`): what a
//! node shares with the others through JetStream key-value buckets and the
//! decisions it takes from them, sans-IO.
//!
//! Nothing here opens a socket, reads a clock or draws a random number: the
//! driver (`runtime::cluster`) passes in the watch updates it received, the
//! results of the compare-and-sets it made and `now`, and carries out the
//! [`ClusterOutput`]s ([`node::ClusterNode::poll_output`]) and the next
//! deadline ([`node::ClusterNode::poll_timeout`]).
//!
//! - [`records`]: the versioned JSON values of the three buckets;
//! - [`presence`]: which nodes are alive, judged by the LOCAL arrival time
//!   of their refreshes (never by server-side TTL markers), and whether this
//!   node's own presence has lapsed (frozen, cut off);
//! - [`claims`]: operator claims, `op.<id>` taken by compare-and-set, the
//!   revision of the taking write being the claim's fencing epoch;
//! - [`tickets`]: this node's tickets and the takeover of a dead node's
//!   tickets (every survivor races by compare-and-set, the loser drops it);
//! - [`link`]: a unit's redial linked to the ticket it belongs to;
//! - [`node`]: the composition the driver runs.

pub mod claims;
pub mod keys;
pub mod link;
pub mod node;
pub mod presence;
pub mod records;
pub mod tickets;

#[cfg(test)]
mod sim_kv;
#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod sim_world;
#[cfg(test)]
mod tests_claims;

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::newtype::string_newtype;

pub use node::{ClusterNode, ClusterOutput, KvOp, KvReply, RequestId, WatchChange};

string_newtype!(
    /// A cluster node, as named by `[cluster] node` (unique per node).
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    NodeId
);
string_newtype!(
    /// A ticket: the public id of the alarm or call it stands for (its
    /// `call_id`), unique across the centre.
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    TicketId
);

/// The three shared buckets (design §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// `ag-nodes`: node presence, `node.<id>`.
    Nodes,
    /// `ag-operators`: operator claims, `op.<id>`.
    Operators,
    /// `ag-tickets`: waiting and ringing alarms, `t.<ticket>`.
    Tickets,
}

impl Bucket {
    /// The bucket's name in JetStream.
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Nodes => "ag-nodes",
            Bucket::Operators => "ag-operators",
            Bucket::Tickets => "ag-tickets",
        }
    }
}

/// The cluster's timers, from `[cluster]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterTiming {
    /// A node is gone when no refresh of its presence arrived for this long.
    pub presence_ttl: Duration,
    /// A redial is linked to an adopted ticket within this window.
    pub link_window: Duration,
}

impl ClusterTiming {
    /// How often a node refreshes its own presence: a third of the TTL, so
    /// two refreshes can be lost before the others judge it gone.
    pub fn refresh_every(&self) -> Duration {
        self.presence_ttl / 3
    }
}
