//! Membership across instances: joins, leaves and `POST /chat/{id}/participants` made on one
//! instance reach the other's connections, and each instance subscribes exactly to the
//! channels its connections need.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{channels, room_channel, subscriptions, user_channel, wait_subscriptions};
use crate::helpers::{TestApp, assert_message, room, text};

/// Checks a join (`joined`) or leave notice for `user` in `chat`.
fn assert_notice(got: &Value, chat: &str, user: &str, joined: bool) {
    let verb = if joined { "joined" } else { "left" };
    assert_message(got, "system", chat, "system", &format!("{user} {verb} the chat"));
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

/// An instance subscribes exactly to the channels of the rooms its connected users take part
/// in and to its users' bucket channels; a room nobody connected takes part in has no channel;
/// a room's channel goes when its last local follower leaves or disconnects, bucket channels
/// stay (they are shared by every user of the bucket).
#[tokio::test]
async fn instances_subscribe_only_to_what_their_connections_need() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    let prefix = a.deployment.prefix().to_string();
    room(&a, "both", &["p", "q"]).await;
    room(&a, "only-a", &["p"]).await;
    room(&a, "only-b", &["q"]).await;
    room(&a, "nobody", &["z"]).await;
    // Nothing is connected yet: nothing is subscribed.
    assert_eq!(subscriptions(&a).await, BTreeMap::new());
    let (bp, bq) = (user_channel(&prefix, "p"), user_channel(&prefix, "q"));
    assert_ne!(bp, bq, "the test wants p and q in different buckets");
    let rch = |chat: &str, n: i64| (room_channel(&prefix, chat), n);

    // Connecting subscribes before the handshake completes.
    let mut p = a.ws("p").await;
    let mut q = b.ws("q").await;
    let all = |only_a: i64| {
        channels(&[
            rch("both", 2),
            rch("only-a", only_a),
            rch("only-b", 1),
            (bp.clone(), 1),
            (bq.clone(), 1),
        ])
    };
    assert_eq!(subscriptions(&a).await, all(1));

    // q (on B) joins only-a: once q has the notice, B follows the room too.
    q.send_json(json!({"type": "join", "chat_id": "only-a"})).await;
    let notice = q.recv_json().await;
    assert_notice(&notice, "only-a", "q", true);
    assert_eq!(p.recv_json().await, notice);
    assert_eq!(subscriptions(&a).await, all(2));

    // q leaves only-a again: B drops that channel (asynchronously).
    q.send_json(json!({"type": "leave", "chat_id": "only-a"})).await;
    assert_notice(&q.recv_json().await, "only-a", "q", false);
    wait_subscriptions(&a, &all(1)).await;

    // p disconnects: A needs no room any more.
    p.close().await;
    let rest = channels(&[rch("both", 1), rch("only-b", 1), (bp.clone(), 1), (bq.clone(), 1)]);
    wait_subscriptions(&a, &rest).await;

    // q disconnects: only the bucket channels remain.
    q.close().await;
    wait_subscriptions(&a, &channels(&[(bp, 1), (bq, 1)])).await;
}

/// A room created on A naming a user connected to B: her connection on B follows it, and
/// her text sent on B reaches A's participant, in one order.
#[tokio::test]
async fn a_room_created_on_a_reaches_a_participant_connected_to_b() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    let (mut alice, mut carol) = (a.ws("alice").await, b.ws("carol").await);
    room(&a, "new", &["alice", "carol"]).await;
    alice.send_json(text("new", "from a")).await;
    let from_a = alice.recv_json().await;
    assert_message(&from_a, "text", "new", "alice", "from a");
    assert_eq!(carol.recv_json().await, from_a);
    carol.send_json(text("new", "from b")).await;
    let from_b = carol.recv_json().await;
    assert_message(&from_b, "text", "new", "carol", "from b");
    assert_eq!(alice.recv_json().await, from_b);
    assert_eq!(b.history("new").await, vec![from_a, from_b]);
}
