//! The bus: how stored messages and typing events reach the hubs that need them.
//!
//! `Local` is one process: the memory store hands each stored message straight to the hub
//! (under the room's lock, so delivery order is stored order), and typing goes to the hub too.
//! `Redis` is many instances: the store's room script publishes each stored message, and each
//! instance's one pub/sub connection feeds its hub (see `redis.rs`).

pub mod redis;

use crate::domain::{ChatId, Timestamp, UserId};
use crate::store::{Page, Store, StoreResult};
use crate::ws::hub::{Delivery, Hub};
pub use redis::RedisBus;

/// Fan-out behind one interface.
#[derive(Clone)]
pub enum Bus {
    Local(Hub),
    Redis(RedisBus),
}

impl Bus {
    /// Makes a connecting user's local connections follow its rooms (subscribed, for Redis,
    /// before this returns: CONTRACT, nothing stored after the handshake is missed).
    pub async fn follow(&self, hub: &Hub, user: &UserId, rooms: Vec<ChatId>) -> StoreResult<()> {
        match self {
            Bus::Local(_) => {
                hub.follow(user, rooms.into_iter().map(|r| (r, 0)));
                Ok(())
            }
            Bus::Redis(bus) => bus.follow(user, rooms).await,
        }
    }

    /// A history page (see `RedisBus::history` for the recent messages kept on Redis).
    pub async fn history(
        &self,
        store: &Store,
        chat: &ChatId,
        limit: usize,
        before: Option<Timestamp>,
    ) -> StoreResult<Option<Page>> {
        match self {
            Bus::Local(_) => store.history(chat, limit, before).await,
            Bus::Redis(bus) => bus.history(chat, limit, before).await,
        }
    }

    /// A user's last local connection closed: channels it needed may go.
    pub fn release(&self, rooms: Vec<ChatId>) {
        if let Bus::Redis(bus) = self {
            bus.release(rooms);
        }
    }

    /// Delivers a typing event to the room's other participants: at once on this instance,
    /// and (best effort: it is never stored) on the others.
    pub async fn typing(&self, hub: &Hub, d: Delivery) {
        hub.deliver(&d);
        if let Bus::Redis(bus) = self
            && let Err(e) = bus.typing(&d).await
        {
            tracing::warn!(error = %e, "typing event not published to other instances");
        }
    }
}
