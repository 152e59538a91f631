//! Typing events: delivered live to the room's other participants, never stored. Throttled
//! per user and room, and ended by the server when the typer goes quiet or goes away.
//!
//! Each instance tracks the typists connected to it: a `typing` is passed on when the user
//! was not typing in the room, or to refresh it after half of `TYPING_TIMEOUT_SECONDS`; a
//! typist silent for the whole timeout, or whose last connection here closed, gets a
//! `stopped` sent for it. An instance that crashes sends none: clients should still expire
//! typing indicators themselves (docs/contract.md).

use std::time::{Duration, Instant};

use super::not_participant;
use crate::backend::Access;
use crate::domain::{ChatId, Draft, Json, MessageKind, Metadata, UserId, time};
use crate::error::ApiError;
use crate::hub::Delivery;
use crate::state::AppState;

/// How often the server looks for typists gone quiet.
pub const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// A typing frame: `typing` or `stopped`, delivered to the room's other participants.
pub async fn typing(state: &AppState, user: &UserId, chat: &ChatId, content: &str) -> Result<(), ApiError> {
    let started = match content {
        "typing" => true,
        "stopped" => false,
        _ => {
            return Err(ApiError::BadRequest(
                "typing content must be \"typing\" or \"stopped\"".into(),
            ));
        }
    };
    // The hub knows the rooms the sender's connections follow, without a storage round trip
    // (so typing keeps working locally while Redis is down); the store settles the case of a
    // join whose notice has not reached this hub yet.
    if !state.hub.follows(user, chat) && state.backend.access(chat, user).await? != Access::Member {
        return Err(not_participant(chat));
    }
    if started {
        if state.typists.typing(user, chat, Instant::now()) {
            pass_on(state, user, chat, content).await;
        }
    } else {
        state.typists.stopped(user, chat);
        pass_on(state, user, chat, content).await;
    }
    Ok(())
}

/// Sends `stopped` for typists the server ends: gone quiet ([`crate::hub::Typists::quiet`], swept every
/// [`SWEEP_EVERY`]) or gone away ([`crate::hub::Typists::gone`]).
pub async fn stop_typing(state: &AppState, typists: Vec<(UserId, ChatId)>) {
    for (user, chat) in typists {
        pass_on(state, &user, &chat, "stopped").await;
    }
}

/// Delivers a typing event here at once, then (best effort: it is never stored) on the
/// other instances.
async fn pass_on(state: &AppState, user: &UserId, chat: &ChatId, content: &str) {
    let event = Draft {
        chat_id: chat.clone(),
        user_id: user.clone(),
        content: content.to_string(),
        kind: MessageKind::Typing,
        metadata: Metadata::new(),
        reply_to: None,
        client_msg_id: None,
    }
    .stamp(time::now());
    let delivery = Delivery {
        chat_id: chat.clone(),
        frame: Json::of(&event),
        skip: Some(user.clone()),
        membership: None,
        seq: None,
    };
    state.hub.deliver(&delivery);
    if let Err(e) = state.backend.publish_live(&delivery).await {
        tracing::warn!(error = %e, "typing event not published to other instances");
    }
}
