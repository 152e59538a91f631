//! Reaping dead instances' follower entries (issue 19: a crashed instance stayed in its rooms'
//! follower sets for good, so every message stored there was still published for it).
//!
//! Each instance records the rooms it follows in its own set (`instance:{id}:rooms`, one key)
//! before it enters their follower sets, and removes them after leaving. A live instance's
//! keepalive looks for instances whose heartbeat is older than the presence TTL (presence
//! already counts them as gone) and removes the dead id from each room in its set, one command
//! per room (each room is its own Redis Cluster slot), then deletes the set. The heartbeat
//! itself stays: it is the `last_seen` of the users that instance counted (see `users.rs`).
//! An instance that was only slow (a Redis stop longer than the TTL) finds its set gone and
//! registers again, its rooms replayed.

use std::collections::HashSet;

use bb8_redis::redis::{self, AsyncCommands};

use super::{RedisBus, unavailable};
use crate::backend::StoreResult;
use crate::domain::ChatId;

impl RedisBus {
    /// Adds `rooms` to (or removes them from) this instance's set of followed rooms.
    pub(super) async fn record_rooms(&self, rooms: &[ChatId], add: bool) -> StoreResult<()> {
        if rooms.is_empty() {
            return Ok(());
        }
        let key = self.inner.keys.instance_rooms(self.inner.store.instance());
        let names: Vec<&str> = rooms.iter().map(ChatId::as_str).collect();
        let mut conn = self.inner.store.connection().await?;
        let done = async {
            if add {
                conn.sadd::<_, _, ()>(&key, &names).await
            } else {
                conn.srem::<_, _, ()>(&key, &names).await
            }
        };
        tokio::time::timeout(self.inner.timeout, done)
            .await
            .map_err(unavailable)?
            .map_err(unavailable)
    }

    /// Registers again if this instance was reaped; then, if `others_due` (this instance's
    /// own heartbeat has not failed for a TTL: after an outage every heartbeat is late),
    /// removes the follower entries of instances silent for longer than the presence TTL.
    /// `reaped` remembers those done, so each costs one pass. Best effort: what fails is
    /// tried again at the next call.
    pub(super) async fn reap(&self, reaped: &mut HashSet<String>, others_due: bool) {
        if let Err(e) = self.check_not_reaped().await {
            tracing::debug!(error = %e, "checking this instance's own entry failed");
            return;
        }
        if !others_due {
            return;
        }
        if let Err(e) = self.try_reap(reaped).await {
            tracing::debug!(error = %e, "reaping dead instances failed");
        }
    }

    async fn try_reap(&self, reaped: &mut HashSet<String>) -> StoreResult<()> {
        let keys = &self.inner.keys;
        let ttl = i64::try_from(self.inner.store.presence_ttl().as_millis()).unwrap_or(i64::MAX);
        let dead_before = chrono::Utc::now().timestamp_millis().saturating_sub(ttl);
        let mut conn = self.inner.store.connection().await?;
        let timeout = self.inner.timeout;
        let dead: Vec<String> = tokio::time::timeout(
            timeout,
            conn.zrangebyscore(keys.instances(), "-inf", format!("({dead_before}")),
        )
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
        // Forgotten once gone from the heartbeats (after a day): the set stays small.
        reaped.retain(|id| dead.contains(id));
        let todo: Vec<String> = dead.into_iter().filter(|id| !reaped.contains(id)).collect();
        for id in todo {
            let set = keys.instance_rooms(&id);
            let rooms: Vec<String> = tokio::time::timeout(timeout, conn.smembers(&set))
                .await
                .map_err(unavailable)?
                .map_err(unavailable)?;
            for room in rooms.iter().filter_map(|r| ChatId::parse(r).ok()) {
                // One room (one slot) per command.
                let srem = conn.srem::<_, _, ()>(keys.followers(&room), &id);
                tokio::time::timeout(timeout, srem)
                    .await
                    .map_err(unavailable)?
                    .map_err(unavailable)?;
            }
            tokio::time::timeout(timeout, redis::cmd("DEL").arg(&set).query_async::<()>(&mut conn))
                .await
                .map_err(unavailable)?
                .map_err(unavailable)?;
            tracing::info!(instance = %id, rooms = rooms.len(), "reaped a dead instance's follower entries");
            reaped.insert(id);
        }
        Ok(())
    }

    /// A live instance can look dead to the others (Redis stopped for longer than the TTL, its
    /// heartbeat late) and be reaped: its set is gone while it follows rooms. It then
    /// registers again, and its rooms are replayed, as after a lost connection.
    async fn check_not_reaped(&self) -> StoreResult<()> {
        // Under the subscription lock: subscribing and unsubscribing (which write the set)
        // wait, so an empty set means reaped, not a room being left this very moment.
        let subscribed = self.inner.subscribed.lock().await;
        let keys = &self.inner.keys;
        if !subscribed.iter().any(|name| keys.room_of_channel(name).is_some()) {
            return Ok(());
        }
        let own = self.inner.keys.instance_rooms(self.inner.store.instance());
        let mut conn = self.inner.store.connection().await?;
        let exists: bool = tokio::time::timeout(self.inner.timeout, conn.exists(own))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        drop(subscribed);
        if !exists {
            tracing::warn!("this instance was taken for dead; registering again");
            self.inner.lost.store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }
}
