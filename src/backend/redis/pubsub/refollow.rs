//! After the pub/sub connection comes back: the rooms its users joined meanwhile.
//!
//! A join made on another instance reaches this one as a notice on the user's bucket channel
//! (see `listen.rs`); one published while the connection was down is lost, and the user's
//! connections here would never follow the room (issue 19: gap, missed-after-connect). So
//! once the instance is registered again, each user connected here has its room index read
//! again, and a room its connections do not follow is followed from the user's join there,
//! as the notice would have done (or from the room's end if the join is no longer in its
//! log). Reads only; each user and each room is its own Redis Cluster slot.

use super::{Channel, RedisBus};
use crate::backend::StoreResult;
use crate::hub::Followed;

impl RedisBus {
    /// Follows the rooms that users connected here joined while the notices could not come.
    pub(super) async fn refollow(&self) -> StoreResult<()> {
        let (hub, store) = (&self.inner.hub, &self.inner.store);
        for user in hub.local_users() {
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
                tracing::info!(%user, %room, "following a room joined while pub/sub was down");
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
