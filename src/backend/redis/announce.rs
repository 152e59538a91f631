//! Who publishes what the room script stores: the script itself (`PUBLISH` on one Redis,
//! `SPUBLISH` on a cluster), or the caller once `REDIS_WAIT_REPLICAS` replicas have it; and a
//! join's announcement on the user's bucket channel, which on a cluster is in another slot
//! than the room, so the caller sends it.

use bb8_redis::redis;

use super::RedisStore;
use super::payload::{JoinNotice, Mark, RoomPayload};
use crate::domain::UserId;
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

impl RedisStore {
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
            let mut p = redis::pipe();
            p.cmd(command).arg(self.keys.user_channel(u)).arg(notice.encode());
            groups.push(p);
        }
        if let Err(e) = self.per_slot(groups).await {
            tracing::warn!(error = %e, chat = %d.chat_id, "publishing a stored message failed");
        }
    }
}
