//! The chat's data model: ids, times, messages (and their shared JSON), pages of history,
//! rooms and users. Pure: no I/O, no HTTP, no WebSocket types.

pub mod ids;
pub mod json;
pub mod message;
pub mod page;
pub mod room;
pub mod text;
pub mod time;
pub mod user;

pub use ids::{ChatId, IdError, UserId};
pub use json::Json;
pub use message::{Draft, Message, MessageKind, Metadata};
pub use page::Page;
pub use room::{ChatRoom, NewChat, RoomSpec};
pub use time::Timestamp;
pub use user::{NewUser, User, UserSpec};
