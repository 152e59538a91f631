//! Fan-out on a cluster: a room's messages cross between instances over its sharded channel
//! `<prefix>:ch:room:{<chat_id>}` (SSUBSCRIBE/SPUBLISH on the master of the room's slot),
//! never over a classic channel; user buckets are `<prefix>:ch:users:{<bucket>}`.

use std::collections::BTreeSet;

use chat_server::backend::redis::keys::user_bucket;
use chat_server::domain::UserId;

use super::names;
use crate::helpers::{RedisCluster, TestApp, assert_message, fresh_prefix, room, text};
use crate::redis_cluster::Reply;

/// Alice on A and Bob on B in one room: Bob gets Alice's 20 texts (sent at once) identical to
/// her echoes and in order, Alice gets Bob's reply, and the history through either instance
/// is that. The room's channel is a shard channel of the room slot's master, with both
/// instances subscribed; no node has a classic room channel; the users' bucket channels
/// carry the bucket as a hash tag.
#[tokio::test]
async fn rooms_cross_instances_over_their_shard_channel() {
    let cluster = RedisCluster::shared();
    let prefix = fresh_prefix();
    let a = TestApp::spawn_cluster(cluster.clone(), &prefix, &[]).await;
    let b = TestApp::spawn_cluster(cluster.clone(), &prefix, &[]).await;
    room(&a, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (a.ws("alice").await, b.ws("bob").await);

    for i in 0..20 {
        alice.send_json(text("r", &format!("m{i}"))).await;
    }
    let mut sent = Vec::new();
    for i in 0..20 {
        let echo = alice.recv_json().await;
        assert_message(&echo, "text", "r", "alice", &format!("m{i}"));
        sent.push(echo);
    }
    for m in &sent {
        assert_eq!(&bob.recv_json().await, m);
    }
    bob.send_json(text("r", "reply")).await;
    let reply = bob.recv_json().await;
    assert_message(&reply, "text", "r", "bob", "reply");
    assert_eq!(alice.recv_json().await, reply);
    sent.push(reply);
    assert_eq!(a.history("r").await, sent);
    assert_eq!(b.history("r").await, sent);

    let channel = format!("{prefix}:ch:room:{{r}}");
    let owner = cluster.owner_of(&channel);
    assert_eq!(owner, cluster.owner_of(&format!("{prefix}:room:{{r}}:log")));
    let rooms = format!("{prefix}:ch:room:*");
    let shard = cluster.command(owner, &["PUBSUB", "SHARDCHANNELS", &rooms]);
    assert_eq!(names(&shard), std::slice::from_ref(&channel));
    let count = cluster.command(owner, &["PUBSUB", "SHARDNUMSUB", &channel]);
    assert_eq!(count, Reply::Array(vec![Reply::Bulk(channel), Reply::Int(2)]));
    let users = format!("{prefix}:ch:users:*");
    let mut buckets = BTreeSet::new();
    for port in cluster.ports() {
        let classic = cluster.command(port, &["PUBSUB", "CHANNELS", &rooms]);
        assert_eq!(
            names(&classic),
            Vec::<String>::new(),
            "a classic room channel on {port}"
        );
        for list in ["CHANNELS", "SHARDCHANNELS"] {
            buckets.extend(names(&cluster.command(port, &["PUBSUB", list, &users])));
        }
    }
    let bucket = |u: &str| {
        format!(
            "{prefix}:ch:users:{{{}}}",
            user_bucket(&UserId::parse(u).unwrap())
        )
    };
    assert_eq!(buckets, BTreeSet::from([bucket("alice"), bucket("bob")]));
    alice.assert_nothing_pending().await;
    bob.assert_nothing_pending().await;
}
