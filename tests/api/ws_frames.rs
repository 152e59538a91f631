//! Client frames the server refuses: each gets its exact error frame and the connection keeps
//! working (a valid text sent afterwards comes back as its echo); oversized frames close 1009;
//! invalid user ids are refused before the upgrade.

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, WsClient};

const ID_RULE: &str = "must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @";

/// `user1` connected and already a participant of `lobby` (its join notice consumed).
async fn in_lobby(app: &TestApp) -> WsClient {
    let mut ws = app.ws("user1").await;
    ws.send_json(json!({"type": "join", "chat_id": "lobby"})).await;
    assert_eq!(ws.recv_json().await["content"], "user1 joined the chat");
    ws
}

/// Sends a valid text to `lobby` and asserts its echo is the very next frame.
async fn still_works(ws: &mut WsClient) {
    ws.send_json(say("still here")).await;
    let echo = ws.recv_json().await;
    assert_eq!(echo["type"], "text", "{echo}");
    assert_eq!(
        (&echo["user_id"], &echo["content"]),
        (&json!("user1"), &json!("still here"))
    );
}

/// Sends `raw` as a text frame on a fresh server and asserts the exact error, then the echo.
async fn refused(raw: impl std::fmt::Display, detail: &str) {
    let app = TestApp::spawn().await;
    let mut ws = in_lobby(&app).await;
    ws.send_text(&raw.to_string()).await;
    ws.expect_error(detail).await;
    still_works(&mut ws).await;
}

fn too_long(max: usize) -> String {
    format!("content is too long: at most {max} characters")
}

fn not_in(chat: &str) -> String {
    format!("You are not a participant of chat {chat}")
}

/// A text frame for `lobby`.
fn say(content: impl Into<Value>) -> Value {
    json!({"type": "text", "chat_id": "lobby", "content": content.into()})
}

/// Text that is not JSON is answered with the parser's message.
#[tokio::test]
async fn invalid_json() {
    let detail = "Invalid JSON: EOF while parsing an object at line 1 column 1";
    refused("{", detail).await;
}

/// A JSON value that is not an object is refused.
#[tokio::test]
async fn non_object_json() {
    refused("[1,2]", "Invalid frame: expected a JSON object with a \"type\"").await;
}

/// An object without `type` is refused.
#[tokio::test]
async fn missing_type() {
    let frame = json!({"chat_id": "lobby", "content": "hi"});
    refused(frame, "Invalid frame: missing field `type`").await;
}

/// A `type` that is not a string is refused.
#[tokio::test]
async fn type_not_a_string() {
    let frame = json!({"type": 5, "chat_id": "lobby"});
    refused(frame, "Invalid frame: `type` must be a string").await;
}

/// An unknown `type` is refused and the known ones are listed.
#[tokio::test]
async fn unknown_type() {
    let detail = "Unknown frame type \"shout\": expected text, typing, join, leave, resume or read";
    let frame = json!({"type": "shout", "chat_id": "lobby", "content": "hi"});
    refused(frame, detail).await;
}

/// Clients cannot send `system` frames.
#[tokio::test]
async fn system_frame() {
    let frame = json!({"type": "system", "chat_id": "lobby", "content": "user2 joined the chat"});
    refused(frame, "Clients cannot send system messages").await;
}

/// A text frame without `chat_id` is refused.
#[tokio::test]
async fn missing_chat_id() {
    let frame = json!({"type": "text", "content": "hi"});
    refused(frame, "Invalid frame: missing field `chat_id`").await;
}

/// A text frame without `content` is refused.
#[tokio::test]
async fn missing_content() {
    let frame = json!({"type": "text", "chat_id": "lobby"});
    refused(frame, "Invalid frame: missing field `content`").await;
}

/// A non-string `content` is refused.
#[tokio::test]
async fn content_of_wrong_type() {
    let detail = "Invalid frame: invalid type: integer `5`, expected a string";
    refused(say(5), detail).await;
}

/// A non-object `metadata` is refused.
#[tokio::test]
async fn metadata_of_wrong_type() {
    let frame = json!({"type": "text", "chat_id": "lobby", "content": "hi", "metadata": [1]});
    refused(frame, "Invalid frame: invalid type: sequence, expected a map").await;
}

/// A `chat_id` outside the id alphabet is refused, whatever the frame type.
#[tokio::test]
async fn invalid_chat_id() {
    let detail = format!("Invalid chat_id: {ID_RULE}");
    for kind in ["text", "typing", "join", "leave"] {
        let frame = json!({"type": kind, "chat_id": "no spaces", "content": "typing"});
        refused(frame, &detail).await;
    }
}

/// A `user_id` other than the connection's own is refused (no impersonation).
#[tokio::test]
async fn foreign_user_id() {
    let detail = "user_id \"user2\" does not match this connection's user";
    for kind in ["text", "typing", "join", "leave"] {
        let frame = json!({"type": kind, "chat_id": "lobby", "content": "typing", "user_id": "user2"});
        refused(frame, detail).await;
    }
}

/// Empty content is refused.
#[tokio::test]
async fn empty_content() {
    refused(say(""), "content must not be empty").await;
}

/// Content of 4097 characters is refused; 4096 (even multi-byte) is stored.
#[tokio::test]
async fn content_limit_is_4096_characters() {
    let app = TestApp::spawn().await;
    let mut ws = in_lobby(&app).await;
    ws.send_json(say("x".repeat(4097))).await;
    ws.expect_error(&too_long(4096)).await;
    for content in ["x".repeat(4096), "é".repeat(4096)] {
        ws.send_json(say(content.as_str())).await;
        assert_eq!(ws.recv_json().await["content"], json!(content));
    }
}

/// `MAX_CONTENT_LENGTH` moves the limit.
#[tokio::test]
async fn content_limit_is_configurable() {
    let app = TestApp::spawn_with(&[("MAX_CONTENT_LENGTH", "10")]).await;
    let mut ws = in_lobby(&app).await;
    ws.send_json(say("x".repeat(11))).await;
    ws.expect_error(&too_long(10)).await;
    ws.send_json(say("x".repeat(10))).await;
    assert_eq!(ws.recv_json().await["content"], json!("x".repeat(10)));
}

/// A `reply_to` outside the id alphabet is refused.
#[tokio::test]
async fn invalid_reply_to() {
    let detail = "Invalid reply_to: must be a message id (1 to 128 characters of A-Z a-z 0-9 . _ - : @)";
    let frame = json!({"type": "text", "chat_id": "lobby", "content": "hi", "reply_to": "not an id"});
    refused(frame, detail).await;
}

/// A non-string `reply_to` is refused.
#[tokio::test]
async fn reply_to_of_wrong_type() {
    let frame = json!({"type": "text", "chat_id": "lobby", "content": "hi", "reply_to": 7});
    let detail = "Invalid frame: invalid type: integer `7`, expected a string";
    refused(frame, detail).await;
}

/// Typing content other than `typing` / `stopped` is refused.
#[tokio::test]
async fn typing_content_other_than_typing_or_stopped() {
    let frame = json!({"type": "typing", "chat_id": "lobby", "content": "thinking"});
    refused(frame, "typing content must be \"typing\" or \"stopped\"").await;
}

/// Typing in a room the user is not in (existing or not) is refused.
#[tokio::test]
async fn typing_outside_the_room() {
    let app = TestApp::spawn().await;
    let mut other = app.ws("user2").await;
    other.send_json(json!({"type": "join", "chat_id": "den"})).await;
    assert_eq!(other.recv_json().await["content"], "user2 joined the chat");
    let mut ws = in_lobby(&app).await;
    for chat in ["den", "nowhere"] {
        let typing = json!({"type": "typing", "chat_id": chat, "content": "typing"});
        ws.send_json(typing).await;
        ws.expect_error(&not_in(chat)).await;
    }
    still_works(&mut ws).await;
    other.assert_nothing_pending().await;
}

/// Leaving a room the user is not in (existing or not) is refused.
#[tokio::test]
async fn leave_a_room_not_joined() {
    let app = TestApp::spawn().await;
    let (status, _) = app.post_json("/chat", json!({"id": "den", "name": "Den"})).await;
    assert_eq!(status, 201);
    let mut ws = in_lobby(&app).await;
    for chat in ["den", "nowhere"] {
        ws.send_json(json!({"type": "leave", "chat_id": chat})).await;
        ws.expect_error(&not_in(chat)).await;
    }
    still_works(&mut ws).await;
}

/// Writing to or joining a private room the user is not in is refused and stores nothing.
#[tokio::test]
async fn private_room_outsider() {
    let app = TestApp::spawn().await;
    let room = json!({"id": "vault", "name": "Vault", "is_private": true, "participants": ["owner"]});
    assert_eq!(app.post_json("/chat", room).await.0, 201);
    let mut ws = in_lobby(&app).await;
    let detail = "Chat vault is private and you are not a participant";
    let text = json!({"type": "text", "chat_id": "vault", "content": "let me in"});
    ws.send_json(text).await;
    ws.expect_error(detail).await;
    ws.send_json(json!({"type": "join", "chat_id": "vault"})).await;
    ws.expect_error(detail).await;
    still_works(&mut ws).await;
    assert_eq!(app.history("vault").await, Vec::<Value>::new());
    assert_eq!(app.get("/chat/vault").await.1["participants"], json!(["owner"]));
}

/// A binary frame gets an error frame; the connection stays open.
#[tokio::test]
async fn binary_frame() {
    let app = TestApp::spawn().await;
    let mut ws = in_lobby(&app).await;
    let bytes = say("hi").to_string().into_bytes();
    ws.send_raw(Message::binary(bytes)).await;
    let detail = "Binary frames are not supported: send JSON text frames";
    ws.expect_error(detail).await;
    still_works(&mut ws).await;
}

/// A frame just under 64 KiB is read (and refused for its content); one over it closes 1009.
#[tokio::test]
async fn frame_over_64_kib_closes_1009() {
    let app = TestApp::spawn().await;
    let mut ws = in_lobby(&app).await;
    let under = say("x".repeat(65_000)).to_string();
    assert!(under.len() < 65_536);
    ws.send_text(&under).await;
    ws.expect_error(&too_long(4096)).await;
    let over = say("x".repeat(70_000)).to_string();
    ws.send_text(&over).await;
    assert_eq!(ws.recv_close().await.0, 1009);
}

/// `MAX_FRAME_BYTES` moves the frame limit.
#[tokio::test]
async fn frame_limit_is_configurable() {
    let app = TestApp::spawn_with(&[("MAX_FRAME_BYTES", "2048")]).await;
    let mut ws = in_lobby(&app).await;
    ws.send_json(say("x".repeat(1900))).await;
    assert_eq!(ws.recv_json().await["content"], json!("x".repeat(1900)));
    let over = say("x".repeat(3000)).to_string();
    assert!(over.len() > 3000);
    ws.send_text(&over).await;
    assert_eq!(ws.recv_close().await.0, 1009);
}

/// A `user_id` outside the id alphabet is refused with 400 `{"detail"}` before the upgrade.
#[tokio::test]
async fn invalid_user_id_refused_before_upgrade() {
    let app = TestApp::spawn().await;
    assert_eq!(app.ws_refused("bad!id").await, 400);
    assert_eq!(app.ws_refused(&"u".repeat(129)).await, 400);
    let req = app
        .http
        .get(app.url("/ws/bad!id"))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    let expected = json!({"detail": format!("Invalid user_id: {ID_RULE}")});
    assert_eq!(app.send(req).await, (400, expected));
}

/// The reserved `system` user cannot connect, and is not created by trying.
#[tokio::test]
async fn system_user_refused_before_upgrade() {
    let app = TestApp::spawn().await;
    assert_eq!(app.ws_refused("system").await, 400);
    let not_found = json!({"detail": "User not found"});
    assert_eq!(app.get("/user/system").await, (404, not_found));
}
