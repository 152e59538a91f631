//! The use cases: the chat's rules, shared by HTTP and WebSocket, each written once here.
//!
//! Inputs arrive already parsed into domain ids; this layer checks content and rights, calls
//! the backend, hands what must be delivered to the hub, decides what each outcome means for
//! the caller, and returns `ApiError` (WebSocket sends its `Display` as the error frame's
//! `detail`).

use crate::auth::Caller;
use crate::backend::{Access, JoinMode, Joined, Left, Sent};
use crate::domain::{ChatId, ChatRoom, Draft, Message, MessageKind, Metadata, Timestamp, User, UserId, time};
use crate::domain::{Json, Page};
use crate::error::ApiError;
use crate::hub::Delivery;
use crate::state::AppState;
use crate::stats;

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
    match state.backend.check_rate(user).await? {
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
    // Stored and handed to this instance's hub in one step (so delivery order is stored
    // order); the hub delivers it to the room's local connections, the sender's echo among
    // them, and the backend carries it to the other instances.
    match state.backend.send(draft, &state.hub).await? {
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
    if !state.hub.follows(user, chat) && state.backend.access(chat, user).await? != Access::Member {
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
        frame: Json::of(&event),
        skip: Some(user.clone()),
        membership: None,
        seq: None,
    };
    // Delivered here at once, then (best effort: it is never stored) on the other instances.
    state.hub.deliver(&delivery);
    if let Err(e) = state.backend.publish_typing(&delivery).await {
        tracing::warn!(error = %e, "typing event not published to other instances");
    }
    Ok(())
}

/// A client joins a room (created public if absent); joining again does nothing.
pub async fn join(state: &AppState, user: &UserId, chat: &ChatId) -> Result<(), ApiError> {
    check_rate(state, user).await?;
    match count_join(
        state
            .backend
            .join(chat, user, JoinMode::Member, &state.hub)
            .await?,
    ) {
        Joined::Private => Err(private_room(chat)),
        Joined::NoRoom | Joined::Already | Joined::Now(_) => Ok(()),
    }
}

/// Counts the system message a join stored, if any (metrics).
fn count_join(outcome: Joined) -> Joined {
    if let Joined::Now(_) = outcome {
        metrics::counter!(stats::MESSAGES_STORED, "type" => "system").increment(1);
    }
    outcome
}

/// Counts the system message a leave stored, if any (metrics).
fn count_leave(outcome: Left) -> Left {
    if let Left::Now(_) = outcome {
        metrics::counter!(stats::MESSAGES_STORED, "type" => "system").increment(1);
    }
    outcome
}

/// A client leaves a room it is in.
pub async fn leave(state: &AppState, user: &UserId, chat: &ChatId) -> Result<(), ApiError> {
    check_rate(state, user).await?;
    match count_leave(state.backend.leave(chat, user, &state.hub).await?) {
        Left::Now(_) => Ok(()),
        Left::NoRoom | Left::NotMember => Err(ApiError::BadRequest(format!(
            "You are not a participant of chat {chat}"
        ))),
    }
}

/// CONTRACT (auth): a private room's details and history are for its participants only.
async fn check_reader(state: &AppState, who: &Caller, chat: &ChatId) -> Result<(), ApiError> {
    let Some(me) = who.user() else { return Ok(()) };
    match state.backend.access(chat, me).await? {
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
        && state.backend.access(chat, me).await? == (Access::Outsider { private: true })
    {
        return Err(ApiError::Forbidden(format!(
            "Only participants can add people to private chat {chat}"
        )));
    }
    check_rate(state, user).await?; // the join notice counts against the joining user
    match count_join(
        state
            .backend
            .join(chat, user, JoinMode::Added, &state.hub)
            .await?,
    ) {
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
    match count_leave(state.backend.leave(chat, user, &state.hub).await?) {
        Left::NoRoom => Err(ApiError::NotFound("Chat not found")),
        Left::NotMember => Err(ApiError::NotFound("User is not a participant of this chat")),
        Left::Now(_) => get_room(state, chat).await,
    }
}

pub async fn get_room(state: &AppState, chat: &ChatId) -> Result<ChatRoom, ApiError> {
    state
        .backend
        .get_room(chat)
        .await?
        .ok_or(ApiError::NotFound("Chat not found"))
}

pub async fn get_user(state: &AppState, user: &UserId) -> Result<User, ApiError> {
    state
        .backend
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
        .backend
        .history(chat, limit, before)
        .await?
        .ok_or(ApiError::NotFound("Chat not found"))
}

pub async fn user_rooms(state: &AppState, user: &UserId) -> Result<Vec<ChatRoom>, ApiError> {
    state
        .backend
        .user_rooms(user)
        .await?
        .ok_or(ApiError::NotFound("User not found"))
}
