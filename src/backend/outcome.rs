//! What the backend's operations answer: domain types and `StoreError`, never HTTP types.

use crate::domain::Message;

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
}

/// The sender's standing in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    NoRoom,
    Member,
    Outsider { private: bool },
}
