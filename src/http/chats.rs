//! Room endpoints: details, creation, participants (messages: `messages.rs`).

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Response, json, with_status};
use warp::{Filter, Reply};

use super::filters::{caller, json_body, segment, with_state};
use super::routes::{ADD_PARTICIPANT, CREATE_CHAT, GET_CHAT, REMOVE_PARTICIPANT};
use crate::auth::Caller;
use crate::domain::{ChatId, ChatRoom, NewChat, RoomDetails, UserId};
use crate::error::{ApiError, Detail};
use crate::state::AppState;
use crate::usecases;

/// Body of `POST /chat/{chat_id}/participants`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user_id": "user2"}))]
pub struct AddParticipant {
    /// The user to add (created if absent).
    #[schema(example = "user2", pattern = "^(?!system$)[A-Za-z0-9._:@-]{1,128}$")]
    pub user_id: String,
}

pub fn routes(s: AppState) -> BoxedFilter<(Response,)> {
    let details = GET_CHAT
        .path1()
        .and(warp::get())
        .and(caller(s.clone()))
        .and(with_state(s.clone()))
        .then(get_chat);
    let create = CREATE_CHAT
        .path0()
        .and(warp::post())
        .and(caller(s.clone()))
        .and(json_body())
        .and(with_state(s.clone()))
        .then(create_chat);
    let add = ADD_PARTICIPANT
        .path1()
        .and(warp::post())
        .and(caller(s.clone()))
        .and(json_body())
        .and(with_state(s.clone()))
        .then(add_participant);
    let remove = REMOVE_PARTICIPANT
        .path2()
        .and(warp::delete())
        .and(caller(s.clone()))
        .and(with_state(s.clone()))
        .then(remove_participant);
    super::messages::routes(s.clone())
        .or(details.map(Reply::into_response))
        .unify()
        .or(create.map(Reply::into_response))
        .unify()
        .or(add.map(Reply::into_response))
        .unify()
        .or(remove.map(Reply::into_response))
        .unify()
        .boxed()
}

/// Get chat room details
#[utoipa::path(get, path = "/chat/{chat_id}", tag = "chats", operation_id = "get_chat",
    params(("chat_id" = String, Path, pattern = "^[A-Za-z0-9._:@-]{1,128}$", description = "Room id", example = "chat1")),
    responses(
        (status = 200, description = "The room, with its participants' read positions", body = RoomDetails),
        (status = 400, description = "Invalid chat_id", body = Detail, example = json!({"detail": "Invalid request data"})),
        (status = 404, description = "Unknown chat", body = Detail, example = json!({"detail": "Chat not found"})),
        (status = 403, description = "Not allowed for this caller (only when AUTH_SECRET is set)", body = Detail, example = json!({"detail": "Chat p is private and you are not a participant"})),
        (status = 503, description = "Storage unreachable", body = Detail, example = json!({"detail": "Storage unavailable"})),
    ))]
pub async fn get_chat(chat_id: String, who: Caller, s: AppState) -> Result<Response, ApiError> {
    let chat = ChatId::parse(&segment(&chat_id))?;
    Ok(json(&usecases::read_room(&s, &who, &chat).await?).into_response())
}

/// Create a chat room
#[utoipa::path(post, path = "/chat", tag = "chats", operation_id = "create_chat", request_body = NewChat,
    responses(
        (status = 201, description = "Created", body = ChatRoom),
        (status = 400, description = "Invalid body", body = Detail, example = json!({"detail": "Invalid name: must be 1 to 200 characters, not blank"})),
        (status = 409, description = "The id is taken", body = Detail, example = json!({"detail": "Chat already exists"})),
        (status = 413, description = "Body over 64 KiB", body = Detail, example = json!({"detail": "Request body too large"})),
        (status = 503, description = "Storage unreachable", body = Detail, example = json!({"detail": "Storage unavailable"})),
    ))]
pub async fn create_chat(who: Caller, body: NewChat, s: AppState) -> Result<Response, ApiError> {
    let mut spec = body.validate().map_err(ApiError::BadRequest)?;
    // CONTRACT (auth): the creator of a room is always one of its participants.
    if let Some(me) = who.user() {
        spec.participants.push(me.clone());
    }
    let room = usecases::create_room(&s, spec).await?;
    Ok(with_status(json(&room), StatusCode::CREATED).into_response())
}

/// Add a participant
///
/// Adds the user (created if absent) and stores and delivers `"{user_id} joined the chat"`.
/// Adding a participant again changes nothing. Works on private rooms too.
#[utoipa::path(post, path = "/chat/{chat_id}/participants", tag = "chats", operation_id = "add_participant",
    params(("chat_id" = String, Path, pattern = "^[A-Za-z0-9._:@-]{1,128}$", description = "Room id", example = "chat1")),
    request_body = AddParticipant,
    responses(
        (status = 200, description = "The room, with the participant", body = ChatRoom),
        (status = 400, description = "Invalid id or body", body = Detail, example = json!({"detail": "Invalid request data"})),
        (status = 404, description = "Unknown chat", body = Detail, example = json!({"detail": "Chat not found"})),
        (status = 413, description = "Body over 64 KiB", body = Detail, example = json!({"detail": "Request body too large"})),
        (status = 403, description = "Not allowed for this caller (only when AUTH_SECRET is set)", body = Detail, example = json!({"detail": "Only participants can add people to private chat p"})),
        (status = 429, description = "Over the user's message rate (RATE_LIMIT_*); Retry-After says when to retry", body = Detail, example = json!({"detail": "Rate limit exceeded: retry in 250 ms"})),
        (status = 503, description = "Storage unreachable", body = Detail, example = json!({"detail": "Storage unavailable"})),
    ))]
pub async fn add_participant(
    chat_id: String,
    who: Caller,
    body: AddParticipant,
    s: AppState,
) -> Result<Response, ApiError> {
    let chat = ChatId::parse(&segment(&chat_id))?;
    let user = UserId::parse_client(&body.user_id)?;
    Ok(json(&usecases::add_participant(&s, &who, &chat, &user).await?).into_response())
}

/// Remove a participant
///
/// Stores and delivers `"{user_id} left the chat"`; the leaver receives nothing more from the room.
#[utoipa::path(delete, path = "/chat/{chat_id}/participants/{user_id}", tag = "chats", operation_id = "remove_participant",
    params(
        ("chat_id" = String, Path, pattern = "^[A-Za-z0-9._:@-]{1,128}$", description = "Room id", example = "chat1"),
        ("user_id" = String, Path, pattern = "^[A-Za-z0-9._:@-]{1,128}$", description = "User id", example = "user2"),
    ),
    responses(
        (status = 200, description = "The room, without the participant", body = ChatRoom),
        (status = 400, description = "Invalid id", body = Detail, example = json!({"detail": "Invalid request data"})),
        (status = 404, description = "Unknown chat, or the user is not a participant", body = Detail, example = json!({"detail": "User is not a participant of this chat"})),
        (status = 403, description = "Not allowed for this caller (only when AUTH_SECRET is set)", body = Detail, example = json!({"detail": "You can only remove yourself from a chat"})),
        (status = 429, description = "Over the user's message rate (RATE_LIMIT_*); Retry-After says when to retry", body = Detail, example = json!({"detail": "Rate limit exceeded: retry in 250 ms"})),
        (status = 503, description = "Storage unreachable", body = Detail, example = json!({"detail": "Storage unavailable"})),
    ))]
pub async fn remove_participant(
    chat_id: String,
    user_id: String,
    who: Caller,
    s: AppState,
) -> Result<Response, ApiError> {
    let chat = ChatId::parse(&segment(&chat_id))?;
    // `system` is a valid id that is never a participant: 404, like any other non-member.
    let user = UserId::parse(&segment(&user_id))?;
    Ok(json(&usecases::remove_participant(&s, &who, &chat, &user).await?).into_response())
}
