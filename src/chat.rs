//! The chat's rules, shared by HTTP and WebSocket: each use case is written once here.
//!
//! Inputs arrive already parsed into domain ids; this layer checks content, decides what
//! each store outcome means for the caller, and returns `ApiError` (WebSocket sends its
//! `Display` as the error frame's `detail`).

use crate::auth::Caller;
use crate::domain::{ChatId, ChatRoom, Draft, Message, MessageKind, Metadata, Timestamp, User, UserId, time};
use crate::error::ApiError;
use crate::state::AppState;
use crate::stats;
use crate::store::{Access, JoinMode, Joined, Left, Page, Sent};
use crate::ws::hub::Delivery;

/// A text message a client wants to send.
pub struct TextInput {
    pub chat_id: ChatId,
    pub content: String,
    pub metadata: Metadata,
    pub reply_to: Option<String>,
}

/// CONTRACT: `content` is 1 to `MAX_CONTENT_LENGTH` characters (4096 by default).
fn check_content(state: &AppState, content: &str) -> Result<(), ApiError> {
    let max = state.settings.max_content_chars;
    if content.is_empty() {
        return Err(ApiError::BadRequest("content must not be empty".into()));
    }
    if content.len() > max && content.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "content is too long: at most {max} characters"
        )));
    }
    Ok(())
}

/// CONTRACT (RATE_LIMIT_*): each stored message a user causes costs one cell.
async fn check_rate(state: &AppState, user: &UserId) -> Result<(), ApiError> {
    match state.limits.check(user).await? {
        None => Ok(()),
        Some(wait) => Err(ApiError::TooManyRequests(wait)),
    }
}

fn private_room(chat: &ChatId) -> ApiError {
    ApiError::Forbidden(format!("Chat {chat} is private and you are not a participant"))
}

/// Stores a text (joining a public room first if needed) and delivers it, echo included.
pub async fn send_text(state: &AppState, user: &UserId, input: TextInput) -> Result<Message, ApiError> {
    check_content(state, &input.content)?;
    check_rate(state, user).await?;
    let draft = Draft {
        chat_id: input.chat_id.clone(),
        user_id: user.clone(),
        content: input.content,
        kind: MessageKind::Text,
        metadata: input.metadata,
        reply_to: input.reply_to,
    };
    match state.store.send(draft).await? {
        Sent::Private => Err(private_room(&input.chat_id)),
        Sent::Stored(message) => {
            metrics::counter!(stats::MESSAGES_STORED, "type" => "text").increment(1);
            Ok(message)
        }
    }
}

/// Delivers a typing event to the room's other participants; never stored.
pub async fn typing(state: &AppState, user: &UserId, chat: &ChatId, content: &str) -> Result<(), ApiError> {
    if content != "typing" && content != "stopped" {
        return Err(ApiError::BadRequest(
            "typing content must be \"typing\" or \"stopped\"".into(),
        ));
    }
    // The hub knows the rooms the sender's connections follow, without a storage round trip
    // (so typing keeps working locally while Redis is down); the store settles the case of a
    // join whose notice has not reached this hub yet.
    if !state.hub.follows(user, chat) && state.store.access(chat, user).await? != Access::Member {
        return Err(ApiError::Forbidden(format!(
            "You are not a participant of chat {chat}"
        )));
    }
    let event = Draft {
        chat_id: chat.clone(),
        user_id: user.clone(),
        content: content.to_string(),
        kind: MessageKind::Typing,
        metadata: Metadata::new(),
        reply_to: None,
    }
    .stamp(time::now());
    let delivery = Delivery {
        chat_id: chat.clone(),
        frame: crate::ws::frames::frame_of(&event),
        skip: Some(user.clone()),
        membership: None,
        seq: None,
    };
    state.bus.typing(&state.hub, delivery).await;
    Ok(())
}

/// A client joins a room (created public if absent); joining again does nothing.
pub async fn join(state: &AppState, user: &UserId, chat: &ChatId) -> Result<(), ApiError> {
    check_rate(state, user).await?;
    match stored(state.store.join(chat, user, JoinMode::Member).await?) {
        Joined::Private => Err(private_room(chat)),
        Joined::NoRoom | Joined::Already | Joined::Now(_) => Ok(()),
    }
}

/// Counts the system message a join stored, if any.
fn stored(outcome: Joined) -> Joined {
    if let Joined::Now(_) = outcome {
        metrics::counter!(stats::MESSAGES_STORED, "type" => "system").increment(1);
    }
    outcome
}

/// Counts the system message a leave stored, if any.
fn stored_leave(outcome: Left) -> Left {
    if let Left::Now(_) = outcome {
        metrics::counter!(stats::MESSAGES_STORED, "type" => "system").increment(1);
    }
    outcome
}

/// A client leaves a room it is in.
pub async fn leave(state: &AppState, user: &UserId, chat: &ChatId) -> Result<(), ApiError> {
    check_rate(state, user).await?;
    match stored_leave(state.store.leave(chat, user).await?) {
        Left::Now(_) => Ok(()),
        Left::NoRoom | Left::NotMember => Err(ApiError::BadRequest(format!(
            "You are not a participant of chat {chat}"
        ))),
    }
}

/// CONTRACT (auth): a private room's details and history are for its participants only.
async fn check_reader(state: &AppState, who: &Caller, chat: &ChatId) -> Result<(), ApiError> {
    let Some(me) = who.user() else { return Ok(()) };
    match state.store.access(chat, me).await? {
        Access::Outsider { private: true } => Err(private_room(chat)),
        _ => Ok(()),
    }
}

/// `GET /chat/{id}`.
pub async fn read_room(state: &AppState, who: &Caller, chat: &ChatId) -> Result<ChatRoom, ApiError> {
    check_reader(state, who, chat).await?;
    get_room(state, chat).await
}

/// `POST /chat/{id}/participants`: adds a user (created if absent) to an existing room.
/// CONTRACT (auth): only a participant of a private room may add people to it.
pub async fn add_participant(
    state: &AppState,
    who: &Caller,
    chat: &ChatId,
    user: &UserId,
) -> Result<ChatRoom, ApiError> {
    if let Some(me) = who.user()
        && state.store.access(chat, me).await? == (Access::Outsider { private: true })
    {
        return Err(ApiError::Forbidden(format!(
            "Only participants can add people to private chat {chat}"
        )));
    }
    check_rate(state, user).await?; // the join notice counts against the joining user
    match stored(state.store.join(chat, user, JoinMode::Admin).await?) {
        Joined::NoRoom => Err(ApiError::NotFound("Chat not found")),
        _ => get_room(state, chat).await,
    }
}

/// `DELETE /chat/{id}/participants/{user}`. CONTRACT (auth): callers remove only themselves.
pub async fn remove_participant(
    state: &AppState,
    who: &Caller,
    chat: &ChatId,
    user: &UserId,
) -> Result<ChatRoom, ApiError> {
    if who.user().is_some_and(|me| me != user) {
        return Err(ApiError::Forbidden(
            "You can only remove yourself from a chat".into(),
        ));
    }
    check_rate(state, user).await?; // the leave notice counts against the leaving user
    match stored_leave(state.store.leave(chat, user).await?) {
        Left::NoRoom => Err(ApiError::NotFound("Chat not found")),
        Left::NotMember => Err(ApiError::NotFound("User is not a participant of this chat")),
        Left::Now(_) => get_room(state, chat).await,
    }
}

pub async fn get_room(state: &AppState, chat: &ChatId) -> Result<ChatRoom, ApiError> {
    state
        .store
        .get_room(chat)
        .await?
        .ok_or(ApiError::NotFound("Chat not found"))
}

pub async fn get_user(state: &AppState, user: &UserId) -> Result<User, ApiError> {
    state
        .store
        .get_user(user)
        .await?
        .ok_or(ApiError::NotFound("User not found"))
}

pub async fn history(
    state: &AppState,
    who: &Caller,
    chat: &ChatId,
    limit: usize,
    before: Option<Timestamp>,
) -> Result<Page, ApiError> {
    check_reader(state, who, chat).await?;
    state
        .bus
        .history(&state.store, chat, limit, before)
        .await?
        .ok_or(ApiError::NotFound("Chat not found"))
}

pub async fn user_rooms(state: &AppState, user: &UserId) -> Result<Vec<ChatRoom>, ApiError> {
    state
        .store
        .user_rooms(user)
        .await?
        .ok_or(ApiError::NotFound("User not found"))
}
