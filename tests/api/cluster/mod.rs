//! Redis Cluster (issue 18): the server on a cluster of three masters with a replica each,
//! whatever `TEST_STORE` says (each test starts its cluster, or shares the binary's):
//! `config` (REDIS_DB, /ready), `keys` (a room's keys in its slot), `pubsub` (sharded room
//! channels), `replicas` (REDIS_WAIT_REPLICAS), `failover` (graceful and crash, under traffic checked by `traffic`, sent by `senders`), and the
//! harness's own tests (`harness`).

mod config;
mod failover;
mod harness;
mod keys;
mod pubsub;
mod replicas;
mod senders;
mod traffic;

use crate::redis_cluster::{RedisCluster, Reply};

/// The strings of an array reply (key or channel names), sorted.
pub fn names(reply: &Reply) -> Vec<String> {
    let mut names: Vec<String> = reply.items().iter().map(|r| r.text().to_string()).collect();
    names.sort();
    names
}

/// Room ids `<stem>-<n>`, `per_master` on each master in turn (the first on the first master,
/// the second on the second...), found by their slots.
pub fn rooms_on_masters(cluster: &RedisCluster, stem: &str, per_master: usize) -> Vec<String> {
    let masters = cluster.masters();
    let owner = |room: &str| cluster.master_of_slot(RedisCluster::slot_of(room));
    let mut candidates = (0..).map(|n| format!("{stem}-{n}"));
    let mut rooms = Vec::new();
    for _ in 0..per_master {
        for master in &masters {
            rooms.push(candidates.find(|r| owner(r) == *master).unwrap());
        }
    }
    rooms
}
