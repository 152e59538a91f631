//! The processes of a run: one private `redis-server` (append-only, so a restart keeps the
//! data) and N instances of the real `chat-server` binary, each on its own free port, with
//! short presence, heartbeat and Redis timeouts. Everything started here is killed when the
//! `Cluster` is dropped, a panic included.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::redis_server::RedisServer;

/// The key prefix every run uses (each run has a Redis of its own).
pub const PREFIX: &str = "chk";
/// `PRESENCE_TTL_SECONDS` of the instances.
pub const PRESENCE_TTL: Duration = Duration::from_secs(3);

/// The settings every instance runs with (plus `HOST`, `PORT` and the Redis URL).
const VARS: &[(&str, &str)] = &[
    ("STORE", "redis"),
    ("REDIS_KEY_PREFIX", PREFIX),
    ("PRESENCE_TTL_SECONDS", "3"),
    ("WS_TIMEOUT_SECONDS", "1.5"),
    ("REDIS_TIMEOUT_SECONDS", "1"),
    ("WS_OUTBOX_FRAMES", "32"),
    ("MAX_MESSAGES_PER_ROOM", "100000"),
    ("RATE_LIMIT_PER_SECOND", "0"),
    ("SHUTDOWN_DRAIN_SECONDS", "0"),
    ("WORKER_THREADS", "1"),
    ("RUST_LOG", "warn"),
];

/// One server instance: a port that stays its own across restarts, and its process.
pub struct Instance {
    pub port: u16,
    child: Option<Child>,
    log: PathBuf,
}

/// Redis and the instances.
pub struct Cluster {
    pub redis: Arc<RedisServer>,
    pub instances: Vec<Instance>,
    pub dir: PathBuf,
    http: reqwest::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Cluster {
    /// Starts Redis and `n` instances, each healthy before this returns.
    pub async fn start(n: usize, seed: u64) -> Cluster {
        let redis = tokio::task::spawn_blocking(RedisServer::private)
            .await
            .expect("redis-server started");
        // Runs of one seed may run at once in this process (the CI profile's seed 1 and a
        // replay of seed 1 with other faults): each has its own folder, removed when it ends.
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("chat-checker-{seed}-{}-{run}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a log folder");
        let instances = (0..n)
            .map(|i| Instance {
                port: free_port(),
                child: None,
                log: dir.join(format!("instance-{i}.log")),
            })
            .collect();
        let mut cluster = Cluster {
            redis,
            instances,
            dir,
            http: reqwest::Client::new(),
        };
        for i in 0..n {
            cluster.start_instance(i).await;
        }
        cluster
    }

    pub fn url(&self, instance: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.instances[instance].port)
    }

    /// Starts instance `i` (again) and waits until it answers `/health`; a start that fails
    /// (Redis down) is tried again until it succeeds, within 20 s.
    pub async fn start_instance(&mut self, i: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if self.instances[i].child.is_none() {
                self.instances[i].child = Some(self.spawn(i));
            }
            if self.healthy(i).await {
                return;
            }
            let exited = self.instances[i]
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some());
            if exited {
                self.instances[i].child = None;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "instance {i} did not start within 20 s (log: {})",
                self.instances[i].log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn spawn(&self, i: usize) -> Child {
        let inst = &self.instances[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&inst.log)
            .expect("an instance log");
        Command::new(env!("CARGO_BIN_EXE_chat-server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", inst.port.to_string())
            .env("REDIS_URL", self.redis.url())
            .envs(VARS.iter().copied())
            // Diagnosis: `CHECKER_RUST_LOG=warn,chat_server::hub=debug` for more in the logs.
            .envs(std::env::var("CHECKER_RUST_LOG").map(|v| ("RUST_LOG", v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("the chat-server binary runs")
    }

    async fn healthy(&self, i: usize) -> bool {
        let req = self
            .http
            .get(self.url(i, "/health"))
            .timeout(Duration::from_millis(500));
        matches!(req.send().await, Ok(r) if r.status() == 200)
    }

    /// `kill -9` of instance `i`.
    pub fn kill_instance(&mut self, i: usize) {
        if let Some(mut child) = self.instances[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether instance `i` is running.
    pub fn is_up(&self, i: usize) -> bool {
        self.instances[i].child.is_some()
    }

    /// Kills Redis (as a crash would).
    pub async fn stop_redis(&self) {
        let redis = self.redis.clone();
        let _ = tokio::task::spawn_blocking(move || redis.stop()).await;
    }

    /// Starts Redis again on its port, with its data.
    pub async fn boot_redis(&self) {
        let redis = self.redis.clone();
        tokio::task::spawn_blocking(move || redis.boot())
            .await
            .expect("redis-server restarted");
    }

    /// Removes the logs (kept when a run found a violation).
    pub fn remove_logs(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.instances.len() {
            self.kill_instance(i);
        }
    }
}
