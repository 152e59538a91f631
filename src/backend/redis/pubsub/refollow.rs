//! After a bucket channel comes back: the rooms its users joined meanwhile.
//!
//! A join made on another instance reaches this one as a notice on the user's bucket channel
//! (see `listen.rs`); one published while the channel was lost (the pub/sub connection down,
//! or a cluster's slot moved) never comes, and the user's connections here would never follow
//! the room (issue 19: gap, missed-after-connect). So each notice is also kept in its
//! bucket's log (room.lua, or `announce.rs` on a cluster), written before it is published,
//! and a bucket channel subscribed again after a loss is replayed, as a room's channel is:
//! - first the notices logged since a little before the loss, in their order, as if they came
//!   now: a join made and undone meanwhile is followed, and undone by the room's replay
//!   (soak seed 130419584);
//! - then each of the bucket's users connected here has its room index read again, and a
//!   room its connections still do not follow is followed from the user's join there (or
//!   from the room's end if the join is no longer in its log): for a notice the log lost.
//!
//! Both run in the listener, right after the channel's confirmation and before anything it
//! carries after it, so notices are applied in their order. Until its replay is done, a
//! bucket's users' own joins in rooms not followed here (`Hub::take_unfollowed_joins`) are
//! left to it: applied first, a later join would have the room followed from past an earlier
//! one. Reads only; each user, room and bucket is its own Redis Cluster slot.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use super::super::keys::user_bucket;
use super::super::payload::JoinNotice;
use super::{Channel, RedisBus};
use crate::backend::{Access, StoreResult};
use crate::domain::UserId;
use crate::hub::Followed;

impl RedisBus {
    /// Channels were lost now: every bucket channel subscribed, and those in `lost`, are to
    /// be replayed once subscribed again.
    pub(super) fn lost_now(&self, lost: &[u32]) {
        self.inner.lost_at.store(now_ms(), Ordering::Release);
        let inner = &self.inner;
        for (b, subscribed) in inner.buckets.iter().enumerate() {
            if subscribed.load(Ordering::Acquire) {
                inner.unreplayed[b].store(true, Ordering::Release);
            }
        }
        for b in lost {
            inner.unreplayed[*b as usize].store(true, Ordering::Release);
        }
    }

    /// Whether `user`'s bucket is still to be replayed after a loss.
    pub(super) fn unreplayed(&self, user: &UserId) -> bool {
        self.inner.unreplayed[user_bucket(user) as usize].load(Ordering::Acquire)
    }

    /// A bucket channel was (re)subscribed: replays it if it was lost (see the module). A
    /// notice already handled changes nothing (`Hub::follow_new` takes a join at or below
    /// what it knows as stale), so reading from a little before the loss costs only time.
    /// Should a read fail, the keepalive tries again (`replay_lost_buckets`).
    pub(super) async fn replay_joins(&self, bucket: u32) {
        if !self.inner.unreplayed[bucket as usize].load(Ordering::Acquire) {
            return; // a new subscription: the connect that asked for it read the user's rooms
        }
        let from = self
            .inner
            .lost_at
            .load(Ordering::Acquire)
            .saturating_sub(BEFORE_LOSS_MS);
        let done = match self.inner.store.joins_since(bucket, from).await {
            Ok(notices) => {
                self.follow_logged(notices).await;
                self.refollow(bucket).await
            }
            Err(e) => Err(e),
        };
        match done {
            Ok(()) => self.inner.unreplayed[bucket as usize].store(false, Ordering::Release),
            Err(e) => tracing::warn!(error = %e, bucket, "reading the joins missed failed; retrying"),
        }
    }

    /// Each keepalive tick: replays the subscribed buckets whose replay failed.
    pub(super) async fn replay_lost_buckets(&self) {
        for b in 0..self.inner.buckets.len() {
            if self.inner.buckets[b].load(Ordering::Acquire)
                && self.inner.unreplayed[b].load(Ordering::Acquire)
            {
                self.replay_joins(b as u32).await;
            }
        }
    }

    /// Follows logged join notices of users connected here, in order.
    async fn follow_logged(&self, notices: Vec<JoinNotice>) {
        let (hub, store) = (&self.inner.hub, &self.inner.store);
        for n in notices.into_iter().filter(|n| hub.read_by(&n.user, n.seq)) {
            // A hub past the join adds the user at once (`Hub::follow_new`): right only if the
            // user is still a member. One that left meanwhile misses that stretch here.
            if hub.last_seq(&n.chat).is_some_and(|last| last >= n.seq) {
                match store.access(&n.chat, &n.user).await {
                    Ok(Access::Member) => {}
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, chat = %n.chat, "reading a membership failed");
                        continue;
                    }
                }
            }
            tracing::debug!(user = %n.user, chat = %n.chat, seq = n.seq, "following a join logged while its channel was lost");
            self.follow_join(n).await;
        }
    }

    /// Follows the rooms that `bucket`'s users connected here are members of and do not follow.
    async fn refollow(&self, bucket: u32) -> StoreResult<()> {
        let (hub, store) = (&self.inner.hub, &self.inner.store);
        for user in hub.local_users().into_iter().filter(|u| user_bucket(u) == bucket) {
            let mut missing = store.room_ids(&user).await?;
            missing.retain(|room| !hub.follows(&user, room));
            if missing.is_empty() {
                continue;
            }
            let (starts, _) = store.room_starts(&user, missing).await?;
            for (room, last) in starts {
                let followed = match store.join_seq(&room, &user, last).await? {
                    Some(join) => hub.follow_new(&user, &room, join.saturating_sub(1), join),
                    None if hub.follow(&user, [(room.clone(), last)]).is_empty() => Followed::Nothing,
                    None => Followed::New,
                };
                tracing::info!(%user, %room, "following a room joined while its bucket channel was lost");
                self.reconcile(vec![Channel::Room(room.clone())]).await?;
                match followed {
                    // Its channel may be subscribed already: no replay then.
                    Followed::New => hub.recheck(&room),
                    Followed::Late(catch_up) => self.catch_up_late(catch_up).await,
                    Followed::Nothing => {}
                }
            }
        }
        Ok(())
    }
}

/// How long before its loss was noticed a channel may have been lost already (a dead peer is
/// noticed by the next ping or timeout), plus the clocks' skew between hosts and Redis (the
/// log's entry ids are Redis's clock, in ms).
const BEFORE_LOSS_MS: u64 = 30_000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
