//! Configuration on a cluster: a database other than 0 is refused at start-up, naming
//! `REDIS_DB` (a cluster has only database 0); a healthy cluster is ready; a shard with no
//! live node makes `/ready` 503 until it is back.

use std::collections::HashMap;
use std::time::Duration;

use chat_server::config::Settings;
use serde_json::json;

use crate::helpers::{RedisCluster, TIMEOUT, TestApp, fresh_prefix};
use crate::server_process::ServerProcess;

/// `REDIS_DB=3` with `REDIS_CLUSTER_NODES`: the settings are refused with an error naming
/// `REDIS_DB`, and the binary exits 1 with that one line, before listening.
#[test]
fn a_database_other_than_0_is_refused() {
    let cluster = RedisCluster::shared();
    let nodes = cluster.nodes();
    let vars = [
        ("STORE", "redis"),
        ("REDIS_CLUSTER_NODES", nodes.as_str()),
        ("REDIS_DB", "3"),
    ];
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let err = Settings::from_map(map).expect_err("REDIS_DB=3 on a cluster must be refused");
    assert_eq!((err.var, err.value.as_str()), ("REDIS_DB", "3"), "{err}");

    let dir = std::env::temp_dir();
    let mut with_port = vars.to_vec();
    with_port.push(("PORT", "0"));
    let (code, output, _) = ServerProcess::run_to_exit(&dir, &with_port, Duration::from_secs(10));
    assert_eq!(code, Some(1), "{output}");
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 1, "{output}");
    let (_, message) = lines[0]
        .split_once(" ERROR chat_server: ")
        .expect("an error line");
    assert!(
        message.starts_with("invalid configuration: REDIS_DB=\"3\": "),
        "{message}"
    );
}

/// A server on a healthy cluster is ready, and healthy.
#[tokio::test]
async fn ready_on_a_healthy_cluster() {
    let app = TestApp::spawn_cluster(RedisCluster::shared(), &fresh_prefix(), &[]).await;
    assert_eq!(app.get("/ready").await, (200, json!({"status": "ready"})));
    assert_eq!(app.get("/health").await, (200, json!({"status": "ok"})));
}

/// A master and its replica both down (no node serves a third of the slots): `/ready` is 503
/// with the storage detail, `/health` stays 200; both started again, ready within the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_while_a_shard_is_down() {
    let cluster = RedisCluster::private();
    let vars = [("REDIS_TIMEOUT_SECONDS", "1")];
    let app = TestApp::spawn_cluster(cluster.clone(), &fresh_prefix(), &vars).await;
    assert_eq!(app.get("/ready").await, (200, json!({"status": "ready"})));
    let master = cluster.masters()[1];
    let replica = cluster.replica_of(master);
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.kill_shard(master, replica))
        .await
        .unwrap();

    let down = (503, json!({"detail": "Storage unavailable"}));
    assert_eq!(wait_for(&app, "/ready", &down).await, down);
    assert_eq!(app.get("/health").await, (200, json!({"status": "ok"})));

    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.restart_shard(master, replica))
        .await
        .unwrap();
    let up = (200, json!({"status": "ready"}));
    assert_eq!(wait_for(&app, "/ready", &up).await, up);
}

/// Polls `path` (bounded by twice `TIMEOUT`: a failing call may itself take the Redis
/// timeout) until it answers `want`; returns the last answer.
async fn wait_for(app: &TestApp, path: &str, want: &(u16, serde_json::Value)) -> (u16, serde_json::Value) {
    let deadline = tokio::time::Instant::now() + 2 * TIMEOUT;
    loop {
        let got = app.get(path).await;
        if &got == want || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
