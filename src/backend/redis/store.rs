//! The Redis store: the connection pool and the one call path every Redis command takes.
//!
//! Connections come from a bb8 pool of auto-reconnecting multiplexed connections. A call
//! checks one out, clones it (a clone shares the same socket and pipelines with concurrent
//! calls) and returns it at once, so concurrent requests never queue on checkouts. Every call
//! is bounded by `REDIS_TIMEOUT_SECONDS`; a timeout or a connection error is
//! `StoreError::Unavailable` (HTTP 503, WebSocket error frame), never a hang.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bb8_redis::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use bb8_redis::redis::{self, IntoConnectionInfo, RedisError};

use super::keys::Keys;
use super::{reads, rooms, users};
use crate::backend::{StoreError, StoreResult};
use crate::config::RedisSettings;
use crate::stats;

/// bb8 manager of auto-reconnecting connections with the configured timeouts (bb8-redis's own
/// manager fixes a 500 ms response timeout).
struct Manager {
    client: redis::Client,
    timeout: Duration,
}

impl bb8::ManageConnection for Manager {
    type Connection = ConnectionManager;
    type Error = RedisError;

    async fn connect(&self) -> Result<ConnectionManager, RedisError> {
        // No response timeout here: `call` bounds every call (checkout included) already, and
        // a second timer per command cost CPU for nothing (redis-rs's default is 500 ms).
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(None)
            .set_connection_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        ConnectionManager::new_with_config(self.client.clone(), config).await
    }

    async fn is_valid(&self, conn: &mut ConnectionManager) -> Result<(), RedisError> {
        redis::cmd("PING").query_async(conn).await
    }

    fn has_broken(&self, _: &mut ConnectionManager) -> bool {
        false // a ConnectionManager reconnects by itself
    }
}

/// Most Redis calls in flight at once from this instance.
const IN_FLIGHT: usize = 512;

/// Redis-backed store; clones share the pool.
#[derive(Clone)]
pub struct RedisStore {
    pool: bb8::Pool<Manager>,
    /// Bounds the calls in flight: Redis runs commands one at a time, so beyond a few hundred
    /// pipelined calls more only cost memory (each holds buffers and futures in the client).
    in_flight: Arc<tokio::sync::Semaphore>,
    pub(super) keys: Keys,
    timeout: Duration,
    pub(super) max_messages: usize,
    /// How long a `client_msg_id` is remembered (zero: not at all).
    pub(super) window: Duration,
    /// This process's id in presence bookkeeping.
    pub(super) instance: String,
    pub(super) presence_ttl: Duration,
    pub(super) room_script: redis::Script,
    pub(super) create_room_script: redis::Script,
    pub(super) read_script: redis::Script,
    pub(super) create_user_script: redis::Script,
    pub(super) disconnect_script: redis::Script,
    pub(super) rate_script: redis::Script,
    /// This instance's count of each user's connections (see presence.rs).
    pub(super) ledger: Arc<super::presence::Ledger>,
    pub(super) recount_script: redis::Script,
}

/// A client for `url` whose connections send each command at once: redis-rs leaves Nagle's
/// algorithm on, which holds a command back while an earlier one is unacknowledged, and with
/// many commands pipelined on one connection that is a wait on most of them.
pub fn client(url: &str) -> redis::RedisResult<redis::Client> {
    let tcp = redis::io::tcp::TcpSettings::default().set_nodelay(true);
    redis::Client::open(url.into_connection_info()?.set_tcp_settings(tcp))
}

/// Why Redis could not be used at start-up.
enum Failure {
    /// Nothing answered (refused, or silent for the whole timeout).
    Unreachable(String),
    /// Redis answered with an error (a wrong or missing password, a database out of range).
    Refused(String),
}

/// One connection and a PING, bounded by `timeout`: the actual cause (refused, a wrong
/// password, no answer), where the pool would only say that its checkout timed out.
async fn probe(client: &redis::Client, timeout: Duration) -> Result<(), Failure> {
    // redis-rs's own bounds (1 s to connect, 500 ms per reply) off: `timeout` is the one bound.
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(None)
        .set_response_timeout(None);
    let attempt = async {
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await
    };
    let no_answer = || Failure::Unreachable(format!("no answer within {} s", timeout.as_secs_f64()));
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.is_connection_refusal() => Err(Failure::Unreachable("connection refused".into())),
        Ok(Err(e)) if e.is_timeout() => Err(no_answer()),
        Ok(Err(e)) if e.is_io_error() => Err(Failure::Unreachable(e.to_string())),
        Ok(Err(e)) => Err(Failure::Refused(e.to_string())),
        Err(_) => Err(no_answer()),
    }
}

impl RedisStore {
    /// Connects (bounded by the timeout) and checks that Redis answers. If it does not, the
    /// error is the one line a failed start logs: what was tried, why it failed, what to check.
    pub async fn open(
        settings: &RedisSettings,
        timeout: Duration,
        max_messages: usize,
        window: Duration,
    ) -> StoreResult<Self> {
        let vars = "REDIS_URL, or REDIS_HOST and REDIS_PORT";
        let failed = |failure: Failure| {
            StoreError::Unavailable(match failure {
                Failure::Unreachable(why) => format!(
                    "cannot reach Redis at {} ({vars}): {why}; is redis-server running there?",
                    settings.address
                ),
                Failure::Refused(why) => format!(
                    "Redis at {} ({vars}) refused the connection: {why}; \
                     are REDIS_PASSWORD and REDIS_DB (or those parts of REDIS_URL) right?",
                    settings.address
                ),
            })
        };
        let client = client(&settings.url)
            .map_err(|e| StoreError::Unavailable(format!("invalid Redis address ({vars}): {e}")))?;
        probe(&client, timeout).await.map_err(failed)?;
        let pool = bb8::Pool::builder()
            .max_size(settings.pool_size)
            .connection_timeout(timeout)
            .test_on_check_out(false)
            .build_unchecked(Manager { client, timeout });
        let store = Self {
            pool,
            in_flight: Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)),
            keys: Keys::new(&settings.key_prefix),
            timeout,
            max_messages,
            window,
            instance: uuid::Uuid::now_v7().to_string(),
            presence_ttl: settings.presence_ttl,
            room_script: redis::Script::new(include_str!("room.lua")),
            create_room_script: redis::Script::new(rooms::CREATE_ROOM_LUA),
            read_script: redis::Script::new(reads::READ_LUA),
            create_user_script: redis::Script::new(users::CREATE_USER_LUA),
            disconnect_script: redis::Script::new(users::DISCONNECT_LUA),
            rate_script: redis::Script::new(users::RATE_LUA),
            ledger: Arc::default(),
            recount_script: super::presence::recount_script(),
        };
        store
            .ping()
            .await
            .map_err(|StoreError::Unavailable(why)| failed(Failure::Unreachable(why)))?;
        Ok(store)
    }

    /// The key names this store uses.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// How long a silent instance's connections still count as active.
    pub fn presence_ttl(&self) -> Duration {
        self.presence_ttl
    }

    /// How many messages a room keeps.
    pub fn max_messages(&self) -> usize {
        self.max_messages
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Runs `f` on a connection, bounded by the timeout; every Redis call goes through here.
    pub(super) async fn call<T, F, Fut>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let work = async {
            let _permit = self.in_flight.acquire().await.map_err(|e| e.to_string())?;
            let conn = self.pool.get().await.map_err(|e| e.to_string())?.clone();
            f(conn).await.map_err(|e| e.to_string())
        };
        let started = std::time::Instant::now();
        let result = match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Unavailable(e)),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer from Redis within {:?}",
                self.timeout
            ))),
        };
        metrics::histogram!(stats::REDIS_SECONDS).record(started.elapsed().as_secs_f64());
        if result.is_err() {
            metrics::counter!(stats::REDIS_ERRORS).increment(1);
        }
        result
    }

    pub async fn ping(&self) -> StoreResult<()> {
        self.call(|mut c| async move { redis::cmd("PING").query_async::<()>(&mut c).await })
            .await
    }
}
