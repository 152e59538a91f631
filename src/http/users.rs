//! User endpoints: details, creation, the user's rooms.

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Response, json, with_status};
use warp::{Filter, Reply};

use super::filters::{caller, json_body, segment, with_state};
use super::routes::{CREATE_USER, GET_USER, USER_CHATS};
use crate::auth::Caller;
use crate::domain::{NewUser, User, UserId, UserRoom};
use crate::error::{ApiError, Detail};
use crate::state::AppState;
use crate::usecases;

pub fn routes(s: AppState) -> BoxedFilter<(Response,)> {
    let details = GET_USER
        .path1()
        .and(warp::get())
        .and(caller(s.clone()))
        .and(with_state(s.clone()))
        .then(get_user);
    let create = CREATE_USER
        .path0()
        .and(warp::post())
        .and(caller(s.clone()))
        .and(json_body())
        .and(with_state(s.clone()))
        .then(create_user);
    let chats = USER_CHATS
        .path1()
        .and(warp::get())
        .and(caller(s.clone()))
        .and(with_state(s))
        .then(get_user_chats);
    details
        .map(Reply::into_response)
        .or(create.map(Reply::into_response))
        .unify()
        .or(chats.map(Reply::into_response))
        .unify()
        .boxed()
}

/// Get user details
///
/// `is_active` is true while the user has a live WebSocket; `last_seen` is when the last one closed.
#[utoipa::path(get, path = "/user/{user_id}", tag = "users", operation_id = "get_user",
    params(("user_id" = String, Path, pattern = "^[A-Za-z0-9._:@-]{1,128}$", description = "User id", example = "user1")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 400, description = "Invalid user_id", body = Detail, example = json!({"detail": "Invalid request data"})),
        (status = 404, description = "Unknown user", body = Detail, example = json!({"detail": "User not found"})),
        (status = 503, description = "Storage unreachable", body = Detail, example = json!({"detail": "Storage unavailable"})),
    ))]
pub async fn get_user(user_id: String, _who: Caller, s: AppState) -> Result<Response, ApiError> {
    let user = UserId::parse(&segment(&user_id))?;
    Ok(json(&usecases::get_user(&s, &user).await?).into_response())
}

/// Create a user
#[utoipa::path(post, path = "/user", tag = "users", operation_id = "create_user", request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 400, description = "Invalid body", body = Detail, example = json!({"detail": "Invalid username: must be 1 to 128 characters, not blank"})),
        (status = 409, description = "The id is taken", body = Detail, example = json!({"detail": "User already exists"})),
        (status = 413, description = "Body over 64 KiB", body = Detail, example = json!({"detail": "Request body too large"})),
        (status = 403, description = "Not allowed for this caller (only when AUTH_SECRET is set)", body = Detail, example = json!({"detail": "You can only create your own user"})),
        (status = 503, description = "Storage unreachable", body = Detail, example = json!({"detail": "Storage unavailable"})),
    ))]
pub async fn create_user(who: Caller, mut body: NewUser, s: AppState) -> Result<Response, ApiError> {
    // CONTRACT (auth): a caller creates only its own user (the id defaults to the token's).
    if let Some(me) = who.user() {
        match &body.id {
            None => body.id = Some(me.to_string()),
            Some(id) if id != me.as_str() => {
                return Err(ApiError::Forbidden("You can only create your own user".into()));
            }
            Some(_) => {}
        }
    }
    let spec = body.validate().map_err(ApiError::BadRequest)?;
    let user = s
        .backend
        .create_user(spec)
        .await?
        .ok_or(ApiError::Conflict("User already exists"))?;
    Ok(with_status(json(&user), StatusCode::CREATED).into_response())
}

/// List a user's rooms
#[utoipa::path(get, path = "/user/{user_id}/chats", tag = "users", operation_id = "get_user_chats",
    params(("user_id" = String, Path, pattern = "^[A-Za-z0-9._:@-]{1,128}$", description = "User id", example = "user1")),
    responses(
        (status = 200, description = "The rooms the user takes part in, sorted by id, each with the user's unread count and its newest message", body = Vec<UserRoom>),
        (status = 400, description = "Invalid user_id", body = Detail, example = json!({"detail": "Invalid request data"})),
        (status = 404, description = "Unknown user", body = Detail, example = json!({"detail": "User not found"})),
        (status = 403, description = "Not allowed for this caller (only when AUTH_SECRET is set)", body = Detail, example = json!({"detail": "You can only list your own chats"})),
        (status = 503, description = "Storage unreachable", body = Detail, example = json!({"detail": "Storage unavailable"})),
    ))]
pub async fn get_user_chats(user_id: String, who: Caller, s: AppState) -> Result<Response, ApiError> {
    let user = UserId::parse(&segment(&user_id))?;
    if who.user().is_some_and(|me| *me != user) {
        return Err(ApiError::Forbidden("You can only list your own chats".into()));
    }
    Ok(json(&usecases::user_rooms(&s, &user).await?).into_response())
}
