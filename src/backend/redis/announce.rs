//! Who publishes what the room script stores: the script itself (`PUBLISH` on one Redis,
//! `SPUBLISH` on a cluster), or the caller once `REDIS_WAIT_REPLICAS` replicas have it; and a
//! join's announcement on the user's bucket channel, which on a cluster is in another slot
//! than the room, so the caller sends it.

use bb8_redis::redis;

use super::RedisStore;
use super::keys::JOIN_LOG;
use super::payload::{JoinNotice, Mark, RoomPayload};
use crate::domain::{ChatId, ChatRoom, UserId};
use crate::hub::{Delivery, Membership};

/// Who publishes what the room script stores.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Publisher {
    /// The script, with this command (`PUBLISH`, or `SPUBLISH` on a cluster), when another
    /// instance follows the room; on one Redis it also announces joins on the user's bucket
    /// channel, on a cluster the caller does.
    Script(&'static str),
    /// The caller, once `REDIS_WAIT_REPLICAS` replicas have the message: nothing reaches
    /// another instance before then.
    Caller,
}

/// Moves a room's confirmed sequence (`acked` in its hash: what `REDIS_WAIT_REPLICAS`
/// replicas have) forward. KEYS: room hash. ARGV: seq.
const CONFIRM_LUA: &str = r#"
local cur = tonumber(redis.call('HGET', KEYS[1], 'acked') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'acked', ARGV[1]) end
return 0
"#;

impl RedisStore {
    /// Records that the replicas have the room's messages up to `seq`: replays read no
    /// further (`history.rs`), so a message refused for want of replicas reaches no one, even
    /// by a replay, unless a later one is confirmed (the replicas then have it too). Best
    /// effort: a failure only delays replays of it.
    pub(super) async fn confirm(&self, chat: &ChatId, seq: u64) {
        let mut inv = self.confirm_script.prepare_invoke();
        inv.key(self.keys.room(chat)).arg(seq);
        let done = self
            .call(|mut c| async move { inv.invoke_async::<i64>(&mut c).await })
            .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, %chat, "recording a confirmed message failed");
        }
    }

    /// A new confirm script (see `CONFIRM_LUA`).
    pub(super) fn confirm_script() -> redis::Script {
        redis::Script::new(CONFIRM_LUA)
    }

    pub(super) fn publisher(&self) -> Publisher {
        match (self.wait_replicas, self.is_cluster()) {
            (1.., _) => Publisher::Caller,
            (0, true) => Publisher::Script("SPUBLISH"),
            (0, false) => Publisher::Script("PUBLISH"),
        }
    }

    /// Publishes what the script did not: the stored message itself (for `Publisher::Caller`)
    /// and a join's announcement on the user's bucket channel. Best effort: the message is
    /// stored, and another instance that misses it here replays it when the room's next
    /// message shows the gap.
    pub(super) async fn announce(&self, publish: Publisher, prev: u64, d: &Delivery, user: &UserId) {
        let command = if self.is_cluster() { "SPUBLISH" } else { "PUBLISH" };
        let Some(seq) = d.seq else { return };
        let mut groups = Vec::new();
        if publish == Publisher::Caller {
            let (mark, author) = match &d.membership {
                Some(Membership::Joined(u)) => (Mark::Joined, u.clone()),
                Some(Membership::Left(u)) => (Mark::Left, u.clone()),
                None => (Mark::Text, user.clone()),
            };
            let payload = RoomPayload::Stored {
                prev,
                seq,
                mark,
                user: author,
                json: d.frame.to_str(),
            };
            let mut p = redis::pipe();
            p.cmd(command)
                .arg(self.keys.room_channel(&d.chat_id))
                .arg(payload.encode());
            groups.push(p);
        }
        if let Some(Membership::Joined(u)) = &d.membership {
            let notice = JoinNotice {
                prev,
                seq,
                chat: d.chat_id.clone(),
                user: u.clone(),
            };
            groups.push(self.notice(command, &notice));
        }
        if let Err(e) = self.per_slot(groups).await {
            tracing::warn!(error = %e, chat = %d.chat_id, "publishing a stored message failed");
        }
    }

    /// Announces a new room's participants as joins (at its start, sequence 0) on their
    /// bucket channels: where they are connected, their connections follow it.
    pub async fn announce_room(&self, room: &ChatRoom) {
        let command = if self.is_cluster() { "SPUBLISH" } else { "PUBLISH" };
        let groups = room.participants.iter().map(|user| {
            let notice = JoinNotice {
                prev: 0,
                seq: 0,
                chat: room.id.clone(),
                user: user.clone(),
            };
            // Not logged (see `notice`): a new room's notice is never stale, so one replayed
            // from a log would follow the room from its start. A room created while the
            // connection was down is found in the user's index again (`pubsub/refollow.rs`).
            let mut p = redis::pipe();
            p.cmd(command)
                .arg(self.keys.user_channel(user))
                .arg(notice.encode());
            p
        });
        if let Err(e) = self.per_slot(groups.collect()).await {
            tracing::warn!(error = %e, chat = %room.id, "announcing a new room's participants failed");
        }
    }

    /// A join notice, logged then published on the user's bucket channel (both in its slot),
    /// as room.lua does on one Redis: the log first, so an instance that subscribes after the
    /// publish finds it there (`pubsub/refollow.rs`).
    fn notice(&self, command: &str, notice: &JoinNotice) -> redis::Pipeline {
        let payload = notice.encode();
        let mut p = redis::pipe();
        p.cmd("XADD")
            .arg(self.keys.user_joins(&notice.user))
            .arg("MAXLEN")
            .arg("~")
            .arg(JOIN_LOG)
            .arg("*")
            .arg("n")
            .arg(&payload);
        p.cmd(command)
            .arg(self.keys.user_channel(&notice.user))
            .arg(payload);
        p
    }
}
