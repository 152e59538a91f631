//! The seed document's first example, end to end: a client's text comes back as its echo.

use serde_json::json;

use crate::helpers::TestApp;

/// The seed's client sends a text to a new room and receives the join notice, then its echo.
#[tokio::test]
async fn seed_client_gets_join_notice_then_echo() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("user1").await;
    ws.send_json(json!({"type": "text", "content": "Hello, world!", "chat_id": "chat1", "user_id": "user1"}))
        .await;
    let join = ws.recv_json().await;
    assert_eq!(join["type"], "system");
    assert_eq!(join["user_id"], "system");
    assert_eq!(join["content"], "user1 joined the chat");
    let echo = ws.recv_json().await;
    assert_eq!(echo["type"], "text");
    assert_eq!(echo["content"], "Hello, world!");
    assert_eq!(echo["chat_id"], "chat1");
    assert_eq!(echo["user_id"], "user1");
    let (status, history) = app.get("/chat/chat1/messages").await;
    assert_eq!(status, 200);
    assert_eq!(history, json!([join, echo]));
    app.stop().await;
}
