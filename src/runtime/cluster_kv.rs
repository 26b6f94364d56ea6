//! The cluster's shared state in NATS JetStream key-value buckets (issue 13,
//! docs/cluster.md §2 and §8): a thin adapter over async-nats's KV store.
//!
//! - Every write is a compare-and-set on a revision; losing it is the value
//!   [`Cas::Conflict`], not an error (JetStream's "wrong last sequence").
//! - Every operation is bounded by the store's `op_timeout`: with NATS quorum
//!   lost an operation fails with [`KvError::Timeout`] in bounded time, never
//!   hangs, so the caller can go degraded and route alone.
//! - The client connects in the background ([`KvStore::connect`] never fails
//!   for an absent server): a node starts and answers alarms without NATS.
//! - Watches ([`KvBucket::watch`], in `cluster_kv_watch`) re-watch with
//!   backoff from the last revision seen.
//!
//! Every operation counts `alarmgate_cluster_kv_ops_total{op,outcome}`.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use std::fmt;
use std::time::Duration;
use tokio::sync::watch;

use super::cluster_kv_ops::bounded;
pub use super::cluster_kv_ops::valid_key;
pub use super::cluster_kv_watch::{KvChange, KvWatch};

/// How long the client waits between pings: a server that stops answering
/// (SIGSTOP, a dead link) is noticed after two missed pings.
const PING_INTERVAL: Duration = Duration::from_secs(2);

/// A bucket to open: created when missing, bound when present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvBucketSpec {
    /// Bucket name (`[A-Za-z0-9_-]+`).
    pub name: String,
    /// Replicas (R3 on a three-server cluster; 1 for a lone server).
    pub replicas: usize,
    /// Revisions kept per key (1 to 64).
    pub history: i64,
    /// Entries older than this expire; watchers see the expiry as a delete
    /// (limit markers, nats-server >= 2.11).
    pub max_age: Option<Duration>,
}

/// The outcome of a compare-and-set write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cas {
    /// Written; the key's new revision.
    Written {
        /// The revision of the write.
        revision: u64,
    },
    /// Someone else wrote first (or the key exists, for a create).
    Conflict,
}

/// A key's current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: Bytes,
    /// The revision of that value (the stream sequence: increasing bucket-wide).
    pub revision: u64,
}

/// The operation, for errors and the `op` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvOp {
    /// Opening (creating or binding) a bucket.
    Open,
    /// Reading one key.
    Get,
    /// Reading every key.
    Entries,
    /// Creating a key.
    Create,
    /// Updating a key at a revision.
    Update,
    /// Deleting a key.
    Delete,
    /// Starting a watch consumer.
    Watch,
}

impl KvOp {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Get => "get",
            Self::Entries => "entries",
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Watch => "watch",
        }
    }
}

impl fmt::Display for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a KV operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// A server URL could not be parsed.
    #[error("NATS server {url:?}: {reason}")]
    Connect {
        /// The configured URL.
        url: String,
        /// The client's explanation.
        reason: String,
    },
    /// No answer within the operation timeout (no quorum, no connection).
    #[error("{op} on bucket {bucket}: no answer within {after:?}")]
    Timeout {
        /// The operation.
        op: KvOp,
        /// The bucket.
        bucket: String,
        /// The operation timeout.
        after: Duration,
    },
    /// The key is not a valid KV key.
    #[error("{op} on bucket {bucket}: invalid key {key:?}")]
    InvalidKey {
        /// The operation.
        op: KvOp,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// The server or client refused or failed the operation.
    #[error("{op} on bucket {bucket}: {reason}")]
    Failed {
        /// The operation.
        op: KvOp,
        /// The bucket.
        bucket: String,
        /// The server's or client's explanation.
        reason: String,
    },
}

impl KvError {
    /// The `outcome` metric label.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "timeout",
            Self::InvalidKey { .. } => "invalid_key",
            Self::Connect { .. } | Self::Failed { .. } => "error",
        }
    }
}

/// A NATS client (connecting in the background) and its JetStream context.
#[derive(Clone)]
pub struct KvStore {
    client: async_nats::Client,
    js: jetstream::Context,
    op_timeout: Duration,
    disconnects: watch::Receiver<u64>,
}

impl KvStore {
    /// Creates the client for `servers`; it connects (and reconnects, for
    /// ever) in the background, so this fails only on a malformed URL.
    pub async fn connect(
        servers: &[String],
        client_name: &str,
        op_timeout: Duration,
    ) -> Result<KvStore, KvError> {
        let addrs = servers
            .iter()
            .map(|url| {
                url.parse::<async_nats::ServerAddr>()
                    .map_err(|e| KvError::Connect {
                        url: url.clone(),
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (tx, disconnects) = watch::channel(0u64);
        let tx = std::sync::Arc::new(tx);
        let client = async_nats::ConnectOptions::new()
            .name(client_name)
            .event_callback(move |event| {
                let tx = tx.clone();
                async move {
                    if matches!(event, async_nats::Event::Disconnected) {
                        tx.send_modify(|n| *n += 1);
                    }
                }
            })
            .connection_timeout(op_timeout)
            .ping_interval(PING_INTERVAL)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connect(addrs)
            .await
            .map_err(|e| KvError::Connect {
                url: servers.join(","),
                reason: e.to_string(),
            })?;
        let js = jetstream::ContextBuilder::new()
            .timeout(op_timeout)
            .ack_timeout(op_timeout)
            .build(client.clone());
        Ok(KvStore {
            client,
            js,
            op_timeout,
            disconnects,
        })
    }

    /// The name of the server the client is connected to (empty before the
    /// first connection).
    pub fn server_name(&self) -> String {
        self.client.server_info().server_name
    }

    /// Drops the connection and connects again (to any server of the list):
    /// for an operator moving clients off a server, and for tests.
    pub async fn reconnect(&self) -> Result<(), KvError> {
        self.client
            .force_reconnect()
            .await
            .map_err(|e| KvError::Connect {
                url: self.client.server_info().server_name,
                reason: e.to_string(),
            })
    }

    /// The operation timeout.
    pub fn op_timeout(&self) -> Duration {
        self.op_timeout
    }

    /// Binds `spec`'s bucket, creating it when missing. An existing bucket
    /// whose replicas, history or max age differ is kept as it is (a warning
    /// says so): changing them is an operator's decision.
    pub async fn open(&self, spec: &KvBucketSpec) -> Result<KvBucket, KvError> {
        let bucket = spec.name.clone();
        let store = bounded(
            KvOp::Open,
            &bucket,
            self.op_timeout,
            self.bind_or_create(spec),
        )
        .await?;
        Ok(KvBucket {
            inner: std::sync::Arc::new(BucketInner {
                client: self.client.clone(),
                js: self.js.clone(),
                store,
                name: bucket,
                op_timeout: self.op_timeout,
                disconnects: self.disconnects.clone(),
            }),
        })
    }

    async fn bind_or_create(&self, spec: &KvBucketSpec) -> Result<kv::Store, String> {
        if let Ok(store) = self.js.get_key_value(spec.name.as_str()).await {
            warn_if_differs(spec, &store);
            return Ok(store);
        }
        match self.js.create_key_value(bucket_config(spec)).await {
            Ok(store) => Ok(store),
            // Another node created it meanwhile.
            Err(create) => self
                .js
                .get_key_value(spec.name.as_str())
                .await
                .map_err(|_| create.to_string()),
        }
    }
}

fn bucket_config(spec: &KvBucketSpec) -> kv::Config {
    kv::Config {
        bucket: spec.name.clone(),
        history: spec.history,
        num_replicas: spec.replicas,
        max_age: spec.max_age.unwrap_or_default(),
        // An expiry leaves a marker (kept as long as the entry would have
        // lived, at least 1 s) that watchers see as a delete.
        limit_markers: spec.max_age.map(|age| age.max(Duration::from_secs(1))),
        ..Default::default()
    }
}

fn warn_if_differs(spec: &KvBucketSpec, store: &kv::Store) {
    let have = &store.stream.cached_info().config;
    let age = spec.max_age.unwrap_or_default();
    if have.num_replicas != spec.replicas
        || have.max_messages_per_subject != spec.history
        || have.max_age != age
    {
        tracing::warn!(
            bucket = %spec.name,
            replicas = have.num_replicas,
            history = have.max_messages_per_subject,
            max_age = ?have.max_age,
            "cluster KV bucket differs from the config; kept as it is"
        );
    }
}

/// An open bucket; cheap to clone.
#[derive(Clone)]
pub struct KvBucket {
    pub(super) inner: std::sync::Arc<BucketInner>,
}

pub(super) struct BucketInner {
    pub(super) client: async_nats::Client,
    pub(super) js: jetstream::Context,
    pub(super) store: kv::Store,
    pub(super) name: String,
    pub(super) op_timeout: Duration,
    /// Counts the client's disconnections: a watch re-watches after one.
    pub(super) disconnects: watch::Receiver<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_as_jetstream_does() {
        for good in ["op.a", "q.alarms", "reg.op-1.node_a", "t.01HX=/9"] {
            assert!(valid_key(good), "{good}");
        }
        for bad in ["", ".op", "op.", "op a", "op.*", "op.>", "é"] {
            assert!(!valid_key(bad), "{bad}");
        }
    }

    #[test]
    fn bucket_config_keeps_expiry_markers_only_with_a_max_age() {
        let mut spec = KvBucketSpec {
            name: "ag-leases".into(),
            replicas: 3,
            history: 1,
            max_age: Some(Duration::from_millis(500)),
        };
        let c = bucket_config(&spec);
        assert_eq!((c.num_replicas, c.history), (3, 1));
        assert_eq!(c.limit_markers, Some(Duration::from_secs(1)));
        spec.max_age = None;
        assert_eq!(bucket_config(&spec).limit_markers, None);
        assert_eq!(bucket_config(&spec).max_age, Duration::ZERO);
    }
}
