//! Texts a client sends in one burst (one write, several frames): the server may handle them
//! together (on Redis, one round trip), and each must still be answered as it would be alone,
//! in the order sent: echoes, error frames and a retry's original, interleaved as sent.

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TIMEOUT, TestApp, WsClient, room, text};

/// Writes every frame of `frames` in one write, so that they reach the server together.
async fn burst(ws: &mut WsClient, frames: &[Value]) {
    for f in frames {
        tokio::time::timeout(TIMEOUT, ws.stream.feed(Message::text(f.to_string())))
            .await
            .expect("feed timed out")
            .expect("feed failed");
    }
    tokio::time::timeout(TIMEOUT, ws.stream.flush())
        .await
        .expect("flush timed out")
        .expect("flush failed");
}

fn say(chat: &str, content: &str, id: &str) -> Value {
    json!({"type": "text", "chat_id": chat, "content": content, "client_msg_id": id})
}

/// `user` connected and a participant of `chat` (its join notice consumed).
async fn joined(app: &TestApp, user: &str, chat: &str) -> WsClient {
    let mut ws = app.ws(user).await;
    ws.send_json(json!({"type": "join", "chat_id": chat})).await;
    assert_eq!(ws.recv_json().await["content"], format!("{user} joined the chat"));
    ws
}

/// `user1` and `user2` in `lobby`, every notice consumed.
async fn both_in_lobby(app: &TestApp) -> (WsClient, WsClient) {
    let mut a = joined(app, "user1", "lobby").await;
    let b = joined(app, "user2", "lobby").await;
    assert_eq!(a.recv_json().await["content"], "user2 joined the chat");
    (a, b)
}

fn contents(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|f| f["content"].as_str().unwrap_or("?"))
        .collect()
}

/// Stored texts, refusals and a retry in one burst: the sender gets each answer in the order
/// it sent the texts, the other member gets the stored texts alone, stored once, in order.
#[tokio::test]
async fn a_burst_is_answered_text_by_text_in_order() {
    let app = TestApp::spawn().await;
    let (mut a, mut b) = both_in_lobby(&app).await;
    let frames = [
        say("lobby", "one", "c1"),
        say("lobby", "", "c2"),
        say("lobby", "two", "c3"),
        say("lobby", "one again", "c1"),
        say("lob by", "nowhere", "c4"),
        json!({"type": "text", "chat_id": "lobby", "content": "three", "user_id": "user2"}),
        say("lobby", "three", "c5"),
    ];
    burst(&mut a, &frames).await;
    let one = a.recv_json().await;
    assert_eq!(
        (&one["content"], &one["client_msg_id"]),
        (&json!("one"), &json!("c1"))
    );
    a.expect_error("content must not be empty").await;
    assert_eq!(a.recv_json().await["content"], "two");
    assert_eq!(a.recv_json().await, one, "a retry is answered with the original");
    a.expect_error("Invalid chat_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @")
        .await;
    a.expect_error(r#"user_id "user2" does not match this connection's user"#)
        .await;
    assert_eq!(a.recv_json().await["content"], "three");
    a.assert_nothing_pending().await;

    let got = [b.recv_json().await, b.recv_json().await, b.recv_json().await];
    assert_eq!(contents(&got), ["one", "two", "three"]);
    b.assert_nothing_pending().await;
    let history = app.history("lobby").await;
    let texts: Vec<&Value> = history.iter().filter(|m| m["type"] == "text").collect();
    assert_eq!(texts.len(), 3, "{history:?}");
    assert_eq!(texts[0], &one);
    let seqs: Vec<u64> = texts.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

/// A burst into a public room the sender has not joined: it joins once, before the first
/// text, and every text is stored after the notice, in order.
#[tokio::test]
async fn a_burst_into_a_room_not_joined_joins_once_first() {
    let app = TestApp::spawn().await;
    room(&app, "open", &["user2"]).await;
    let mut a = app.ws("user1").await;
    let frames: Vec<Value> = (1..=5).map(|n| text("open", &format!("m{n}"))).collect();
    burst(&mut a, &frames).await;
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(a.recv_json().await);
    }
    assert_eq!(
        contents(&got),
        ["user1 joined the chat", "m1", "m2", "m3", "m4", "m5"]
    );
    a.assert_nothing_pending().await;
    let history = app.history("open").await;
    assert_eq!(
        contents(&history),
        ["user1 joined the chat", "m1", "m2", "m3", "m4", "m5"]
    );
    // Listed among the sender's rooms, with nothing unread (its own texts move its position).
    let (status, chats) = app.get("/user/user1/chats").await;
    assert_eq!(status, 200, "{chats}");
    let chats = chats.as_array().expect("an array");
    assert_eq!(chats.len(), 1, "{chats:?}");
    assert_eq!(
        (
            &chats[0]["id"],
            &chats[0]["unread"],
            &chats[0]["last_message"]["content"]
        ),
        (&json!("open"), &json!(0), &json!("m5"))
    );
}

/// A burst mixing a private room the sender is not in with one it is in: each text to the
/// private room gets its error frame in its place; nothing of it is stored.
#[tokio::test]
async fn a_burst_into_a_private_room_is_refused_text_by_text() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .post_json(
            "/chat",
            json!({"id": "secret", "name": "secret", "participants": ["user2"], "is_private": true}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut a = joined(&app, "user1", "lobby").await;
    let frames = [
        text("secret", "s1"),
        text("lobby", "l1"),
        text("secret", "s2"),
        text("lobby", "l2"),
    ];
    burst(&mut a, &frames).await;
    let private = "Chat secret is private and you are not a participant";
    a.expect_error(private).await;
    assert_eq!(a.recv_json().await["content"], "l1");
    a.expect_error(private).await;
    assert_eq!(a.recv_json().await["content"], "l2");
    a.assert_nothing_pending().await;
    assert_eq!(contents(&app.history("secret").await), Vec::<&str>::new());
}

/// A server allowing 1 text a second in bursts of 3, and user1 joined to `rl` (its join took
/// one of the three cells).
async fn joined_at_three_cells() -> (TestApp, WsClient) {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")]).await;
    let mut a = app.ws("user1").await;
    a.send_json(json!({"type": "join", "chat_id": "rl"})).await;
    assert_eq!(a.recv_json().await["content"], "user1 joined the chat");
    (app, a)
}

/// The next frame is a rate-limit refusal.
async fn expect_rate_error(a: &mut WsClient) {
    let err = a.recv_json().await;
    let detail = err["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("Rate limit exceeded: retry in "), "{err}");
}

/// Past the rate limit within a burst, each text over it gets its error frame, in its place.
#[tokio::test]
async fn a_burst_past_the_rate_limit_is_refused_from_where_it_runs_out() {
    let (app, mut a) = joined_at_three_cells().await;
    // The join took one cell: two texts pass, the other three are refused.
    let frames: Vec<Value> = (1..=5).map(|n| text("rl", &format!("m{n}"))).collect();
    burst(&mut a, &frames).await;
    assert_eq!(a.recv_json().await["content"], "m1");
    assert_eq!(a.recv_json().await["content"], "m2");
    for _ in 3..=5 {
        expect_rate_error(&mut a).await;
    }
    a.assert_nothing_pending().await;
    assert_eq!(
        contents(&app.history("rl").await),
        ["user1 joined the chat", "m1", "m2"]
    );
}

/// The texts of a burst take their cells together, in order (on Redis in one call): a text
/// refused for its content takes none, and keeps its place among the answers.
#[tokio::test]
async fn a_refused_text_in_a_burst_takes_no_cell() {
    let (app, mut a) = joined_at_three_cells().await;
    let frames = [
        text("rl", "m1"),
        text("rl", ""),
        text("rl", "m2"),
        text("rl", "m3"),
    ];
    burst(&mut a, &frames).await;
    assert_eq!(a.recv_json().await["content"], "m1");
    a.expect_error("content must not be empty").await;
    assert_eq!(a.recv_json().await["content"], "m2");
    expect_rate_error(&mut a).await;
    a.assert_nothing_pending().await;
    assert_eq!(
        contents(&app.history("rl").await),
        ["user1 joined the chat", "m1", "m2"]
    );
}

/// A burst with other frames among the texts: typing and read frames keep their place (the
/// typing event reaches the other member between the texts around it).
#[tokio::test]
async fn other_frames_in_a_burst_keep_their_place() {
    let app = TestApp::spawn().await;
    let (mut a, mut b) = both_in_lobby(&app).await;
    let frames = [
        text("lobby", "m1"),
        text("lobby", "m2"),
        json!({"type": "typing", "chat_id": "lobby", "content": "typing"}),
        text("lobby", "m3"),
        json!({"type": "bogus"}),
        text("lobby", "m4"),
    ];
    burst(&mut a, &frames).await;
    for m in ["m1", "m2"] {
        assert_eq!(a.recv_json().await["content"], m);
    }
    assert_eq!(a.recv_json().await["content"], "m3");
    a.expect_error(r#"Unknown frame type "bogus": expected text, typing, join, leave, resume or read"#)
        .await;
    assert_eq!(a.recv_json().await["content"], "m4");
    a.assert_nothing_pending().await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(b.recv_json().await);
    }
    assert_eq!(
        got.iter()
            .map(|f| f["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["text", "text", "typing", "text", "text"]
    );
    assert_eq!(contents(&got), ["m1", "m2", "typing", "m3", "m4"]);
}
