//! Sending a text (from a WebSocket frame or `POST /chat/{id}/messages`) and reading history.

use std::collections::VecDeque;

use super::{check_rate, check_reader, private_room, rate_answer};
use crate::auth::Caller;
use crate::backend::{Sent, StoreError};
use crate::domain::{ChatId, Draft, Message, MessageKind, Metadata, Page, UserId, Window};
use crate::error::ApiError;
use crate::state::AppState;
use crate::stats;

/// A text message a client wants to send.
pub struct TextInput {
    pub chat_id: ChatId,
    pub content: String,
    pub metadata: Metadata,
    pub reply_to: Option<String>,
    /// The client's own id for the message: a retry with it is answered with the original.
    pub client_msg_id: Option<String>,
}

/// What sending a text did.
pub struct Posted {
    pub message: Message,
    /// True for a retry: nothing was stored or delivered, `message` is the original, and
    /// only the sender is answered with it.
    pub again: bool,
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

/// `reply_to` and `client_msg_id` are ids: 1 to 128 characters of A-Z a-z 0-9 . _ - : @.
fn check_ids(input: &TextInput) -> Result<(), ApiError> {
    use crate::domain::ids::is_valid_id;
    if input.reply_to.as_deref().is_some_and(|r| !is_valid_id(r)) {
        return Err(ApiError::BadRequest(
            "Invalid reply_to: must be a message id (1 to 128 characters of A-Z a-z 0-9 . _ - : @)".into(),
        ));
    }
    if input.client_msg_id.as_deref().is_some_and(|r| !is_valid_id(r)) {
        return Err(ApiError::BadRequest(
            "Invalid client_msg_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @".into(),
        ));
    }
    Ok(())
}

/// Stores a text (joining a public room first if needed) and delivers it, echo included; a
/// retry (same sender, room and `client_msg_id` within `IDEMPOTENCY_WINDOW_SECONDS`) stores
/// nothing and returns the original.
pub async fn send_text(state: &AppState, user: &UserId, input: TextInput) -> Result<Posted, ApiError> {
    let draft = checked(state, user, input).await?;
    let chat = draft.chat_id.clone();
    // Stored and handed to this instance's hub in one step (so delivery order is stored
    // order); the hub delivers it to the room's local connections, the sender's echo among
    // them, and the backend carries it to the other instances.
    posted(state.backend.send(draft, &state.hub).await, &chat)
}

/// Texts one connection sent at once (each read, or refused already), in the order sent:
/// each is answered as `send_text` would answer it alone, through `answer`, in that order, and
/// those that pass their checks are stored together (in one round trip to Redis), still in
/// that order. A stored text's answer comes once its messages went to the hub, so an answer
/// queued behind the sender's echo keeps its place among them.
pub async fn send_texts(
    state: &AppState,
    user: &UserId,
    inputs: Vec<Result<TextInput, ApiError>>,
    answer: &mut (dyn FnMut(Result<Posted, ApiError>) + Send),
) {
    // Content and ids first; then the texts that passed take their cells in one call.
    let inputs: Vec<_> = inputs
        .into_iter()
        .map(|i| i.and_then(|i| valid(state, i)))
        .collect();
    let valid_count = inputs.iter().filter(|i| i.is_ok()).count();
    let rates: Vec<Result<(), ApiError>> = match state.backend.check_rates(user, valid_count).await {
        Ok(waits) => waits.into_iter().map(rate_answer).collect(),
        Err(e) => (0..valid_count).map(|_| Err(ApiError::from(e.clone()))).collect(),
    };
    let mut rates = rates.into_iter();
    // Per text: refused before the store (its answer), or gone to the store (its room).
    let mut queue = VecDeque::with_capacity(inputs.len());
    let mut drafts = Vec::with_capacity(inputs.len());
    for input in inputs {
        let draft = input.and_then(|input| {
            rates.next().unwrap_or(Ok(()))?;
            Ok(draft_of(user, input))
        });
        queue.push_back(match draft {
            Ok(draft) => {
                let chat = draft.chat_id.clone();
                drafts.push(draft);
                Ok(chat)
            }
            Err(e) => Err(e),
        });
    }
    refused(&mut queue, answer);
    let mut each = |sent| {
        if let Some(Ok(chat)) = queue.pop_front() {
            answer(posted(sent, &chat));
        }
        refused(&mut queue, answer);
    };
    state.backend.send_many(drafts, &state.hub, &mut each).await;
}

/// Answers the refusals up to the next text that went to the store, in turn.
fn refused(
    queue: &mut VecDeque<Result<ChatId, ApiError>>,
    answer: &mut (dyn FnMut(Result<Posted, ApiError>) + Send),
) {
    while queue.front().is_some_and(Result::is_err) {
        if let Some(Err(e)) = queue.pop_front() {
            answer(Err(e));
        }
    }
}

/// A text's checks (content, ids, the sender's rate), then its draft.
async fn checked(state: &AppState, user: &UserId, input: TextInput) -> Result<Draft, ApiError> {
    let input = valid(state, input)?;
    check_rate(state, user).await?;
    Ok(draft_of(user, input))
}

/// A text's own checks: its content and ids.
fn valid(state: &AppState, input: TextInput) -> Result<TextInput, ApiError> {
    check_content(state, &input.content)?;
    check_ids(&input)?;
    Ok(input)
}

fn draft_of(user: &UserId, input: TextInput) -> Draft {
    Draft {
        chat_id: input.chat_id,
        user_id: user.clone(),
        content: input.content,
        kind: MessageKind::Text,
        metadata: input.metadata,
        reply_to: input.reply_to,
        client_msg_id: input.client_msg_id,
    }
}

/// What a send's outcome means for its sender.
fn posted(sent: Result<Sent, StoreError>, chat: &ChatId) -> Result<Posted, ApiError> {
    match sent? {
        Sent::Private => Err(private_room(chat)),
        Sent::Stored(message) => {
            stats::hot().stored_text.increment(1);
            Ok(Posted {
                message,
                again: false,
            })
        }
        Sent::Again(message) => Ok(Posted { message, again: true }),
    }
}

/// A page of a room's history (see [`Window`]).
pub async fn history(
    state: &AppState,
    who: &Caller,
    chat: &ChatId,
    limit: usize,
    window: Window,
) -> Result<Page, ApiError> {
    check_reader(state, who, chat).await?;
    state
        .backend
        .history(chat, limit, window)
        .await?
        .ok_or(ApiError::NotFound("Chat not found"))
}
