//! The chat's data model: ids, times, messages (and their shared JSON), pages of history,
//! rooms and users. Pure: no I/O, no HTTP, no WebSocket types.

pub mod events;
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
pub use page::{Page, Window};
pub use room::{ChatRoom, NewChat, RoomDetails, RoomSpec, UserRoom};
pub use time::Timestamp;
pub use user::{NewUser, User, UserSpec};
