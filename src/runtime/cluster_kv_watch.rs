//! Watching a bucket ([`KvWatch`]) and reading it whole (`entries`), over
//! JetStream ordered push consumers (docs/cluster.md §8, async-nats pitfalls).
//!
//! A watch is a task holding **one** consumer at a time, named after the
//! watch so its leftovers can be found. When the consumer breaks (the server
//! it sat on died, missed heartbeats, the client disconnected) the task says
//! [`KvChange::Lost`] (also when the bucket's stream stops answering while
//! the watch is idle: quorum lost), deletes the consumer (and any replacement the client
//! made for it), waits ([`Backoff`]: 100 ms doubling to 5 s) and re-watches
//! from the last revision seen; on success it says [`KvChange::Resumed`].
//! Changes at or below a key's last revision are dropped, so a replay after
//! a re-watch never reaches the caller. Dropping the [`KvWatch`] ends the
//! task, which deletes its consumer on the way out.

use async_nats::connection::State;
use async_nats::jetstream::consumer::push::{Ordered, OrderedConfig};
use async_nats::jetstream::consumer::{DeliverPolicy, ReplayPolicy};
use async_nats::jetstream::Message;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

use super::cluster_kv::{BucketInner, KvBucket, KvEntry, KvOp};
use super::cluster_kv_ops::{count, KV_OPERATION};
use super::cluster_kv_resume::{quorum_visible, Backoff, Peer, Seen};

/// Changes buffered between the task and a slow caller.
const CHANNEL: usize = 256;
/// A watch that received nothing for this long asks whether its stream
/// still answers (a consumer may outlive its stream's quorum, silently).
const PROBE: Duration = Duration::from_secs(3);

/// One change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvChange {
    /// The key has this value (a current value at the start, then each write).
    Put(KvEntry),
    /// The key was deleted (or expired) at this revision.
    Deleted {
        /// The key.
        key: String,
        /// The delete marker's revision.
        revision: u64,
    },
    /// The watch lost its consumer: changes may be missing until `Resumed`.
    Lost,
    /// The watch follows the bucket again, from the last revision seen.
    Resumed,
}

/// A running watch; dropping it ends the task and its consumer.
pub struct KvWatch {
    rx: mpsc::Receiver<KvChange>,
}

impl KvWatch {
    /// The next change; `None` only if the task ended (it does not on its own).
    pub async fn next(&mut self) -> Option<KvChange> {
        self.rx.recv().await
    }
}

impl KvBucket {
    /// Starts a watch of every key: the current values, then each change.
    pub fn watch(&self) -> KvWatch {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let base = consumer_base(&self.inner);
        let follower = Follower {
            inner: self.inner.clone(),
            tx,
            base,
            session: 0,
            seen: Seen::default(),
            lost: false,
            backoff: Backoff::new(),
        };
        tokio::spawn(follower.run());
        KvWatch { rx }
    }
}

/// A consumer name unique to one watch (the inbox's random token).
fn consumer_base(inner: &BucketInner) -> String {
    let inbox = inner.client.new_inbox();
    let token = inbox.rsplit('.').next().unwrap_or("w").to_owned();
    format!("agw_{}_{token}", inner.name)
}

enum End {
    /// The caller dropped the watch.
    Closed,
    /// The consumer broke, with why.
    Broken(String),
}

struct Follower {
    inner: Arc<BucketInner>,
    tx: mpsc::Sender<KvChange>,
    base: String,
    session: u64,
    seen: Seen,
    lost: bool,
    backoff: Backoff,
}

impl Follower {
    async fn run(mut self) {
        loop {
            if let End::Closed = self.session_once().await {
                break;
            }
            let pause = self.backoff.next_delay();
            tokio::select! {
                _ = self.tx.closed() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        delete_consumers(&self.inner, &self.base).await;
    }

    /// Opens a consumer from the last revision seen and follows it until it
    /// breaks or the caller leaves.
    async fn session_once(&mut self) -> End {
        self.session += 1;
        let mut disconnects = self.inner.disconnects.clone();
        disconnects.borrow_and_update();
        if !self.connected_within(self.inner.op_timeout).await {
            return self.report_lost("not connected to NATS").await;
        }
        let name = format!("{}_{}", self.base, self.session);
        let policy = match self.seen.resume_from() {
            None => DeliverPolicy::LastPerSubject,
            Some(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
        };
        let opened = tokio::select! {
            _ = self.tx.closed() => return End::Closed,
            opened = tokio::time::timeout(self.inner.op_timeout, open_consumer(&self.inner, &name, policy)) => opened,
        };
        let Ok(Ok((mut ordered, _))) = opened else {
            count(KvOp::Watch, "error");
            // A create that timed out may still land on the server.
            delete_consumers(&self.inner, &self.base).await;
            return self.report_lost("cannot create the watch consumer").await;
        };
        count(KvOp::Watch, "ok");
        if self.lost && self.send(KvChange::Resumed).await.is_err() {
            return End::Closed;
        }
        self.lost = false;
        let started = tokio::time::Instant::now();
        let end = self.follow(&mut ordered, &mut disconnects).await;
        drop(ordered);
        if started.elapsed() >= Backoff::CAP {
            self.backoff.reset();
        }
        match end {
            End::Closed => End::Closed,
            End::Broken(why) => {
                delete_consumers(&self.inner, &self.base).await;
                self.report_lost(&why).await
            }
        }
    }

    /// Waits (polling, bounded) for the client to be connected: a watch
    /// started with its node, while the client's first connection is under
    /// way, is not reported lost for that.
    async fn connected_within(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while self.inner.client.connection_state() != State::Connected {
            if tokio::time::Instant::now() >= deadline || self.tx.is_closed() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    async fn report_lost(&mut self, why: &str) -> End {
        tracing::warn!(bucket = %self.inner.name, reason = why, "cluster KV watch lost; re-watching");
        if !self.lost {
            self.lost = true;
            if self.send(KvChange::Lost).await.is_err() {
                return End::Closed;
            }
        }
        End::Broken(why.to_owned())
    }

    /// Passes the consumer's changes on until it breaks, the client
    /// disconnects (`disconnects` counted since the session began) or the
    /// caller leaves.
    async fn follow(
        &mut self,
        ordered: &mut Ordered,
        disconnects: &mut watch::Receiver<u64>,
    ) -> End {
        let mut probe = tokio::time::interval(PROBE);
        probe.tick().await;
        let mut quiet = true;
        loop {
            tokio::select! {
                _ = self.tx.closed() => return End::Closed,
                _ = disconnects.changed() => {
                    return End::Broken("disconnected from NATS".to_owned());
                }
                _ = probe.tick() => {
                    if std::mem::replace(&mut quiet, true) && !self.stream_answers().await {
                        return End::Broken("the bucket's stream does not answer (no quorum?)".to_owned());
                    }
                }
                item = ordered.next() => match item {
                    None => return End::Broken("consumer ended".to_owned()),
                    Some(Err(e)) => return End::Broken(e.to_string()),
                    Some(Ok(message)) => {
                        quiet = false;
                        if let Some(change) = change_of(&self.inner.store.prefix, &message) {
                            if self.deliver(change).await.is_err() {
                                return End::Closed;
                            }
                        }
                    }
                },
            }
        }
    }

    /// True when the bucket's stream answers an info request within the
    /// operation timeout and its leader hears a majority of its replicas:
    /// the watch is not silently cut off by a quorum loss its consumer does
    /// not notice (a consumer keeps heartbeating from a live server).
    async fn stream_answers(&self) -> bool {
        let js = &self.inner.js;
        let name = self.inner.store.stream_name.as_str();
        let Ok(Ok(stream)) = tokio::time::timeout(self.inner.op_timeout, js.get_stream(name)).await
        else {
            return false;
        };
        let Some(cluster) = &stream.cached_info().cluster else {
            return true;
        };
        let followers: Vec<Peer> = cluster
            .replicas
            .iter()
            .map(|p| Peer {
                offline: p.offline,
                silent_for: p.active,
            })
            .collect();
        cluster.leader.as_deref().is_some_and(|l| !l.is_empty()) && quorum_visible(&followers)
    }

    /// Passes `change` on unless its key already had this revision or a later one.
    async fn deliver(&mut self, change: KvChange) -> Result<(), ()> {
        let (key, revision) = match &change {
            KvChange::Put(e) => (&e.key, e.revision),
            KvChange::Deleted { key, revision } => (key, *revision),
            KvChange::Lost | KvChange::Resumed => return self.send(change).await,
        };
        if !self.seen.admit(key, revision) {
            return Ok(());
        }
        self.send(change).await
    }

    async fn send(&self, change: KvChange) -> Result<(), ()> {
        self.tx.send(change).await.map_err(|_| ())
    }
}

/// Creates an ordered push consumer over the whole bucket; returns it and
/// how many messages it has to deliver at creation.
async fn open_consumer(
    inner: &BucketInner,
    name: &str,
    deliver_policy: DeliverPolicy,
) -> Result<(Ordered, u64), String> {
    let config = OrderedConfig {
        deliver_subject: inner.client.new_inbox(),
        name: Some(name.to_owned()),
        description: Some("alarmgate cluster KV watch".to_owned()),
        filter_subject: format!("{}>", inner.store.prefix),
        replay_policy: ReplayPolicy::Instant,
        deliver_policy,
        ..Default::default()
    };
    let consumer = inner
        .store
        .stream
        .create_consumer(config)
        .await
        .map_err(|e| e.to_string())?;
    let pending = consumer.cached_info().num_pending;
    let ordered = consumer.messages().await.map_err(|e| e.to_string())?;
    Ok((ordered, pending))
}

/// Deletes every consumer whose name starts with `base` (the watch's own and
/// the replacements the client made for it). Best effort, bounded: a consumer
/// left behind (no connection) expires on the server once nobody listens.
async fn delete_consumers(inner: &BucketInner, base: &str) {
    let stream = &inner.store.stream;
    let work = async {
        let mut names = stream.consumer_names();
        let mut mine = Vec::new();
        while let Some(Ok(name)) = names.next().await {
            if name.starts_with(base) {
                mine.push(name);
            }
        }
        for name in mine {
            let _ = stream.delete_consumer(&name).await;
        }
    };
    let _ = tokio::time::timeout(inner.op_timeout, work).await;
}

/// The change a consumer's message carries; `None` for a message that is not
/// a KV entry of this bucket.
fn change_of(prefix: &str, message: &Message) -> Option<KvChange> {
    let info = message.info().ok()?;
    let key = message.subject.as_str().strip_prefix(prefix)?.to_owned();
    let revision = info.stream_sequence;
    let headers = message.headers.as_ref();
    let deleted = headers
        .is_some_and(|h| h.get(KV_OPERATION).is_some() || h.get("Nats-Marker-Reason").is_some());
    Some(if deleted {
        KvChange::Deleted { key, revision }
    } else {
        KvChange::Put(KvEntry {
            key,
            value: message.payload.clone(),
            revision,
        })
    })
}

/// Every key's current value: an ordered consumer from the last value per
/// key, read until nothing is pending, then deleted.
pub(super) async fn snapshot(inner: &BucketInner) -> Result<Vec<KvEntry>, String> {
    let base = consumer_base(inner);
    let name = format!("{base}_s");
    let (mut ordered, mut pending) =
        open_consumer(inner, &name, DeliverPolicy::LastPerSubject).await?;
    let mut current = BTreeMap::new();
    while pending > 0 {
        let Some(item) = ordered.next().await else {
            break;
        };
        let message = item.map_err(|e| e.to_string())?;
        pending = message.info().map(|i| i.pending).unwrap_or(0);
        match change_of(&inner.store.prefix, &message) {
            Some(KvChange::Put(e)) => {
                current.insert(e.key.clone(), e);
            }
            Some(KvChange::Deleted { key, .. }) => {
                current.remove(&key);
            }
            _ => {}
        }
    }
    drop(ordered);
    delete_consumers(inner, &base).await;
    let mut entries: Vec<KvEntry> = current.into_values().collect();
    entries.sort_by_key(|e| e.revision);
    Ok(entries)
}
