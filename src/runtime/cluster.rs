//! The cluster driver (issue 13): a thin tokio task around
//! [`crate::cluster::ClusterNode`].
//!
//! It connects to the NATS servers of `[cluster]` in the background
//! (`runtime::cluster_kv`), opens the three buckets, watches them, makes
//! the key-value operations the core asks for (each bounded by
//! `op_timeout_ms`: a store that does not answer is a failure in bounded
//! time, and the core turns degraded), and carries out the core's outputs:
//! an adopted ticket becomes a data alarm for the switchboard
//! ([`Control::DataAlarm`]), degraded mode shows in `/readyz` and
//! `alarmgate_cluster_degraded`.
//!
//! The switchboard's routing events reach it through a [`ClusterTap`]
//! (`alarmgate.call.queued/offered/answered/callback/callback_resolved`,
//! `alarmgate.call.ended`), from which [`super::cluster_tap`] keeps a
//! ticket per waiting or ringing alarm. Without `[cluster]` no task, no tap,
//! and the switchboard's path is unchanged.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::cluster_kv::{Cas, KvBucket, KvBucketSpec, KvChange, KvStore, KvWatch};
use super::sip_driver::Control;
use crate::clock;
use crate::cluster::{Bucket, ClusterNode, ClusterOutput, KvOp, KvReply, RequestId, WatchChange};
use crate::config::ClusterConfig;
use crate::telemetry::health::Health;

/// The gauge: 1 while the node routes alone for want of the cluster.
pub const CLUSTER_DEGRADED: &str = "alarmgate_cluster_degraded";

/// A switchboard event, copied for the cluster driver.
#[derive(Debug)]
pub struct TapEvent {
    /// The event type.
    pub kind: &'static str,
    /// Its subject (a call's id).
    pub subject: String,
    /// Its data.
    pub data: serde_json::Value,
}

/// Where the SIP driver copies the events the cluster needs. Never blocks:
/// a full channel drops the copy (counted in the log), never the call.
#[derive(Debug, Clone)]
pub struct ClusterTap(mpsc::Sender<TapEvent>);

impl ClusterTap {
    /// Copies `kind` if the cluster tracks it.
    pub fn send(&self, kind: &'static str, subject: &str, data: &serde_json::Value) {
        if !super::cluster_tap::tracked(kind) {
            return;
        }
        let event = TapEvent {
            kind,
            subject: subject.to_owned(),
            data: data.clone(),
        };
        if self.0.try_send(event).is_err() {
            tracing::warn!(kind, subject, "cluster driver busy: event not shared");
        }
    }
}

/// Starts the driver; returns the tap for the SIP driver.
pub fn spawn(config: ClusterConfig, control: mpsc::Sender<Control>, health: Health) -> ClusterTap {
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(run(config, control, health, rx));
    ClusterTap(tx)
}

struct Buckets {
    nodes: KvBucket,
    operators: KvBucket,
    tickets: KvBucket,
}

impl Buckets {
    fn get(&self, bucket: Bucket) -> &KvBucket {
        match bucket {
            Bucket::Nodes => &self.nodes,
            Bucket::Operators => &self.operators,
            Bucket::Tickets => &self.tickets,
        }
    }
}

async fn run(
    config: ClusterConfig,
    control: mpsc::Sender<Control>,
    health: Health,
    mut tap: mpsc::Receiver<TapEvent>,
) {
    let started_ms = clock::wall()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut core = ClusterNode::new(config.node_id(), config.timing(), started_ms, clock::now());
    set_degraded(&health, true);
    let (reply_tx, mut replies) = mpsc::channel::<(RequestId, KvReply)>(4096);
    let mut state = super::cluster_tap::TapState::default();
    let mut opening = Box::pin(open(config.clone()));
    let mut buckets: Option<Arc<Buckets>> = None;
    let mut watches: Option<[(Bucket, KvWatch); 3]> = None;
    loop {
        drain_outputs(
            &mut core,
            buckets.as_ref(),
            &reply_tx,
            &control,
            &health,
            &mut state,
        )
        .await;
        let deadline = tokio::time::Instant::from_std(core.poll_timeout());
        tokio::select! {
            opened = &mut opening, if buckets.is_none() => {
                watches = Some([Bucket::Nodes, Bucket::Operators, Bucket::Tickets].map(|b| (b, opened.get(b).watch())));
                buckets = Some(Arc::new(opened));
                set_degraded(&health, core.is_degraded());
            }
            Some((id, reply)) = replies.recv() => core.handle_reply(id, reply, clock::now()),
            Some(event) = tap.recv() => state.apply(&mut core, event, clock::now()),
            (bucket, change) = next_change(&mut watches) => core.handle_watch(bucket, change, clock::now()),
            _ = tokio::time::sleep_until(deadline) => core.handle_timeout(clock::now()),
        }
    }
}

fn set_degraded(health: &Health, degraded: bool) {
    health.set_cluster(Some(degraded));
    metrics::gauge!(CLUSTER_DEGRADED).set(if degraded { 1.0 } else { 0.0 });
}

/// Connects and opens the buckets, retrying every second until NATS
/// answers (the core stays degraded meanwhile: nothing is written).
async fn open(config: ClusterConfig) -> Buckets {
    let name = format!("alarmgate-{}", config.node);
    loop {
        match try_open(&config, &name).await {
            Ok(buckets) => return buckets,
            Err(e) => tracing::warn!(error = %e, "cluster: NATS not reachable yet; routing alone"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn try_open(
    config: &ClusterConfig,
    name: &str,
) -> Result<Buckets, super::cluster_kv::KvError> {
    let store = KvStore::connect(&config.nats, name, config.op_timeout()).await?;
    let spec = |bucket: Bucket| KvBucketSpec {
        name: bucket.name().into(),
        replicas: config.replicas,
        history: 1,
        max_age: None,
    };
    Ok(Buckets {
        nodes: store.open(&spec(Bucket::Nodes)).await?,
        operators: store.open(&spec(Bucket::Operators)).await?,
        tickets: store.open(&spec(Bucket::Tickets)).await?,
    })
}

async fn next_change(watches: &mut Option<[(Bucket, KvWatch); 3]>) -> (Bucket, WatchChange) {
    let Some([(b0, w0), (b1, w1), (b2, w2)]) = watches else {
        return std::future::pending().await;
    };
    let (bucket, change) = tokio::select! {
        Some(c) = w0.next() => (*b0, c),
        Some(c) = w1.next() => (*b1, c),
        Some(c) = w2.next() => (*b2, c),
        else => return std::future::pending().await,
    };
    let change = match change {
        KvChange::Put(entry) => WatchChange::Put {
            key: entry.key,
            value: entry.value.to_vec(),
            revision: entry.revision,
        },
        KvChange::Deleted { key, .. } => WatchChange::Deleted { key },
        KvChange::Lost => WatchChange::Lost,
        KvChange::Resumed => WatchChange::Resumed,
    };
    (bucket, change)
}

async fn drain_outputs(
    core: &mut ClusterNode,
    buckets: Option<&Arc<Buckets>>,
    replies: &mpsc::Sender<(RequestId, KvReply)>,
    control: &mpsc::Sender<Control>,
    health: &Health,
    state: &mut super::cluster_tap::TapState,
) {
    while let Some(output) = core.poll_output() {
        match output {
            ClusterOutput::Kv { id, op } => {
                let (buckets, tx) = (buckets.cloned(), replies.clone());
                tokio::spawn(async move {
                    let reply = match buckets {
                        Some(b) => execute(b.get(bucket_of(&op)), op).await,
                        None => KvReply::Failed,
                    };
                    let _ = tx.send((id, reply)).await;
                });
            }
            ClusterOutput::Ticket(event) => state.on_ticket(core, event, control).await,
            ClusterOutput::Degraded(degraded) => {
                tracing::warn!(
                    degraded,
                    "cluster: {}",
                    if degraded {
                        "degraded, routing alone"
                    } else {
                        "back"
                    }
                );
                health.set_cluster(Some(degraded));
                metrics::gauge!(CLUSTER_DEGRADED).set(if degraded { 1.0 } else { 0.0 });
            }
            ClusterOutput::Claim(event) => tracing::debug!(?event, "cluster claim"),
            ClusterOutput::OperatorElsewhere { operator, busy } => {
                tracing::debug!(%operator, busy, "cluster: operator busy on another node");
            }
        }
    }
}

fn bucket_of(op: &KvOp) -> Bucket {
    match op {
        KvOp::Create { bucket, .. }
        | KvOp::Update { bucket, .. }
        | KvOp::Delete { bucket, .. }
        | KvOp::Get { bucket, .. } => *bucket,
    }
}

async fn execute(bucket: &KvBucket, op: KvOp) -> KvReply {
    let cas = |r: Result<Cas, _>| match r {
        Ok(Cas::Written { revision }) => KvReply::Written { revision },
        Ok(Cas::Conflict) => KvReply::Conflict,
        Err(_) => KvReply::Failed,
    };
    match op {
        KvOp::Create { key, value, .. } => cas(bucket.create(&key, Bytes::from(value)).await),
        KvOp::Update {
            key,
            value,
            revision,
            ..
        } => cas(bucket.update(&key, Bytes::from(value), revision).await),
        KvOp::Delete { key, .. } => cas(bucket.delete(&key, None).await),
        KvOp::Get { key, .. } => match bucket.get(&key).await {
            Ok(entry) => KvReply::Found(entry.map(|e| (e.value.to_vec(), e.revision))),
            Err(_) => KvReply::Failed,
        },
    }
}
