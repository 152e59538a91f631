//! Configuration: environment variables (and `.env`, dotenv.rs) → validated `Settings`.
//!
//! Every variable is read as text and checked here, so a bad value stops the server with a
//! message naming the variable (CONTRACT: Configuration). Nothing else reads the environment.

use std::collections::HashMap;
use std::time::Duration;

use envconfig::Envconfig;

mod dotenv;
mod redis;
pub use dotenv::{DotenvError, load_dotenv};
pub use redis::RedisSettings;

/// The raw variables, as text, with the contract's defaults.
#[derive(Envconfig, Debug)]
pub struct Config {
    #[envconfig(from = "HOST", default = "127.0.0.1")]
    pub host: String,
    #[envconfig(from = "PORT", default = "8000")]
    pub port: String,
    #[envconfig(from = "STORE", default = "memory")]
    pub store: String,
    #[envconfig(from = "REDIS_HOST", default = "localhost")]
    pub redis_host: String,
    #[envconfig(from = "REDIS_PORT", default = "6379")]
    pub redis_port: String,
    #[envconfig(from = "REDIS_DB", default = "0")]
    pub redis_db: String,
    #[envconfig(from = "REDIS_PASSWORD")]
    pub redis_password: Option<String>,
    #[envconfig(from = "REDIS_URL")]
    pub redis_url: Option<String>,
    #[envconfig(from = "REDIS_CLUSTER_NODES")]
    pub redis_cluster_nodes: Option<String>,
    #[envconfig(from = "REDIS_WAIT_REPLICAS", default = "0")]
    pub redis_wait_replicas: String,
    // One: a multiplexed connection pipelines every concurrent call; more connections spread
    // the same calls over more system calls (fan-out on Redis, pool 1 against 4: 5 to 12 %
    // more deliveries per CPU-second, and less Redis CPU).
    #[envconfig(from = "REDIS_POOL_SIZE", default = "1")]
    pub redis_pool_size: String,
    #[envconfig(from = "REDIS_KEY_PREFIX", default = "chat")]
    pub redis_key_prefix: String,
    #[envconfig(from = "PRESENCE_TTL_SECONDS", default = "30")]
    pub presence_ttl_seconds: String,
    #[envconfig(from = "REDIS_TIMEOUT_SECONDS", default = "5")]
    pub redis_timeout_seconds: String,
    #[envconfig(from = "MAX_MESSAGES_PER_ROOM", default = "1000")]
    pub max_messages_per_room: String,
    #[envconfig(from = "MAX_CONTENT_LENGTH", default = "4096")]
    pub max_content_length: String,
    #[envconfig(from = "MAX_FRAME_BYTES", default = "65536")]
    pub max_frame_bytes: String,
    #[envconfig(from = "WS_TIMEOUT_SECONDS", default = "5")]
    pub ws_timeout_seconds: String,
    #[envconfig(from = "WS_OUTBOX_FRAMES", default = "256")]
    pub ws_outbox_frames: String,
    #[envconfig(from = "CORS_ORIGINS", default = "*")]
    pub cors_origins: String,
    #[envconfig(from = "AUTH_SECRET")]
    pub auth_secret: Option<String>,
    #[envconfig(from = "RATE_LIMIT_PER_SECOND", default = "20")]
    pub rate_limit_per_second: String,
    #[envconfig(from = "RATE_LIMIT_BURST", default = "40")]
    pub rate_limit_burst: String,
    #[envconfig(from = "MAX_CONNECTIONS", default = "100000")]
    pub max_connections: String,
    #[envconfig(from = "MAX_CONNECTIONS_PER_USER", default = "16")]
    pub max_connections_per_user: String,
    #[envconfig(from = "SHUTDOWN_DRAIN_SECONDS", default = "2")]
    pub shutdown_drain_seconds: String,
    #[envconfig(from = "IDEMPOTENCY_WINDOW_SECONDS", default = "300")]
    pub idempotency_window_seconds: String,
    #[envconfig(from = "TYPING_TIMEOUT_SECONDS", default = "5")]
    pub typing_timeout_seconds: String,
    #[envconfig(from = "LOG_FORMAT", default = "text")]
    pub log_format: String,
    #[envconfig(from = "WORKER_THREADS", default = "0")]
    pub worker_threads: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Which store backs the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// Embedded, in-process; the default.
    Memory,
    /// Redis: persistent, shared by any number of instances.
    Redis(RedisSettings),
}

/// Which origins CORS admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

/// Validated settings: every value typed and in range.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub store: StoreKind,
    pub redis_timeout: Duration,
    pub max_messages_per_room: usize,
    pub max_content_chars: usize,
    pub max_frame_bytes: usize,
    pub ws_timeout: Duration,
    pub ws_outbox_frames: usize,
    pub cors_origins: CorsOrigins,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub log_format: LogFormat,
    /// HS256 secret for tokens; `None` trusts the path's `user_id` (the seed's behaviour).
    pub auth_secret: Option<Secret>,
    /// WebSocket connections this instance holds at most, in total and per user.
    pub max_connections: usize,
    pub max_connections_per_user: usize,
    /// At shutdown, WebSockets are closed (1001) in batches spread over this long.
    pub shutdown_drain: Duration,
    /// Runtime threads: 0 for one per CPU core, 1 for a single-threaded runtime.
    pub worker_threads: usize,
    /// How long a text's `client_msg_id` is remembered for retries (0: not at all).
    pub idempotency_window: Duration,
    /// A `typing` not followed by `stopped` is stopped by the server after this long.
    pub typing_timeout: Duration,
}

/// A secret value: usable, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// A variable that failed validation; `Display` names it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}={value:?}: {why}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub why: String,
}

pub(crate) fn int<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    var: &'static str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    match value.trim().parse::<T>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        _ => Err(ConfigError {
            var,
            value: value.into(),
            why: format!("expected an integer from {min} to {max}"),
        }),
    }
}

pub(crate) fn seconds(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    match value.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(ConfigError {
            var,
            value: value.into(),
            why: "expected a number of seconds above 0 and at most 3600".into(),
        }),
    }
}

pub(crate) fn fail(var: &'static str, value: &str, why: &str) -> ConfigError {
    ConfigError {
        var,
        value: value.into(),
        why: why.into(),
    }
}

impl Config {
    /// Checks every variable and builds `Settings`.
    pub fn validate(self) -> Result<Settings, ConfigError> {
        if self.host.trim().is_empty() {
            return Err(fail("HOST", &self.host, "expected a host name or IP address"));
        }
        let redis = self.redis_settings()?;
        let store = match self.store.trim() {
            "memory" => StoreKind::Memory,
            "redis" => StoreKind::Redis(redis),
            _ => return Err(fail("STORE", &self.store, "expected memory or redis")),
        };
        let auth_secret = self.auth_secret.clone().filter(|s| !s.is_empty()).map(Secret);
        if auth_secret.as_ref().is_some_and(|s| s.0.len() < 16) {
            return Err(fail(
                "AUTH_SECRET",
                "<hidden>",
                "expected at least 16 characters (32 or more recommended)",
            ));
        }
        let cors_origins = parse_cors(&self.cors_origins)?;
        let log_format = match self.log_format.trim() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(fail("LOG_FORMAT", &self.log_format, "expected text or json")),
        };
        Ok(Settings {
            host: self.host.trim().to_string(),
            port: int("PORT", &self.port, 0, u16::MAX)?,
            store,
            redis_timeout: seconds("REDIS_TIMEOUT_SECONDS", &self.redis_timeout_seconds)?,
            max_messages_per_room: int("MAX_MESSAGES_PER_ROOM", &self.max_messages_per_room, 1, 1_000_000)?,
            max_content_chars: int("MAX_CONTENT_LENGTH", &self.max_content_length, 1, 1_000_000)?,
            max_frame_bytes: int("MAX_FRAME_BYTES", &self.max_frame_bytes, 1024, 16 << 20)?,
            ws_timeout: seconds("WS_TIMEOUT_SECONDS", &self.ws_timeout_seconds)?,
            ws_outbox_frames: int("WS_OUTBOX_FRAMES", &self.ws_outbox_frames, 1, 65_536)?,
            cors_origins,
            rate_limit_per_second: int("RATE_LIMIT_PER_SECOND", &self.rate_limit_per_second, 0, 1_000_000)?,
            rate_limit_burst: int("RATE_LIMIT_BURST", &self.rate_limit_burst, 1, 1_000_000)?,
            log_format,
            auth_secret,
            max_connections: int("MAX_CONNECTIONS", &self.max_connections, 1, 10_000_000)?,
            max_connections_per_user: int(
                "MAX_CONNECTIONS_PER_USER",
                &self.max_connections_per_user,
                1,
                100_000,
            )?,
            shutdown_drain: Duration::from_millis(
                int::<u64>("SHUTDOWN_DRAIN_SECONDS", &self.shutdown_drain_seconds, 0, 600)? * 1000,
            ),
            worker_threads: int("WORKER_THREADS", &self.worker_threads, 0, 1024)?,
            idempotency_window: Duration::from_secs(int(
                "IDEMPOTENCY_WINDOW_SECONDS",
                &self.idempotency_window_seconds,
                0,
                86_400,
            )?),
            typing_timeout: seconds("TYPING_TIMEOUT_SECONDS", &self.typing_timeout_seconds)?,
        })
    }
}

fn parse_cors(value: &str) -> Result<CorsOrigins, ConfigError> {
    if value.trim() == "*" {
        return Ok(CorsOrigins::Any);
    }
    let list: Vec<String> = value
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_string())
        .filter(|o| !o.is_empty())
        .collect();
    if list.is_empty() || list.iter().any(|o| !o.starts_with("http")) {
        return Err(fail(
            "CORS_ORIGINS",
            value,
            "expected * or a comma-separated list of origins such as https://app.example.com",
        ));
    }
    Ok(CorsOrigins::List(list))
}

impl Settings {
    /// Settings from an explicit map (tests, tools): the same validation as the environment.
    pub fn from_map(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        Config::init_from_hashmap(&vars)
            .map_err(|e| fail("environment", "", &e.to_string()))?
            .validate()
    }

    /// Settings from the process environment (after `.env` has been loaded).
    pub fn from_env() -> Result<Self, ConfigError> {
        Config::init_from_env()
            .map_err(|e| fail("environment", "", &e.to_string()))?
            .validate()
    }
}

#[cfg(test)]
mod tests;
