//! `[cluster]`: several alarmgate nodes sharing operators and waiting
//! alarms over NATS JetStream key-value buckets (issue 13,
//! `docs/cluster.md`).
//!
//! Absent, the node runs alone exactly as before: no NATS connection, no
//! bucket, nothing added on any call's path.

use serde::Deserialize;
use std::time::Duration;

use super::validate::Findings;
use super::Problem;
use crate::cluster::{ClusterTiming, NodeId};

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's id, unique in the cluster: 1 to 64 letters, digits,
    /// `-` or `_`. Required.
    pub node: String,
    /// The NATS servers (`nats://` or `tls://`), all of the JetStream
    /// cluster holding the buckets. Required, at least one.
    pub nats: Vec<String>,
    /// The buckets' replicas when created (1 to 5; 3 for quorum on three
    /// servers). Default 3.
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// A node whose presence refresh did not arrive for this long is gone:
    /// its waiting alarms are adopted and its operators' claims expire.
    /// 2 to 60. Default 3 (alarms of a killed node are offered on a
    /// survivor within about 4 s).
    #[serde(default = "default_presence_ttl")]
    pub presence_ttl_s: u64,
    /// Reserved for the per-queue dispatch leases of the design (§3), not
    /// built yet: accepted and checked (2 to 60), no effect. Default 5.
    #[serde(default = "default_lease_ttl")]
    pub lease_ttl_s: u64,
    /// A unit's redial to this node is linked to a ticket adopted from a
    /// dead node within this window (1 to 3600). Default 60.
    #[serde(default = "default_link_window")]
    pub link_window_s: u64,
    /// The longest wait for one key-value operation before the node counts
    /// the store as failed and routes alone (100 to 10000, below
    /// `presence_ttl_s`). Default 1000.
    #[serde(default = "default_op_timeout")]
    pub op_timeout_ms: u64,
}

fn default_replicas() -> usize {
    3
}
fn default_presence_ttl() -> u64 {
    3
}
fn default_lease_ttl() -> u64 {
    5
}
fn default_link_window() -> u64 {
    60
}
fn default_op_timeout() -> u64 {
    1000
}

impl ClusterConfig {
    /// The node id.
    pub fn node_id(&self) -> NodeId {
        NodeId::new(self.node.clone())
    }

    /// The cores' timers.
    pub fn timing(&self) -> ClusterTiming {
        ClusterTiming {
            presence_ttl: Duration::from_secs(self.presence_ttl_s),
            link_window: Duration::from_secs(self.link_window_s),
        }
    }

    /// `op_timeout_ms` as a duration.
    pub fn op_timeout(&self) -> Duration {
        Duration::from_millis(self.op_timeout_ms)
    }

    pub(crate) fn check(&self, out: &mut Findings) {
        let invalid = |out: &mut Findings, key: &str, value: String, expected| {
            out.push(
                format!("cluster.{key}"),
                Problem::Invalid { value, expected },
            );
        };
        let node_ok = (1..=64).contains(&self.node.len())
            && self
                .node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !node_ok {
            invalid(
                out,
                "node",
                format!("{:?}", self.node),
                "1 to 64 letters, digits, '-' or '_'",
            );
        }
        if self.nats.is_empty() {
            invalid(
                out,
                "nats",
                "[]".into(),
                "at least one nats://host:port or tls://host:port",
            );
        }
        for (i, url) in self.nats.iter().enumerate() {
            let ok = ["nats://", "tls://"]
                .iter()
                .any(|p| url.starts_with(p) && url.len() > p.len());
            if !ok {
                invalid(
                    out,
                    &format!("nats[{i}]"),
                    url.clone(),
                    "nats://host:port or tls://host:port",
                );
            }
        }
        self.check_numbers(out);
    }

    fn check_numbers(&self, out: &mut Findings) {
        let ranges: [(&str, u64, u64, u64, &'static str); 5] = [
            ("replicas", self.replicas as u64, 1, 5, "1 to 5"),
            ("presence_ttl_s", self.presence_ttl_s, 2, 60, "2 to 60"),
            ("lease_ttl_s", self.lease_ttl_s, 2, 60, "2 to 60"),
            ("link_window_s", self.link_window_s, 1, 3600, "1 to 3600"),
            (
                "op_timeout_ms",
                self.op_timeout_ms,
                100,
                10_000,
                "100 to 10000",
            ),
        ];
        for (key, value, low, high, expected) in ranges {
            if !(low..=high).contains(&value) {
                out.push(
                    format!("cluster.{key}"),
                    Problem::Invalid {
                        value: value.to_string(),
                        expected,
                    },
                );
            }
        }
        if self.op_timeout_ms >= self.presence_ttl_s.saturating_mul(1000) {
            let detail = format!(
                "op_timeout_ms ({}) must be below presence_ttl_s ({} s): a refresh that waits longer than the TTL makes the node look dead",
                self.op_timeout_ms, self.presence_ttl_s
            );
            out.push("cluster.op_timeout_ms", Problem::Conflict { detail });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{embedded_default, load_str};

    /// `cluster` followed by the default dialplan (so the `[cluster]` keys
    /// keep their line numbers).
    fn with_default(cluster: &str) -> String {
        format!("{cluster}\n{}", embedded_default())
    }

    const BASE: &str = "[cluster]\nnode = \"node-a\"\nnats = [\"nats://127.0.0.1:4222\", \"nats://127.0.0.1:4223\"]\n";

    #[test]
    fn absent_means_a_single_node_and_present_gets_the_defaults() {
        let alone = load_str(embedded_default(), "t.toml").expect("the empty config loads");
        assert!(alone.cluster.is_none());
        let config = load_str(&with_default(BASE), "t.toml").expect("a minimal [cluster] loads");
        let cluster = config.cluster.expect("present");
        assert_eq!(cluster.node_id().as_str(), "node-a");
        assert_eq!(
            (
                cluster.replicas,
                cluster.presence_ttl_s,
                cluster.lease_ttl_s
            ),
            (3, 3, 5)
        );
        assert_eq!((cluster.link_window_s, cluster.op_timeout_ms), (60, 1000));
        assert_eq!(
            cluster.timing().refresh_every(),
            std::time::Duration::from_secs(1)
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_line() {
        let text = format!("{BASE}replicas = 7\npresence_ttl_s = 1\nop_timeout_ms = 5000\n");
        let errors = load_str(&with_default(&text.replace("node-a", "node a")), "t.toml")
            .expect_err("refused")
            .to_string();
        for needle in [
            "cluster.node",
            "cluster.replicas",
            "cluster.presence_ttl_s",
            "cluster.op_timeout_ms",
            "t.toml:2",
            "t.toml:4",
        ] {
            assert!(errors.contains(needle), "{needle} missing in:\n{errors}");
        }
        let errors = load_str(
            "[cluster]\nnode = \"a\"\nnats = [\"http://x\"]\nleases = 3\n",
            "t.toml",
        )
        .expect_err("refused");
        assert!(errors.to_string().contains("leases"), "{errors}");
        let errors = load_str(
            &with_default("[cluster]\nnode = \"a\"\nnats = [\"http://x\"]"),
            "t.toml",
        )
        .expect_err("refused");
        assert!(errors.to_string().contains("cluster.nats"), "{errors}");
    }
}
