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

use bb8_redis::redis::{self, RedisError, Value};

use super::conn::{Conn, Failure, Links};
use super::keys::Keys;
use super::{reads, rooms, users};
use crate::backend::{StoreError, StoreResult};
use crate::config::RedisSettings;
use crate::domain::ChatId;
use crate::hub::Hub;
use crate::stats;

/// Most Redis calls in flight at once from this instance.
const IN_FLIGHT: usize = 512;

/// Redis-backed store; clones share the pool.
#[derive(Clone)]
pub struct RedisStore {
    links: Arc<Links>,
    /// Bounds the calls in flight: Redis runs commands one at a time, so beyond a few hundred
    /// pipelined calls more only cost memory (each holds buffers and futures in the client).
    in_flight: Arc<tokio::sync::Semaphore>,
    pub(super) keys: Keys,
    pub(super) timeout: Duration,
    pub(super) max_messages: usize,
    /// How long a `client_msg_id` is remembered (zero: not at all).
    pub(super) window: Duration,
    /// This process's id in presence bookkeeping.
    pub(super) instance: String,
    pub(super) presence_ttl: Duration,
    /// Replicas that must have a stored message before it is acknowledged (`WAIT`).
    pub(super) wait_replicas: u32,
    pub(super) room_script: redis::Script,
    pub(super) create_room_script: redis::Script,
    pub(super) read_script: redis::Script,
    pub(super) create_user_script: redis::Script,
    pub(super) disconnect_script: redis::Script,
    pub(super) rate_script: redis::Script,
    pub(super) confirm_script: redis::Script,
    /// This instance's count of each user's connections (see presence.rs).
    pub(super) ledger: Arc<super::presence::Ledger>,
    pub(super) recount_script: redis::Script,
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
        let links = Links::open(settings, timeout).await.map_err(failed)?;
        let store = Self {
            links: Arc::new(links),
            in_flight: Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)),
            keys: Keys::new(&settings.key_prefix),
            timeout,
            max_messages,
            window,
            instance: uuid::Uuid::now_v7().to_string(),
            presence_ttl: settings.presence_ttl,
            wait_replicas: settings.wait_replicas,
            room_script: redis::Script::new(include_str!("room.lua")),
            create_room_script: redis::Script::new(rooms::CREATE_ROOM_LUA),
            read_script: redis::Script::new(reads::READ_LUA),
            create_user_script: redis::Script::new(users::CREATE_USER_LUA),
            disconnect_script: redis::Script::new(users::DISCONNECT_LUA),
            rate_script: redis::Script::new(include_str!("rate.lua")),
            confirm_script: Self::confirm_script(),
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
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let work = async {
            let _permit = self.in_flight.acquire().await.map_err(|e| e.to_string())?;
            let conn = self.links.get().await?;
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
        stats::redis_seconds().record(started.elapsed().as_secs_f64());
        if result.is_err() {
            metrics::counter!(stats::REDIS_ERRORS).increment(1);
        }
        result
    }

    /// Whether Redis (every master of a cluster) answers.
    pub async fn ping(&self) -> StoreResult<()> {
        self.call(|mut c| async move { c.ping_all().await }).await
    }

    /// Runs `groups`, each a pipeline whose keys share one slot, and returns each group's
    /// replies (an array), in order: on one Redis as one pipeline, on a cluster each group to
    /// its own node, all at once (a pipeline spanning slots is refused there).
    pub(super) async fn per_slot(&self, groups: Vec<redis::Pipeline>) -> StoreResult<Vec<Value>> {
        if groups.is_empty() {
            return Ok(Vec::new()); // an empty pipeline is not a valid query
        }
        let sizes: Vec<usize> = groups.iter().map(redis::Pipeline::len).collect();
        let replies = self
            .call(|mut c| async move {
                if matches!(c, Conn::One(_)) {
                    let mut all = redis::pipe();
                    for cmd in groups.iter().flat_map(redis::Pipeline::cmd_iter) {
                        all.add_command(cmd.clone());
                    }
                    let mut flat = all.query_async::<Vec<Value>>(&mut c).await?.into_iter();
                    Ok(sizes
                        .iter()
                        .map(|n| Value::Array(flat.by_ref().take(*n).collect()))
                        .collect())
                } else {
                    let each = groups.iter().map(|g| {
                        let mut c = c.clone();
                        async move { g.query_async::<Vec<Value>>(&mut c).await.map(Value::Array) }
                    });
                    futures_util::future::try_join_all(each).await
                }
            })
            .await?;
        Ok(replies)
    }

    /// A connection (shared, multiplexed) for commands outside `call`'s closure form.
    pub(super) async fn connection(&self) -> StoreResult<Conn> {
        self.links.get().await.map_err(StoreError::Unavailable)
    }

    /// Whether this store is on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.links.is_cluster()
    }
}

/// Runs a script's `EVALSHA` command `cmd` (built by the caller, arguments and all), loading
/// the script first if Redis does not have it (a restart, a failover, `SCRIPT FLUSH`): what
/// redis-rs's `ScriptInvocation` does, without its buffer per argument.
pub(super) async fn evalsha<T: redis::FromRedisValue>(
    script: &redis::Script,
    cmd: &redis::Cmd,
    c: &mut Conn,
) -> Result<T, RedisError> {
    match cmd.query_async(c).await {
        Err(e) if no_script(&e) => {
            script.load_async(c).await?;
            cmd.query_async(c).await
        }
        result => result,
    }
}

/// Whether Redis refused a script's call for want of the script (then loaded, and run again).
pub(super) fn no_script(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// Marks a room for a replay when dropped armed: a call that failed or was abandoned (a
/// dropped HTTP request) may have run the script.
pub(super) struct Recheck<'a> {
    hub: &'a Hub,
    chat: &'a ChatId,
    pub(super) armed: bool,
}

impl<'a> Recheck<'a> {
    pub(super) fn new(hub: &'a Hub, chat: &'a ChatId) -> Self {
        Self {
            hub,
            chat,
            armed: true,
        }
    }
}

impl Drop for Recheck<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.hub.recheck(self.chat);
        }
    }
}
