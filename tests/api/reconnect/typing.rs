//! Typing that ends by itself: a silent typer and a disconnected one are stopped by the
//! server; a burst of `typing` frames reaches the others once.

use serde_json::{Value, json};

use super::say;
use crate::helpers::{TestApp, WsClient, assert_message, room};

fn typing(content: &str) -> Value {
    json!({"type": "typing", "chat_id": "r", "content": content})
}

async fn expect_typing(ws: &mut WsClient, content: &str) {
    assert_message(&ws.recv_json().await, "typing", "r", "alice", content);
}

/// No `stopped` within `TYPING_TIMEOUT_SECONDS`: the server sends it.
#[tokio::test]
async fn a_silent_typer_is_stopped_by_the_server() {
    let app = TestApp::spawn_with(&[("TYPING_TIMEOUT_SECONDS", "1")]).await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    alice.send_json(typing("typing")).await;
    expect_typing(&mut bob, "typing").await;
    let started = std::time::Instant::now();
    expect_typing(&mut bob, "stopped").await;
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    alice.assert_nothing_pending().await; // the typer gets neither
}

/// The typer's last connection closes: the others get `stopped` at once, long before the
/// timeout.
#[tokio::test]
async fn a_disconnected_typer_is_stopped_by_the_server() {
    let app = TestApp::spawn_with(&[("TYPING_TIMEOUT_SECONDS", "60")]).await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    alice.send_json(typing("typing")).await;
    expect_typing(&mut bob, "typing").await;
    alice.close().await;
    expect_typing(&mut bob, "stopped").await;
}

/// Twenty `typing` frames in a row reach the others once (then a text, to prove no more).
#[tokio::test]
async fn a_burst_of_typing_reaches_the_others_once() {
    let app = TestApp::spawn_with(&[("TYPING_TIMEOUT_SECONDS", "60")]).await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    for _ in 0..20 {
        alice.send_json(typing("typing")).await;
    }
    let text = say(&mut alice, "r", "done typing").await;
    expect_typing(&mut bob, "typing").await;
    assert_eq!(bob.recv_json().await, text);
    // `stopped` always passes, and typing again after it is news.
    alice.send_json(typing("stopped")).await;
    expect_typing(&mut bob, "stopped").await;
    alice.send_json(typing("typing")).await;
    expect_typing(&mut bob, "typing").await;
}
