//! Test harness: `TestApp` runs the real server on port 0; `WsClient` speaks real WebSocket.
//! Every wait is bounded by `TIMEOUT`, so a broken fan-out fails instead of hanging.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chat_server::config::Settings;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use crate::redis_server::RedisServer;

/// The bound on every wait in the tests.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Which store a test server uses: `TEST_STORE=redis` runs the whole suite on Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
}

impl Backend {
    pub fn from_env() -> Self {
        match std::env::var("TEST_STORE").as_deref() {
            Ok("redis") => Backend::Redis,
            _ => Backend::Memory,
        }
    }
}

/// A fresh key prefix, so tests sharing one Redis never see each other's data.
pub fn fresh_prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// A running server; dropping it stops it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    /// The Redis it uses (kept alive while the app lives), and its key prefix.
    pub redis: Option<(Arc<RedisServer>, String)>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl TestApp {
    /// A server with the default settings (memory store).
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// A server with some variables set, on the store `TEST_STORE` names (memory by default).
    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        match Backend::from_env() {
            Backend::Memory => Self::spawn_memory(vars).await,
            Backend::Redis => Self::spawn_redis(RedisServer::shared(), &fresh_prefix(), vars).await,
        }
    }

    /// A server on the memory store, whatever `TEST_STORE` says.
    pub async fn spawn_memory(vars: &[(&str, &str)]) -> Self {
        Self::start(vars, None).await
    }

    /// A server on `redis` under `prefix` (two apps with one prefix are two instances of one
    /// deployment).
    pub async fn spawn_redis(redis: Arc<RedisServer>, prefix: &str, vars: &[(&str, &str)]) -> Self {
        Self::start(vars, Some((redis, prefix.to_string()))).await
    }

    /// Two instances sharing one Redis and one prefix.
    pub async fn spawn_pair(vars: &[(&str, &str)]) -> (Self, Self) {
        let (redis, prefix) = (RedisServer::shared(), fresh_prefix());
        let a = Self::spawn_redis(redis.clone(), &prefix, vars).await;
        let b = Self::spawn_redis(redis, &prefix, vars).await;
        (a, b)
    }

    /// Validates the variables as the environment would be. The rate limit is off unless a
    /// test sets it, so tests that send many messages measure delivery, not the limiter.
    async fn start(vars: &[(&str, &str)], redis: Option<(Arc<RedisServer>, String)>) -> Self {
        let mut map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.entry("RATE_LIMIT_PER_SECOND".into())
            .or_insert_with(|| "0".into());
        if let Some((server, prefix)) = &redis {
            map.insert("STORE".into(), "redis".into());
            map.insert("REDIS_URL".into(), server.url());
            map.insert("REDIS_KEY_PREFIX".into(), prefix.clone());
        }
        let settings = Settings::from_map(map).expect("valid test settings");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            chat_server::run(listener, settings, async {
                let _ = rx.await;
            })
            .await
            .expect("server failed to start");
        });
        let app = Self {
            addr,
            http: reqwest::Client::new(),
            redis,
            stop: Some(tx),
            handle: Some(handle),
        };
        // `run` connects to its store before serving: wait until it answers.
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while app.http.get(app.url("/health")).send().await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "server did not start");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request and returns the status and the JSON body (`Null` if empty or not JSON).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = tokio::time::timeout(TIMEOUT, req.send())
            .await
            .expect("request timed out")
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.http.delete(self.url(path))).await
    }

    /// Opens `/ws/{user}` and waits for the handshake.
    pub async fn ws(&self, user: &str) -> WsClient {
        let url = format!("ws://{}/ws/{}", self.addr, user);
        let (stream, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .expect("handshake timed out")
            .expect("handshake failed");
        WsClient { stream }
    }

    /// Stops the server gracefully and waits (bounded) for `run` to return.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(TIMEOUT, h)
                .await
                .expect("server did not stop")
                .unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A WebSocket client with bounded waits.
pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    pub async fn send_json(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, s: &str) {
        tokio::time::timeout(TIMEOUT, self.stream.send(Message::text(s)))
            .await
            .expect("send timed out")
            .expect("send failed");
    }

    /// The next data frame as JSON (pings and pongs skipped); panics on close or timeout.
    pub async fn recv_json(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.stream.next())
                .await
                .expect("no frame within the timeout")
                .expect("stream ended")
                .expect("websocket error");
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).expect("server frame is JSON"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Waits for the server's close frame and returns its code and reason.
    pub async fn recv_close(&mut self) -> (u16, String) {
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.stream.next())
                .await
                .expect("no close within the timeout");
            match msg {
                Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
                Some(Ok(Message::Close(None))) => return (u16::from(CloseCode::Status), String::new()),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("error before close frame: {e}"),
                None => panic!("stream ended without a close frame"),
            }
        }
    }

    /// Proves nothing else is queued for this connection: sends a frame the server answers
    /// with a known error and asserts that error is the very next frame.
    pub async fn assert_nothing_pending(&mut self) {
        self.send_json(serde_json::json!({"type": "join"})).await;
        let next = self.recv_json().await;
        assert_eq!(
            next,
            serde_json::json!({"type": "error", "detail": "Invalid frame: missing field `chat_id`"}),
            "an unexpected frame was pending"
        );
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(TIMEOUT, self.stream.close(None)).await;
    }
}
