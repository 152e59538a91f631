//! This instance's entries in the rooms' follower sets (see room.lua): the room script
//! publishes a stored message only when an instance besides the one storing it follows the
//! room, so each instance registers in a room's set before it subscribes to the channel, and
//! leaves the set after unsubscribing.
//!
//! Registering before subscribing is what keeps every message: one stored before the entry
//! is in the log when the confirmed subscription's replay reads it, and one stored after is
//! published. An instance that dies without leaving its sets only makes the others publish
//! what nobody here reads, as they would without the sets.

use std::sync::atomic::Ordering;

use bb8_redis::redis;

use super::RedisBus;
use crate::backend::StoreResult;
use crate::domain::ChatId;

impl RedisBus {
    /// Adds this instance to the follower sets of `rooms`, in one round trip.
    pub(super) async fn register(&self, rooms: &[ChatId]) -> StoreResult<()> {
        self.record_rooms(rooms, true).await?; // first, so a crash leaves nothing unrecorded
        self.followers("SADD", rooms).await
    }

    /// Removes this instance from the follower sets of `rooms` (best effort: a stale entry
    /// costs only publishing).
    pub(super) async fn unregister(&self, rooms: &[ChatId]) {
        if let Err(e) = self.followers("SREM", rooms).await {
            tracing::debug!(error = %e, "leaving the rooms' follower sets failed");
        } else if let Err(e) = self.record_rooms(rooms, false).await {
            tracing::debug!(error = %e, "forgetting the rooms followed failed");
        }
    }

    /// One command per room (each set in its room's slot).
    async fn followers(&self, command: &str, rooms: &[ChatId]) -> StoreResult<()> {
        let instance = self.inner.store.instance();
        let groups = rooms.iter().map(|room| {
            let mut pipe = redis::pipe();
            pipe.cmd(command)
                .arg(self.inner.keys.followers(room))
                .arg(instance);
            pipe
        });
        self.inner.store.per_slot(groups.collect()).await.map(drop)
    }

    /// The rooms whose channels are subscribed.
    pub(super) async fn subscribed_rooms(&self) -> Vec<ChatId> {
        let subscribed = self.inner.subscribed.lock().await;
        subscribed
            .iter()
            .filter_map(|name| self.inner.keys.room_of_channel(name))
            .collect()
    }

    /// After the pub/sub connection was lost (Redis may have restarted empty, its sets gone
    /// with it): registers again in every subscribed room, then has each replayed (the
    /// keepalive's rechecks), since messages stored meanwhile may not have been published.
    /// Called each keepalive tick until it succeeds; until then such messages arrive late, not
    /// lost.
    pub(super) async fn register_again(&self) {
        if !self.inner.lost.swap(false, Ordering::AcqRel) {
            return;
        }
        let rooms = self.subscribed_rooms().await;
        if let Err(e) = self.register(&rooms).await {
            tracing::warn!(error = %e, "registering as a room follower again failed; retrying");
            self.inner.lost.store(true, Ordering::Release);
            return;
        }
        for room in &rooms {
            self.inner.hub.recheck(room);
        }
    }
}
