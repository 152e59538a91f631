//! Staying subscribed through a cluster's changes. A channel the cluster unsubscribed (an
//! unsolicited `sunsubscribe`: a failover, a slot moved) and every channel, when the slot map
//! changed (a killed master says nothing), are lost here and subscribed again, on whichever
//! node owns them now; each room's confirmation then replays what it missed (`listen.rs`).
//! Until a resubscription succeeds it is tried again every keepalive tick.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use super::{Channel, RedisBus};

impl RedisBus {
    /// After the cluster unsubscribed `name`.
    pub(super) async fn subscribe_again(self, name: String) {
        self.lose(vec![name]).await;
        self.resubscribe_lost().await;
    }

    /// Each keepalive tick: a changed slot map loses every channel; then the lost ones are
    /// subscribed again.
    pub(super) async fn follow_topology(&self) {
        if self.inner.link.topology_changed().await {
            tracing::info!("the cluster's slot map changed; subscribing to every channel again");
            let names: Vec<String> = self.inner.subscribed.lock().await.iter().cloned().collect();
            self.lose(names).await;
        }
        self.resubscribe_lost().await;
    }

    /// Marks channels as no longer subscribed (those still marked so), to subscribe again.
    async fn lose(&self, names: Vec<String>) {
        let keys = &self.inner.keys;
        let mut lost = Vec::new();
        {
            let mut subscribed = self.inner.subscribed.lock().await;
            for name in names {
                if !subscribed.remove(&name) {
                    continue; // unsubscribed by us meanwhile
                }
                if let Some(room) = keys.room_of_channel(&name) {
                    lost.push(Channel::Room(room));
                } else if let Some(b) = keys.bucket_of_channel(&name) {
                    self.inner.buckets[b as usize].store(false, Ordering::Release);
                    lost.push(Channel::Users(b));
                }
            }
        }
        if lost.is_empty() {
            return;
        }
        // What they carried meanwhile reaches no one here until the replays.
        self.inner.hub.forget_recent();
        let buckets: Vec<u32> = lost
            .iter()
            .filter_map(|c| match c {
                Channel::Users(b) => Some(*b),
                Channel::Room(_) => None,
            })
            .collect();
        self.lost_now(&buckets);
        self.lost_channels().extend(lost);
    }

    async fn resubscribe_lost(&self) {
        let lost = std::mem::take(&mut *self.lost_channels());
        if lost.is_empty() {
            return;
        }
        if let Err(e) = self.reconcile(lost.clone()).await {
            tracing::warn!(error = %e, "subscribing again failed; retrying");
            self.lost_channels().extend(lost);
        }
    }

    fn lost_channels(&self) -> std::sync::MutexGuard<'_, Vec<Channel>> {
        self.inner
            .lost_channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
