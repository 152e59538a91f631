//! Membership (join, leave, add, remove) and the room and user reads.

use super::{check_rate, check_reader, private_room};
use crate::auth::Caller;
use crate::backend::{Access, JoinMode, Joined, Left};
use crate::domain::{ChatId, ChatRoom, RoomDetails, RoomSpec, User, UserId, UserRoom};
use crate::error::ApiError;
use crate::state::AppState;
use crate::stats;

/// `POST /chat`: creates the room; its participants' open connections follow it.
pub async fn create_room(state: &AppState, spec: RoomSpec) -> Result<ChatRoom, ApiError> {
    let room = state
        .backend
        .create_room(spec)
        .await?
        .ok_or(ApiError::Conflict("Chat already exists"))?;
    state.backend.created(&state.hub, &room).await;
    Ok(room)
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
        stats::hot().stored_system.increment(1);
    }
    outcome
}

/// Counts the system message a leave stored, if any (metrics).
fn count_leave(outcome: Left) -> Left {
    if let Left::Now(_) = outcome {
        stats::hot().stored_system.increment(1);
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

/// `GET /chat/{id}`: the room and its participants' read positions.
pub async fn read_room(state: &AppState, who: &Caller, chat: &ChatId) -> Result<RoomDetails, ApiError> {
    check_reader(state, who, chat).await?;
    let room = get_room(state, chat).await?;
    let read_positions = state.backend.read_positions(chat).await?.unwrap_or_default();
    Ok(RoomDetails { room, read_positions })
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

/// `GET /user/{id}/chats`: each room with the user's unread count and its newest message.
pub async fn user_rooms(state: &AppState, user: &UserId) -> Result<Vec<UserRoom>, ApiError> {
    state
        .backend
        .user_rooms(user)
        .await?
        .ok_or(ApiError::NotFound("User not found"))
}
