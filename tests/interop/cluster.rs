//! Two alarmgate nodes over a three-server JetStream cluster (issue 13, "How
//! it must be shown"; design in docs/cluster.md): pjsua2 operators
//! registered to both nodes (one softphone per node and operator, as a
//! desktop softphone with two accounts), spandsp units calling either node.
//!
//! - alarms spread over both nodes reach operators on either; the invariant
//!   checker ([`invariants`]) holds over both journals after a bounded
//!   randomised run;
//! - SIGKILL of a node with alarms waiting: each is offered on the survivor
//!   within 5 s, none lost, none duplicated;
//! - SIGKILL of one NATS server: nothing visible;
//! - quorum lost: both nodes keep taking and routing their own alarms, and
//!   converge when it returns;
//! - a node frozen 30 s (SIGSTOP, SIGCONT) does not act on stale leases.
//!
//! h-cluster's driver was merged at 22:05 UTC, too late to adapt and run
//! these before the stop; each test is ignored with the exact gap it waits
//! for (docs/cluster.md section 11); the checker's own tests run now.

#[path = "cluster/invariants.rs"]
mod invariants;

use crate::harness::{journal_records, poll_until, Config, Daemon, NatsCluster};
use crate::operators::{
    calls, centre_with, device_uri, operator_opts, operator_phone, spawn_unit, wait_call, Plan,
    NOWHERE, RING_WAIT, SHORT, UNIT_A, UNIT_B,
};
use crate::softphone::Softphone;
use invariants::{violations, NodeJournal};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

/// The failover target of issue 13: a dead node's waiting alarm is offered
/// on the survivor within this.
const FAILOVER: Duration = Duration::from_secs(5);

/// Node `name`'s config: `plan` plus `[cluster]` over `nats` (h-cluster's
/// keys; presence TTL, link window and op timeout left at their defaults).
fn node_config(plan: &Plan, name: &str, nats: &NatsCluster) -> Config {
    let mut config = plan.config();
    let urls: Vec<String> = nats.urls().iter().map(|u| format!("\"{u}\"")).collect();
    config.extra.push_str(&format!(
        "\n[cluster]\nnode = \"{name}\"\nnats = [{}]\nreplicas = 3\n",
        urls.join(", ")
    ));
    config
}

/// Three NATS servers and two nodes `a`, `b` serving op1 and op2.
fn two_nodes(test: &str) -> Option<(NatsCluster, Daemon, Daemon)> {
    let nats = NatsCluster::start(test)?;
    let plan = Plan::new(&["op1", "op2"], NOWHERE);
    let a = centre_with(&format!("{test}_a"), &node_config(&plan, "a", &nats))?;
    let b = centre_with(&format!("{test}_b"), &node_config(&plan, "b", &nats))?;
    Some((nats, a, b))
}

/// op1 and op2, each with a softphone registered to both nodes.
fn operators_on_both(a: &Daemon, b: &Daemon) -> Vec<Softphone> {
    ["op1", "op2"]
        .iter()
        .flat_map(|id| {
            [
                operator_phone(a, operator_opts(id)),
                operator_phone(b, operator_opts(id)),
            ]
        })
        .collect()
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(st.success(), "kill {sig} {pid}");
}

/// Asserts the invariants over both nodes' journals.
fn assert_invariants(a: &Daemon, b: &Daemon, settled_elsewhere: &BTreeSet<(String, String)>) {
    let (ja, jb) = (
        journal_records(&a.journal_dir),
        journal_records(&b.journal_dir),
    );
    let found = violations(
        &[
            NodeJournal {
                node: "a",
                records: &ja,
            },
            NodeJournal {
                node: "b",
                records: &jb,
            },
        ],
        settled_elsewhere,
    );
    assert!(
        found.is_empty(),
        "cluster invariants broken:\n{}",
        found.join("\n")
    );
}

/// Operators on both nodes, paused so alarms wait: `n` units call node
/// `a`; returns the units once every alarm waits in the cluster.
fn alarms_waiting_on(a: &Daemon, other: &Daemon, n: usize) -> Vec<crate::harness::PyPeer> {
    for id in ["op1", "op2"] {
        crate::operators::set_state(other, id, "paused", Some("test"));
    }
    let callers = [UNIT_A, UNIT_B];
    let units: Vec<_> = (0..n)
        .map(|i| spawn_unit(&a.dir.path, &device_uri(a), callers[i % 2], &["--wait-bye"]))
        .collect();
    let all_waiting = poll_until(RING_WAIT, || {
        calls(other)
            .iter()
            .filter(|c| c["state"] == "waiting")
            .count()
            >= n
    });
    assert!(
        all_waiting,
        "the alarms on a are not visible on the other node: {:?}",
        calls(other)
    );
    units
}

#[test]
#[ignore = "operator claims are not wired into the router yet (docs/cluster.md section 11): an operator registered on both nodes can be rung by both at once, so the invariant checker fails on a known gap"]
fn cluster_alarms_on_either_node_reach_operators_on_either() {
    let Some((_nats, a, b)) = two_nodes("cluster_spread") else {
        return;
    };
    let _phones = operators_on_both(&a, &b);
    // A bounded randomised run: 8 alarms, each to a node picked by a seeded
    // sequence (reproducible), a few seconds apart.
    let mut seed: u32 = 0x2545_f491;
    let mut units = Vec::new();
    for i in 0..8 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let node = if seed.is_multiple_of(2) { &a } else { &b };
        let caller = if i % 2 == 0 { UNIT_A } else { UNIT_B };
        units.push(spawn_unit(&node.dir.path, &device_uri(node), caller, &[]));
        std::thread::sleep(Duration::from_millis(u64::from(seed % 3000)));
    }
    for unit in units {
        let r = unit.wait();
        assert_eq!(r.json["acknowledged"], 1, "{}", r.json);
    }
    assert!(poll_until(RING_WAIT, || calls(&a).is_empty() && calls(&b).is_empty()));
    assert_invariants(&a, &b, &BTreeSet::new());
}

#[test]
#[ignore = "not yet adapted to the driver merged at 22:05: a dead node's tickets reach the survivor as data alarms (Control::DataAlarm), not as calls ringing in GET /api/v1/calls as this test polls"]
fn cluster_node_killed_its_waiting_alarms_offered_on_the_survivor_within_5_s() {
    let Some((_nats, a, b)) = two_nodes("cluster_node_kill") else {
        return;
    };
    let phones = operators_on_both(&a, &b);
    let _units = alarms_waiting_on(&a, &b, 2);
    let killed = Instant::now();
    signal(a.pid(), "-KILL");
    for id in ["op1", "op2"] {
        crate::operators::set_state(&b, id, "available", None);
    }
    let offered = wait_call(&b, FAILOVER + SHORT, "a's alarm offered on b", |c| {
        c["state"] == "ringing"
    });
    let took = killed.elapsed();
    assert!(took <= FAILOVER, "failover took {took:?}: {offered}");
    eprintln!("cluster: node killed -> alarm offered on the survivor in {took:?}");
    drop(phones);
    assert_invariants(&a, &b, &BTreeSet::new());
}

#[test]
fn cluster_one_nats_server_killed_nothing_visible() {
    let Some((mut nats, a, b)) = two_nodes("cluster_nats_kill") else {
        return;
    };
    let _phones = operators_on_both(&a, &b);
    nats.kill(0);
    let unit = spawn_unit(&b.dir.path, &device_uri(&b), UNIT_A, &[]).wait();
    assert_eq!(unit.json["acknowledged"], 1, "{}", unit.json);
    let readyz = crate::harness::http_get(a.http_port, "/readyz");
    assert_eq!(
        readyz.map(|r| r.0),
        Some(200),
        "a not ready with one NATS server down"
    );
    assert_invariants(&a, &b, &BTreeSet::new());
}

#[test]
#[ignore = "convergence of an operator's state across nodes needs the claims wired into the router and GET /api/v1/operators showing other nodes' operators (not built, docs/cluster.md section 11)"]
fn cluster_quorum_lost_each_node_routes_its_own_then_converges() {
    let Some((nats, a, b)) = two_nodes("cluster_quorum") else {
        return;
    };
    let _phones = operators_on_both(&a, &b);
    nats.stop(1);
    nats.stop(2);
    let ua = spawn_unit(&a.dir.path, &device_uri(&a), UNIT_A, &[]);
    let ub = spawn_unit(&b.dir.path, &device_uri(&b), UNIT_B, &[]);
    for r in [ua.wait(), ub.wait()] {
        assert_eq!(
            r.json["acknowledged"], 1,
            "an alarm refused without quorum: {}",
            r.json
        );
    }
    nats.cont(1);
    nats.cont(2);
    let converged = poll_until(Duration::from_secs(60), || {
        crate::operators::operator(&a, "op1")["state"]
            == crate::operators::operator(&b, "op1")["state"]
    });
    assert!(
        converged,
        "op1's state differs between the nodes after quorum returned"
    );
    assert_invariants(&a, &b, &BTreeSet::new());
}

#[test]
#[ignore = "a frozen node's alarms adopted elsewhere (TakenOver) are only logged: the woken node does not withdraw its copy yet (docs/cluster.md section 11)"]
fn cluster_frozen_node_does_not_act_on_stale_leases() {
    let Some((_nats, a, b)) = two_nodes("cluster_freeze") else {
        return;
    };
    let _phones = operators_on_both(&a, &b);
    let _units = alarms_waiting_on(&a, &b, 1);
    signal(a.pid(), "-STOP");
    for id in ["op1", "op2"] {
        crate::operators::set_state(&b, id, "available", None);
    }
    wait_call(&b, FAILOVER + SHORT, "a's alarm offered on b", |c| {
        c["state"] == "ringing"
    });
    std::thread::sleep(Duration::from_secs(30));
    signal(a.pid(), "-CONT");
    // Give the woken node time to act on what it held, then check nobody got two calls.
    std::thread::sleep(SHORT);
    assert_invariants(&a, &b, &BTreeSet::new());
}
