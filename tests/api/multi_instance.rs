//! Many instances, one Redis: messages, typing, membership and presence cross between server
//! instances that share one Redis and one key prefix; every connection and every instance
//! agrees on one order per room; an instance subscribes only to the channels its connections
//! need; a crashed instance's users stop counting as active.
//!
//! Deliveries between instances go through Redis pub/sub, so they are asynchronous: absence
//! is only ever proved by a later frame of the same room (pub/sub keeps each room's order),
//! and eventually consistent state (presence after a close, unsubscribe) by bounded polls.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chat_server::domain::{UserId, time};
use chat_server::store::keys::user_bucket;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{
    RedisServer, TIMEOUT, TestApp, WsClient, assert_message, assert_timestamp, fresh_prefix, room, text,
};
use crate::resp::{Resp, redis_command};
use crate::server_process::ServerProcess;

/// Checks a join (`joined`) or leave notice for `user` in `chat`.
fn assert_notice(got: &Value, chat: &str, user: &str, joined: bool) {
    let verb = if joined { "joined" } else { "left" };
    assert_message(got, "system", chat, "system", &format!("{user} {verb} the chat"));
}

/// The Redis server and key prefix an app uses.
pub fn redis_of(app: &TestApp) -> (u16, String) {
    let (server, prefix) = app.redis.as_ref().expect("a Redis app");
    (server.port, prefix.clone())
}

/// `GET /user/{user}` through `app`, which must answer 200.
async fn user(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/user/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls `GET /user/{id}` (bounded by `TIMEOUT`) until the user is inactive; returns it.
async fn wait_inactive(app: &TestApp, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let body = user(app, id).await;
        if body["is_active"] == json!(false) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} still active: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts `body` is the default user `id`, inactive, with a `last_seen` set; returns it.
fn assert_inactive_user(body: &Value, id: &str) -> String {
    let last_seen = body["last_seen"].as_str().expect("last_seen is set").to_string();
    assert_timestamp(&last_seen);
    assert_eq!(
        body,
        &json!({"id": id, "username": id, "email": null, "is_active": false,
            "last_seen": last_seen, "metadata": {}})
    );
    last_seen
}

/// Messages, typing, join/leave and presence cross between instances.
mod crossing {
    use super::*;

    /// A text sent on A reaches B's participant as the frame identical to A's echo, and back.
    #[tokio::test]
    async fn text_crosses_both_ways() {
        let (a, b) = TestApp::spawn_pair(&[]).await;
        room(&a, "r", &["alice", "bob"]).await;
        let (mut alice, mut bob) = (a.ws("alice").await, b.ws("bob").await);

        alice.send_json(text("r", "from A")).await;
        let first = alice.recv_json().await;
        assert_message(&first, "text", "r", "alice", "from A");
        assert_eq!(bob.recv_json().await, first);

        bob.send_json(text("r", "from B")).await;
        let second = bob.recv_json().await;
        assert_message(&second, "text", "r", "bob", "from B");
        assert_eq!(alice.recv_json().await, second);

        // Nothing else (no duplicate) before a later message of the room, on either side.
        alice.send_json(text("r", "marker")).await;
        let marker = alice.recv_json().await;
        assert_message(&marker, "text", "r", "alice", "marker");
        assert_eq!(bob.recv_json().await, marker);

        let stored = vec![first, second, marker];
        assert_eq!(a.history("r").await, stored);
        assert_eq!(b.history("r").await, stored);
    }

    /// Typing on one instance reaches the other participant on the other instance, never the
    /// sender's own connections (proved by the sender's next message coming first).
    #[tokio::test]
    async fn typing_crosses_and_skips_the_sender() {
        let (a, b) = TestApp::spawn_pair(&[]).await;
        room(&a, "r", &["alice", "bob"]).await;
        let (mut alice, mut bob) = (a.ws("alice").await, b.ws("bob").await);

        typing_round(&mut alice, "alice", &mut bob).await;
        typing_round(&mut bob, "bob", &mut alice).await;
        // Typing is never stored.
        let history = a.history("r").await;
        assert_eq!(history.len(), 2);
        assert!(history.iter().all(|m| m["type"] == "text"), "{history:?}");
    }

    /// `typist` types: `other` gets the event; `typist`'s next frame is the echo of its
    /// following message (so it never got its own event), which `other` gets next.
    async fn typing_round(typist: &mut WsClient, name: &str, other: &mut WsClient) {
        typist
            .send_json(json!({"type": "typing", "chat_id": "r", "content": "typing"}))
            .await;
        let event = other.recv_json().await;
        assert_message(&event, "typing", "r", name, "typing");
        typist.send_json(text("r", "after typing")).await;
        let echo = typist.recv_json().await;
        assert_message(&echo, "text", "r", name, "after typing");
        assert_eq!(other.recv_json().await, echo);
    }

    /// A join made on B is delivered to A's participants, identical to the joiner's notice,
    /// and the joiner then receives the room's messages sent on A.
    #[tokio::test]
    async fn join_on_b_reaches_a() {
        let (a, b) = TestApp::spawn_pair(&[]).await;
        room(&a, "r", &["alice"]).await;
        let (mut alice, mut carol) = (a.ws("alice").await, b.ws("carol").await);

        carol.send_json(json!({"type": "join", "chat_id": "r"})).await;
        let notice = carol.recv_json().await;
        assert_notice(&notice, "r", "carol", true);
        assert_eq!(alice.recv_json().await, notice);

        alice.send_json(text("r", "welcome")).await;
        let welcome = alice.recv_json().await;
        assert_eq!(carol.recv_json().await, welcome);
        assert_eq!(b.history("r").await, vec![notice, welcome]);
        let (_, room) = a.get("/chat/r").await;
        assert_eq!(room["participants"], json!(["alice", "carol"]));
    }

    /// A leave made on B is delivered to A's participants and acknowledged to the leaver,
    /// who then receives nothing more from the room.
    #[tokio::test]
    async fn leave_on_b_reaches_a() {
        let (a, b) = TestApp::spawn_pair(&[]).await;
        room(&a, "r", &["alice", "carol"]).await;
        let (mut alice, mut carol) = (a.ws("alice").await, b.ws("carol").await);

        carol.send_json(json!({"type": "leave", "chat_id": "r"})).await;
        let notice = carol.recv_json().await;
        assert_notice(&notice, "r", "carol", false);
        assert_eq!(alice.recv_json().await, notice);

        // A message after the leave must not reach carol: when she joins again, her next
        // frame is her new join notice, stored after that message.
        alice.send_json(text("r", "after the leave")).await;
        let after = alice.recv_json().await;
        assert_message(&after, "text", "r", "alice", "after the leave");
        carol.send_json(json!({"type": "join", "chat_id": "r"})).await;
        let rejoin = carol.recv_json().await;
        assert_notice(&rejoin, "r", "carol", true);
        assert_eq!(alice.recv_json().await, rejoin);
        assert_eq!(a.history("r").await, vec![notice, after, rejoin]);
    }

    /// A user connected only on A is active when read through B; after the close it turns
    /// inactive there, with `last_seen` set.
    #[tokio::test]
    async fn presence_is_shared() {
        let (a, b) = TestApp::spawn_pair(&[]).await;
        let alice = a.ws("alice").await;
        assert_eq!(
            user(&b, "alice").await,
            json!({"id": "alice", "username": "alice", "email": null, "is_active": true,
                "last_seen": null, "metadata": {}})
        );
        let before_close = time::format(&time::now());
        alice.close().await;
        let body = wait_inactive(&b, "alice").await;
        let last_seen = assert_inactive_user(&body, "alice");
        assert!(last_seen >= before_close, "{last_seen} < {before_close}");
        assert_eq!(user(&a, "alice").await, body);
    }
}

/// Reads `n` frames.
async fn collect(ws: &mut WsClient, n: usize) -> Vec<Value> {
    let mut frames = Vec::with_capacity(n);
    for _ in 0..n {
        frames.push(ws.recv_json().await);
    }
    frames
}

/// Two senders on each instance and a listener on each, all in one room, 50 messages per
/// sender sent at once: every connection and the history through either instance hold the
/// same 200 messages in the same order, with strictly increasing timestamps.
#[tokio::test]
async fn concurrent_senders_on_both_instances_agree_on_one_order() {
    const EACH: usize = 50;
    let senders = ["s1", "s2", "s3", "s4"];
    let total = EACH * senders.len();
    let (a, b) = TestApp::spawn_pair(&[]).await;
    room(&a, "r", &["s1", "s2", "s3", "s4", "la", "lb"]).await;
    let mut conns = Vec::new();
    for (name, app) in [
        ("s1", &a),
        ("s2", &a),
        ("s3", &b),
        ("s4", &b),
        ("la", &a),
        ("lb", &b),
    ] {
        conns.push((name, app.ws(name).await));
    }

    let runs = conns.into_iter().map(|(name, mut ws)| async move {
        if senders.contains(&name) {
            for i in 0..EACH {
                ws.send_json(text("r", &format!("{name}-{i}"))).await;
            }
        }
        (name, collect(&mut ws, total).await)
    });
    let seen = join_all(runs).await;

    let reference = seen[0].1.clone();
    for (name, frames) in &seen {
        assert_eq!(frames, &reference, "{name} saw another order");
    }
    assert_eq!(a.history("r").await, reference);
    assert_eq!(b.history("r").await, reference);

    // Each sender's messages appear once each, in the order sent; the order is total.
    let mut next: BTreeMap<&str, usize> = senders.iter().map(|s| (*s, 0)).collect();
    let mut ids = BTreeSet::new();
    for m in &reference {
        let author = m["user_id"].as_str().unwrap();
        let i = next.get_mut(author).expect("a sender's message");
        assert_message(m, "text", "r", author, &format!("{author}-{i}"));
        *i += 1;
        assert!(ids.insert(m["id"].as_str().unwrap().to_string()), "duplicate id");
    }
    assert!(next.values().all(|n| *n == EACH), "{next:?}");
    for pair in reference.windows(2) {
        let (t0, t1) = (pair[0]["timestamp"].as_str(), pair[1]["timestamp"].as_str());
        assert!(t0 < t1, "timestamps not strictly increasing: {t0:?} then {t1:?}");
    }
}

/// A join made on A makes the joiner's connection on B (in no room until then) receive the
/// join notice at once, then the room's next messages.
#[tokio::test]
async fn join_on_a_reaches_the_joiners_connection_on_b() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    room(&a, "r", &["v"]).await;
    let mut v = a.ws("v").await;
    let mut u_on_b = b.ws("u").await;
    let mut u_on_a = a.ws("u").await;

    u_on_a.send_json(json!({"type": "join", "chat_id": "r"})).await;
    let notice = u_on_a.recv_json().await;
    assert_notice(&notice, "r", "u", true);
    assert_eq!(v.recv_json().await, notice);
    assert_eq!(u_on_b.recv_json().await, notice);

    v.send_json(text("r", "hello u")).await;
    let hello = v.recv_json().await;
    assert_message(&hello, "text", "r", "v", "hello u");
    assert_eq!(u_on_a.recv_json().await, hello);
    assert_eq!(u_on_b.recv_json().await, hello);

    // u's connection on B now takes part in the room: its text reaches everyone.
    u_on_b.send_json(text("r", "from B")).await;
    let reply = u_on_b.recv_json().await;
    assert_message(&reply, "text", "r", "u", "from B");
    assert_eq!(u_on_a.recv_json().await, reply);
    assert_eq!(v.recv_json().await, reply);
    assert_eq!(b.history("r").await, vec![notice, hello, reply]);
}

/// `POST /chat/{id}/participants` made through A makes the added user's connection on B
/// (where nobody follows the room) receive the notice and the room's later messages.
#[tokio::test]
async fn http_add_on_a_reaches_the_users_connection_on_b() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    room(&a, "r", &["v"]).await;
    let mut v = a.ws("v").await;
    let mut u = b.ws("u").await;

    let (status, body) = a.post_json("/chat/r/participants", json!({"user_id": "u"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["participants"], json!(["u", "v"]));
    let notice = u.recv_json().await;
    assert_notice(&notice, "r", "u", true);
    assert_eq!(v.recv_json().await, notice);

    v.send_json(text("r", "hello u")).await;
    let hello = v.recv_json().await;
    assert_eq!(u.recv_json().await, hello);
    assert_eq!(a.history("r").await, vec![notice, hello]);
}

/// A reply to a RESP command: what these tests need of it.
/// The deployment's channels that some instance subscribes to, each with its number of
/// subscribers (each instance holds one pub/sub connection, so that is a number of instances).
async fn subscriptions(port: u16, prefix: &str) -> BTreeMap<String, i64> {
    let pattern = format!("{prefix}:ch:*");
    let channels: Vec<String> = redis_command(port, &["PUBSUB", "CHANNELS", &pattern])
        .await
        .into_iter()
        .map(|r| match r {
            Resp::Text(s) => s,
            other => panic!("channel name expected, got {other:?}"),
        })
        .collect();
    if channels.is_empty() {
        return BTreeMap::new();
    }
    let mut args = vec!["PUBSUB", "NUMSUB"];
    args.extend(channels.iter().map(String::as_str));
    let reply = redis_command(port, &args).await;
    reply
        .chunks(2)
        .map(|pair| match pair {
            [Resp::Text(name), Resp::Int(n)] => (name.clone(), *n),
            other => panic!("unexpected NUMSUB reply {other:?}"),
        })
        .collect()
}

/// The expected subscriptions: `(kind:id, instances)` under `prefix`.
fn channels(prefix: &str, want: &[(&str, i64)]) -> BTreeMap<String, i64> {
    want.iter()
        .map(|(name, n)| (format!("{prefix}:ch:{name}"), *n))
        .collect()
}

/// Polls (bounded) until the subscriptions are `want`: unsubscribing is asynchronous.
async fn wait_subscriptions(port: u16, prefix: &str, want: &BTreeMap<String, i64>) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let got = subscriptions(port, prefix).await;
        if &got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscriptions did not settle: got {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An instance subscribes exactly to the channels of the rooms its connected users take part
/// in and to its users' bucket channels; a room nobody connected takes part in has no channel;
/// a room's channel goes when its last local follower leaves or disconnects, bucket channels
/// stay (they are shared by every user of the bucket).
#[tokio::test]
async fn instances_subscribe_only_to_what_their_connections_need() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    let (port, prefix) = redis_of(&a);
    room(&a, "both", &["p", "q"]).await;
    room(&a, "only-a", &["p"]).await;
    room(&a, "only-b", &["q"]).await;
    room(&a, "nobody", &["z"]).await;
    // Nothing is connected yet: nothing is subscribed.
    assert_eq!(subscriptions(port, &prefix).await, BTreeMap::new());
    let bucket = |u: &str| format!("users:{}", user_bucket(&UserId::parse(u).unwrap()));
    let (bp, bq) = (bucket("p"), bucket("q"));
    assert_ne!(bp, bq, "the test wants p and q in different buckets");

    // Connecting subscribes before the handshake completes.
    let mut p = a.ws("p").await;
    let mut q = b.ws("q").await;
    let all = |only_a: i64| {
        channels(
            &prefix,
            &[
                ("room:both", 2),
                ("room:only-a", only_a),
                ("room:only-b", 1),
                (&bp, 1),
                (&bq, 1),
            ],
        )
    };
    assert_eq!(subscriptions(port, &prefix).await, all(1));

    // q (on B) joins only-a: once q has the notice, B follows the room too.
    q.send_json(json!({"type": "join", "chat_id": "only-a"})).await;
    let notice = q.recv_json().await;
    assert_notice(&notice, "only-a", "q", true);
    assert_eq!(p.recv_json().await, notice);
    assert_eq!(subscriptions(port, &prefix).await, all(2));

    // q leaves only-a again: B drops that channel (asynchronously).
    q.send_json(json!({"type": "leave", "chat_id": "only-a"})).await;
    assert_notice(&q.recv_json().await, "only-a", "q", false);
    wait_subscriptions(port, &prefix, &all(1)).await;

    // p disconnects: A needs no room any more.
    p.close().await;
    let rest = channels(
        &prefix,
        &[("room:both", 1), ("room:only-b", 1), (&bp, 1), (&bq, 1)],
    );
    wait_subscriptions(port, &prefix, &rest).await;

    // q disconnects: only the bucket channels remain.
    q.close().await;
    wait_subscriptions(port, &prefix, &channels(&prefix, &[(&bp, 1), (&bq, 1)])).await;
}

/// A user connected to an instance that crashes (SIGKILL: no disconnect is ever written)
/// stops counting as active once the instance's heartbeat is stale, and gets a `last_seen`.
#[tokio::test]
async fn a_crashed_instances_users_turn_inactive() {
    let (redis, prefix) = (RedisServer::shared(), fresh_prefix());
    // A reads presence with a 2 s TTL: the process beats every second, so X reads as active
    // while it lives, and as inactive at most ~3 s after the kill.
    let a = TestApp::spawn_redis(redis.clone(), &prefix, &[("PRESENCE_TTL_SECONDS", "2")]).await;
    let started = time::format(&time::now());
    let url = redis.url();
    let vars = [
        ("STORE", "redis"),
        ("REDIS_URL", &url),
        ("REDIS_KEY_PREFIX", &prefix),
        ("PRESENCE_TTL_SECONDS", "1"),
    ];
    let (mut child, on_child) = ServerProcess::start(&vars).await;
    let x = on_child.ws("x").await;
    assert_eq!(
        user(&a, "x").await,
        json!({"id": "x", "username": "x", "email": null, "is_active": true,
            "last_seen": null, "metadata": {}})
    );

    child.signal("KILL");
    let _ = child.wait();
    let killed = time::format(&time::now());

    let body = wait_inactive(&a, "x").await;
    let last_seen = assert_inactive_user(&body, "x");
    assert!(
        started <= last_seen && last_seen <= killed,
        "last_seen {last_seen} is not the crashed instance's last heartbeat ({started}..{killed})"
    );
    drop(x);
}

/// History read through an instance that no connection ties to the room: the instance keeps
/// the room's recent messages and follows the room for reading, so what another instance
/// stores afterwards reaches its history (as it would reach its clients), in order, and the
/// reads it then serves itself agree with the other instance's.
#[tokio::test]
async fn history_read_elsewhere_follows_the_room() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    let (port, prefix) = redis_of(&a);
    room(&a, "r", &["alice"]).await;
    assert_eq!(b.history("r").await, Vec::<Value>::new());
    // Reading made B follow the room: its channel has one subscriber, B.
    wait_subscriptions(port, &prefix, &channels(&prefix, &[("room:r", 1)])).await;

    let mut alice = a.ws("alice").await;
    let mut sent = Vec::new();
    for i in 0..3 {
        alice.send_json(text("r", &format!("m{i}"))).await;
        sent.push(alice.recv_json().await);
    }
    // B's history converges on what was sent, in order (bounded wait: it follows pub/sub).
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let got = b.history("r").await;
        if got == sent {
            break;
        }
        assert!(
            sent.starts_with(&got),
            "B's history is not a prefix of what was sent: {got:?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "B's history stayed at {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Pages, with and without `before`, agree between the instances.
    let page = async |app: &TestApp, q: &str| app.get(&format!("/chat/r/messages?{q}")).await;
    let before = sent[2]["timestamp"].as_str().unwrap().to_string();
    for q in ["limit=2".to_string(), format!("limit=1&before={before}")] {
        assert_eq!(page(&b, &q).await, page(&a, &q).await);
    }
    assert_eq!(page(&b, "limit=2").await, (200, json!(sent[1..])));
}
