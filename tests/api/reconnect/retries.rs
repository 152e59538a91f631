//! `client_msg_id`: a retry (same user, room and id, within the window) stores nothing and
//! answers the original, to the retrying connection alone, over WebSocket or HTTP.

use serde_json::{Value, json};

use crate::helpers::{TestApp, WsClient, room};

fn keyed(chat: &str, content: &str, id: &str) -> Value {
    json!({"type": "text", "chat_id": chat, "content": content, "client_msg_id": id})
}

async fn send_keyed(ws: &mut WsClient, chat: &str, content: &str, id: &str) -> Value {
    ws.send_json(keyed(chat, content, id)).await;
    ws.recv_json().await
}

/// On the same connection and on a new one: the original, unchanged; the others get it once.
#[tokio::test]
async fn a_retry_stores_nothing_and_answers_the_original() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    let original = send_keyed(&mut alice, "r", "hello", "c-1").await;
    assert_eq!(original["client_msg_id"], "c-1");
    assert_eq!(bob.recv_json().await, original);
    // The retry may even differ in content: the id decides.
    assert_eq!(send_keyed(&mut alice, "r", "hello again", "c-1").await, original);
    alice.close().await;
    let mut again = app.ws("alice").await;
    assert_eq!(send_keyed(&mut again, "r", "hello", "c-1").await, original);
    assert_eq!(app.history("r").await, [original]);
    bob.assert_nothing_pending().await;
}

/// The same id from another user, or in another room, is another message; a text without an
/// id is never deduplicated.
#[tokio::test]
async fn ids_are_per_user_and_room() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    room(&app, "s", &["alice"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    let a = send_keyed(&mut alice, "r", "x", "same").await;
    assert_eq!(bob.recv_json().await, a);
    let b = send_keyed(&mut bob, "r", "x", "same").await;
    assert_ne!(a["id"], b["id"]);
    assert_eq!(alice.recv_json().await, b);
    let c = send_keyed(&mut alice, "s", "x", "same").await;
    assert_ne!(a["id"], c["id"]);
    assert_eq!(app.history("r").await, [a, b]);
    assert_eq!(app.history("s").await, [c]);
}

/// Over HTTP: 201 and the original again; a WebSocket retry of an HTTP send answers it too.
#[tokio::test]
async fn http_and_websocket_retries_agree() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["bot", "bob"]).await;
    let body = json!({"content": "build 7 passed", "user_id": "bot", "client_msg_id": "build-7"});
    let (status, first) = app.post_json("/chat/r/messages", body.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        app.post_json("/chat/r/messages", body).await,
        (201, first.clone())
    );
    let mut bot = app.ws("bot").await;
    assert_eq!(
        send_keyed(&mut bot, "r", "build 7 passed", "build-7").await,
        first
    );
    assert_eq!(app.history("r").await, [first]);
}

/// Past `IDEMPOTENCY_WINDOW_SECONDS` the id is forgotten: the same id stores a new message.
#[tokio::test]
async fn ids_are_forgotten_after_the_window() {
    let app = TestApp::spawn_with(&[("IDEMPOTENCY_WINDOW_SECONDS", "1")]).await;
    room(&app, "r", &["alice"]).await;
    let mut alice = app.ws("alice").await;
    let first = send_keyed(&mut alice, "r", "one", "k").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the window itself
    let second = send_keyed(&mut alice, "r", "two", "k").await;
    assert_ne!(first["id"], second["id"]);
    assert_eq!(second["content"], "two");
}

/// A malformed id is refused and nothing is stored.
#[tokio::test]
async fn a_bad_id_is_refused() {
    let app = TestApp::spawn().await;
    let mut alice = app.ws("alice").await;
    alice.send_json(keyed("r", "x", "no spaces")).await;
    alice
        .expect_error("Invalid client_msg_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @")
        .await;
    let long = "k".repeat(129);
    alice.send_json(keyed("r", "x", &long)).await;
    alice
        .expect_error("Invalid client_msg_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @")
        .await;
    assert_eq!(app.get("/chat/r").await.0, 404);
}
