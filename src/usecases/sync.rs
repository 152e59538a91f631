//! What survives a reconnect: resuming a room after the last message a client saw, and read
//! positions with their receipts.

use super::not_participant;
use crate::backend::Marked;
use crate::domain::events::{Receipt, ReceiptTag, Resumed, ResumedTag};
use crate::domain::{ChatId, Json, UserId, Window};
use crate::error::ApiError;
use crate::hub::{Delivery, Start};
use crate::state::AppState;

/// How many messages a `resumed` frame that could not recover carries.
pub const RESYNC_PAGE: usize = 50;

/// The last message a client saw in a room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Position {
    pub seq: u64,
    pub epoch: String,
}

/// Answers a resume of one room for connection `conn`: the frames to write before its live
/// ones, in order. Recovered: every stored message after the position (up to where the
/// connection's live messages start), then `resumed` with `recovered: true`. Else (history
/// trimmed past the position, or another epoch) `resumed` with `recovered: false` and the
/// newest page up to that same point.
pub async fn resume_room(
    state: &AppState,
    user: &UserId,
    conn: u64,
    chat: &ChatId,
    pos: &Position,
) -> Result<Vec<Json>, ApiError> {
    // The hub may have delivered past what a read saw (a message stored meanwhile): read
    // again, so the replay reaches where live delivery starts.
    for _ in 0..4 {
        let replay = state
            .backend
            .replay(chat, user, pos.seq)
            .await?
            .ok_or(ApiError::NotFound("Chat not found"))?;
        if !replay.member {
            return Err(not_participant(chat));
        }
        let end = match state.hub.resume_start(user, conn, chat) {
            Start::NotResuming => return Err(not_resuming()),
            Start::NotFollowed => replay.upto,
            Start::After(end) if end > replay.upto => continue,
            Start::After(end) => end,
        };
        let mut answer = Resumed {
            kind: ResumedTag::Resumed,
            chat_id: chat.clone(),
            recovered: replay.epoch == pos.epoch && replay.reaches,
            epoch: replay.epoch,
            replayed: None,
            messages: None,
        };
        if answer.recovered && pos.seq > end {
            caught_up(state, chat, pos.seq).await;
        }
        if answer.recovered {
            let mut frames: Vec<Json> = replay
                .entries
                .into_iter()
                .take_while(|(seq, _)| *seq <= end)
                .map(|(_, json)| json)
                .collect();
            answer.replayed = Some(frames.len());
            frames.push(Json::of(&answer));
            return Ok(frames);
        }
        let page = state
            .backend
            .history(chat, RESYNC_PAGE, Window::Before(end.saturating_add(1)))
            .await?
            .unwrap_or_default();
        answer.messages = Some(page.messages().map_err(|e| {
            tracing::error!(error = %e, %chat, "unreadable stored message");
            ApiError::Internal
        })?);
        return Ok(vec![Json::of(&answer)]);
    }
    // Four reads that each ended before what the hub had delivered: the store is lagging.
    Err(ApiError::Unavailable)
}

/// Waits (boundedly) until this instance has delivered the room up to `seq`. The client saw
/// `seq` on an instance ahead of this one; until this one catches up, a message at or below
/// it could still reach the connection live, a second time. Its live messages are held
/// meanwhile, and those at or below `seq` are dropped when released (`Hub::resumed`).
async fn caught_up(state: &AppState, chat: &ChatId, seq: u64) {
    const STEP: std::time::Duration = std::time::Duration::from_millis(5);
    for _ in 0..400 {
        if state.hub.last_seq(chat).is_some_and(|last| last >= seq) {
            return;
        }
        tokio::time::sleep(STEP).await;
    }
    tracing::warn!(%chat, seq, "resume: this instance did not reach the client's position within 2 s");
}

fn not_resuming() -> ApiError {
    ApiError::BadRequest("resume must be the first frame of a connection opened with ?resume=true".into())
}

/// A `read` frame: moves the user's read position in `chat` forward to `seq`; when it moved,
/// the room's other participants get a receipt (not stored).
pub async fn read(state: &AppState, user: &UserId, chat: &ChatId, seq: u64) -> Result<(), ApiError> {
    match state.backend.mark_read(chat, user, seq).await? {
        None => Err(ApiError::NotFound("Chat not found")),
        Some(Marked::NotMember) => Err(not_participant(chat)),
        Some(Marked::Beyond) => Err(ApiError::BadRequest(format!(
            "seq {seq} is past the newest message of chat {chat}"
        ))),
        Some(Marked::Behind) => Ok(()),
        Some(Marked::Moved) => {
            let receipt = Receipt {
                kind: ReceiptTag::Receipt,
                chat_id: chat.clone(),
                user_id: user.clone(),
                seq,
            };
            let delivery = Delivery {
                chat_id: chat.clone(),
                frame: Json::of(&receipt),
                skip: Some(user.clone()),
                membership: None,
                seq: None,
            };
            state.hub.deliver(&delivery);
            if let Err(e) = state.backend.publish_live(&delivery).await {
                tracing::warn!(error = %e, "receipt not published to other instances");
            }
            Ok(())
        }
    }
}
