//! `POST /chat/{chat_id}/messages`: a text from a backend or bot, stored and delivered as a
//! WebSocket `text` frame would be.

use serde_json::json;

use crate::helpers::{TestApp, assert_message, room};

#[tokio::test]
async fn a_posted_text_is_stored_and_delivered() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["bob"]).await;
    let mut bob = app.ws("bob").await;
    let body = json!({"content": "deploy done", "user_id": "ci", "metadata": {"build": 7}});
    let (status, m) = app.post_json("/chat/r/messages", body).await;
    assert_eq!(status, 201, "{m}");
    let notice = bob.recv_json().await;
    assert_eq!(
        notice["content"], "ci joined the chat",
        "a public room is joined first"
    );
    assert_eq!(bob.recv_json().await, m);
    assert_eq!(m["metadata"], json!({"build": 7}));
    let mut plain = m.clone();
    plain["metadata"] = json!({});
    assert_message(&plain, "text", "r", "ci", "deploy done");
    assert_eq!(app.history("r").await, [notice, m]);
}

#[tokio::test]
async fn post_refusals_are_precise() {
    let app = TestApp::spawn().await;
    let (status, _) = app
        .post_json(
            "/chat",
            json!({"id": "p", "name": "p", "is_private": true, "participants": ["a"]}),
        )
        .await;
    assert_eq!(status, 201);
    let cases = [
        (
            json!({"content": "x"}),
            400,
            "user_id is required: who sends the message",
        ),
        (
            json!({"content": "", "user_id": "a"}),
            400,
            "content must not be empty",
        ),
        (
            json!({"content": "x", "user_id": "system"}),
            400,
            "Invalid user_id: \"system\" is reserved",
        ),
        (
            json!({"content": "x", "user_id": "b"}),
            403,
            "Chat p is private and you are not a participant",
        ),
    ];
    for (body, status, detail) in cases {
        let got = app.post_json("/chat/p/messages", body.clone()).await;
        assert_eq!(got, (status, json!({"detail": detail})), "{body}");
    }
    let (status, body) = app
        .post_json(
            "/chat/p/messages",
            json!({"content": "x", "user_id": "a", "extra": 1}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(app.history("p").await.len(), 0);
}

/// With `AUTH_SECRET`, the token's user is the sender; a different `user_id` is a 403.
#[tokio::test]
async fn with_auth_the_token_is_the_sender() {
    let app = crate::auth::app().await;
    let token = crate::auth::token_for("ann", 3600);
    let post = |body: serde_json::Value| {
        app.http
            .post(app.url("/chat/r/messages"))
            .bearer_auth(&token)
            .json(&body)
    };
    let (status, m) = app.send(post(json!({"content": "hi"}))).await;
    assert_eq!((status, m["user_id"].as_str()), (201, Some("ann")), "{m}");
    let (status, body) = app.send(post(json!({"content": "hi", "user_id": "bob"}))).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"detail": "user_id \"bob\" does not match the token's user"})
        )
    );
}
