//! What the backend's operations answer: domain types and `StoreError`, never HTTP types.

use crate::domain::{Json, Message};

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
    /// The user joins by itself (a WebSocket frame): create a missing room (public), refuse a
    /// private one.
    Member,
    /// Someone else adds the user (`POST /chat/{id}/participants`): the room must exist;
    /// private rooms are allowed.
    Added,
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
    /// A retry: the sender sent a text with this `client_msg_id` to the room within the
    /// idempotency window. Nothing was stored or delivered; this is the original.
    Again(Message),
}

/// What a resume needs of a room's history after a client's position.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// Whether the user is a participant.
    pub member: bool,
    /// The room's history identity now.
    pub epoch: String,
    /// Whether the history still holds everything after the position: the message at it is
    /// still stored (position 0: nothing was ever trimmed).
    pub reaches: bool,
    /// The stored messages after the position, oldest first, with their `seq`.
    pub entries: Vec<(u64, Json)>,
    /// The room's newest `seq` when read (0 for none).
    pub upto: u64,
}

/// What a read frame did to the reader's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    /// Moved forward to the given `seq`.
    Moved,
    /// At or behind the position already: nothing changed.
    Behind,
    /// Past the room's newest message: refused.
    Beyond,
    /// The user is not a participant: refused.
    NotMember,
}

/// The sender's standing in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    NoRoom,
    Member,
    Outsider { private: bool },
}
