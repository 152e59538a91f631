//! The use cases: the chat's rules, shared by HTTP and WebSocket, each written once here.
//!
//! Inputs arrive already parsed into domain ids; this layer checks content and rights, calls
//! the backend, hands what must be delivered to the hub, decides what each outcome means for
//! the caller, and returns `ApiError` (WebSocket sends its `Display` as the error frame's
//! `detail`).
//!
//! - `messages.rs`: sending (WebSocket or HTTP, with retries by `client_msg_id`) and history;
//! - `rooms.rs`: membership and the room and user reads;
//! - `sync.rs`: what survives a reconnect: resume and read positions;
//! - `typing.rs`: typing events, throttled, and stopped by the server when the typer is not.

mod messages;
mod rooms;
mod sync;
mod typing;

pub use messages::{Posted, TextInput, history, send_text, send_texts};
pub use rooms::{
    add_participant, create_room, get_room, get_user, join, leave, read_room, remove_participant, user_rooms,
};
pub use sync::{Position, read, resume_room};
pub use typing::{SWEEP_EVERY, stop_typing, typing};

use crate::auth::Caller;
use crate::backend::Access;
use crate::domain::{ChatId, UserId};
use crate::error::ApiError;
use crate::state::AppState;

/// CONTRACT (RATE_LIMIT_*): each stored message a user causes costs one cell.
async fn check_rate(state: &AppState, user: &UserId) -> Result<(), ApiError> {
    let rates = state.backend.check_rates(user, 1).await?;
    rate_answer(rates.into_iter().next().flatten())
}

/// A cell's answer: taken, or refused with how long to wait.
fn rate_answer(wait: Option<std::time::Duration>) -> Result<(), ApiError> {
    match wait {
        None => Ok(()),
        Some(wait) => Err(ApiError::TooManyRequests(wait)),
    }
}

fn private_room(chat: &ChatId) -> ApiError {
    ApiError::Forbidden(format!("Chat {chat} is private and you are not a participant"))
}

fn not_participant(chat: &ChatId) -> ApiError {
    ApiError::Forbidden(format!("You are not a participant of chat {chat}"))
}

/// CONTRACT (auth): a private room's details and history are for its participants only.
async fn check_reader(state: &AppState, who: &Caller, chat: &ChatId) -> Result<(), ApiError> {
    let Some(me) = who.user() else { return Ok(()) };
    match state.backend.access(chat, me).await? {
        Access::Outsider { private: true } => Err(private_room(chat)),
        _ => Ok(()),
    }
}
