//! `/metrics`: what an operator scrapes. Its own test binary, because the metrics recorder is
//! process-wide: here no other test's traffic mixes into the counts, so they can be exact.

#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/redis_cluster.rs"]
mod redis_cluster;
#[path = "api/redis_server.rs"]
mod redis_server;

use std::collections::BTreeMap;

use serde_json::json;

use helpers::{RedisServer, TestApp, fresh_prefix};

/// One sample of the exposition: (name, sorted labels) → value.
fn samples(text: &str) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => {
                let mut pairs: Vec<&str> = l.trim_end_matches('}').split(',').collect();
                pairs.sort();
                (n.to_string(), pairs.join(","))
            }
            None => (series.to_string(), String::new()),
        };
        out.insert((name, labels), value.parse().unwrap());
    }
    out
}

async fn scrape(app: &TestApp) -> BTreeMap<(String, String), f64> {
    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    samples(&resp.text().await.unwrap())
}

fn get(s: &BTreeMap<(String, String), f64>, name: &str, labels: &str) -> Option<f64> {
    s.get(&(name.to_string(), labels.to_string())).copied()
}

/// Connections, frames in and out, stored messages, HTTP requests by route and status, and
/// Redis call latency are all exported, with exact counts for what the test did.
#[tokio::test]
async fn exports_connections_messages_http_and_redis() {
    let app = TestApp::spawn_exact(&[]).await;
    let mut ws = app.ws("alice").await;
    ws.send_json(json!({"type": "text", "content": "hi", "chat_id": "room"}))
        .await;
    assert_eq!(ws.recv_json().await["type"], "system");
    assert_eq!(ws.recv_json().await["content"], "hi");
    ws.send_text("not json").await;
    assert_eq!(ws.recv_json().await["type"], "error");
    assert_eq!(app.get("/user/nobody").await.0, 404);
    assert_eq!(app.get("/nowhere").await.0, 404);

    let s = scrape(&app).await;
    assert_eq!(get(&s, "chat_connections_open", ""), Some(1.0));
    assert_eq!(get(&s, "chat_connections_opened_total", ""), Some(1.0));
    assert_eq!(get(&s, "chat_frames_received_total", "type=\"text\""), Some(1.0));
    assert_eq!(
        get(&s, "chat_frames_received_total", "type=\"invalid\""),
        Some(1.0)
    );
    assert_eq!(
        get(&s, "chat_frames_sent_total", ""),
        Some(2.0),
        "join notice and echo"
    );
    assert_eq!(get(&s, "chat_messages_stored_total", "type=\"text\""), Some(1.0));
    let user_404 = "method=\"GET\",route=\"/user/{user_id}\",status=\"404\"";
    assert_eq!(get(&s, "chat_http_requests_total", user_404), Some(1.0));
    let unmatched = "method=\"GET\",route=\"unmatched\",status=\"404\"";
    assert_eq!(get(&s, "chat_http_requests_total", unmatched), Some(1.0));
    assert_eq!(
        get(&s, "chat_http_request_seconds_count", "route=\"/user/{user_id}\""),
        Some(1.0)
    );
    assert_eq!(
        get(&s, "chat_redis_call_seconds_count", ""),
        None,
        "no Redis in memory mode"
    );

    ws.close().await;
    let redis = RedisServer::shared();
    let on_redis = TestApp::spawn_redis(redis, &fresh_prefix(), &[]).await;
    assert_eq!(on_redis.get("/ready").await.0, 200);
    let s = scrape(&on_redis).await;
    assert!(get(&s, "chat_redis_call_seconds_count", "").unwrap_or(0.0) >= 1.0);
    assert_eq!(
        get(&s, "chat_redis_errors_total", ""),
        None,
        "no Redis call failed"
    );
}
