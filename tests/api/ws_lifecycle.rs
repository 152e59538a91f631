//! A connection's life around its frames: graceful shutdown (in process, and the real binary
//! on SIGTERM) closes with 1001, a client's close is answered 1000, a slow consumer is dropped
//! with 1008, presence follows the connections.

use std::time::{Duration, Instant};

use chat_server::domain::time;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{TIMEOUT, TestApp, WsClient, assert_timestamp, text};
use crate::server_process::ServerProcess;

/// How often the bounded polls below look again.
const POLL: Duration = Duration::from_millis(20);

/// Joins `chat` and consumes the join notice.
async fn join(ws: &mut WsClient, user: &str, chat: &str) {
    ws.send_json(json!({"type": "join", "chat_id": chat})).await;
    assert_eq!(ws.recv_json().await["content"], format!("{user} joined the chat"));
}

/// Stopping the app closes every open connection with 1001, and `run` returns.
#[tokio::test]
async fn shutdown_closes_connections_with_1001() {
    let app = TestApp::spawn().await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    join(&mut alice, "alice", "r").await;
    join(&mut bob, "bob", "r").await;
    let stopping = tokio::spawn(app.stop());
    assert_eq!(alice.recv_close().await.0, 1001);
    assert_eq!(bob.recv_close().await.0, 1001);
    alice.close().await;
    bob.close().await;
    tokio::time::timeout(TIMEOUT, stopping)
        .await
        .expect("stop did not return")
        .expect("stop panicked");
}

/// A client's normal close (1000) is answered with a close 1000.
#[tokio::test]
async fn client_close_is_answered_1000() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("alice").await;
    join(&mut ws, "alice", "r").await;
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    ws.send_raw(Message::Close(Some(frame))).await;
    assert_eq!(ws.recv_close().await.0, 1000);
}

/// The real binary, on SIGTERM, closes its WebSockets with 1001 and exits with status 0.
#[tokio::test]
async fn binary_exits_zero_on_sigterm_after_closing_1001() {
    let (mut server, app) = ServerProcess::start(&[]).await;
    let mut ws = app.ws("alice").await;
    join(&mut ws, "alice", "r").await;
    server.signal("TERM");
    assert_eq!(ws.recv_close().await.0, 1001);
    ws.close().await;
    assert_eq!(server.wait(), Some(0));
}

/// The real binary on its single-threaded runtime (`WORKER_THREADS=1`, as the bench runs it)
/// serves a round trip and shuts down cleanly, like the default one.
#[tokio::test]
async fn binary_serves_on_a_single_threaded_runtime() {
    let (mut server, app) = ServerProcess::start(&[("WORKER_THREADS", "1")]).await;
    let mut ws = app.ws("alice").await;
    join(&mut ws, "alice", "r").await;
    ws.send_json(text("r", "hi")).await;
    let echo = ws.recv_json().await;
    assert_eq!(
        (echo["user_id"].as_str(), echo["content"].as_str()),
        (Some("alice"), Some("hi"))
    );
    assert_eq!(app.history("r").await[1], echo);
    server.signal("TERM");
    assert_eq!(ws.recv_close().await.0, 1001);
    ws.close().await;
    assert_eq!(server.wait(), Some(0));
}

/// A client that stops reading while the room floods is closed with 1008 after the frames
/// already queued for it; the flooding member gets every echo meanwhile and afterwards.
#[tokio::test]
async fn slow_consumer_is_closed_with_1008() {
    // 200 frames of ~60 KB (12 MB) overfill any socket buffers between the server and a client
    // whose receive buffer is a few KB, so its 4-frame outbox must overflow.
    const N: usize = 200;
    const SIZE: usize = 60_000;
    let app = TestApp::spawn_with(&[
        ("WS_OUTBOX_FRAMES", "4"),
        ("MAX_CONTENT_LENGTH", "60000"),
        ("RATE_LIMIT_PER_SECOND", "0"),
    ])
    .await;
    let mut slow = app.ws_small_buffer("slow").await;
    join(&mut slow, "slow", "r").await;
    let mut busy = app.ws("busy").await;
    join(&mut busy, "busy", "r").await;
    let content = |i: usize| format!("{i:05}{}", "x".repeat(SIZE - 5));
    for i in 0..N {
        busy.send_json(text("r", &content(i))).await;
        let echo = busy.recv_json().await;
        assert_eq!(
            (&echo["user_id"], &echo["content"]),
            (&json!("busy"), &json!(content(i)))
        );
    }
    let (frames, code) = slow.recv_until_close().await;
    assert_eq!(code, 1008);
    assert!(
        frames.len() <= N,
        "the slow client got all {} frames",
        frames.len()
    );
    assert_eq!(frames[0]["content"], "busy joined the chat");
    for (i, f) in frames[1..].iter().enumerate() {
        assert_eq!(f["content"], json!(content(i)), "queued frames out of order");
    }
    busy.send_json(text("r", "after")).await;
    assert_eq!(busy.recv_json().await["content"], "after");
    busy.assert_nothing_pending().await;
}

/// Polls `GET /user/{user}` until `is_active` equals `want` (bounded); returns the user.
async fn user_when_active(app: &TestApp, user: &str, want: bool) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (status, body) = app.get(&format!("/user/{user}")).await;
        assert_eq!(status, 200, "{body}");
        if body["is_active"] == want {
            return body;
        }
        assert!(Instant::now() < deadline, "is_active never became {want}: {body}");
        tokio::time::sleep(POLL).await;
    }
}

/// Connecting creates the user and marks it active; closing marks it inactive with `last_seen`.
#[tokio::test]
async fn presence_follows_the_connection() {
    let app = TestApp::spawn().await;
    let ws = app.ws("pat").await;
    let (status, user) = app.get("/user/pat").await;
    assert_eq!(status, 200);
    assert_eq!(
        user,
        json!({"id": "pat", "username": "pat", "email": null, "is_active": true, "last_seen": null,
            "metadata": {}})
    );
    let before_close = time::format(&time::now());
    ws.close().await;
    let user = user_when_active(&app, "pat", false).await;
    let last_seen = user["last_seen"].as_str().expect("last_seen set").to_string();
    assert_timestamp(&last_seen);
    assert!(
        last_seen >= before_close,
        "last_seen {last_seen} before the close at {before_close}"
    );
    assert_eq!(
        user,
        json!({"id": "pat", "username": "pat", "email": null, "is_active": false,
            "last_seen": last_seen, "metadata": {}})
    );
}

/// Reconnecting after the last close makes the user active again as soon as the handshake ends.
#[tokio::test]
async fn presence_returns_on_reconnect() {
    let app = TestApp::spawn().await;
    app.ws("pat").await.close().await;
    user_when_active(&app, "pat", false).await;
    let _again = app.ws("pat").await;
    let (status, user) = app.get("/user/pat").await;
    assert_eq!((status, &user["is_active"]), (200, &json!(true)), "{user}");
}

/// With LOG_FORMAT=json every log line is one JSON object: one per HTTP request (route,
/// status, time taken) and one per WebSocket connection closed (with its duration).
#[tokio::test]
async fn json_logs_have_one_line_per_request_and_connection() {
    let (mut server, app) = ServerProcess::start(&[("LOG_FORMAT", "json"), ("RUST_LOG", "info")]).await;
    assert_eq!(app.get("/user/nobody").await.0, 404);
    let mut ws = app.ws("alice").await;
    ws.assert_nothing_pending().await;
    ws.close().await;
    server.signal("TERM");
    assert_eq!(server.wait(), Some(0));
    let lines: Vec<Value> = server
        .log()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["message"] == "request" && l["path"] == "/user/nobody")
        .expect("a request line");
    assert_eq!(
        (request["route"].as_str(), request["status"].as_u64()),
        (Some("/user/{user_id}"), Some(404))
    );
    assert!(request["micros"].is_u64(), "{request}");
    let closed = lines
        .iter()
        .find(|l| l["message"] == "websocket closed")
        .expect("a connection line");
    assert_eq!(closed["user"], "alice");
    assert!(closed["seconds"].is_f64(), "{closed}");
}
