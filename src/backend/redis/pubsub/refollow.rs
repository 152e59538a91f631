//! After a bucket channel comes back: the rooms its users joined meanwhile.
//!
//! A join made on another instance reaches this one as a notice on the user's bucket channel
//! (see `listen.rs`); one published while the channel was lost (the pub/sub connection down,
//! or a cluster's slot moved) never comes, and the user's connections here would never follow
//! the room (issue 19: gap, missed-after-connect). So each notice is also kept in its
//! bucket's log (room.lua, or `announce.rs` on a cluster), written before it is published,
//! and a bucket channel subscribed again after a loss is replayed, as a room's channel is:
//! - first the notices logged since a little before the loss, in their order, as if they came
//!   now; one for a room this hub is past already (followed here from past the join, for
//!   another user) has its stretch written from the room's log instead (`hub/backfill.rs`),
//!   the user's own leave included (soak seed 130419584); so does one that waited for the
//!   replay, in a room not followed here (soak seed 712212226);
//! - then each of the bucket's users connected here has its room index read again, and a
//!   room its connections still do not follow is followed from the user's join there (or
//!   from the room's end if the join is no longer in its log): for a notice the log lost.
//!
//! Both run in the listener, right after the channel's confirmation and before anything it
//! carries after it, so notices are applied in their order. Until its replay is done, a
//! bucket's users' joins that reach this hub another way (the room's channel, or the store's
//! reply to their own join) are left to it (`Hub::pause_joins`; a user connecting meanwhile
//! too, `pause_if_unreplayed`), and so are their own joins in rooms not followed here
//! (`Hub::take_unfollowed_joins`): applied first, a later join would have the room followed
//! from past an earlier one. Reads only; each user, room and bucket is
//! its own Redis Cluster slot.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::super::keys::user_bucket;
use super::super::payload::JoinNotice;
use super::{Channel, RedisBus};
use crate::backend::StoreResult;
use crate::domain::{ChatId, Json, UserId};
use crate::hub::{Backfill, Followed, PausedJoin};

impl RedisBus {
    /// Channels were lost now: every bucket channel subscribed, and those in `lost`, are to
    /// be replayed once subscribed again.
    pub(super) fn lost_now(&self, lost: &[u32]) {
        self.inner.lost_at.store(now_ms(), Ordering::Release);
        let inner = &self.inner;
        for (b, subscribed) in inner.buckets.iter().enumerate() {
            if subscribed.load(Ordering::Acquire) {
                inner.replays[b].store(LOST, Ordering::Release);
            }
        }
        for b in lost {
            inner.replays[*b as usize].store(LOST, Ordering::Release);
        }
        inner.hub.pause_joins(|user| self.unreplayed(user));
    }

    /// A user connecting while its bucket waits for its replay: its joins wait for it too, as
    /// those of the users connected at the loss do (`lost_now`). Paused after that replay's
    /// resume (the state is `DONE` before it resumes), it is resumed here at once.
    pub(super) async fn pause_if_unreplayed(&self, user: &UserId) {
        if !self.unreplayed(user) {
            return;
        }
        let hub = &self.inner.hub;
        hub.pause_user(user);
        if !self.unreplayed(user) {
            let joins = hub.resume_joins(|u| u == user);
            self.follow_paused(joins).await;
        }
    }

    /// Whether `user`'s bucket is still to be replayed after a loss.
    pub(super) fn unreplayed(&self, user: &UserId) -> bool {
        self.inner.replays[user_bucket(user) as usize].load(Ordering::Acquire) != DONE
    }

    /// A bucket channel was (re)subscribed: replays it if it was lost (see the module). A
    /// notice already handled changes nothing (`Hub::follow_new` takes a join at or below
    /// what it knows as stale), so reading from a little before the loss costs only time.
    /// Should a read fail, the keepalive tries again (`replay_failed_buckets`).
    pub(super) async fn replay_joins(&self, bucket: u32) {
        if claim(&self.inner.replays[bucket as usize], &[LOST, FAILED]) {
            self.replay_claimed(bucket).await;
        }
        // Else a new subscription (the connect that asked for it read the user's rooms), or
        // a replay already under way.
    }

    /// Each keepalive tick: replays the subscribed buckets whose replay failed.
    pub(super) async fn replay_failed_buckets(&self) {
        for b in 0..self.inner.buckets.len() {
            if self.inner.buckets[b].load(Ordering::Acquire) && claim(&self.inner.replays[b], &[FAILED]) {
                self.replay_claimed(b as u32).await;
            }
        }
    }

    async fn replay_claimed(&self, bucket: u32) {
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
        let next = match done {
            Ok(()) => DONE,
            Err(e) => {
                tracing::warn!(error = %e, bucket, "reading the joins missed failed; retrying");
                FAILED
            }
        };
        // Lost again meanwhile: left to the coming confirmation's replay.
        let done = self.inner.replays[bucket as usize]
            .compare_exchange(RUNNING, next, Ordering::AcqRel, Ordering::Acquire)
            .is_ok_and(|_| next == DONE);
        if done {
            let joins = self.inner.hub.resume_joins(|user| user_bucket(user) == bucket);
            tracing::debug!(bucket, ?joins, "a bucket replayed; the joins it waited for");
            self.follow_paused(joins).await;
        }
    }

    /// Follows logged join notices of users connected here, in order.
    async fn follow_logged(&self, notices: Vec<JoinNotice>) {
        let hub = &self.inner.hub;
        for n in notices {
            // A hub past the join never applied it (its room was followed here from past it):
            // the stretch is written from the room's log (`hub/backfill.rs`).
            let join = PausedJoin {
                user: n.user.clone(),
                room: n.chat.clone(),
                seq: n.seq,
                found: false,
            };
            if hub.last_seq(&n.chat).is_some_and(|last| last >= n.seq) && self.backfill(&join).await {
                continue;
            }
            if hub.read_by(&n.user, n.seq) {
                tracing::debug!(user = %n.user, chat = %n.chat, seq = n.seq, "following a join logged while its channel was lost");
                self.follow_join(n).await;
            }
        }
    }

    /// The joins delivered here while their bucket waited for its replay, in order: as
    /// logged notices, but for a membership found by a reading (which the hub follows from
    /// there, as it would have then).
    async fn follow_paused(&self, joins: Vec<PausedJoin>) {
        for j in joins {
            if self.backfill(&j).await {
                continue;
            }
            if j.found {
                self.inner.hub.follow_read(&j.user, [(j.room.clone(), j.seq)]);
                self.subscribe_followed(&j.room).await;
                continue;
            }
            let (prev, seq, chat, user) = (j.seq.saturating_sub(1), j.seq, j.room, j.user);
            self.follow_join(JoinNotice {
                prev,
                seq,
                chat,
                user,
            })
            .await;
        }
    }

    /// A room a paused join has the hub follow now: its channel subscribed, and what was
    /// stored since read (it may have been subscribed already: no subscription replay then).
    async fn subscribe_followed(&self, room: &ChatId) {
        if let Err(e) = self.reconcile(vec![Channel::Room(room.clone())]).await {
            tracing::warn!(error = %e, chat = %room, "subscribing a room a paused join follows failed");
        }
        self.inner.hub.recheck(room);
    }

    /// [`Hub::backfill`] for a join; false if the hub is not past it (any more).
    pub(super) async fn backfill(&self, j: &PausedJoin) -> bool {
        // The room moving on between the read and the write asks for another read; a room
        // that busy is left to its next loss's replay after a few.
        for _ in 0..BACKFILL_READS {
            let log = match self.inner.store.log_after(&j.room, j.seq.saturating_sub(1)).await {
                Ok(log) => log,
                Err(e) => {
                    tracing::warn!(error = %e, chat = %j.room, "reading a room's log for a join failed");
                    return true;
                }
            };
            let log: Vec<_> = log
                .into_iter()
                .map(|e| (e.seq, e.membership, Json::from(e.json)))
                .collect();
            match self.inner.hub.backfill((&j.user, &j.room, j.seq, j.found), &log) {
                Backfill::Done => return true,
                Backfill::New => {
                    self.subscribe_followed(&j.room).await;
                    return true;
                }
                Backfill::NotPast => return false,
                Backfill::Behind => {}
            }
        }
        tracing::warn!(chat = %j.room, user = %j.user, "a join's stretch kept moving; left");
        true
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

/// A bucket's replay state (`Inner::replays`): nothing to replay, lost (replayed on the
/// channel's confirmation), a replay under way, a replay failed (tried again each tick).
pub(super) const DONE: u8 = 0;
const LOST: u8 = 1;
const RUNNING: u8 = 2;
const FAILED: u8 = 3;

/// Takes a bucket's replay if its state is one of `from`.
fn claim(state: &AtomicU8, from: &[u8]) -> bool {
    from.iter().any(|f| {
        state
            .compare_exchange(*f, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    })
}

/// How long before its loss was noticed a channel may have been lost already (a dead peer is
/// noticed by the next ping or timeout), plus the clocks' skew between hosts and Redis (the
/// log's entry ids are Redis's clock, in ms).
const BEFORE_LOSS_MS: u64 = 30_000;

/// Log reads a logged join's stretch may take (see `RedisBus::backfill`).
const BACKFILL_READS: usize = 3;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
