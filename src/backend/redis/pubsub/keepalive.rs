//! The instance's upkeep, once a second: a ping (which makes the pub/sub connection notice and
//! repair a lost Redis), registering again as a room follower after such a loss, following
//! rooms joined here whose notice may be lost, replaying rooms due for it (see
//! `hub/order.rs`), dropping rooms no longer read, and the presence heartbeat.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::super::payload::JoinNotice;
use super::{Channel, RedisBus};

impl RedisBus {
    /// Once a second: pings (a ping is what makes the connection notice and repair a lost
    /// Redis), records this instance's heartbeat for presence, registers again after a lost
    /// connection, replays rooms due for it, and unsubscribes from rooms no longer needed.
    pub(super) async fn keepalive(self, shutdown: CancellationToken) {
        let beat_every = self.inner.store.presence_ttl() / 3;
        // Never slower than a third of the presence TTL, so a live instance never looks dead.
        let mut every = tokio::time::interval(beat_every.min(Duration::from_secs(1)));
        let mut beat = tokio::time::Instant::now();
        let mut reaped = std::collections::HashSet::new(); // see reap.rs
        let mut failed = tokio::time::Instant::now(); // our last failed heartbeat
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    // The others need not publish for this instance any more.
                    self.unregister(&self.subscribed_rooms().await).await;
                    return;
                }
                _ = every.tick() => {}
            }
            // The ping first: it is what repairs the connection, whatever else waits on Redis.
            let _ = tokio::time::timeout(self.inner.timeout, self.inner.link.ping()).await;
            self.follow_topology().await;
            if beat.elapsed() >= beat_every {
                match self.inner.store.heartbeat().await {
                    Ok(()) => beat = tokio::time::Instant::now(),
                    Err(e) => {
                        failed = tokio::time::Instant::now();
                        tracing::warn!(error = %e, "presence heartbeat failed");
                    }
                }
            }
            // The others' heartbeats may be late for the same reason as ours: wait a TTL.
            let others_due = failed.elapsed() >= self.inner.store.presence_ttl();
            self.reap(&mut reaped, others_due).await;
            self.inner.store.recount().await; // see presence.rs
            self.register_again().await; // then replayed by the rechecks, right below
            self.replay_failed_buckets().await;
            for j in self.inner.hub.take_unfollowed_joins() {
                if self.unreplayed(&j.user) {
                    continue; // its bucket's replay brings it, in order (see refollow.rs)
                }
                let (prev, seq, chat, user) = (j.prev, j.seq, j.room, j.user);
                self.follow_join(JoinNotice {
                    prev,
                    seq,
                    chat,
                    user,
                })
                .await;
            }
            self.recheck_due().await;
            let mut idle = self.inner.hub.expire_recent();
            idle.extend(self.inner.hub.take_dropped());
            if !idle.is_empty() {
                let rooms = idle.iter().cloned().map(Channel::Room).collect();
                if let Err(e) = self.reconcile(rooms).await {
                    // Tried again next tick: a room left subscribed would keep others publishing.
                    tracing::warn!(error = %e, "unsubscribing unneeded rooms failed");
                    self.inner.hub.drop_again(idle);
                }
            }
        }
    }

    /// Replays the rooms due for it (see `hub/order.rs`); after one failure, the rest
    /// wait for the next tick rather than each costing a timeout now.
    async fn recheck_due(&self) {
        let mut failed = false;
        for room in self.inner.hub.due_rechecks() {
            if failed || !self.replay(&room).await {
                failed = true;
                self.inner.hub.recheck(&room);
            }
        }
    }
}
