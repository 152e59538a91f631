//! Where a connecting user's rooms start: for each room in its index, whether it is still a
//! member and the room's last sequence, read together from the room's own keys.
//!
//! The user's room index (`user:{u}:rooms`) is updated after the room script, so a connect
//! racing with a leave can read a room the user has just left: the membership is checked
//! again here, in the same round trip as the room's position (one slot per room, so each
//! room is its own pipeline; the rooms' pipelines run concurrently). Nothing here writes.

use bb8_redis::redis;
use futures_util::future::try_join_all;

use super::RedisStore;
use crate::backend::StoreResult;
use crate::domain::{ChatId, UserId};

impl RedisStore {
    /// The rooms among `rooms` that `user` is a member of, each with its last sequence (0 for
    /// none), in the order given; and Redis's clock (µs) before they were read: a message
    /// stored before that has a lower sequence (room.lua stamps with the same clock).
    pub async fn room_starts(
        &self,
        user: &UserId,
        rooms: Vec<ChatId>,
    ) -> StoreResult<(Vec<(ChatId, u64)>, u64)> {
        // Read first, in its own round trip: the pool's connections keep no order between them.
        let (secs, micros) = self
            .call(|mut c| async move { redis::cmd("TIME").query_async::<(u64, u64)>(&mut c).await })
            .await?;
        let reads = rooms.into_iter().map(|room| {
            let (members, hash, user) = (self.keys.members(&room), self.keys.room(&room), user.to_string());
            async move {
                let (member, last): (bool, Option<u64>) = self
                    .call(|mut c| async move {
                        redis::pipe()
                            .sismember(members, user)
                            .hget(hash, "last_ts")
                            .query_async(&mut c)
                            .await
                    })
                    .await?;
                Ok::<_, crate::backend::StoreError>(member.then(|| (room, last.unwrap_or_default())))
            }
        });
        let starts = try_join_all(reads).await?.into_iter().flatten().collect();
        Ok((starts, secs * 1_000_000 + micros))
    }
}
