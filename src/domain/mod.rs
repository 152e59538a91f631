//! The chat's data model: ids, times, messages, rooms and users. Pure: no I/O, no HTTP.

pub mod chat;
pub mod ids;
pub mod message;
pub mod text;
pub mod time;
pub mod user;

pub use chat::{ChatRoom, NewChat, RoomSpec};
pub use ids::{ChatId, IdError, UserId};
pub use message::{Draft, Message, MessageKind, Metadata};
pub use time::Timestamp;
pub use user::{NewUser, User, UserSpec};
