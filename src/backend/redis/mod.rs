//! The Redis backend: everything in Redis, shared by any number of instances. All of our
//! Redis code lives in this folder:
//!
//! - `conn.rs`: one Redis (a pool) or a Redis Cluster, chosen once, behind one connection type;
//!   `store.rs`: `call`, the one path (bounded by `REDIS_TIMEOUT_SECONDS`) every command takes;
//!   `keys.rs`: every key and channel name, each in its slot.
//! - `room.lua` + `script.rs` (+ `call.rs`, its calls): the room script, one atomic step per
//!   join, leave, send or run of texts, whose reply hands what it stored to this instance's hub
//!   (`batch.rs`: a connection's texts sent at once, one call per run to a room, in one round
//!   trip); `rooms.rs`, `users.rs` (presence and the shared rate limit), `history.rs`,
//!   `reads.rs` (read positions): the other reads and writes.
//! - `pubsub/`: fan-out between instances (one pub/sub connection, follower sets, replay
//!   after a resubscription, the keepalive, history reads kept per followed room), with its
//!   payloads in `payload.rs`.

mod announce;
mod batch;
mod call;
mod conn;
mod history;
pub mod keys;
pub mod payload;
mod presence;
pub mod pubsub;
mod reads;
mod rooms;
mod script;
mod stamp;
mod starts;
mod store;
mod users;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::StoreResult;
use super::rate::Quota;
use crate::config::RedisSettings;
use crate::domain::UserId;
use crate::hub::Hub;
pub use pubsub::RedisBus;
pub use store::RedisStore;

/// Storage, fan-out, presence and the rate limit on Redis; clones share it all.
#[derive(Clone)]
pub struct RedisBackend {
    pub store: Arc<RedisStore>,
    pub bus: RedisBus,
    quota: Option<Quota>,
}

/// What opening the Redis backend needs besides its settings.
pub struct Open<'a> {
    pub timeout: Duration,
    pub max_messages: usize,
    /// How long a `client_msg_id` is remembered.
    pub window: Duration,
    pub quota: Option<Quota>,
    pub hub: &'a Hub,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
}

impl RedisBackend {
    /// Connects, records this instance's first heartbeat, and starts pub/sub (its listener and
    /// keepalive run on `tasks` until `shutdown`).
    pub async fn open(settings: &RedisSettings, o: Open<'_>) -> StoreResult<Self> {
        let store = RedisStore::open(settings, o.timeout, o.max_messages, o.window).await?;
        store.heartbeat().await?;
        let bus = RedisBus::start(
            settings,
            o.timeout,
            o.hub.clone(),
            store.clone(),
            o.shutdown,
            o.tasks,
        )
        .await?;
        Ok(Self {
            store: Arc::new(store),
            bus,
            quota: o.quota,
        })
    }

    /// Takes `n` cells of `user`'s allowance, shared by every instance, in one call.
    pub async fn check_rates(&self, user: &UserId, n: usize) -> StoreResult<Vec<Option<Duration>>> {
        match self.quota {
            Some(q) if n > 0 => self.store.take_cells(user, q.interval, q.burst, n).await,
            _ => Ok(vec![None; n]),
        }
    }
}
