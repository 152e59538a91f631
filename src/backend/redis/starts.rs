//! Where a connecting user's rooms start: for each room in its index, whether it is still a
//! member and the room's last sequence, read together from the room's own keys.
//!
//! The user's room index (`user:{u}:rooms`) is updated after the room script, so a connect
//! racing with a leave can read a room the user has just left: the membership is checked
//! again here, in the same round trip as the room's position (one slot per room, so each
//! room is its own pipeline; the rooms' pipelines run concurrently). Also the join notices a
//! bucket's log kept. Nothing here writes.

use bb8_redis::redis;
use futures_util::future::try_join_all;

use super::RedisStore;
use super::keys::JOIN_LOG;
use super::payload::JoinNotice;
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

    /// The rooms in `user`'s index.
    pub async fn room_ids(&self, user: &UserId) -> StoreResult<Vec<ChatId>> {
        let key = self.keys.user_rooms(user);
        let ids: Vec<String> = self
            .call(|mut c| async move { redis::cmd("SMEMBERS").arg(key).query_async(&mut c).await })
            .await?;
        Ok(ids.iter().filter_map(|i| ChatId::parse(i).ok()).collect())
    }

    /// The join notices logged on `bucket`'s channel since `from_ms` (Redis's clock), oldest
    /// first, at most `keys::JOIN_LOG` (see `pubsub/refollow.rs`).
    pub async fn joins_since(&self, bucket: u32, from_ms: u64) -> StoreResult<Vec<JoinNotice>> {
        let key = self.keys.bucket_joins(bucket);
        let entries: Vec<(String, Vec<String>)> = self
            .call(|mut c| async move {
                redis::cmd("XRANGE")
                    .arg(key)
                    .arg(from_ms)
                    .arg("+")
                    .arg("COUNT")
                    .arg(JOIN_LOG)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(entries
            .iter()
            .filter_map(|(_, fields)| match fields.as_slice() {
                [n, payload] if n == "n" => JoinNotice::decode(payload),
                _ => None,
            })
            .collect())
    }

    /// The sequence of `user`'s last join notice in `room` at or below `upto`, among the
    /// room's newest `JOIN_SCAN` messages there.
    pub async fn join_seq(&self, room: &ChatId, user: &UserId, upto: u64) -> StoreResult<Option<u64>> {
        let (log, end) = (self.keys.log(room), format!("{upto}-0"));
        let entries: Vec<(String, Vec<String>)> = self
            .call(|mut c| async move {
                redis::cmd("XREVRANGE")
                    .arg(log)
                    .arg(end)
                    .arg("-")
                    .arg("COUNT")
                    .arg(JOIN_SCAN)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let joined = |fields: &[String]| {
            fields
                .chunks(2)
                .any(|f| f[0] == "j" && f.get(1).map(String::as_str) == Some(user.as_str()))
        };
        Ok(entries
            .iter()
            .find(|(_, fields)| joined(fields))
            .and_then(|(id, _)| id.split('-').next()?.parse().ok()))
    }
}

/// How far back a join is looked for: a join lost with the pub/sub connection is recent.
const JOIN_SCAN: usize = 200;
