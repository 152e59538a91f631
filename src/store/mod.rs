//! Storage behind one interface: an enum whose variants delegate, so filter types stay concrete.
//!
//! Each operation that changes a room's history (join, leave, send) is one atomic step in the
//! store: the membership check, the change, the stored message and its publication happen
//! together, so every reader and every connection sees one order. The store returns domain
//! types and `StoreError`, never HTTP types.

pub mod keys;
pub mod memory;
pub mod page;
pub mod redis;

use crate::domain::{ChatId, ChatRoom, Draft, Message, RoomSpec, Timestamp, User, UserId, UserSpec};
pub use memory::MemoryStore;
pub use page::Page;
pub use redis::RedisStore;

/// Why the store could not answer (Redis down or too slow). Memory never fails.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// How a join treats a missing or private room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinMode {
    /// A WebSocket frame: create a missing room (public), refuse a private one.
    Member,
    /// `POST /chat/{id}/participants`: the room must exist; private rooms are allowed.
    Admin,
}

/// What a join did.
#[derive(Debug, Clone, PartialEq)]
pub enum Joined {
    NoRoom,
    Private,
    Already,
    /// Newly joined; the stored and delivered system message.
    Now(Message),
}

/// What a leave did.
#[derive(Debug, Clone, PartialEq)]
pub enum Left {
    NoRoom,
    NotMember,
    Now(Message),
}

/// What sending a text did.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// The room is private and the sender is not in it.
    Private,
    /// Stored and delivered (after the join notice, if the sender was new to the room).
    Stored(Message),
}

/// The sender's standing in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    NoRoom,
    Member,
    Outsider { private: bool },
}

/// The configured store.
#[derive(Clone)]
pub enum Store {
    Memory(MemoryStore),
    /// Shared: the store holds its scripts and pool handle, so clones stay cheap.
    Redis(std::sync::Arc<RedisStore>),
}

/// Calls the same method on whichever store is configured (memory's are synchronous).
macro_rules! delegate {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            Store::Memory(s) => s.$method($($arg),*),
            Store::Redis(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Creates a user; `None` if the id exists.
    pub async fn create_user(&self, spec: UserSpec) -> StoreResult<Option<User>> {
        delegate!(self.create_user(spec))
    }
    pub async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        delegate!(self.get_user(id))
    }
    /// Creates the user if absent, counts one more live connection, marks it active, and
    /// returns the rooms it takes part in.
    pub async fn connect(&self, id: &UserId) -> StoreResult<Vec<ChatId>> {
        delegate!(self.connect(id))
    }
    /// Counts one connection less; the last one sets `is_active` false and `last_seen`.
    pub async fn disconnect(&self, id: &UserId) -> StoreResult<()> {
        delegate!(self.disconnect(id))
    }
    /// Creates a room (and its missing participant users); `None` if the id exists.
    pub async fn create_room(&self, spec: RoomSpec) -> StoreResult<Option<ChatRoom>> {
        delegate!(self.create_room(spec))
    }
    pub async fn get_room(&self, id: &ChatId) -> StoreResult<Option<ChatRoom>> {
        delegate!(self.get_room(id))
    }
    pub async fn access(&self, chat: &ChatId, user: &UserId) -> StoreResult<Access> {
        delegate!(self.access(chat, user))
    }
    /// Atomically: membership check, add, store and publish the join notice.
    pub async fn join(&self, chat: &ChatId, user: &UserId, mode: JoinMode) -> StoreResult<Joined> {
        delegate!(self.join(chat, user, mode))
    }
    /// Atomically: remove, store and publish the leave notice.
    pub async fn leave(&self, chat: &ChatId, user: &UserId) -> StoreResult<Left> {
        delegate!(self.leave(chat, user))
    }
    /// Atomically: create the room if absent, join a public room first, store, trim, publish.
    pub async fn send(&self, draft: Draft) -> StoreResult<Sent> {
        delegate!(self.send(draft))
    }
    /// The `limit` newest messages older than `before`, oldest first; `None` for no room.
    pub async fn history(
        &self,
        chat: &ChatId,
        limit: usize,
        before: Option<Timestamp>,
    ) -> StoreResult<Option<Page>> {
        delegate!(self.history(chat, limit, before))
    }
    /// The rooms a user takes part in, sorted by id; `None` for no user.
    pub async fn user_rooms(&self, id: &UserId) -> StoreResult<Option<Vec<ChatRoom>>> {
        delegate!(self.user_rooms(id))
    }
    /// Whether the store answers (readiness).
    pub async fn ping(&self) -> StoreResult<()> {
        match self {
            Store::Memory(_) => Ok(()),
            Store::Redis(s) => s.ping().await,
        }
    }
}
