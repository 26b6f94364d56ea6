//! A simulated JetStream key-value store for the cluster's tests: one
//! revision sequence per bucket, create/update as compare-and-set by
//! revision, and every change fanned out to the watchers, in order.

use std::collections::BTreeMap;

use super::node::{KvOp, KvReply, WatchChange};
use super::Bucket;

/// The store: `(bucket, key)` → `(value, revision)`.
#[derive(Debug, Default)]
pub struct SimKv {
    entries: BTreeMap<(Bucket, String), (Vec<u8>, u64)>,
    sequence: BTreeMap<Bucket, u64>,
}

impl SimKv {
    /// Apply `op`: its reply and the change every watcher of the bucket sees.
    pub fn apply(&mut self, op: KvOp) -> (KvReply, Option<(Bucket, WatchChange)>) {
        match op {
            KvOp::Create { bucket, key, value } => {
                if self.entries.contains_key(&(bucket, key.clone())) {
                    return (KvReply::Conflict, None);
                }
                self.put(bucket, key, value)
            }
            KvOp::Update {
                bucket,
                key,
                value,
                revision,
            } => match self.entries.get(&(bucket, key.clone())) {
                Some((_, current)) if *current == revision => self.put(bucket, key, value),
                _ => (KvReply::Conflict, None),
            },
            KvOp::Delete { bucket, key } => {
                self.entries.remove(&(bucket, key.clone()));
                let revision = self.next(bucket);
                (
                    KvReply::Written { revision },
                    Some((bucket, WatchChange::Deleted { key })),
                )
            }
            KvOp::Get { bucket, key } => (
                KvReply::Found(self.entries.get(&(bucket, key)).cloned()),
                None,
            ),
        }
    }

    /// Everything in the store, as a fresh watcher's initial replay.
    pub fn replay(&self) -> Vec<(Bucket, WatchChange)> {
        self.entries
            .iter()
            .map(|((bucket, key), (value, revision))| {
                let change = WatchChange::Put {
                    key: key.clone(),
                    value: value.clone(),
                    revision: *revision,
                };
                (*bucket, change)
            })
            .collect()
    }

    /// The entries of one bucket.
    pub fn bucket(&self, bucket: Bucket) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        self.entries
            .iter()
            .filter(move |((b, _), _)| *b == bucket)
            .map(|((_, k), (v, _))| (k, v))
    }

    fn put(
        &mut self,
        bucket: Bucket,
        key: String,
        value: Vec<u8>,
    ) -> (KvReply, Option<(Bucket, WatchChange)>) {
        let revision = self.next(bucket);
        self.entries
            .insert((bucket, key.clone()), (value.clone(), revision));
        (
            KvReply::Written { revision },
            Some((
                bucket,
                WatchChange::Put {
                    key,
                    value,
                    revision,
                },
            )),
        )
    }

    fn next(&mut self, bucket: Bucket) -> u64 {
        let sequence = self.sequence.entry(bucket).or_insert(0);
        *sequence += 1;
        *sequence
    }
}
