//! Redis settings and outages: the connection variables are honoured; an outage is a bounded
//! failure (503 / error frame, never a hang, never a false echo), and recovery needs no restart.

use std::time::Duration;

use chat_server::config::Settings;
use serde_json::{Value, json};

use crate::helpers::{RedisServer, TIMEOUT, TestApp, WsClient, fresh_prefix, skip_on_cluster};

const FAST: &[(&str, &str)] = &[("REDIS_TIMEOUT_SECONDS", "1")];

/// Polls `GET path` until it answers `status` (bounded by the test timeout).
async fn wait_for_status(app: &TestApp, path: &str, status: u16) -> Value {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let (got, body) = app.get(path).await;
        if got == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} still answers {got} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a text until it is stored (error frames while Redis reconnects are skipped) and
/// returns the echo.
async fn send_until_stored(ws: &mut WsClient, chat: &str, content: &str) -> Value {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        ws.send_json(json!({"type": "text", "chat_id": chat, "content": content}))
            .await;
        let frame = ws.recv_json().await;
        if frame["type"] == "text" {
            return frame;
        }
        assert_eq!(frame, json!({"type": "error", "detail": "Storage unavailable"}));
        assert!(tokio::time::Instant::now() < deadline, "Redis did not come back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// With Redis unreachable, start-up fails within the timeout with a message naming the address.
#[tokio::test]
async fn start_up_fails_fast_naming_the_address() {
    if skip_on_cluster("start-up against one unreachable Redis URL; cluster start-up is cluster::config") {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let vars = [
        ("STORE", "redis".to_string()),
        ("REDIS_URL", format!("redis://127.0.0.1:{port}")),
        ("REDIS_TIMEOUT_SECONDS", "1".to_string()),
    ];
    let settings =
        Settings::from_map(vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let started = tokio::time::Instant::now();
    let result = tokio::time::timeout(
        TIMEOUT,
        chat_server::run(listener, settings, std::future::pending()),
    )
    .await;
    let err = result
        .expect("start-up must fail, not hang")
        .expect_err("no Redis there");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("cannot reach Redis at 127.0.0.1:{port}")),
        "{message}"
    );
}

/// While Redis is down: HTTP 503 with the contract's detail, /ready 503, /health 200, a
/// WebSocket text gets an error frame (no echo) and the connection stays open. When Redis is
/// back, the same server serves again without a restart.
#[tokio::test]
async fn outage_is_bounded_and_recovery_needs_no_restart() {
    if skip_on_cluster("stops and restarts one plain redis-server; cluster outages are cluster::failover") {
        return;
    }
    let redis = RedisServer::private();
    let app = TestApp::spawn_redis(redis.clone(), &fresh_prefix(), FAST).await;
    let mut ws = app.ws("u1").await;
    ws.send_json(json!({"type": "join", "chat_id": "room"})).await;
    assert_eq!(ws.recv_json().await["content"], "u1 joined the chat");
    let before = send_until_stored(&mut ws, "room", "before").await;

    redis.stop();
    let started = tokio::time::Instant::now();
    assert_eq!(
        app.get("/chat/room").await,
        (503, json!({"detail": "Storage unavailable"}))
    );
    assert_eq!(
        app.get("/ready").await,
        (503, json!({"detail": "Storage unavailable"}))
    );
    assert_eq!(app.get("/health").await, (200, json!({"status": "ok"})));
    ws.send_json(json!({"type": "text", "chat_id": "room", "content": "lost"}))
        .await;
    ws.expect_error("Storage unavailable").await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "outage answers took {:?}",
        started.elapsed()
    );

    redis.boot();
    wait_for_status(&app, "/ready", 200).await;
    let after = send_until_stored(&mut ws, "room", "after").await;
    let (status, history) = app.get("/chat/room/messages").await;
    assert_eq!(status, 200);
    let contents: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["u1 joined the chat", "before", "after"],
        "nothing false was stored"
    );
    assert_eq!(history[1], before);
    assert_eq!(history[2], after);
}

/// Two instances keep exchanging messages after Redis restarts: each instance's pub/sub
/// connection reconnects and resubscribes by itself.
#[tokio::test]
async fn two_instances_resume_after_a_redis_restart() {
    if skip_on_cluster("stops and restarts one plain redis-server; cluster outages are cluster::failover") {
        return;
    }
    let (redis, prefix) = (RedisServer::private(), fresh_prefix());
    let a = TestApp::spawn_redis(redis.clone(), &prefix, FAST).await;
    let b = TestApp::spawn_redis(redis.clone(), &prefix, FAST).await;
    let mut on_a = a.ws("alice").await;
    let mut on_b = b.ws("bob").await;
    on_b.send_json(json!({"type": "join", "chat_id": "r"})).await;
    assert_eq!(on_b.recv_json().await["content"], "bob joined the chat");
    on_a.send_json(json!({"type": "join", "chat_id": "r"})).await;
    let joined = on_a.recv_json().await;
    assert_eq!(joined["content"], "alice joined the chat");
    assert_eq!(
        on_b.recv_json().await,
        joined,
        "bob, on the other instance, sees alice join"
    );
    let first = send_until_stored(&mut on_a, "r", "one").await;
    assert_eq!(on_b.recv_json().await, first);

    redis.stop();
    redis.boot();
    wait_for_status(&a, "/ready", 200).await;
    let second = send_until_stored(&mut on_a, "r", "two").await;
    assert_eq!(
        on_b.recv_json().await,
        second,
        "bob gets the message through the new subscription"
    );
    let third = send_until_stored(&mut on_b, "r", "three").await;
    assert_eq!(on_a.recv_json().await, third);
}

/// A Redis that accepts connections but does not answer (paused) costs at most the timeout:
/// HTTP answers 503 and a WebSocket text gets the error frame, then all is well once it
/// answers again.
#[tokio::test]
async fn a_stalled_redis_costs_at_most_the_timeout() {
    if skip_on_cluster("stalls one plain redis-server") {
        return;
    }
    let redis = RedisServer::private();
    let app = TestApp::spawn_redis(redis.clone(), &fresh_prefix(), FAST).await;
    let mut ws = app.ws("u1").await;
    ws.send_json(json!({"type": "join", "chat_id": "room"})).await;
    assert_eq!(ws.recv_json().await["content"], "u1 joined the chat");

    assert_eq!(redis.command(&["CLIENT", "PAUSE", "2500", "ALL"]), "+OK");
    let started = tokio::time::Instant::now();
    assert_eq!(
        app.get("/chat/room").await,
        (503, json!({"detail": "Storage unavailable"}))
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(2000),
        "{waited:?}"
    );
    ws.send_json(json!({"type": "text", "chat_id": "room", "content": "slow"}))
        .await;
    ws.expect_error("Storage unavailable").await;

    wait_for_status(&app, "/ready", 200).await;
    send_until_stored(&mut ws, "room", "fast").await;
}

/// `REDIS_HOST`, `REDIS_PORT`, `REDIS_DB` and `REDIS_PASSWORD` are honoured (no `REDIS_URL`):
/// the server authenticates and writes into the chosen database.
#[tokio::test]
async fn host_port_db_and_password_are_honoured() {
    if skip_on_cluster(
        "REDIS_HOST, REDIS_PORT and REDIS_DB name one plain Redis (a cluster has only database 0: cluster::config)",
    ) {
        return;
    }
    let redis = RedisServer::private_with(&["--requirepass", "s3cr3t:/@"]);
    let port = redis.port.to_string();
    let vars = [
        ("STORE", "redis"),
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", port.as_str()),
        ("REDIS_DB", "3"),
        ("REDIS_PASSWORD", "s3cr3t:/@"),
        ("REDIS_KEY_PREFIX", "pw"),
    ];
    let app = TestApp::spawn_exact(&vars).await;
    let (status, _) = app.post_json("/chat", json!({"id": "c1", "name": "C"})).await;
    assert_eq!(status, 201);
    let replies = redis.commands(&[
        &["AUTH", "s3cr3t:/@"],
        &["SELECT", "3"],
        &["EXISTS", "pw:room:{c1}"],
    ]);
    assert_eq!(replies, ["+OK", "+OK", ":1"]);
    assert_eq!(
        redis.commands(&[&["AUTH", "s3cr3t:/@"], &["DBSIZE"]]),
        ["+OK", ":0"],
        "db 0 untouched"
    );
}

/// While Redis is down, typing events still reach the other participants connected to the
/// same instance (they need no storage), while texts get the storage error frame.
#[tokio::test]
async fn typing_works_locally_during_an_outage() {
    if skip_on_cluster("stops one plain redis-server; cluster outages are cluster::failover") {
        return;
    }
    let redis = RedisServer::private();
    let app = TestApp::spawn_redis(redis.clone(), &fresh_prefix(), FAST).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    bob.send_json(json!({"type": "join", "chat_id": "r"})).await;
    assert_eq!(bob.recv_json().await["content"], "bob joined the chat");
    alice.send_json(json!({"type": "join", "chat_id": "r"})).await;
    assert_eq!(alice.recv_json().await["content"], "alice joined the chat");
    assert_eq!(bob.recv_json().await["content"], "alice joined the chat");

    redis.stop();
    alice
        .send_json(json!({"type": "typing", "content": "typing", "chat_id": "r"}))
        .await;
    let typing = bob.recv_json().await;
    assert_eq!(
        (typing["type"].as_str(), typing["user_id"].as_str()),
        (Some("typing"), Some("alice"))
    );
    assert_eq!(typing["content"], "typing");
    alice
        .send_json(json!({"type": "text", "content": "lost", "chat_id": "r"}))
        .await;
    alice.expect_error("Storage unavailable").await;
    bob.assert_nothing_pending().await;
}
