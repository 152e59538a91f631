//! The test cluster itself (`redis_cluster.rs`): it forms with three masters and a replica
//! each, computes slots as Redis does, and leaves no process behind.

use std::time::Instant;

use crate::redis_cluster::{RedisCluster, Reply};

/// Our slot computation agrees with `CLUSTER KEYSLOT` on keys with and without hash tags,
/// and the masters serve every slot, each with a live replica.
#[test]
fn slots_and_roles_match_the_cluster() {
    let cluster = RedisCluster::shared();
    let port = cluster.ports()[0];
    let keys = [
        "somekey",
        "p:room:{r}:log",
        "p:ch:room:{r}",
        "{}x",
        "a{b}{c}",
        "a{b",
        "x{}{y}",
        "p:ch:users:{300}",
        "{user1000}.following",
        "é{ü}",
        "",
    ];
    for key in keys {
        let want = cluster.command(port, &["CLUSTER", "KEYSLOT", key]);
        assert_eq!(Reply::Int(i64::from(RedisCluster::slot_of(key))), want, "{key:?}");
    }
    let masters = cluster.masters();
    assert_eq!(masters.len(), 3, "{masters:?}");
    for (slot, owner) in [(0, masters[0]), (16383, masters[2])] {
        assert_eq!(cluster.master_of_slot(slot), owner);
    }
    for master in masters {
        let replica = cluster.replica_of(master);
        let role = cluster.command(replica, &["ROLE"]);
        assert_eq!(role.items()[0], Reply::Bulk("slave".into()), "{role:?}");
        assert_eq!(role.items()[2], Reply::Int(i64::from(master)), "{role:?}");
    }
    assert_eq!(cluster.nodes().split(',').count(), 6);
}

/// A private cluster's processes and files are gone once it is dropped.
#[test]
fn a_dropped_cluster_leaves_nothing_running() {
    let started = Instant::now();
    let cluster = RedisCluster::private();
    let formed = started.elapsed();
    let ports = cluster.ports();
    assert_eq!(ports.len(), 6);
    println!("formed in {formed:?}");
    drop(cluster);
    for port in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "a node still listens on {port}"
        );
    }
}

/// The failover tools do what they say: a graceful failover swaps master and replica; a
/// killed master's replica takes its slots, and the old master comes back as its replica; a
/// whole shard down fails the cluster until it is started again. Prints the durations.
#[test]
fn failovers_kills_and_restarts_settle() {
    let cluster = RedisCluster::private();
    let masters = cluster.masters();

    let replica = cluster.replica_of(masters[0]);
    let took = cluster.failover(replica);
    assert_eq!(cluster.masters(), [replica, masters[1], masters[2]]);
    assert_eq!(cluster.replica_of(replica), masters[0]);
    println!("graceful failover settled in {took:?}");

    let (promoted, took) = cluster.kill_master(masters[1]);
    assert_eq!(cluster.masters(), [replica, promoted, masters[2]]);
    assert_eq!(cluster.ports().len(), 5);
    println!("kill -9 of a master settled in {took:?}");
    let took = cluster.restart(masters[1]);
    assert_eq!(cluster.replica_of(promoted), masters[1]);
    println!("the killed master rejoined as a replica in {took:?}");

    let last = cluster.replica_of(masters[2]);
    let started = Instant::now();
    cluster.kill_shard(masters[2], last);
    println!(
        "a whole shard down: cluster_state:fail after {:?}",
        started.elapsed()
    );
    let took = cluster.restart_shard(masters[2], last);
    assert_eq!(cluster.masters(), [replica, promoted, masters[2]]);
    println!("the shard restarted and settled in {took:?}");
}
