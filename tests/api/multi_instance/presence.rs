//! Presence across instances: a user connected on one instance is active when read through
//! another, and turns inactive (with `last_seen`) after a close or a crash of its instance.

use std::time::Duration;

use chat_server::domain::time;
use serde_json::{Value, json};

use crate::helpers::{Deployment, TIMEOUT, TestApp, assert_timestamp};
use crate::server_process::ServerProcess;

/// `GET /user/{user}` through `app`, which must answer 200.
async fn user(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/user/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls `GET /user/{id}` (bounded by `TIMEOUT`) until the user is inactive; returns it.
async fn wait_inactive(app: &TestApp, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let body = user(app, id).await;
        if body["is_active"] == json!(false) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} still active: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts `body` is the default user `id`, inactive, with a `last_seen` set; returns it.
fn assert_inactive_user(body: &Value, id: &str) -> String {
    let last_seen = body["last_seen"].as_str().expect("last_seen is set").to_string();
    assert_timestamp(&last_seen);
    assert_eq!(
        body,
        &json!({"id": id, "username": id, "email": null, "is_active": false,
            "last_seen": last_seen, "metadata": {}})
    );
    last_seen
}

/// A user connected only on A is active when read through B; after the close it turns
/// inactive there, with `last_seen` set.
#[tokio::test]
async fn presence_is_shared() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    let alice = a.ws("alice").await;
    assert_eq!(
        user(&b, "alice").await,
        json!({"id": "alice", "username": "alice", "email": null, "is_active": true,
            "last_seen": null, "metadata": {}})
    );
    let before_close = time::format(&time::now());
    alice.close().await;
    let body = wait_inactive(&b, "alice").await;
    let last_seen = assert_inactive_user(&body, "alice");
    assert!(last_seen >= before_close, "{last_seen} < {before_close}");
    assert_eq!(user(&a, "alice").await, body);
}

/// A user connected to an instance that crashes (SIGKILL: no disconnect is ever written)
/// stops counting as active once the instance's heartbeat is stale, and gets a `last_seen`.
#[tokio::test]
async fn a_crashed_instances_users_turn_inactive() {
    let deployment = Deployment::shared();
    // A reads presence with a 2 s TTL: the process beats every second, so X reads as active
    // while it lives, and as inactive at most ~3 s after the kill.
    let a = TestApp::start(&[("PRESENCE_TTL_SECONDS", "2")], deployment.clone()).await;
    let started = time::format(&time::now());
    let mut vars = deployment.vars();
    vars.push(("PRESENCE_TTL_SECONDS".into(), "1".into()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (mut child, on_child) = ServerProcess::start(&vars).await;
    let x = on_child.ws("x").await;
    assert_eq!(
        user(&a, "x").await,
        json!({"id": "x", "username": "x", "email": null, "is_active": true,
            "last_seen": null, "metadata": {}})
    );

    child.signal("KILL");
    let _ = child.wait();
    let killed = time::format(&time::now());

    let body = wait_inactive(&a, "x").await;
    let last_seen = assert_inactive_user(&body, "x");
    assert!(
        started <= last_seen && last_seen <= killed,
        "last_seen {last_seen} is not the crashed instance's last heartbeat ({started}..{killed})"
    );
    drop(x);
}
