//! The randomised invariant test of the cluster cores: three simulated
//! nodes and a simulated KV store, alarms arriving, operators claimed,
//! answered and released, nodes killed, frozen past the presence TTL and
//! restarted, in seeded random order and simulated time. After every step
//! (once every message has been delivered):
//! - no operator rings or talks on two calls across the running nodes;
//! - no ticket is listed on two running nodes;
//! - every ticket a killed node held is adopted by a survivor within the
//!   presence TTL plus one refresh period and one step.
//!
//! At the end, after a calm period, every ticket in the store is listed
//! by exactly the running node the store names as its holder.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::records::{decode, TicketRecord};
use super::sim_world::{Alarm, Stats, World};
use super::{Bucket, ClusterTiming};
use crate::clock::epoch;

const TTL: Duration = Duration::from_secs(3);
const STEP_MAX_MS: u64 = 400;
const SEEDS: u64 = 24;
const STEPS: usize = 500;

fn timing() -> ClusterTiming {
    ClusterTiming {
        presence_ttl: TTL,
        link_window: Duration::from_secs(60),
    }
}

fn check_invariants(world: &World, step: usize) {
    let mut per_operator: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut per_ticket: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for node in world.nodes.iter().filter(|n| n.running(world.now)) {
        for (ticket, alarm) in &node.alarms {
            per_ticket
                .entry(ticket.as_str())
                .or_default()
                .push(node.core.me().to_string());
            if let Alarm::Ringing(op) | Alarm::Connected(op) = alarm {
                per_operator
                    .entry(op.as_str())
                    .or_default()
                    .push(format!("{}:{ticket}", node.core.me()));
            }
        }
    }
    for (op, calls) in per_operator {
        assert!(calls.len() <= 1, "step {step}: operator {op} on {calls:?}");
    }
    for (ticket, nodes) in per_ticket {
        assert!(
            nodes.len() <= 1,
            "step {step}: ticket {ticket} offered on {nodes:?}"
        );
    }
    let bound = TTL + timing().refresh_every() + Duration::from_millis(STEP_MAX_MS * 2);
    for (ticket, killed) in &world.orphans {
        assert!(
            world.now - *killed <= bound,
            "step {step}: orphan {ticket} not adopted in {bound:?}"
        );
    }
}

fn random_step(world: &mut World, rng: &mut StdRng) {
    let n = rng.random_range(0..world.nodes.len());
    let now = world.now;
    let running = world.nodes.iter().filter(|x| x.running(now)).count();
    match rng.random_range(0..100) {
        0..=14 if world.nodes[n].running(now) => world.alarm_at(n),
        15..=54 if world.nodes[n].running(now) => world.dispatch(n, rng),
        55..=89 if world.nodes[n].running(now) => world.progress(n, rng),
        90 if running >= 2 && world.nodes[n].running(now) => world.kill(n),
        91 if running >= 2 && world.nodes[n].running(now) => {
            let secs = rng.random_range(1..=10);
            world.freeze(n, Duration::from_secs(secs));
        }
        92..=94 if world.nodes[n].dead => world.restart(n),
        _ => {}
    }
}

fn run(seed: u64, steps: usize) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = World::new(3, 4, timing(), epoch());
    world.advance(Duration::ZERO);
    world.drain(&mut rng);
    for step in 0..steps {
        for _ in 0..rng.random_range(1..=3) {
            random_step(&mut world, &mut rng);
        }
        world.drain(&mut rng);
        world.advance(Duration::from_millis(rng.random_range(0..=STEP_MAX_MS)));
        world.drain(&mut rng);
        check_invariants(&world, step);
    }
    settle(&mut world, &mut rng);
    world
}

fn settle(world: &mut World, rng: &mut StdRng) {
    for _ in 0..40 {
        world.advance(Duration::from_millis(250));
        world.drain(rng);
    }
    assert!(
        world.orphans.is_empty(),
        "never adopted: {:?}",
        world.orphans.keys()
    );
    let listed: BTreeMap<String, String> = world
        .nodes
        .iter()
        .filter(|n| !n.dead)
        .flat_map(|n| {
            n.alarms
                .keys()
                .map(move |t| (t.to_string(), n.core.me().to_string()))
        })
        .collect();
    for (_, value) in world.kv.bucket(Bucket::Tickets) {
        let record: TicketRecord = decode(value).expect("a ticket the cores wrote");
        assert_eq!(
            listed.get(record.ticket.as_str()),
            Some(&record.holder.to_string()),
            "ticket {} in the store, held by {}, not listed there",
            record.ticket,
            record.holder
        );
    }
}

#[test]
fn three_nodes_keep_the_invariants_through_kills_freezes_and_restarts() {
    let mut worst = Duration::ZERO;
    let mut total = Stats::default();
    for seed in 0..SEEDS {
        let world = run(seed, STEPS);
        worst = worst.max(world.worst_failover);
        let s = world.stats;
        assert_eq!(
            s.lost_unfenced, 0,
            "seed {seed}: a live node's claim was taken: {s:?}"
        );
        total.kills += s.kills;
        total.freezes += s.freezes;
        total.restarts += s.restarts;
        total.adopted += s.adopted;
        total.taken_over += s.taken_over;
        total.refused += s.refused;
        total.lost_after_wake += s.lost_after_wake;
        total.answered += s.answered;
    }
    eprintln!("{total:?}, worst failover {worst:?}");
    assert!(
        total.kills > 0 && total.restarts > 0 && total.freezes > 0,
        "{total:?}"
    );
    assert!(total.adopted > 0 && total.taken_over > 0, "{total:?}");
    assert!(total.refused > 0 && total.answered > 0, "{total:?}");
    assert!(
        worst <= TTL + Duration::from_secs(2),
        "failover took {worst:?}"
    );
}
