//! Publishing only where it is read: the room script publishes a stored message on the room's
//! channel only when an instance besides the one that stored it follows the room (is in the
//! room's follower set). The storing instance delivers to its own connections from the
//! script's reply. Absence of a publish is proved by the next publish (pub/sub keeps order).
//! On a cluster the room's keys and channel live on the master of the room's slot.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TIMEOUT, TestApp, WsClient, room, text};
use crate::multi_instance::{numsub, room_channel};
use crate::resp::{Resp, Subscriber, redis_command};

/// Sends `content` to room `r` and returns the echo.
async fn say(ws: &mut WsClient, content: &str) -> Value {
    ws.send_json(text("r", content)).await;
    let echo = ws.recv_json().await;
    assert_eq!(echo["content"], content, "{echo}");
    echo
}

/// The stored message a published payload (`<prev>|<seq>|<mark>|<user>|<json>`) carries.
fn published(payload: &str) -> Value {
    let json = payload.splitn(5, '|').nth(4).expect("a five-part payload");
    serde_json::from_str(json).expect("the payload ends with the message's JSON")
}

/// The size of the room's follower set `key` (on the Redis that holds it).
async fn followers(app: &TestApp, key: &str) -> Vec<Resp> {
    redis_command(app.deployment.port_for(key), &["SCARD", key]).await
}

/// Polls (bounded) until the room's follower set has `want` members.
async fn wait_followers(app: &TestApp, key: &str, want: i64) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let got = followers(app, key).await;
        if got == [Resp::Int(want)] {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{got:?}, want {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two instances sharing one Redis, a room `r` of `users`: the apps, the key prefix and the
/// room's follower set's key.
async fn pair_with_room(users: &[&str]) -> (TestApp, TestApp, String, String) {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    let prefix = a.deployment.prefix().to_string();
    room(&a, "r", users).await;
    let followers = format!("{prefix}:room:{{r}}:followers");
    (a, b, prefix, followers)
}

#[tokio::test]
async fn a_message_is_published_only_when_another_instance_follows_the_room() {
    let (a, b, prefix, key) = pair_with_room(&["p", "q"]).await;
    let count = async || followers(&a, &key).await;
    assert_eq!(count().await, [Resp::Int(0)]);
    let mut channel = Subscriber::open_for(&a.deployment, &room_channel(&prefix, "r")).await;

    // p connects to A: A registers before the handshake completes, and is alone.
    let mut p = a.ws("p").await;
    assert_eq!(count().await, [Resp::Int(1)]);
    say(&mut p, "one").await;

    // q connects to B: now a message stored on A is published, and reaches q through B.
    let mut q = b.ws("q").await;
    assert_eq!(count().await, [Resp::Int(2)]);
    let two = say(&mut p, "two").await;
    assert_eq!(q.recv_json().await, two);
    assert_eq!(published(&channel.next().await), two, "\"one\" was not published");

    // q leaves: B leaves the set, and A's messages are no longer published.
    q.close().await;
    wait_followers(&a, &key, 1).await;
    say(&mut p, "three").await;
    let mut q = b.ws("q").await;
    assert_eq!(count().await, [Resp::Int(2)]);
    let four = say(&mut p, "four").await;
    assert_eq!(q.recv_json().await, four);
    assert_eq!(
        published(&channel.next().await),
        four,
        "\"three\" was not published"
    );

    // A message stored on B is published for A, whose p gets it after its own.
    let five = say(&mut q, "five").await;
    assert_eq!(p.recv_json().await, five);
    assert_eq!(published(&channel.next().await), five);
}

/// Shutting an instance down takes it out of the follower sets of the rooms it followed.
#[tokio::test]
async fn a_stopped_instance_leaves_the_follower_sets() {
    let (a, b, _, key) = pair_with_room(&["p", "q"]).await;
    let _p = a.ws("p").await;
    let _q = b.ws("q").await;
    assert_eq!(followers(&a, &key).await, [Resp::Int(2)]);
    b.stop().await;
    assert_eq!(followers(&a, &key).await, [Resp::Int(1)]);
}

/// Leaving a room on the only instance that follows it (its notice delivered from the store's
/// reply, never published) still unsubscribes, and a rejoin is followed afresh: the joiner
/// gets its join notice first, then what follows.
#[tokio::test]
async fn a_leave_on_the_only_follower_unsubscribes_and_a_rejoin_starts_at_its_notice() {
    let (a, b, prefix, key) = pair_with_room(&["p"]).await;
    let mut p = a.ws("p").await;
    say(&mut p, "hello").await;
    p.send_json(json!({"type": "leave", "chat_id": "r"})).await;
    assert_eq!(p.recv_json().await["content"], "p left the chat");
    wait_followers(&a, &key, 0).await;
    assert_eq!(numsub(&a, &room_channel(&prefix, "r")).await, 0);

    // Stored while nobody here follows the room: never delivered to p.
    let (status, body) = b.post_json("/chat/r/participants", json!({"user_id": "q"})).await;
    assert_eq!(status, 200, "{body}");
    p.send_json(json!({"type": "join", "chat_id": "r"})).await;
    assert_eq!(p.recv_json().await["content"], "p joined the chat");
    assert_eq!(say(&mut p, "back").await["content"], "back");
    wait_followers(&a, &key, 1).await;
}

/// The race the order rules exist for, on a multi-threaded runtime: p's messages, stored on A
/// (the room's only follower, so never published), interleave with join notices stored by B
/// (which does not follow the room, so they are published for A). p gets every one of both,
/// once, in the room's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpublished_replies_and_published_messages_interleave_in_order() {
    const N: usize = 200;
    let (a, b) = TestApp::spawn_pair(&[]).await;
    room(&a, "r", &["p"]).await;
    let mut p = a.ws("p").await;
    let adds = tokio::spawn(async move {
        for i in 0..N {
            let (status, body) = b
                .post_json("/chat/r/participants", json!({"user_id": format!("u{i}")}))
                .await;
            assert_eq!(status, 200, "{body}");
        }
        b
    });
    for i in 0..N {
        p.send_json(text("r", &format!("m{i}"))).await;
    }
    // All of it within one timeout: a message left waiting for a recheck arrives a second
    // late, so a broken order would crawl through the per-frame timeouts.
    let got = tokio::time::timeout(TIMEOUT, async {
        let mut got = Vec::with_capacity(2 * N);
        for _ in 0..2 * N {
            got.push(p.recv_json().await);
        }
        got
    })
    .await
    .expect("every message within the timeout");
    let _b = tokio::time::timeout(TIMEOUT, adds).await.unwrap().unwrap();
    let stamps: Vec<&str> = got.iter().map(|m| m["timestamp"].as_str().unwrap()).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "out of order: {stamps:?}");
    let contents: Vec<&str> = got.iter().map(|m| m["content"].as_str().unwrap()).collect();
    let mine: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    let joins: Vec<String> = (0..N).map(|i| format!("u{i} joined the chat")).collect();
    let (sent, joined): (Vec<&str>, Vec<&str>) = contents.iter().partition(|c| c.starts_with('m'));
    assert_eq!(sent, mine);
    assert_eq!(joined, joins);
}
