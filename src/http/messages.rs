//! Message endpoints: history (`GET /chat/{chat_id}/messages`) and sending over HTTP
//! (`POST` on the same path), for backends and bots.

use std::collections::HashMap;

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Response, json, with_status};
use warp::{Filter, Reply};

use super::filters::{caller, json_body, segment, with_state};
use super::routes::CHAT_MESSAGES;
use crate::auth::Caller;
use crate::domain::message::seq_ceil;
use crate::domain::{ChatId, Message, Metadata, UserId, Window, time};
use crate::error::{ApiError, Detail};
use crate::state::AppState;
use crate::usecases::{self, TextInput};

/// Why a `before_seq` or `after_seq` is refused.
const BAD_SEQ: &str = "expected a message's seq, an integer from 0 to 9223372036854775807";

/// `limit` bounds (CONTRACT: 1..=1000, default 50).
pub const MAX_LIMIT: usize = 1000;
pub const DEFAULT_LIMIT: usize = 50;

pub fn routes(s: AppState) -> BoxedFilter<(Response,)> {
    let history = CHAT_MESSAGES
        .path1()
        .and(warp::get())
        .and(caller(s.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .and(with_state(s.clone()))
        .then(get_messages);
    let post = CHAT_MESSAGES
        .path1()
        .and(warp::post())
        .and(caller(s.clone()))
        .and(json_body())
        .and(with_state(s))
        .then(post_message);
    history
        .map(Reply::into_response)
        .or(post.map(Reply::into_response))
        .unify()
        .boxed()
}

/// Body of `POST /chat/{chat_id}/messages`: a text, as a WebSocket `text` frame carries it.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"content": "Build 412 passed", "user_id": "ci-bot", "client_msg_id": "build-412"}))]
pub struct NewMessage {
    /// 1 to 4096 characters (`MAX_CONTENT_LENGTH`).
    #[schema(example = "Build 412 passed", min_length = 1, max_length = 4096)]
    pub content: String,
    /// The sender. With `AUTH_SECRET` set it may be left out (the token's user is the
    /// sender), and otherwise must name that same user; without it, it is required.
    #[schema(value_type = String, required = true, example = "ci-bot", pattern = "^(?!system$)[A-Za-z0-9._:@-]{1,128}$")]
    pub user_id: Option<String>,
    /// Free-form JSON object, stored with the message.
    #[schema(value_type = Option<HashMap<String, serde_json::Value>>, example = json!({"build": 412}))]
    pub metadata: Option<Metadata>,
    /// Id of the message this one answers.
    #[schema(
        example = "0192f0c1-7d3e-7b7a-9c1d-2f4e6a8b0c12",
        pattern = "^[A-Za-z0-9._:@-]{1,128}$"
    )]
    pub reply_to: Option<String>,
    /// Your own id for this message (1 to 128 characters of A-Z a-z 0-9 . _ - : @): sending it
    /// again within `IDEMPOTENCY_WINDOW_SECONDS` stores nothing and answers the original.
    #[schema(example = "build-412", pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    pub client_msg_id: Option<String>,
}

/// Send a message
///
/// Stores and delivers a text exactly as a WebSocket `text` frame would: the same limits,
/// rate limit and private-room rule; a public room is created and joined if needed. A retry
/// with the same `client_msg_id` (same sender and room, within the idempotency window)
/// stores nothing and answers the original message, again with 201.
#[utoipa::path(post, path = "/chat/{chat_id}/messages", tag = "chats", operation_id = "post_chat_message",
    params(("chat_id" = String, Path, pattern = "^[A-Za-z0-9._:@-]{1,128}$", description = "Room id", example = "chat1")),
    request_body = NewMessage,
    responses(
        (status = 201, description = "Stored and delivered (or, for a retry, the original)", body = Message),
        (status = 400, description = "Invalid id, body or content, or no sender", body = Detail, example = json!({"detail": "content must not be empty"})),
        (status = 413, description = "Body over 64 KiB", body = Detail, example = json!({"detail": "Request body too large"})),
        (status = 403, description = "Private room and the sender is not a participant, or user_id is not the token's user", body = Detail, example = json!({"detail": "Chat p is private and you are not a participant"})),
        (status = 429, description = "Over the user's message rate (RATE_LIMIT_*); Retry-After says when to retry", body = Detail, example = json!({"detail": "Rate limit exceeded: retry in 250 ms"})),
        (status = 503, description = "Storage unreachable", body = Detail, example = json!({"detail": "Storage unavailable"})),
    ))]
pub async fn post_message(
    chat_id: String,
    who: Caller,
    body: NewMessage,
    s: AppState,
) -> Result<Response, ApiError> {
    let chat = ChatId::parse(&segment(&chat_id))?;
    let user = match (who.user(), body.user_id.as_deref()) {
        (Some(me), Some(claimed)) if claimed != me.as_str() => {
            return Err(ApiError::Forbidden(format!(
                "user_id {claimed:?} does not match the token's user"
            )));
        }
        (Some(me), _) => me.clone(),
        (None, Some(claimed)) => UserId::parse_client(claimed)?,
        (None, None) => {
            return Err(ApiError::BadRequest(
                "user_id is required: who sends the message".into(),
            ));
        }
    };
    let input = TextInput {
        chat_id: chat,
        content: body.content,
        metadata: body.metadata.unwrap_or_default(),
        reply_to: body.reply_to,
        client_msg_id: body.client_msg_id,
    };
    let posted = usecases::send_text(&s, &user, input).await?;
    Ok(with_status(json(&posted.message), StatusCode::CREATED).into_response())
}

fn parse_limit(q: &HashMap<String, String>) -> Result<usize, ApiError> {
    match q.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("Invalid limit: must be an integer from 1 to {MAX_LIMIT}"))
            }),
    }
}

/// Which page. The bounds combine: `before` (a time) and `before_seq` both bound it above,
/// `after_seq` below; with `after_seq` it is the oldest messages above it, else the newest.
fn parse_window(q: &HashMap<String, String>) -> Result<Window, ApiError> {
    // Up to i64::MAX: the documented int64 (a seq, a µs timestamp, is far below it).
    let seq = |name: &str| {
        q.get(name)
            .map(|v| {
                let n = v.parse::<i64>().ok().and_then(|n| u64::try_from(n).ok());
                n.ok_or_else(|| ApiError::BadRequest(format!("Invalid {name}: {BAD_SEQ}")))
            })
            .transpose()
    };
    let before_time = match q.get("before") {
        Some(v) => Some(seq_ceil(time::parse(v).ok_or_else(|| bad_before(v))?)),
        None => None,
    };
    let below = [before_time, seq("before_seq")?].into_iter().flatten().min();
    Ok(match (seq("after_seq")?, below) {
        (None, below) => Window::Before(below.unwrap_or(u64::MAX)),
        (Some(after), None) => Window::After(after),
        (Some(after), Some(below)) => Window::Between(after, below),
    })
}

fn bad_before(value: &str) -> ApiError {
    // In a query string `+` means a space, so an offset written as is (`+02:00`) arrives as
    // ` 02:00`: a valid time once the sign is back, and a puzzle without this hint.
    let unencoded_plus = value
        .rsplit_once(' ')
        .is_some_and(|(time, offset)| time::parse(&format!("{time}+{offset}")).is_some());
    ApiError::BadRequest(if unencoded_plus {
        "Invalid before: a + in a URL query reads as a space; encode the offset's + as %2B, as in 2024-01-01T00:00:00%2B02:00".into()
    } else {
        "Invalid before: expected an ISO 8601 timestamp such as 2024-01-01T00:00:00 or 2024-01-01T00:00:00.000000Z".into()
    })
}

/// Get chat history
///
/// Oldest first, always. By default the `limit` newest messages; with `before`, the newest
/// older than that time; with `before_seq`, the newest whose `seq` is below it; with
/// `after_seq`, the oldest whose `seq` is above it (and below the other two, if given). To
/// walk the whole history backwards pass the first `seq` of the page you have as
/// `before_seq`; forwards (catching up), the last one as `after_seq`: either way each message
/// comes once.
#[utoipa::path(get, path = "/chat/{chat_id}/messages", tag = "chats", operation_id = "get_chat_messages",
    params(
        ("chat_id" = String, Path, pattern = "^[A-Za-z0-9._:@-]{1,128}$", description = "Room id", example = "chat1"),
        ("limit" = Option<u32>, Query, description = "How many messages, 1 to 1000 (default 50)", minimum = 1, maximum = 1000, example = 50),
        ("before" = Option<String>, Query, format = DateTime, description = "Only messages strictly older than this time, such as 2024-01-01T00:00:00Z: RFC 3339, or the naive ISO 8601 form (read as UTC). Leave it out for the newest messages. In a URL, write an offset's + as %2B."),
        ("before_seq" = Option<i64>, Query, description = "Only messages whose seq is below this: the newest of them", minimum = 0, example = 1704067200000000_i64),
        ("after_seq" = Option<i64>, Query, description = "Only messages whose seq is above this: the oldest of them (0: from the first)", minimum = 0, example = 1704067200000000_i64),
    ),
    responses(
        (status = 200, description = "Messages, oldest first", body = Vec<Message>),
        (status = 400, description = "Invalid chat_id, limit, before, before_seq or after_seq", body = Detail, example = json!({"detail": "Invalid after_seq: expected a message's seq, an integer from 0 to 9223372036854775807"})),
        (status = 404, description = "Unknown chat", body = Detail, example = json!({"detail": "Chat not found"})),
        (status = 403, description = "Not allowed for this caller (only when AUTH_SECRET is set)", body = Detail, example = json!({"detail": "Chat p is private and you are not a participant"})),
        (status = 503, description = "Storage unreachable", body = Detail, example = json!({"detail": "Storage unavailable"})),
    ))]
pub async fn get_messages(
    chat_id: String,
    who: Caller,
    q: HashMap<String, String>,
    s: AppState,
) -> Result<Response, ApiError> {
    let chat = ChatId::parse(&segment(&chat_id))?;
    let (limit, window) = (parse_limit(&q)?, parse_window(&q)?);
    // The stored JSON of each message, as stored: no parse and re-serialise per request.
    let page = usecases::history(&s, &who, &chat, limit, window).await?;
    Ok(warp::reply::with_header(page.to_json(), "content-type", "application/json").into_response())
}
