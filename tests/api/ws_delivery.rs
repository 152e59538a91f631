//! Who receives what over WebSocket: echoes, fan-out to participants and to every connection of
//! a user, join/leave notices, typing events, subscription on connect, and per-room order.

use serde_json::{Value, json};

use crate::helpers::{TestApp, WsClient, assert_message, assert_timestamp, room, text};

/// The echo is the stored message: same id and timestamp as history returns.
#[tokio::test]
async fn echo_is_the_stored_message() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice"]).await;
    let mut alice = app.ws("alice").await;
    alice.send_json(text("r", "hello")).await;
    let echo = alice.recv_json().await;
    assert_message(&echo, "text", "r", "alice", "hello");
    assert_eq!(app.history("r").await, vec![echo]);
}

/// Another participant receives the frame identical to the sender's echo.
#[tokio::test]
async fn other_participant_gets_the_identical_frame() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    alice.send_json(text("r", "hi bob")).await;
    let echo = alice.recv_json().await;
    assert_message(&echo, "text", "r", "alice", "hi bob");
    assert_eq!(bob.recv_json().await, echo);
}

/// `metadata` and `reply_to` are stored and delivered as sent.
#[tokio::test]
async fn metadata_and_reply_to_round_trip() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    alice.send_json(text("r", "question")).await;
    let first = alice.recv_json().await;
    assert_eq!(bob.recv_json().await, first);
    let metadata = json!({"lang": "en", "tags": [1, {"x": true}], "n": null});
    bob.send_json(
        json!({"type": "text", "chat_id": "r", "content": "answer", "metadata": metadata,
        "reply_to": first["id"]}),
    )
    .await;
    let reply = bob.recv_json().await;
    assert_eq!(
        (&reply["metadata"], &reply["reply_to"]),
        (&metadata, &first["id"])
    );
    assert_eq!(alice.recv_json().await, reply);
    assert_eq!(app.history("r").await, vec![first, reply]);
}

/// A sender not yet in a public room gets the join notice first, then the echo.
#[tokio::test]
async fn first_text_joins_then_delivers() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    alice.send_json(text("r", "hi all")).await;
    let join = alice.recv_json().await;
    assert_message(&join, "system", "r", "system", "alice joined the chat");
    let echo = alice.recv_json().await;
    assert_message(&echo, "text", "r", "alice", "hi all");
    assert_eq!(
        (bob.recv_json().await, bob.recv_json().await),
        (join.clone(), echo.clone())
    );
    assert_eq!(app.history("r").await, vec![join, echo]);
    assert_eq!(
        app.get("/chat/r").await.1["participants"],
        json!(["alice", "bob"])
    );
}

/// A join frame stores "{u} joined the chat" and delivers it to every participant, joiner included.
#[tokio::test]
async fn join_notice_reaches_all_participants() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    alice.send_json(json!({"type": "join", "chat_id": "r"})).await;
    let join = alice.recv_json().await;
    assert_message(&join, "system", "r", "system", "alice joined the chat");
    assert_eq!(bob.recv_json().await, join);
    assert_eq!(app.history("r").await, vec![join]);
}

/// Joining a room one is already in sends nothing to anyone and stores nothing.
#[tokio::test]
async fn joining_again_sends_nothing() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    alice.send_json(json!({"type": "join", "chat_id": "r"})).await;
    alice.assert_nothing_pending().await;
    bob.assert_nothing_pending().await;
    assert_eq!(app.history("r").await, Vec::<Value>::new());
}

/// Leaving delivers "{u} left the chat" to the room and all the leaver's connections, then
/// nothing more of the room to them.
#[tokio::test]
async fn leave_notice_then_silence() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut tab, mut bob) = (app.ws("alice").await, app.ws("alice").await, app.ws("bob").await);
    alice.send_json(json!({"type": "leave", "chat_id": "r"})).await;
    let left = alice.recv_json().await;
    assert_message(&left, "system", "r", "system", "alice left the chat");
    assert_eq!(
        (tab.recv_json().await, bob.recv_json().await),
        (left.clone(), left.clone())
    );
    bob.send_json(text("r", "she is gone")).await;
    let echo = bob.recv_json().await;
    alice.assert_nothing_pending().await;
    tab.assert_nothing_pending().await;
    assert_eq!(app.history("r").await, vec![left, echo]);
    assert_eq!(app.get("/chat/r").await.1["participants"], json!(["bob"]));
}

/// Typing reaches the other participants, not the sender's connections, and is never stored.
#[tokio::test]
async fn typing_goes_to_others_only_and_is_not_stored() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut a1, mut a2, mut bob) = (app.ws("alice").await, app.ws("alice").await, app.ws("bob").await);
    for content in ["typing", "stopped"] {
        a1.send_json(json!({"type": "typing", "chat_id": "r", "content": content}))
            .await;
        assert_message(&bob.recv_json().await, "typing", "r", "alice", content);
    }
    a1.assert_nothing_pending().await;
    a2.assert_nothing_pending().await;
    bob.assert_nothing_pending().await;
    assert_eq!(app.history("r").await, Vec::<Value>::new());
}

/// Each typing event is a fresh message object: new id, current time, exactly eight fields.
#[tokio::test]
async fn typing_frame_shape() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    alice
        .send_json(json!({"type": "typing", "chat_id": "r", "content": "typing", "user_id": "alice"}))
        .await;
    let first = bob.recv_json().await;
    alice
        .send_json(json!({"type": "typing", "chat_id": "r", "content": "stopped"}))
        .await;
    let second = bob.recv_json().await;
    assert_message(&first, "typing", "r", "alice", "typing");
    assert_message(&second, "typing", "r", "alice", "stopped");
    assert_ne!(first["id"], second["id"]);
    assert!(first["timestamp"].as_str() <= second["timestamp"].as_str());
}

/// Two connections of one user both receive everything addressed to it, in the same order.
#[tokio::test]
async fn every_connection_of_a_user_receives() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut a1, mut a2, mut bob) = (app.ws("alice").await, app.ws("alice").await, app.ws("bob").await);
    bob.send_json(text("r", "to alice")).await;
    a1.send_json(text("r", "from a1")).await;
    let (x, y) = (a1.recv_json().await, a1.recv_json().await);
    assert_eq!(
        (a2.recv_json().await, a2.recv_json().await),
        (x.clone(), y.clone())
    );
    assert_eq!(app.history("r").await, vec![x, y]);
}

/// A participant added over HTTP receives a room's messages right after connecting.
#[tokio::test]
async fn subscribed_on_connect_via_http_participants() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let mut bob = app.ws("bob").await;
    let mut alice = app.ws("alice").await;
    alice.send_json(text("r", "welcome")).await;
    let echo = alice.recv_json().await;
    assert_eq!(bob.recv_json().await, echo);
}

/// A user who joined on an earlier connection receives the room's messages on a new one.
#[tokio::test]
async fn subscribed_on_connect_via_earlier_join() {
    let app = TestApp::spawn().await;
    let mut first = app.ws("bob").await;
    first.send_json(json!({"type": "join", "chat_id": "r"})).await;
    assert_eq!(first.recv_json().await["content"], "bob joined the chat");
    first.close().await;
    let mut bob = app.ws("bob").await;
    let mut alice = app.ws("alice").await;
    alice.send_json(text("r", "anyone?")).await;
    let join = alice.recv_json().await;
    let echo = alice.recv_json().await;
    assert_eq!((bob.recv_json().await, bob.recv_json().await), (join, echo));
}

/// Messages of a room never reach users who are not its participants.
#[tokio::test]
async fn other_rooms_are_not_delivered() {
    let app = TestApp::spawn().await;
    room(&app, "r1", &["alice"]).await;
    room(&app, "r2", &["bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    alice.send_json(text("r1", "private-ish")).await;
    assert_message(&alice.recv_json().await, "text", "r1", "alice", "private-ish");
    alice
        .send_json(json!({"type": "typing", "chat_id": "r1", "content": "typing"}))
        .await;
    alice.assert_nothing_pending().await;
    bob.assert_nothing_pending().await;
}

/// Three senders flood one room concurrently: every connection sees the stored order.
#[tokio::test]
async fn per_room_order_under_concurrent_senders() {
    const N: usize = 50;
    let app = TestApp::spawn_with(&[("RATE_LIMIT_PER_SECOND", "0")]).await;
    let users = ["a", "b", "c", "watcher"];
    room(&app, "r", &users).await;
    let mut conns = Vec::new();
    for u in users {
        conns.push((u, app.ws(u).await));
    }
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(u, mut ws): (&str, WsClient)| {
            tokio::spawn(async move {
                if u != "watcher" {
                    for i in 0..N {
                        ws.send_json(text("r", &format!("{u}-{i}"))).await;
                    }
                }
                let mut seen = Vec::with_capacity(3 * N);
                for _ in 0..3 * N {
                    seen.push(ws.recv_json().await);
                }
                ws.assert_nothing_pending().await;
                seen
            })
        })
        .collect();
    let mut views = Vec::new();
    for t in tasks {
        views.push(t.await.unwrap());
    }
    let history = app.history("r").await;
    assert_eq!(history.len(), 3 * N);
    for view in &views {
        assert_eq!(view, &history);
    }
    for pair in history.windows(2) {
        let (t0, t1) = (
            pair[0]["timestamp"].as_str().unwrap(),
            pair[1]["timestamp"].as_str().unwrap(),
        );
        assert_timestamp(t1);
        assert!(t0 < t1, "timestamps not strictly increasing: {t0} then {t1}");
    }
    for u in ["a", "b", "c"] {
        let mine: Vec<&str> = history
            .iter()
            .filter(|m| m["user_id"] == u)
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        let sent: Vec<String> = (0..N).map(|i| format!("{u}-{i}")).collect();
        assert_eq!(mine, sent, "{u}'s messages out of its sending order");
    }
}

/// A room created with `POST /chat` naming a user who is connected already: her connection
/// follows it at once, so her own text is echoed and the other participant's reaches her.
#[tokio::test]
async fn a_room_created_for_a_connected_user_reaches_her_connection() {
    let app = TestApp::spawn().await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    room(&app, "new", &["alice", "bob"]).await;
    alice.send_json(text("new", "first")).await;
    let first = alice.recv_json().await;
    assert_message(&first, "text", "new", "alice", "first");
    assert_eq!(bob.recv_json().await, first);
    bob.send_json(text("new", "second")).await;
    let second = bob.recv_json().await;
    assert_message(&second, "text", "new", "bob", "second");
    assert_eq!(alice.recv_json().await, second);
    assert_eq!(app.history("new").await, vec![first, second]);
}
