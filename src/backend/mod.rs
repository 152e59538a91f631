//! The backend: storage, fan-out between instances, presence and the shared rate limit, as one
//! value chosen once ([`Backend::open`]'s `match`): memory for one process, Redis for many.
//! A new mode (a Redis Cluster, say) is a new arm here, not a new enum beside this one.
//!
//! Each operation that changes a room's history (join, leave, send) is one atomic step: the
//! membership check, the change, the stored message and its hand-off to local delivery (the
//! `hub` passed in) happen together, so every reader and every connection sees one order.
//! Memory hands each message to the hub under the room's lock; Redis from the room script's
//! reply, and to other instances over pub/sub. The backend returns domain types and
//! `StoreError`, never HTTP types.

pub mod memory;
mod outcome;
pub mod rate;
pub mod redis;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Settings, StoreKind};
use std::collections::BTreeMap;

use crate::domain::{ChatId, ChatRoom, Draft, Page, RoomSpec, User, UserId, UserRoom, UserSpec, Window};
use crate::hub::{Delivery, Hub};
use memory::MemoryBackend;
pub use outcome::{Access, JoinMode, Joined, Left, Marked, Replay, Sent, StoreError, StoreResult};
use rate::Quota;
use redis::RedisBackend;

/// The configured backend; clones are cheap and share everything.
#[derive(Clone)]
pub enum Backend {
    Memory(MemoryBackend),
    Redis(RedisBackend),
}

/// Takes the outcome of each of several sends, in order (`send_many`).
pub type Each<'a> = dyn FnMut(StoreResult<Sent>) + Send + 'a;

/// Calls the same store method on whichever backend is configured (memory's are synchronous).
macro_rules! store {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            Backend::Memory(b) => b.store.$method($($arg),*),
            Backend::Redis(b) => b.store.$method($($arg),*).await,
        }
    };
}

impl Backend {
    /// The one place a backend is chosen. Redis fails at once (within `REDIS_TIMEOUT_SECONDS`)
    /// if unreachable; its background tasks run on `tasks` until `shutdown`.
    pub async fn open(
        settings: &Settings,
        hub: &Hub,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> StoreResult<Self> {
        let quota = Quota::new(settings.rate_limit_per_second, settings.rate_limit_burst);
        let (max_messages, window) = (settings.max_messages_per_room, settings.idempotency_window);
        Ok(match &settings.store {
            StoreKind::Memory => Backend::Memory(MemoryBackend::new(max_messages, window, quota)),
            StoreKind::Redis(redis) => {
                let open = redis::Open {
                    timeout: settings.redis_timeout,
                    max_messages,
                    window,
                    quota,
                    hub,
                    shutdown,
                    tasks,
                };
                Backend::Redis(RedisBackend::open(redis, open).await?)
            }
        })
    }

    /// Creates a user; `None` if the id exists.
    pub async fn create_user(&self, spec: UserSpec) -> StoreResult<Option<User>> {
        store!(self.create_user(spec))
    }
    pub async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        store!(self.get_user(id))
    }
    /// Creates the user if absent, counts one more live connection, marks it active, and
    /// returns the rooms it takes part in.
    pub async fn connect(&self, id: &UserId) -> StoreResult<Vec<ChatId>> {
        store!(self.connect(id))
    }
    /// Counts one connection less; the last one sets `is_active` false and `last_seen`.
    pub async fn disconnect(&self, id: &UserId) -> StoreResult<()> {
        store!(self.disconnect(id))
    }
    /// Creates a room (and its missing participant users); `None` if the id exists.
    pub async fn create_room(&self, spec: RoomSpec) -> StoreResult<Option<ChatRoom>> {
        store!(self.create_room(spec))
    }
    pub async fn get_room(&self, id: &ChatId) -> StoreResult<Option<ChatRoom>> {
        store!(self.get_room(id))
    }
    pub async fn access(&self, chat: &ChatId, user: &UserId) -> StoreResult<Access> {
        store!(self.access(chat, user))
    }
    /// Atomically: membership check, add, store the join notice and hand it to `hub`.
    pub async fn join(&self, chat: &ChatId, user: &UserId, mode: JoinMode, hub: &Hub) -> StoreResult<Joined> {
        store!(self.join(chat, user, mode, hub))
    }
    /// Atomically: remove, store the leave notice and hand it to `hub`.
    pub async fn leave(&self, chat: &ChatId, user: &UserId, hub: &Hub) -> StoreResult<Left> {
        store!(self.leave(chat, user, hub))
    }
    /// Atomically: answer a retry (same sender, room and `client_msg_id` within the window)
    /// with the original; else create the room if absent, join a public room first, store,
    /// trim, and hand what was stored to `hub`.
    pub async fn send(&self, draft: Draft, hub: &Hub) -> StoreResult<Sent> {
        store!(self.send(draft, hub))
    }
    /// Texts one connection sent at once, in order, each as `send` would store it (on Redis in
    /// one round trip); each text's outcome goes to `each`, in order, once its messages went to
    /// `hub`.
    pub async fn send_many(&self, drafts: Vec<Draft>, hub: &Hub, each: &mut Each<'_>) {
        match self {
            Backend::Memory(b) => drafts.into_iter().for_each(|d| each(b.store.send(d, hub))),
            Backend::Redis(b) => b.store.send_many(drafts, hub, each).await,
        }
    }
    /// The rooms a user takes part in, sorted by id, with its unread counts and each room's
    /// newest message; `None` for no user.
    pub async fn user_rooms(&self, id: &UserId) -> StoreResult<Option<Vec<UserRoom>>> {
        store!(self.user_rooms(id))
    }
    /// What a resume of `chat` after the position `after` needs; `None` for no room.
    pub async fn replay(&self, chat: &ChatId, user: &UserId, after: u64) -> StoreResult<Option<Replay>> {
        store!(self.replay(chat, user, after))
    }
    /// Moves `user`'s read position in `chat` forward to `seq`; `None` for no room.
    pub async fn mark_read(&self, chat: &ChatId, user: &UserId, seq: u64) -> StoreResult<Option<Marked>> {
        store!(self.mark_read(chat, user, seq))
    }
    /// Each participant's read position in `chat`; `None` for no room.
    pub async fn read_positions(&self, chat: &ChatId) -> StoreResult<Option<BTreeMap<UserId, u64>>> {
        store!(self.read_positions(chat))
    }

    /// A page of a room's history (see [`Window`]), oldest first; `None` for no room.
    /// On Redis, newest pages are served from the recent messages kept for a followed room
    /// when they hold the whole answer (see `redis/pubsub/reading.rs`).
    pub async fn history(&self, chat: &ChatId, limit: usize, window: Window) -> StoreResult<Option<Page>> {
        match self {
            Backend::Memory(b) => b.store.history(chat, limit, window),
            Backend::Redis(b) => b.bus.history(chat, limit, window).await,
        }
    }

    /// Makes a connecting user's local connections follow its rooms (subscribed, on Redis,
    /// before this returns: CONTRACT, nothing stored after the handshake is missed), and
    /// releases connection `conn`'s live frames from the store's position in each.
    pub async fn follow(&self, hub: &Hub, user: &UserId, conn: u64, rooms: Vec<ChatId>) -> StoreResult<()> {
        match self {
            Backend::Memory(_) => {
                // Memory delivers under each room's lock: the hub never lags behind it.
                hub.follow(user, rooms.into_iter().map(|r| (r, 0)));
                hub.started(user, conn, [], 0);
                Ok(())
            }
            Backend::Redis(b) => b.bus.follow(user, conn, rooms).await,
        }
    }

    /// A room just created: its participants' open connections follow it, here and, on
    /// Redis, on every instance (a join's bucket notice for each, from the room's start), as
    /// a join would have them do. Best effort: a lost notice leaves a connection out of the
    /// room until it reconnects.
    pub async fn created(&self, hub: &Hub, room: &ChatRoom) {
        match self {
            Backend::Memory(_) => {
                for p in &room.participants {
                    hub.follow(p, [(room.id.clone(), 0)]);
                }
            }
            Backend::Redis(b) => b.store.announce_room(room).await,
        }
    }

    /// A user's last local connection closed: channels it needed may go.
    pub fn release(&self, rooms: Vec<ChatId>) {
        if let Backend::Redis(b) = self {
            b.bus.release(rooms);
        }
    }

    /// Sends an event that is not stored (typing, a receipt; already delivered here) to the
    /// other instances following the room.
    pub async fn publish_live(&self, d: &Delivery) -> StoreResult<()> {
        match self {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(b) => b.bus.live(d).await,
        }
    }

    /// CONTRACT (RATE_LIMIT_*): takes `n` cells of `user`'s allowance, one after another (the
    /// texts of one burst, on Redis in one call): per cell, `None` if allowed, `Some(wait)` if
    /// not.
    pub async fn check_rates(
        &self,
        user: &UserId,
        n: usize,
    ) -> StoreResult<Vec<Option<std::time::Duration>>> {
        match self {
            Backend::Memory(b) => Ok(b.check_rates(user, n)),
            Backend::Redis(b) => b.check_rates(user, n).await,
        }
    }

    /// Periodic upkeep: forgets users whose allowance is full again (Redis's state expires by
    /// itself).
    pub fn prune(&self) {
        if let Backend::Memory(b) = self {
            b.prune();
        }
    }

    /// Whether the backend answers (readiness).
    pub async fn ping(&self) -> StoreResult<()> {
        match self {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(b) => b.store.ping().await,
        }
    }

    /// At shutdown, after every session closed: this instance's presence entries go.
    pub async fn retire(&self) -> StoreResult<()> {
        match self {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(b) => b.store.retire().await,
        }
    }
}
