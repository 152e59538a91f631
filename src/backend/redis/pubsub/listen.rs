//! The listener of the instance's pub/sub connection: pushes are handled in arrival order
//! (each room's stored order), stored messages and typing events go to the hub, joins made on
//! other instances are followed, and a (re)subscribed room replays what it may have missed (a
//! bucket, the joins it may have missed: `refollow.rs`).

use bb8_redis::redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::super::payload::{JoinNotice, RoomPayload};
use super::{Channel, RedisBus};
use crate::domain::{ChatId, Json};
use crate::hub::{CatchUp, Delivery, Followed};

impl RedisBus {
    /// Handles pushes in arrival order (which is each room's stored order).
    pub(super) async fn listen(self, mut rx: mpsc::UnboundedReceiver<PushInfo>, shutdown: CancellationToken) {
        loop {
            let push = tokio::select! {
                _ = shutdown.cancelled() => return,
                push = rx.recv() => match push { Some(p) => p, None => return },
            };
            match push.kind {
                PushKind::Message | PushKind::SMessage => self.on_message(push.data).await,
                PushKind::Subscribe | PushKind::SSubscribe => {
                    let name = push.data.first().and_then(text).unwrap_or_default();
                    if let Some(chat) = self.inner.keys.room_of_channel(name) {
                        if !self.replay(&chat).await {
                            self.inner.hub.recheck(&chat); // tried again by the keepalive
                        }
                    } else if let Some(bucket) = self.inner.keys.bucket_of_channel(name) {
                        self.replay_joins(bucket).await;
                    }
                }
                // Ours are removed from `subscribed` before they are sent; one still there is
                // the cluster's (a failover or a slot moved away): subscribe again.
                PushKind::SUnsubscribe => {
                    if let Some(name) = push.data.first().and_then(text) {
                        let (bus, name) = (self.clone(), name.to_string());
                        self.inner
                            .tasks
                            .spawn(async move { bus.subscribe_again(name).await });
                    }
                }
                PushKind::Disconnection => {
                    tracing::warn!("pub/sub connection lost; reconnecting");
                    // Messages stored meanwhile reach no one here until the replay.
                    self.inner.hub.forget_recent();
                    self.lost_now(&[]);
                    self.inner.lost.store(true, std::sync::atomic::Ordering::Release);
                }
                _ => {}
            }
        }
    }

    async fn on_message(&self, data: Vec<Value>) {
        let (Some(channel), Some(payload)) = (data.first().and_then(text), data.get(1).and_then(text)) else {
            return;
        };
        if let Some(chat) = self.inner.keys.room_of_channel(channel) {
            self.deliver_payload(&chat, payload);
        } else if self.inner.keys.bucket_of_channel(channel).is_some() {
            self.joined_elsewhere(payload).await;
        }
    }

    /// Delivers a room channel's payload (see `payload.rs`): a stored message in order (one
    /// whose predecessor `prev` has not been delivered here waits for it, see `hub/order.rs`),
    /// a typing event from another instance at once (this one delivered its own already).
    fn deliver_payload(&self, chat: &ChatId, payload: &str) {
        let hub = &self.inner.hub;
        match RoomPayload::decode(payload) {
            Some(RoomPayload::Stored {
                prev,
                seq,
                mark,
                user,
                json,
            }) => {
                let d = Delivery {
                    chat_id: chat.clone(),
                    frame: Json::from(json.to_string()),
                    skip: None,
                    membership: mark.membership(user),
                    seq: Some(seq),
                };
                // A leave that empties the room here is unsubscribed by the keepalive
                // (`take_dropped`), not here: the listener does not wait on the subscription lock.
                hub.deliver_next(prev, &d);
            }
            Some(RoomPayload::Live { instance, user, json }) if instance != self.inner.store.instance() => {
                hub.deliver(&Delivery {
                    chat_id: chat.clone(),
                    frame: Json::from(json.to_string()),
                    skip: Some(user),
                    membership: None,
                    seq: None,
                });
            }
            _ => {}
        }
    }

    /// A join on a user bucket's channel: the user joined a room on some instance. If the
    /// user is connected here, its connections follow the room from the join notice on (see
    /// [`crate::hub::Hub::follow_new`]).
    async fn joined_elsewhere(&self, payload: &str) {
        if let Some(n) = JoinNotice::decode(payload) {
            self.follow_join(n).await;
        }
    }

    /// Makes a user's connections here follow the room it joined (see
    /// [`crate::hub::Hub::follow_new`]): on a join notice, or on a join this instance stored
    /// whose room it does not follow (`Hub::take_unfollowed_joins`, in case its notice is lost).
    pub(super) async fn follow_join(&self, n: JoinNotice) {
        let JoinNotice {
            prev,
            seq,
            chat,
            user,
        } = n;
        if !self.inner.hub.wants_user(&user) {
            return;
        }
        let followed = self.inner.hub.follow_new(&user, &chat, prev, seq);
        tracing::debug!(%user, %chat, seq, ?followed, "a join notice");
        if let Err(e) = self.reconcile(vec![Channel::Room(chat.clone())]).await {
            tracing::warn!(error = %e, %chat, "subscribe after a remote join failed");
        }
        match followed {
            // Its channel may still be subscribed (the room left this hub a moment ago), and
            // then no subscription replay brings the notice: a recheck does.
            Followed::New => self.inner.hub.recheck(&chat),
            Followed::Late(catch_up) => {
                let bus = self.clone();
                self.inner
                    .tasks
                    .spawn(async move { bus.catch_up_late(catch_up).await });
            }
            Followed::Nothing => {}
        }
    }

    /// Writes a late joiner's backlog to its held connections (see `hub/late.rs`). Should the
    /// log be unreadable, they are released without it: they miss those messages, as before
    /// this instance could know of them.
    pub(super) async fn catch_up_late(&self, catch_up: CatchUp) {
        let frames = match self.inner.store.log_after(&catch_up.room, catch_up.after).await {
            Ok(entries) => entries
                .into_iter()
                .take_while(|e| e.seq <= catch_up.upto)
                .map(|e| (e.seq, Json::from(e.json)))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, chat = %catch_up.room, "reading a late joiner's backlog failed");
                Vec::new()
            }
        };
        self.inner.hub.caught_up(&catch_up, &frames);
    }

    /// Delivers what the room's log holds past the last sequence delivered here; false if
    /// the log could not be read.
    pub(super) async fn replay(&self, chat: &ChatId) -> bool {
        let Some(after) = self.inner.hub.last_seq(chat) else {
            return true;
        };
        let entries = match self.inner.store.log_after(chat, after).await {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, %chat, "replay after (re)subscribe failed");
                return false;
            }
        };
        for e in entries {
            let d = Delivery {
                chat_id: chat.clone(),
                frame: Json::from(e.json),
                skip: None,
                membership: e.membership,
                seq: Some(e.seq),
            };
            self.inner.hub.deliver(&d);
        }
        true
    }
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::BulkString(b) => std::str::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}
