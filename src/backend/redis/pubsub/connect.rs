//! A connecting user's rooms: which its connections here follow, and from where.
//!
//! A connection reads the rooms its user is a member of, each with the store's last sequence
//! then (`RedisStore::room_starts`). The user's older connections here read theirs before, so
//! a room they do not follow, but the new reading lists, was joined between the two readings;
//! followed from the new reading, they would never get the join and what came before the
//! reading. Where the hub stands in that room decides how they get it:
//! - behind the reading: the join is still to come here, and adds the user at its place
//!   (`Hub::follow_read`, `RoomEntry::joins_due`);
//! - not following the room at all: it is followed from the join (soak seed 606279156), and
//!   the subscription's replay brings the join and what follows;
//! - past the join, the room followed here for someone else from past it (another user's
//!   reading, right after a Redis stop: soak seed 307935418): the join never went through
//!   this hub, and its stretch is written from the room's log (`Hub::backfill`) before the
//!   new connection follows the room; while the user waits for its bucket's replay, the
//!   replay writes it, in order with the joins it brings (`Hub::pause_join`), and the room
//!   waits for it too.

use std::sync::atomic::Ordering;

use super::super::keys::user_bucket;
use super::{Channel, RedisBus};
use crate::backend::StoreResult;
use crate::domain::{ChatId, UserId};
use crate::hub::PausedJoin;

impl RedisBus {
    /// Follows a connecting user's rooms (those it is still a member of), subscribed and
    /// confirmed before the upgrade completes; connection `conn` starts at the store's
    /// position in each (see `hub/floor.rs`).
    pub async fn follow(&self, user: &UserId, conn: u64, rooms: Vec<ChatId>) -> StoreResult<()> {
        self.pause_if_unreplayed(user).await;
        let (starts, now) = self.inner.store.room_starts(user, rooms).await?;
        let from = self.starts_from_joins(user, &starts).await;
        let new = self.inner.hub.follow_read(user, from);
        self.inner.hub.started(user, conn, starts.iter().cloned(), now);
        let rooms: Vec<ChatId> = starts.into_iter().map(|(room, _)| room).collect();
        let mut channels: Vec<Channel> = rooms.into_iter().map(Channel::Room).collect();
        let bucket = user_bucket(user);
        if !self.inner.buckets[bucket as usize].load(Ordering::Acquire) {
            channels.push(Channel::Users(bucket));
        }
        if channels.is_empty() {
            return Ok(()); // the usual connect: no rooms yet, its bucket already subscribed
        }
        self.reconcile(channels).await?;
        // A room new here whose channel was still subscribed (it left this hub a moment ago)
        // gets no subscription replay: a recheck reads what was stored since `lasts`.
        for room in &new {
            self.inner.hub.recheck(room);
        }
        Ok(())
    }

    /// A connecting user's rooms (`starts`, as read), each with where this hub is to follow it
    /// from (see the module): from the user's join in a room not followed here, which the
    /// user joined after its older connections here read their rooms; anything else, and
    /// should the join not be found, from the reading. A room followed here past such a join
    /// has the join's stretch written to the older connections first.
    async fn starts_from_joins(&self, user: &UserId, starts: &[(ChatId, u64)]) -> Vec<(ChatId, u64)> {
        let hub = &self.inner.hub;
        let mut from = Vec::with_capacity(starts.len());
        for (room, last) in starts {
            let mut start = *last;
            if hub.read_by(user, *last) && !hub.follows(user, room) {
                let here = hub.last_seq(room);
                match self.inner.store.join_seq(room, user, *last).await {
                    Ok(Some(join)) if hub.read_by(user, join) => match here {
                        None => start = join.saturating_sub(1),
                        Some(at) if at >= join && !hub.pause_join(user, room, join) => {
                            let join = PausedJoin {
                                user: user.clone(),
                                room: room.clone(),
                                seq: join,
                                found: false,
                            };
                            self.backfill(&join).await;
                        }
                        Some(_) => {} // behind: the join is still to come here
                    },
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, %room, "finding a user's join failed"),
                }
            }
            from.push((room.clone(), start));
        }
        from
    }
}
