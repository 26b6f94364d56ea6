//! The cluster's KV adapter (`runtime::cluster_kv`) against a real
//! three-server JetStream cluster (issue 13, docs/cluster.md §6 and §8):
//!
//! - compare-and-set: a second create and an update or delete at a stale
//!   revision are `Cas::Conflict`, values, not errors;
//! - a watch sees every change once and in order across a SIGKILL of the
//!   server its client is connected to, and says `Lost` then `Resumed`;
//! - with the KV stream's leader SIGKILLed, operations succeed again within a
//!   bounded time and keep succeeding;
//! - quorum lost (two servers SIGSTOPped): writes fail with a `KvError` within
//!   the operation timeout (never a hang), and succeed once quorum returns,
//!   and the watch follows again;
//! - a key of a bucket with a max age expires as a `Deleted` change (the
//!   bucket's limit markers), which a dead node's presence relies on;
//! - 20 reconnects leave one watch consumer on the server, none once the
//!   watch is dropped.
//!
//! Deadlines are generous (a loaded 2-core machine), every wait is polled.

use crate::harness::NatsCluster;
use alarmgate::runtime::cluster_kv::{
    Cas, KvBucket, KvBucketSpec, KvChange, KvError, KvStore, KvWatch,
};
use bytes::Bytes;
use std::time::{Duration, Instant};

/// The adapter's operation timeout in these tests.
const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// Slack over the operation timeout for a loaded machine.
const SLACK: Duration = Duration::from_secs(2);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn bucket(cluster: &NatsCluster, client: &str, name: &str) -> (KvStore, KvBucket) {
    let store = KvStore::connect(&cluster.urls(), client, OP_TIMEOUT)
        .await
        .expect("connect");
    let spec = KvBucketSpec {
        name: name.to_owned(),
        replicas: 3,
        history: 5,
        max_age: None,
    };
    let bucket = store.open(&spec).await.expect("open bucket");
    (store, bucket)
}

fn val(s: &str) -> Bytes {
    Bytes::from(s.to_owned())
}

/// The index of the server `store` is connected to.
fn connected_index(store: &KvStore) -> usize {
    let name = store.server_name();
    name.strip_prefix('n')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected server name {name:?}"))
}

/// Creates `key` until it is written, within `within`; returns its revision.
/// A create that failed ambiguously (timed out, yet committed) shows up as a
/// Conflict on retry: its revision is then read back.
async fn create_surely(bucket: &KvBucket, key: &str, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        match bucket.create(key, val(key)).await {
            Ok(Cas::Written { revision }) => return revision,
            Ok(Cas::Conflict) => {
                if let Ok(Some(e)) = bucket.get(key).await {
                    return e.revision;
                }
            }
            Err(e) => assert!(Instant::now() < deadline, "create {key}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Collects changes until `done` holds for the puts seen, or `within` passes.
async fn collect_until(
    watch: &mut KvWatch,
    within: Duration,
    seen: &mut Vec<KvChange>,
    done: impl Fn(&[KvChange]) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while !done(seen) {
        match tokio::time::timeout_at(deadline, watch.next()).await {
            Ok(Some(change)) => seen.push(change),
            Ok(None) | Err(_) => return false,
        }
    }
    true
}

fn put_revisions(changes: &[KvChange]) -> Vec<u64> {
    changes
        .iter()
        .filter_map(|c| match c {
            KvChange::Put(e) => Some(e.revision),
            _ => None,
        })
        .collect()
}

#[test]
fn cluster_kv_compare_and_set_conflicts_are_values() {
    let Some(cluster) = NatsCluster::start("cluster_kv_cas") else {
        return;
    };
    runtime().block_on(async {
        let (_store, b) = bucket(&cluster, "cas", "cas").await;
        assert_eq!(b.entries().await.unwrap(), [], "a new bucket is empty");
        let Ok(Cas::Written { revision: r1 }) = b.create("op.a", val("available")).await else {
            panic!("first create not written");
        };
        assert_eq!(b.create("op.a", val("other")).await.unwrap(), Cas::Conflict);
        let Ok(Cas::Written { revision: r2 }) = b.update("op.a", val("ringing"), r1).await else {
            panic!("update at the current revision not written");
        };
        assert!(r2 > r1);
        assert_eq!(
            b.update("op.a", val("stale"), r1).await.unwrap(),
            Cas::Conflict
        );
        assert_eq!(b.delete("op.a", Some(r1)).await.unwrap(), Cas::Conflict);
        let got = b.get("op.a").await.unwrap().expect("op.a present");
        assert_eq!((got.value, got.revision), (val("ringing"), r2));
        let Ok(Cas::Written { revision: r3 }) = b.delete("op.a", Some(r2)).await else {
            panic!("delete at the current revision not written");
        };
        assert!(r3 > r2);
        assert_eq!(b.get("op.a").await.unwrap(), None);
        assert!(matches!(
            b.create("op.a", val("back")).await.unwrap(),
            Cas::Written { .. }
        ));
        assert!(matches!(
            b.create("bad key", val("x")).await,
            Err(KvError::InvalidKey { .. })
        ));
        b.create("op.b", val("b")).await.unwrap();
        let keys: Vec<String> = b
            .entries()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(keys, ["op.a", "op.b"]);
    });
}

#[test]
fn cluster_kv_watch_sees_every_change_once_across_a_server_kill() {
    let Some(mut cluster) = NatsCluster::start("cluster_kv_watch_kill") else {
        return;
    };
    let rt = runtime();
    let (_ws, watched) = rt.block_on(bucket(&cluster, "watcher", "wk"));
    let (_s, writer) = rt.block_on(bucket(&cluster, "writer", "wk"));
    let mut watch = rt.block_on(async { watched.watch() });
    let mut written = Vec::new();
    rt.block_on(async {
        for i in 0..10 {
            written.push(create_surely(&writer, &format!("a.{i}"), Duration::from_secs(30)).await);
        }
    });
    let victim = connected_index(&_ws);
    cluster.kill(victim);
    let mut seen = Vec::new();
    rt.block_on(async {
        for i in 0..30 {
            written.push(create_surely(&writer, &format!("b.{i}"), Duration::from_secs(60)).await);
        }
        let all = written.clone();
        let complete = collect_until(&mut watch, Duration::from_secs(60), &mut seen, |s| {
            let revs = put_revisions(s);
            all.iter().all(|r| revs.contains(r))
        })
        .await;
        let revs = put_revisions(&seen);
        assert!(
            complete,
            "watch missed writes: wrote {written:?}, saw {revs:?}"
        );
        assert!(
            revs.windows(2).all(|w| w[0] < w[1]),
            "revisions not strictly increasing (a replay reached the caller): {revs:?}"
        );
    });
    // The killed server comes back and catches up; the watch goes on.
    cluster.restart(victim);
    rt.block_on(async {
        let rev = create_surely(&writer, "c.0", Duration::from_secs(60)).await;
        let ok = collect_until(&mut watch, Duration::from_secs(60), &mut seen, |s| {
            put_revisions(s).contains(&rev)
        })
        .await;
        assert!(ok, "the watch missed a write after n{victim} restarted");
    });
    let lost = seen.iter().position(|c| *c == KvChange::Lost);
    let resumed = seen.iter().position(|c| *c == KvChange::Resumed);
    assert!(
        matches!((lost, resumed), (Some(l), Some(r)) if l < r),
        "the watch did not report Lost then Resumed across the kill of n{victim}: {seen:?}"
    );
}

/// The index of the KV stream's current leader.
async fn stream_leader(cluster: &NatsCluster, stream: &str) -> usize {
    let client = async_nats::connect(cluster.urls()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let mut s = js.get_stream(stream).await.expect("stream");
    let info = s.info().await.expect("stream info");
    let leader = info.cluster.as_ref().and_then(|c| c.leader.clone());
    let leader = leader.expect("stream has a leader");
    leader
        .trim_start_matches('n')
        .parse()
        .expect("leader index")
}

#[test]
fn cluster_kv_operations_continue_with_one_server_killed() {
    let Some(mut cluster) = NatsCluster::start("cluster_kv_one_down") else {
        return;
    };
    let rt = runtime();
    let (_s, b) = rt.block_on(bucket(&cluster, "ops", "one"));
    let mut rev = match rt.block_on(b.create("q.alarms", val("0"))).unwrap() {
        Cas::Written { revision } => revision,
        Cas::Conflict => panic!("fresh key in conflict"),
    };
    let leader = rt.block_on(stream_leader(&cluster, "KV_one"));
    cluster.kill(leader);
    let killed = Instant::now();
    rt.block_on(async {
        // The first update after the kill may wait for a new stream leader.
        let healed = loop {
            match b.update("q.alarms", val("1"), rev).await {
                Ok(Cas::Written { revision }) => break Some(revision),
                Ok(Cas::Conflict) => rev = b.get("q.alarms").await.unwrap().unwrap().revision,
                Err(_) if killed.elapsed() < Duration::from_secs(30) => {}
                Err(e) => panic!("no write within 30 s of killing leader n{leader}: {e}"),
            }
        };
        rev = healed.unwrap_or(rev);
        eprintln!(
            "cluster_kv: writes healed {:?} after killing leader n{leader}",
            killed.elapsed()
        );
        for i in 2..22 {
            let t = Instant::now();
            let out = b.update("q.alarms", val(&i.to_string()), rev).await;
            let Ok(Cas::Written { revision }) = out else {
                panic!("update {i} with n{leader} down: {out:?}");
            };
            assert!(t.elapsed() <= OP_TIMEOUT + SLACK);
            rev = revision;
        }
        assert_eq!(b.get("q.alarms").await.unwrap().unwrap().value, val("21"));
    });
}

#[test]
fn cluster_kv_quorum_loss_fails_in_bounded_time_and_heals() {
    let Some(cluster) = NatsCluster::start("cluster_kv_quorum") else {
        return;
    };
    let rt = runtime();
    let (store, b) = rt.block_on(bucket(&cluster, "quorum", "quorum"));
    let mut watch = rt.block_on(async { b.watch() });
    rt.block_on(b.create("before", val("x"))).unwrap();
    let kept = connected_index(&store);
    let frozen: Vec<usize> = (0..3).filter(|&i| i != kept).collect();
    for &i in &frozen {
        cluster.stop(i);
    }
    rt.block_on(async {
        for i in 0..3 {
            let t = Instant::now();
            let out = b.create(&format!("during.{i}"), val("x")).await;
            assert!(out.is_err(), "a write succeeded without quorum: {out:?}");
            assert!(
                t.elapsed() <= OP_TIMEOUT + SLACK,
                "a write without quorum took {:?} (op_timeout {OP_TIMEOUT:?})",
                t.elapsed()
            );
            let t = Instant::now();
            let _ = b.entries().await;
            assert!(
                t.elapsed() <= OP_TIMEOUT + SLACK,
                "entries took {:?}",
                t.elapsed()
            );
        }
    });
    let mut seen = Vec::new();
    let noticed = rt.block_on(collect_until(
        &mut watch,
        Duration::from_secs(30),
        &mut seen,
        |s| s.contains(&KvChange::Lost),
    ));
    assert!(
        noticed,
        "the watch did not say Lost without quorum: {seen:?}"
    );
    for &i in &frozen {
        cluster.cont(i);
    }
    let thawed = Instant::now();
    rt.block_on(async {
        let rev = create_surely(&b, "after", Duration::from_secs(60)).await;
        eprintln!(
            "cluster_kv: writes healed {:?} after quorum returned",
            thawed.elapsed()
        );
        let followed = collect_until(&mut watch, Duration::from_secs(60), &mut seen, |s| {
            put_revisions(s).contains(&rev)
        })
        .await;
        assert!(
            followed,
            "the watch did not follow after quorum returned: {seen:?}"
        );
        let lost = seen.iter().position(|c| *c == KvChange::Lost);
        let resumed = seen.iter().position(|c| *c == KvChange::Resumed);
        assert!(
            matches!((lost, resumed), (Some(l), Some(r)) if l < r),
            "the watch did not say Lost then Resumed over the quorum loss: {seen:?}"
        );
        let revs = put_revisions(&seen);
        assert!(revs.windows(2).all(|w| w[0] < w[1]), "{revs:?}");
    });
}

async fn consumer_names(cluster: &NatsCluster, stream: &str) -> Vec<String> {
    use futures_util::StreamExt;
    let client = async_nats::connect(cluster.urls()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let s = js.get_stream(stream).await.expect("stream");
    let mut names = s.consumer_names();
    let mut out = Vec::new();
    while let Some(Ok(name)) = names.next().await {
        out.push(name);
    }
    out
}

#[test]
fn cluster_kv_watch_leaks_no_consumer_across_20_reconnects() {
    let Some(cluster) = NatsCluster::start("cluster_kv_leak") else {
        return;
    };
    let rt = runtime();
    let (store, b) = rt.block_on(bucket(&cluster, "leak", "leak"));
    let mut watch = rt.block_on(async { b.watch() });
    let mut seen = Vec::new();
    rt.block_on(async {
        for i in 0..20 {
            store.reconnect().await.expect("reconnect");
            let rev = create_surely(&b, &format!("k.{i}"), Duration::from_secs(30)).await;
            let ok = collect_until(&mut watch, Duration::from_secs(30), &mut seen, |s| {
                put_revisions(s).contains(&rev)
            })
            .await;
            assert!(
                ok,
                "reconnect {i}: the watch did not see revision {rev}: {seen:?}"
            );
        }
        let resumed = seen.iter().filter(|c| **c == KvChange::Resumed).count();
        eprintln!("cluster_kv: 20 reconnects, {resumed} re-watches");
        let settled = poll_async(Duration::from_secs(10), || async {
            consumer_names(&cluster, "KV_leak").await.len() <= 1
        })
        .await;
        let names = consumer_names(&cluster, "KV_leak").await;
        assert!(settled, "consumers left after 20 reconnects: {names:?}");
        drop(watch);
        let gone = poll_async(Duration::from_secs(10), || async {
            consumer_names(&cluster, "KV_leak").await.is_empty()
        })
        .await;
        let names = consumer_names(&cluster, "KV_leak").await;
        assert!(
            gone,
            "consumers left after the watch was dropped: {names:?}"
        );
    });
}

async fn poll_async<F, Fut>(within: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn cluster_kv_an_expired_key_reaches_the_watch_as_deleted() {
    let Some(cluster) = NatsCluster::start("cluster_kv_expiry") else {
        return;
    };
    runtime().block_on(async {
        let store = KvStore::connect(&cluster.urls(), "expiry", OP_TIMEOUT)
            .await
            .expect("connect");
        let spec = KvBucketSpec {
            name: "presence".into(),
            replicas: 3,
            history: 1,
            max_age: Some(Duration::from_secs(2)),
        };
        let b = store.open(&spec).await.expect("open");
        let mut watch = b.watch();
        let Cas::Written { revision } = b.create("node.a", val("up")).await.unwrap() else {
            panic!("create not written");
        };
        let mut seen = Vec::new();
        let expired = collect_until(&mut watch, Duration::from_secs(30), &mut seen, |s| {
            s.iter().any(|c| {
                matches!(c, KvChange::Deleted { key, revision: r } if key == "node.a" && *r > revision)
            })
        })
        .await;
        assert!(expired, "no Deleted for an expired key: {seen:?}");
        assert_eq!(b.get("node.a").await.unwrap(), None);
    });
}
