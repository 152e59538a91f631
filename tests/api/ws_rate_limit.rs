//! Per-user rate limit (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST) on WebSocket frames.

use serde_json::json;

use crate::helpers::TestApp;

const TIGHT: &[(&str, &str)] = &[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")];

fn text(chat: &str, n: usize) -> serde_json::Value {
    json!({"type": "text", "content": format!("m{n}"), "chat_id": chat})
}

/// Past the burst, a text gets a rate-limit error frame naming the wait, is not stored, and
/// the connection stays open; another user is not affected.
#[tokio::test]
async fn burst_then_error_frame_and_nothing_stored() {
    let app = TestApp::spawn_with(TIGHT).await;
    let mut a = app.ws("alice").await;
    a.send_json(text("rl", 0)).await;
    assert_eq!(a.recv_json().await["content"], "alice joined the chat");
    assert_eq!(a.recv_json().await["content"], "m0");
    for n in 1..3 {
        a.send_json(text("rl", n)).await;
        assert_eq!(a.recv_json().await["content"], format!("m{n}"));
    }
    a.send_json(text("rl", 3)).await;
    let err = a.recv_json().await;
    assert_eq!(err["type"], "error");
    let detail = err["detail"].as_str().unwrap();
    let ms: u64 = detail
        .strip_prefix("Rate limit exceeded: retry in ")
        .and_then(|rest| rest.strip_suffix(" ms"))
        .unwrap_or_else(|| panic!("unexpected detail {detail:?}"))
        .parse()
        .unwrap();
    assert!((1..=1000).contains(&ms), "{ms}");
    assert_eq!(err.as_object().unwrap().len(), 2);

    let (_, history) = app.get("/chat/rl/messages").await;
    let contents: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].clone())
        .collect();
    assert_eq!(
        contents,
        [
            json!("alice joined the chat"),
            json!("m0"),
            json!("m1"),
            json!("m2")
        ]
    );

    let mut b = app.ws("bob").await;
    b.send_json(text("rl", 9)).await;
    assert_eq!(b.recv_json().await["content"], "bob joined the chat");
    assert_eq!(b.recv_json().await["content"], "m9");
    // Alice, in the room, gets Bob's frames and nothing else.
    assert_eq!(a.recv_json().await["content"], "bob joined the chat");
    assert_eq!(a.recv_json().await["content"], "m9");
    a.assert_nothing_pending().await;
}

/// Typing events cost nothing: a user at its limit can still signal typing.
#[tokio::test]
async fn typing_is_not_rate_limited() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "1")]).await;
    let mut a = app.ws("alice").await;
    let mut b = app.ws("bob").await;
    b.send_json(json!({"type": "join", "chat_id": "t"})).await;
    assert_eq!(b.recv_json().await["content"], "bob joined the chat");
    a.send_json(json!({"type": "join", "chat_id": "t"})).await;
    assert_eq!(a.recv_json().await["content"], "alice joined the chat");
    assert_eq!(b.recv_json().await["content"], "alice joined the chat");
    // Typing and stopped in turn (so the typing throttle passes each one on): ten events at
    // a rate limit of one per second, every one delivered.
    for content in ["typing", "stopped"].repeat(5) {
        a.send_json(json!({"type": "typing", "content": content, "chat_id": "t"}))
            .await;
        let ev = b.recv_json().await;
        assert_eq!(
            (
                ev["type"].as_str(),
                ev["user_id"].as_str(),
                ev["content"].as_str()
            ),
            (Some("typing"), Some("alice"), Some(content))
        );
    }
    a.assert_nothing_pending().await;
}

/// With Redis, one user's allowance is shared by every instance: texts sent through two
/// instances draw on the same burst.
#[tokio::test]
async fn the_allowance_is_shared_by_instances() {
    let (a, b) = TestApp::spawn_pair(TIGHT).await;
    let (mut on_a, mut on_b) = (a.ws("alice").await, b.ws("alice").await);
    on_a.send_json(text("r", 0)).await;
    for frame in ["alice joined the chat", "m0"] {
        assert_eq!(on_a.recv_json().await["content"], frame);
        assert_eq!(on_b.recv_json().await["content"], frame);
    }
    on_b.send_json(text("r", 1)).await;
    assert_eq!(on_b.recv_json().await["content"], "m1");
    assert_eq!(on_a.recv_json().await["content"], "m1");
    on_a.send_json(text("r", 2)).await;
    assert_eq!(on_a.recv_json().await["content"], "m2");
    assert_eq!(on_b.recv_json().await["content"], "m2");
    on_b.send_json(text("r", 3)).await;
    let refused = on_b.recv_json().await;
    assert_eq!(refused["type"], "error");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .starts_with("Rate limit exceeded: retry in "),
        "{refused}"
    );
}

/// Over the limit, the HTTP calls that store a notice answer 429 with `Retry-After`, and store
/// nothing.
#[tokio::test]
async fn http_answers_429_with_retry_after() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "1")]).await;
    for id in ["r1", "r2"] {
        assert_eq!(app.post_json("/chat", json!({"id": id, "name": id})).await.0, 201);
    }
    assert_eq!(
        app.post_json("/chat/r1/participants", json!({"user_id": "bob"}))
            .await
            .0,
        200
    );
    let req = app
        .http
        .post(app.url("/chat/r2/participants"))
        .json(&json!({"user_id": "bob"}));
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: serde_json::Value = resp.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("Rate limit exceeded: retry in "), "{detail}");
    let (_, room) = app.get("/chat/r2").await;
    assert_eq!(room["participants"], json!([]), "nothing was stored");
}
