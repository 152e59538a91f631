//! Fan-out between instances over Redis pub/sub: one RESP3 link per instance (`link.rs`: one
//! connection to one Redis, or sharded channels on a cluster). Payloads are decoded and
//! encoded in `../payload.rs`.
//!
//! The instance subscribes only to what its connections need: the channel of each room that
//! has a local participant, and the bucket channel (one of 1024, by user id) of each user
//! connected here, to learn of joins made on other instances. `reconcile` compares that need
//! with what is subscribed, under one async lock, so subscribe and unsubscribe never race;
//! concurrent calls share one SUBSCRIBE. Bucket channels, once subscribed, stay: a connect
//! whose user has no rooms yet then costs no pub/sub round trip at all. No patterns.
//!
//! Gaps: every stored message carries its sequence (its µs timestamp). When a room channel is
//! (re)subscribed, the listener replays the room's log past the last sequence delivered here,
//! and the hub drops anything at or below it. So a Redis restart, a subscription racing with
//! a connect, or a join made elsewhere loses and duplicates nothing, in order.
//!
//! A room's messages are published only when an instance besides the storing one follows it
//! (`register.rs`): the storing instance delivers its own from the room script's reply.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod connect;
mod keepalive;
mod link;
mod listen;
mod reading;
mod reap;
mod refollow;
mod register;
mod shards;

use super::keys::{Keys, USER_BUCKETS};
use super::payload::RoomPayload;
use super::store::RedisStore;
use crate::backend::{StoreError, StoreResult};
use crate::config::RedisSettings;
use crate::domain::ChatId;
use crate::hub::{Delivery, Hub};

/// A channel this instance may need.
#[derive(Clone)]
enum Channel {
    Room(ChatId),
    /// A bucket of users (see `keys::user_bucket`).
    Users(u32),
}

/// Handle to the instance's pub/sub link; clones share it.
#[derive(Clone)]
pub struct RedisBus {
    inner: Arc<Inner>,
}

struct Inner {
    link: link::Link,
    keys: Keys,
    hub: Hub,
    store: RedisStore,
    timeout: Duration,
    subscribed: Mutex<HashSet<String>>,
    /// Channels queued for the next `reconcile` to look at (a group commit, see there).
    pending: std::sync::Mutex<Vec<Channel>>,
    /// Channels a cluster change unsubscribed, to subscribe again (see `shards.rs`).
    lost_channels: std::sync::Mutex<Vec<Channel>>,
    /// Which user bucket channels are subscribed (they are never unsubscribed).
    buckets: Box<[AtomicBool]>,
    /// Set when the pub/sub connection drops: this instance must register again as the
    /// follower of its rooms (see `register.rs`).
    lost: AtomicBool,
    /// When (ms since the epoch, this host's clock) channels were last lost: a bucket channel
    /// subscribed again reads the joins logged since (see `refollow.rs`).
    lost_at: AtomicU64,
    /// Per bucket channel, its replay after a loss (see `refollow.rs`).
    replays: Box<[AtomicU8]>,
    tasks: TaskTracker,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("pub/sub: {e}"))
}

impl RedisBus {
    /// Opens the pub/sub connection and starts the listener and keepalive tasks.
    pub async fn start(
        settings: &RedisSettings,
        timeout: Duration,
        hub: Hub,
        store: RedisStore,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> StoreResult<Self> {
        let (link, rx) = tokio::time::timeout(timeout, link::Link::open(settings, timeout))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        let keys = store.keys().clone();
        hub.track_dropped(); // unsubscribed by the keepalive
        let inner = Inner {
            link,
            keys,
            hub,
            store,
            timeout,
            subscribed: Mutex::default(),
            pending: std::sync::Mutex::default(),
            lost_channels: std::sync::Mutex::default(),
            buckets: (0..USER_BUCKETS).map(|_| AtomicBool::new(false)).collect(),
            lost: AtomicBool::new(false),
            lost_at: AtomicU64::new(0),
            replays: (0..USER_BUCKETS).map(|_| AtomicU8::new(refollow::DONE)).collect(),
            tasks: tasks.clone(),
        };
        let bus = Self {
            inner: Arc::new(inner),
        };
        tasks.spawn(bus.clone().listen(rx, shutdown.clone()));
        tasks.spawn(bus.clone().keepalive(shutdown));
        Ok(bus)
    }

    /// After a user's last local connection closed: drop the room channels nobody here needs
    /// (bucket channels stay: there are few, and other users share them).
    pub fn release(&self, rooms: Vec<ChatId>) {
        if rooms.is_empty() {
            return;
        }
        let bus = self.clone();
        self.inner.tasks.spawn(async move {
            let channels: Vec<Channel> = rooms.into_iter().map(Channel::Room).collect();
            if let Err(e) = bus.reconcile(channels).await {
                tracing::warn!(error = %e, "unsubscribe failed");
            }
        });
    }

    /// Publishes an event that is not stored (typing, a receipt) to the other instances
    /// following the room (this one has delivered it already, and skips its own on receipt).
    pub async fn live(&self, d: &Delivery) -> StoreResult<()> {
        let Some(user) = d.skip.clone() else {
            return Ok(()); // every such event has its author
        };
        let payload = RoomPayload::Live {
            instance: self.inner.store.instance(),
            user,
            json: d.frame.to_str(),
        }
        .encode();
        let channel = self.inner.keys.room_channel(&d.chat_id);
        let publish = self.inner.link.publish(&channel, &payload);
        match tokio::time::timeout(self.inner.timeout, publish).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(unavailable(e)),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Subscribes to what is needed and unsubscribes from what is not, among `channels`.
    ///
    /// A group commit: the channels are queued, and whoever holds the lock next takes the
    /// whole queue into one SUBSCRIBE, so a burst of connects costs a few round trips, not one
    /// each behind the lock. After taking the lock, a caller checks its own channels again:
    /// if an earlier holder's SUBSCRIBE failed, they are still missing and it tries itself.
    async fn reconcile(&self, channels: Vec<Channel>) -> StoreResult<()> {
        let (hub, keys) = (&self.inner.hub, &self.inner.keys);
        let pending = || self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending().extend(channels.iter().cloned());
        let mut subscribed = self.inner.subscribed.lock().await;
        let mut batch = std::mem::take(&mut *pending());
        batch.extend(channels);
        let (mut add, mut remove, mut buckets) = (HashSet::new(), HashSet::new(), Vec::new());
        let (mut followed, mut unfollowed) = (Vec::new(), Vec::new());
        for ch in batch {
            let (name, wanted, room) = match ch {
                Channel::Room(c) => (keys.room_channel(&c), hub.wants_room(&c), Some(c)),
                Channel::Users(b) => {
                    buckets.push(b);
                    (keys.bucket_channel(b), true, None)
                }
            };
            let (set, rooms) = match (wanted, subscribed.contains(&name)) {
                (true, false) => (&mut add, &mut followed),
                (false, true) => (&mut remove, &mut unfollowed),
                _ => continue,
            };
            if set.insert(name) {
                rooms.extend(room);
            }
        }
        let (add, remove): (Vec<String>, Vec<String>) =
            (add.into_iter().collect(), remove.into_iter().collect());
        let link = &self.inner.link;
        if !add.is_empty() {
            self.register(&followed).await?;
            tokio::time::timeout(self.inner.timeout, link.subscribe(&add))
                .await
                .map_err(unavailable)?
                .map_err(unavailable)?;
            subscribed.extend(add);
        }
        // Every bucket asked for is subscribed now (just, or before).
        for b in buckets {
            self.inner.buckets[b as usize].store(true, Ordering::Release);
        }
        if !remove.is_empty() {
            for name in &remove {
                subscribed.remove(name);
            }
            // Best effort: a late unsubscribe only costs a few ignored messages.
            let _ = tokio::time::timeout(self.inner.timeout, link.unsubscribe(&remove)).await;
            self.unregister(&unfollowed).await;
        }
        Ok(())
    }
}
