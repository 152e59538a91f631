//! Failover under traffic: two instances on a private cluster, six rooms (two per master),
//! every room busy through both instances (see `traffic`). A graceful `CLUSTER FAILOVER` of
//! the master serving the first room, then a crash (`kill -9`) of it with
//! `REDIS_WAIT_REPLICAS=1`: within 10 s of the cluster being ok again every room accepts and
//! delivers, every acknowledged message is stored once, and every connection got its room's
//! history in order, without duplicates (and, for the graceful one, without gaps).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::rooms_on_masters;
use super::traffic::{Outcome, Traffic};
use crate::helpers::{RedisCluster, TestApp, fresh_prefix};

/// The bound on the rooms' recovery once the cluster is ok again.
const RECOVERY: Duration = Duration::from_secs(10);
/// The bound on warming up and on the traffic after recovery.
const PHASE: Duration = Duration::from_secs(20);

/// How a connection's frames must match its room's history.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// All of it, in order, once each: no gap.
    Exact,
    /// Only stored messages, in stored order, once each, up to the last.
    InOrder,
}

/// Two instances on a private cluster with `vars`; rooms spread over the masters (the first
/// on the first master); the traffic started and warmed up (5 acknowledged sends per room).
async fn busy_cluster(vars: &[(&str, &str)]) -> (Arc<RedisCluster>, Vec<String>, Traffic) {
    let cluster = RedisCluster::private();
    let prefix = fresh_prefix();
    let a = TestApp::spawn_cluster(cluster.clone(), &prefix, vars).await;
    let b = TestApp::spawn_cluster(cluster.clone(), &prefix, vars).await;
    let rooms = rooms_on_masters(&cluster, "busy", 2);
    assert_eq!(cluster.owner_of(&rooms[0]), cluster.masters()[0]);
    let traffic = Traffic::start([Arc::new(a), Arc::new(b)], &rooms).await;
    traffic.wait_acks(5, Instant::now(), PHASE).await;
    (cluster, rooms, traffic)
}

/// `CLUSTER FAILOVER` on the replica of the master serving a busy room, senders on both
/// instances posting throughout: every room recovers within 10 s, and every connection got
/// exactly its room's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_failover_loses_reorders_and_duplicates_nothing() {
    let (cluster, rooms, traffic) = busy_cluster(&[("REDIS_TIMEOUT_SECONDS", "1")]).await;
    let master = cluster.owner_of(&rooms[0]);
    let replica = cluster.replica_of(master);
    let c = cluster.clone();
    let took = tokio::task::spawn_blocking(move || c.failover(replica))
        .await
        .unwrap();
    let ok_at = Instant::now();
    assert_eq!(
        cluster.owner_of(&rooms[0]),
        replica,
        "the failover moved the room's slot"
    );

    let recovered = traffic.wait_recovered(ok_at, RECOVERY).await;
    traffic.wait_acks(5, ok_at, PHASE).await;
    println!(
        "failover {took:?}, every room recovered {recovered:?} after; {}",
        traffic.stats()
    );
    check(traffic.finish().await, Delivery::Exact).await;
}

/// `kill -9` of the master serving a busy room, with `REDIS_WAIT_REPLICAS=1`: its replica
/// takes over, and the old master, started again, becomes its replica (until then that
/// shard has no replica to wait for, and its sends fail). Every acknowledged message is
/// stored once; connections get stored messages only, in order, once each, up to the last;
/// within 10 s of the shard having a replica again every room accepts and delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_master_loses_no_acknowledged_message() {
    let vars = [("REDIS_TIMEOUT_SECONDS", "1"), ("REDIS_WAIT_REPLICAS", "1")];
    let (cluster, rooms, traffic) = busy_cluster(&vars).await;
    let master = cluster.owner_of(&rooms[0]);
    let c = cluster.clone();
    let (promoted, took) = tokio::task::spawn_blocking(move || c.kill_master(master))
        .await
        .unwrap();
    assert_eq!(
        cluster.owner_of(&rooms[0]),
        promoted,
        "the replica took the room's slot"
    );
    let c = cluster.clone();
    let rejoined = tokio::task::spawn_blocking(move || c.restart(master))
        .await
        .unwrap();
    assert_eq!(cluster.replica_of(promoted), master);
    let ok_at = Instant::now();

    let recovered = traffic.wait_recovered(ok_at, RECOVERY).await;
    traffic.wait_acks(5, ok_at, PHASE).await;
    println!(
        "promoted after {took:?}, old master a replica {rejoined:?} later, every room recovered \
         {recovered:?} after; {}",
        traffic.stats()
    );
    check(traffic.finish().await, Delivery::InOrder).await;
}

/// The histories hold each text once, in increasing `seq`; each acknowledged send is stored
/// exactly once, as acknowledged; each connection's frames match its room's history as
/// `delivery` says, error frames (only for a WebSocket sender's failed sends) aside; then
/// nothing more is queued for any connection.
async fn check(outcome: Outcome, delivery: Delivery) {
    for (room, history) in &outcome.histories {
        let seqs: Vec<u64> = history
            .iter()
            .map(|m| m["seq"].as_u64().expect("a seq"))
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{room}: seqs not increasing: {seqs:?}"
        );
        let mut contents = BTreeSet::new();
        for m in history {
            assert_eq!(m["chat_id"], room.as_str(), "{m}");
            assert!(
                contents.insert(m["content"].as_str().expect("content")),
                "{room}: stored twice: {m}"
            );
        }
    }
    for ack in &outcome.acks {
        let stored: Vec<&Value> = outcome.histories[&ack.room]
            .iter()
            .filter(|m| m["content"] == ack.content.as_str())
            .collect();
        assert_eq!(
            stored,
            [&ack.message],
            "{:?} was acknowledged: stored once, as acknowledged",
            ack.content
        );
    }
    for (user, room, frames, mut ws) in outcome.conns {
        let history = &outcome.histories[&room];
        let (errors, got): (Vec<&Value>, Vec<&Value>) = frames.iter().partition(|f| f["type"] == "error");
        for e in errors {
            let detail = e
                .as_object()
                .filter(|o| o.len() == 2)
                .and_then(|o| o["detail"].as_str());
            assert!(
                user.starts_with('w') && detail.is_some(),
                "{user}: unexpected {e}"
            );
        }
        let mut at = 0;
        for (i, f) in got.iter().enumerate() {
            let found = history[at..].iter().position(|m| m == *f);
            let Some(skipped) = found.filter(|s| delivery == Delivery::InOrder || *s == 0) else {
                let want = history.get(at);
                panic!(
                    "{user} in {room}: frame {i} is {f}, where the history has {want:?} next (duplicate, reordered, gap or never stored)"
                );
            };
            at += skipped + 1;
        }
        let (n, len) = (got.len(), history.len());
        assert_eq!(
            at, len,
            "{user} in {room}: got {n} of {len} stored messages, up to {at}"
        );
        ws.assert_nothing_pending().await;
    }
}
