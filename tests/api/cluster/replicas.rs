//! `REDIS_WAIT_REPLICAS`: a message is acknowledged or delivered only once that many replicas
//! have it. With the replica of one room's master stalled, that room's sends fail as storage
//! failures (error frame, 503) through either instance and nobody gets them meanwhile, while
//! a room on another master is unaffected; once the replica runs again the room accepts.

use serde_json::{Value, json};

use super::rooms_on_masters;
use crate::helpers::{RedisCluster, TestApp, WsClient, error_frame, fresh_prefix, room, text};

/// Sends `content` to `chat` as `me` and returns the answer (its echo, or an error frame),
/// after the other messages `ws` got first, which go to `others`.
async fn send(ws: &mut WsClient, me: &str, chat: &str, content: &str, others: &mut Vec<Value>) -> Value {
    ws.send_json(text(chat, content)).await;
    loop {
        let frame = ws.recv_json().await;
        if frame["type"] == "error" || (frame["user_id"] == me && frame["content"] == content) {
            return frame;
        }
        others.push(frame);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_replica_fails_the_sends_that_wait_for_it() {
    let cluster = RedisCluster::private();
    let prefix = fresh_prefix();
    let vars = [("REDIS_TIMEOUT_SECONDS", "1"), ("REDIS_WAIT_REPLICAS", "1")];
    let a = TestApp::spawn_cluster(cluster.clone(), &prefix, &vars).await;
    let b = TestApp::spawn_cluster(cluster.clone(), &prefix, &vars).await;
    let chats = rooms_on_masters(&cluster, "wait", 1);
    let (stalled, other) = (chats[0].as_str(), chats[1].as_str());
    for chat in [stalled, other] {
        room(&a, chat, &["alice", "bob"]).await;
    }
    let (mut alice, mut bob) = (a.ws("alice").await, b.ws("bob").await);
    let (mut to_alice, mut to_bob) = (Vec::new(), Vec::new());
    let before = send(&mut alice, "alice", stalled, "before", &mut to_alice).await;
    assert_eq!(before["content"], "before", "{before}");
    assert_eq!(bob.recv_json().await, before);

    let replica = cluster.replica_of(cluster.owner_of(stalled));
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.pause(replica))
        .await
        .unwrap();
    let unavailable = error_frame("Storage unavailable");
    assert_eq!(
        send(&mut alice, "alice", stalled, "a", &mut to_alice).await,
        unavailable
    );
    assert_eq!(
        send(&mut bob, "bob", stalled, "b", &mut to_bob).await,
        unavailable
    );
    let post = json!({"content": "posted", "user_id": "alice"});
    let path = format!("/chat/{stalled}/messages");
    let refused = (503, json!({"detail": "Storage unavailable"}));
    assert_eq!(a.post_json(&path, post.clone()).await, refused);
    // The other master's room is unaffected, and nothing of the stalled room was delivered.
    let elsewhere = send(&mut alice, "alice", other, "elsewhere", &mut to_alice).await;
    assert_eq!(elsewhere["content"], "elsewhere", "{elsewhere}");
    let next = bob.recv_json().await;
    assert_eq!(
        next, elsewhere,
        "bob's next frame: a refused message was delivered"
    );
    assert_eq!((&to_alice, &to_bob), (&vec![], &vec![]));
    alice.assert_nothing_pending().await;
    bob.assert_nothing_pending().await;

    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.resume(replica))
        .await
        .unwrap();
    let after = send(&mut alice, "alice", stalled, "after", &mut to_alice).await;
    assert_eq!(after["content"], "after", "{after}");
    let (status, posted) = a.post_json(&path, post).await;
    assert_eq!(status, 201, "{posted}");

    // Each acknowledged message is stored once, in order; bob got the room in stored order.
    let history = b.history(stalled).await;
    let acked = [&before, &after, &posted];
    let found: Vec<&Value> = history.iter().filter(|m| acked.contains(m)).collect();
    assert_eq!(found, acked);
    let mut got = vec![before.clone()];
    while got.last() != Some(&posted) {
        got.push(bob.recv_json().await);
    }
    let in_order: Vec<&Value> = history.iter().filter(|m| got.contains(m)).collect();
    assert_eq!(
        in_order,
        got.iter().collect::<Vec<_>>(),
        "bob's frames are stored, in order"
    );
}
