//! Reads and compare-and-set writes on one bucket ([`KvBucket`]), each
//! bounded by the store's operation timeout and counted by outcome.
//!
//! Also the bounding and counting every operation goes through.
//!
//! `delete` publishes the KV delete marker itself (async-nats's
//! `delete_expect_revision` does not return the marker's revision, which a
//! caller needs to keep fencing by revision).

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::kv::{CreateErrorKind, Operation, UpdateErrorKind};
use async_nats::HeaderMap;
use bytes::Bytes;

use super::cluster_kv::{Cas, KvBucket, KvEntry, KvError, KvOp};
use super::cluster_kv_watch::snapshot;
use crate::telemetry::metrics as m;
use std::future::Future;
use std::time::Duration;

/// The header naming a KV operation (`DEL`, `PURGE`).
pub(super) const KV_OPERATION: &str = "KV-Operation";
/// The header making a publish a compare-and-set on the subject's last sequence.
const EXPECTED_LAST_SUBJECT_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";

impl KvBucket {
    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The key's current value; `None` when absent or deleted.
    pub async fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        self.check_key(KvOp::Get, key)?;
        let store = &self.inner.store;
        let work = async {
            match store.entry(key).await {
                Ok(Some(e)) if e.operation == Operation::Put => Ok(Some(KvEntry {
                    key: e.key,
                    value: e.value,
                    revision: e.revision,
                })),
                Ok(_) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        };
        bounded(KvOp::Get, self.name(), self.inner.op_timeout, work).await
    }

    /// Every key's current value (deleted keys left out), in revision order.
    pub async fn entries(&self) -> Result<Vec<KvEntry>, KvError> {
        bounded(
            KvOp::Entries,
            self.name(),
            self.inner.op_timeout,
            snapshot(&self.inner),
        )
        .await
    }

    /// Creates `key`; [`Cas::Conflict`] when it exists (a deleted key may be
    /// created again).
    pub async fn create(&self, key: &str, value: Bytes) -> Result<Cas, KvError> {
        self.check_key(KvOp::Create, key)?;
        let store = &self.inner.store;
        let work = async {
            match store.create(key, value).await {
                Ok(revision) => Ok(Cas::Written { revision }),
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(Cas::Conflict),
                Err(e) => Err(e.to_string()),
            }
        };
        bounded_cas(KvOp::Create, self.name(), self.inner.op_timeout, work).await
    }

    /// Writes `value` if `key` is still at `revision`; [`Cas::Conflict`] otherwise.
    pub async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<Cas, KvError> {
        self.check_key(KvOp::Update, key)?;
        let store = &self.inner.store;
        let work = async {
            match store.update(key, value, revision).await {
                Ok(revision) => Ok(Cas::Written { revision }),
                Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Ok(Cas::Conflict),
                Err(e) => Err(e.to_string()),
            }
        };
        bounded_cas(KvOp::Update, self.name(), self.inner.op_timeout, work).await
    }

    /// Deletes `key` (a delete marker, seen by watchers); with `Some(revision)`
    /// only if the key is still at that revision. The marker's revision is
    /// returned.
    pub async fn delete(&self, key: &str, revision: Option<u64>) -> Result<Cas, KvError> {
        self.check_key(KvOp::Delete, key)?;
        let work = self.publish_delete(key, revision);
        bounded_cas(KvOp::Delete, self.name(), self.inner.op_timeout, work).await
    }

    async fn publish_delete(&self, key: &str, revision: Option<u64>) -> Result<Cas, String> {
        let store = &self.inner.store;
        let prefix = store.put_prefix.as_ref().unwrap_or(&store.prefix);
        let mut headers = HeaderMap::new();
        headers.insert(KV_OPERATION, "DEL");
        if let Some(revision) = revision {
            headers.insert(EXPECTED_LAST_SUBJECT_SEQ, revision.to_string().as_str());
        }
        let subject = format!("{prefix}{key}");
        let ack = match self
            .inner
            .js
            .publish_with_headers(subject, headers, Bytes::new())
            .await
        {
            Ok(ack) => ack.await,
            Err(e) => return Err(e.to_string()),
        };
        match ack {
            Ok(ack) => Ok(Cas::Written {
                revision: ack.sequence,
            }),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(Cas::Conflict),
            Err(e) => Err(e.to_string()),
        }
    }

    fn check_key(&self, op: KvOp, key: &str) -> Result<(), KvError> {
        if valid_key(key) {
            return Ok(());
        }
        count(op, "invalid_key");
        Err(KvError::InvalidKey {
            op,
            bucket: self.inner.name.clone(),
            key: key.to_owned(),
        })
    }
}

/// Runs `work` within `after`, counts its outcome, maps a failure or a
/// timeout to [`KvError`].
pub(super) async fn bounded<T, F>(
    op: KvOp,
    bucket: &str,
    after: Duration,
    work: F,
) -> Result<T, KvError>
where
    F: Future<Output = Result<T, String>>,
{
    let result = within(op, bucket, after, work).await;
    count(op, result.as_ref().map_or_else(KvError::outcome, |_| "ok"));
    result
}

/// [`bounded`] for a compare-and-set: a lost one counts as `conflict`.
pub(super) async fn bounded_cas<F>(
    op: KvOp,
    bucket: &str,
    after: Duration,
    work: F,
) -> Result<Cas, KvError>
where
    F: Future<Output = Result<Cas, String>>,
{
    let result = within(op, bucket, after, work).await;
    let outcome = match &result {
        Ok(Cas::Written { .. }) => "ok",
        Ok(Cas::Conflict) => "conflict",
        Err(e) => e.outcome(),
    };
    count(op, outcome);
    result
}

async fn within<T, F>(op: KvOp, bucket: &str, after: Duration, work: F) -> Result<T, KvError>
where
    F: Future<Output = Result<T, String>>,
{
    match tokio::time::timeout(after, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(reason)) => Err(KvError::Failed {
            op,
            bucket: bucket.to_owned(),
            reason,
        }),
        Err(_) => Err(KvError::Timeout {
            op,
            bucket: bucket.to_owned(),
            after,
        }),
    }
}

/// Counts one operation's outcome.
pub(super) fn count(op: KvOp, outcome: &'static str) {
    metrics::counter!(m::CLUSTER_KV_OPS, "op" => op.label(), "outcome" => outcome).increment(1);
}

/// True for a key JetStream KV accepts (`[-/_=.A-Za-z0-9]+`, no leading or
/// trailing dot).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && !key.ends_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b))
}
