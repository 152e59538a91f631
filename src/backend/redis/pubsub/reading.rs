//! History reads on the Redis backend: served from the recent messages this instance keeps
//! for a followed room (`hub/recent.rs`) when they hold the whole answer, else read from Redis
//! and kept, the room then followed for reading.

use super::{Channel, RedisBus};
use crate::backend::StoreResult;
use crate::domain::{ChatId, Page, Window};
use crate::hub::recent::RECENT_MESSAGES;

impl RedisBus {
    /// A history page: from the room's recent messages when this instance holds the whole
    /// answer (no Redis round trip), else from Redis. A newest page read from Redis is kept
    /// as the room's recent messages, and the room followed (subscribed, caught up) for
    /// `READ_FOLLOW` after its last read, so the next reads are served here. Such a page is
    /// as fresh as this instance's live deliveries: a message stored on another instance
    /// appears in it when it reaches this instance's clients.
    pub async fn history(&self, chat: &ChatId, limit: usize, window: Window) -> StoreResult<Option<Page>> {
        let hub = &self.inner.hub;
        if let Some(page) = hub.recent_page(chat, limit, window) {
            return Ok(Some(page));
        }
        let Some(entries) = self.inner.store.history_entries(chat, limit, window).await? else {
            return Ok(None);
        };
        if window == Window::NEWEST {
            let cap = RECENT_MESSAGES.min(self.inner.store.max_messages());
            let complete = entries.len() < limit;
            if let Some(id) = hub.keep_recent(chat, entries.clone(), complete, cap) {
                let (bus, chat) = (self.clone(), chat.clone());
                self.inner
                    .tasks
                    .spawn(async move { bus.catch_up(chat, id).await });
            }
        }
        Ok(Some(Page(entries.into_iter().map(|(_, m)| m).collect())))
    }

    /// Subscribes to a room kept for reading and replays what it missed meanwhile; its recent
    /// messages then serve reads.
    async fn catch_up(&self, chat: ChatId, id: u64) {
        if let Err(e) = self.reconcile(vec![Channel::Room(chat.clone())]).await {
            tracing::warn!(error = %e, %chat, "subscribe for history failed");
            return;
        }
        if self.replay(&chat).await {
            self.inner.hub.recent_live(&chat, id);
        }
    }
}
