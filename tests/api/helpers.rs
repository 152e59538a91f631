//! Test harness: `TestApp` runs the real server on port 0; `WsClient` speaks real WebSocket.
//! Every wait is bounded by `TIMEOUT`, so a broken fan-out fails instead of hanging.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chat_server::config::Settings;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

// Paths spelled out: tests/metrics.rs and tests/alloc.rs include this file with `#[path]`.
#[path = "helpers/asserts.rs"]
mod asserts;
#[path = "helpers/deploy.rs"]
mod deploy;

#[allow(unused_imports)] // each binary uses some
pub use asserts::{assert_message, assert_timestamp, assert_uuid_v7};
pub use deploy::Deployment;

pub use crate::redis_cluster::RedisCluster;
pub use crate::redis_server::RedisServer;

/// The bound on every wait in the tests.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Which store a test server uses: `TEST_STORE=redis` runs the whole suite on Redis,
/// `TEST_STORE=redis-cluster` on a Redis Cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
    RedisCluster,
}

impl Backend {
    pub fn from_env() -> Self {
        match std::env::var("TEST_STORE").as_deref() {
            Ok("redis") => Backend::Redis,
            Ok("redis-cluster") => Backend::RedisCluster,
            _ => Backend::Memory,
        }
    }
}

/// For a test about one plain Redis (it stops one, or reads it directly) that has no
/// meaning on a cluster: true on a `TEST_STORE=redis-cluster` run, after saying why, so the
/// test returns at once (the plain-Redis run covers it).
pub fn skip_on_cluster(why: &str) -> bool {
    let skip = Backend::from_env() == Backend::RedisCluster;
    if skip {
        println!("not on a Redis Cluster: {why}");
    }
    skip
}

/// A generated file committed under `openapi/` (`name`, e.g. `openapi.json`), kept equal to
/// what the code generates: with `UPDATE_OPENAPI` set it is rewritten (temp file + rename, so a
/// test reading it meanwhile never sees it half written); otherwise a difference fails with
/// the command that regenerates it.
pub fn assert_committed(name: &str, fresh: &str, test_filter: &str) {
    let path = format!("{}/openapi/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let tmp = format!("{path}.{}.tmp", std::process::id());
        std::fs::write(&tmp, fresh).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "openapi/{name} is stale: run `UPDATE_OPENAPI=1 cargo test --test api {test_filter}`"
    );
}

/// A committed file under `openapi/`, parsed.
pub fn committed_json(name: &str) -> Value {
    let path = format!("{}/openapi/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A fresh key prefix, so tests sharing one Redis never see each other's data.
pub fn fresh_prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// A running server; dropping it stops it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    /// Where it keeps its data: the Redis or cluster (kept alive while the app lives) and
    /// its key prefix, or nothing (memory).
    pub deployment: Deployment,
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
            Backend::Memory => Self::spawn_exact(vars).await,
            _ => Self::start(vars, Deployment::shared()).await,
        }
    }

    /// A server with exactly these variables (the memory store unless they name another),
    /// whatever `TEST_STORE` says.
    pub async fn spawn_exact(vars: &[(&str, &str)]) -> Self {
        Self::start(vars, Deployment::Memory).await
    }

    /// A server on `redis` under `prefix` (two apps with one prefix are two instances of one
    /// deployment).
    pub async fn spawn_redis(redis: Arc<RedisServer>, prefix: &str, vars: &[(&str, &str)]) -> Self {
        Self::start(vars, Deployment::Redis(redis, prefix.to_string())).await
    }

    /// A server on `cluster` under `prefix` (`REDIS_CLUSTER_NODES` names every node).
    pub async fn spawn_cluster(cluster: Arc<RedisCluster>, prefix: &str, vars: &[(&str, &str)]) -> Self {
        Self::start(vars, Deployment::Cluster(cluster, prefix.to_string())).await
    }

    /// Two instances sharing one Redis (a cluster with `TEST_STORE=redis-cluster`) and one
    /// prefix.
    pub async fn spawn_pair(vars: &[(&str, &str)]) -> (Self, Self) {
        let deployment = Deployment::shared();
        let a = Self::start(vars, deployment.clone()).await;
        let b = Self::start(vars, deployment).await;
        (a, b)
    }

    /// Validates the variables as the environment would be. The rate limit is off unless a
    /// test sets it, so tests that send many messages measure delivery, not the limiter.
    pub async fn start(vars: &[(&str, &str)], deployment: Deployment) -> Self {
        let mut map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.entry("RATE_LIMIT_PER_SECOND".into())
            .or_insert_with(|| "0".into());
        map.extend(deployment.vars());
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
            deployment,
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

    /// A handle on a server running elsewhere (a child process): requests and WebSockets
    /// only; dropping it stops nothing.
    pub fn attach(addr: SocketAddr) -> Self {
        Self {
            addr,
            http: reqwest::Client::new(),
            deployment: Deployment::Memory,
            stop: None,
            handle: None,
        }
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
        self.ws_at(&format!("/ws/{user}")).await
    }

    /// Opens a WebSocket at `path` (with its query, e.g. `/ws/u?resume=true`).
    pub async fn ws_at(&self, path: &str) -> WsClient {
        let url = format!("ws://{}{}", self.addr, path);
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

    /// Like `assert_nothing_pending`, but a close frame instead of the answer is not a
    /// failure: it returns the close code (used to probe for a free connection slot).
    pub async fn assert_nothing_pending_or_closed(&mut self) -> Option<u16> {
        let _ = self.stream.send(Message::text(r#"{"type":"join"}"#)).await;
        let msg = tokio::time::timeout(TIMEOUT, self.stream.next())
            .await
            .expect("no answer");
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                assert_eq!(
                    v["detail"], "Invalid frame: missing field `chat_id`",
                    "unexpected frame {v}"
                );
                None
            }
            Some(Ok(Message::Close(f))) => Some(f.map_or(1005, |f| u16::from(f.code))),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(TIMEOUT, self.stream.close(None)).await;
    }
}

/// The error frame the server sends for `detail`.
pub fn error_frame(detail: &str) -> Value {
    serde_json::json!({"type": "error", "detail": detail})
}

impl TestApp {
    /// A room's whole stored history (up to 1000 messages), oldest first.
    pub async fn history(&self, chat: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/chat/{chat}/messages?limit=1000")).await;
        assert_eq!(status, 200, "history of {chat}: {body}");
        body.as_array().expect("history is an array").clone()
    }

    /// Tries to open `/ws/{user}` and returns the HTTP status the handshake was refused with.
    pub async fn ws_refused(&self, user: &str) -> u16 {
        let url = format!("ws://{}/ws/{}", self.addr, user);
        match tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .expect("handshake timed out")
        {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
            Err(e) => panic!("expected an HTTP refusal, got {e}"),
            Ok(_) => panic!("the upgrade to /ws/{user} was accepted"),
        }
    }

    /// Opens `/ws/{user}` over a socket with a tiny receive buffer, so that a client that
    /// does not read pushes back on the server after a few kilobytes.
    pub async fn ws_small_buffer(&self, user: &str) -> WsClient {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = tokio::time::timeout(TIMEOUT, socket.connect(self.addr))
            .await
            .expect("connect timed out")
            .unwrap();
        let url = format!("ws://{}/ws/{}", self.addr, user);
        let (stream, _) = tokio::time::timeout(
            TIMEOUT,
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)),
        )
        .await
        .expect("handshake timed out")
        .expect("handshake failed");
        WsClient { stream }
    }
}

impl WsClient {
    /// Sends any frame as is (binary, oversized...).
    pub async fn send_raw(&mut self, msg: Message) {
        tokio::time::timeout(TIMEOUT, self.stream.send(msg))
            .await
            .expect("send timed out")
            .expect("send failed");
    }

    /// Asserts the next frame is the error frame with exactly `detail`.
    pub async fn expect_error(&mut self, detail: &str) {
        assert_eq!(self.recv_json().await, error_frame(detail));
    }

    /// Reads data frames until the server's close frame; returns them and the close code.
    pub async fn recv_until_close(&mut self) -> (Vec<Value>, u16) {
        let mut frames = Vec::new();
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.stream.next())
                .await
                .expect("no close within the timeout");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    frames.push(serde_json::from_str(&t).expect("server frame is JSON"))
                }
                Some(Ok(Message::Close(Some(f)))) => return (frames, u16::from(f.code)),
                Some(Ok(Message::Close(None))) => return (frames, u16::from(CloseCode::Status)),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("error before close frame: {e}"),
                None => panic!("stream ended without a close frame"),
            }
        }
    }
}

/// A `text` client frame.
pub fn text(chat: &str, content: &str) -> Value {
    json!({"type": "text", "chat_id": chat, "content": content})
}

/// Creates a public room `id` whose participants are `users` (no system message is stored).
pub async fn room(app: &TestApp, id: &str, users: &[&str]) {
    let (status, body) = app
        .post_json("/chat", json!({"id": id, "name": id, "participants": users}))
        .await;
    assert_eq!(status, 201, "{body}");
}
