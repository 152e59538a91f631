//! Many instances, one Redis: messages, typing, membership and presence cross between server
//! instances that share one Redis and one key prefix; every connection and every instance
//! agrees on one order per room; an instance subscribes only to the channels its connections
//! need; a crashed instance's users stop counting as active.
//!
//! Deliveries between instances go through Redis pub/sub, so they are asynchronous: absence
//! is only ever proved by a later frame of the same room (pub/sub keeps each room's order),
//! and eventually consistent state (presence after a close, unsubscribe) by bounded polls.
//!
//! One file per concern: `delivery` (messages, typing, order, history), `membership` (joins,
//! leaves, subscriptions), `presence`, `reconnect` (resume, retries, receipts); this file holds the Redis-side helpers they share, which read one Redis or
//! every node of a cluster (`TEST_STORE=redis-cluster`), where room channels are sharded.

mod delivery;
mod membership;
mod presence;
mod reconnect;

use std::collections::BTreeMap;
use std::time::Duration;

use chat_server::backend::redis::keys::Keys;
use chat_server::domain::{ChatId, UserId};

use crate::helpers::{TIMEOUT, TestApp};
use crate::resp::{Resp, redis_command};

/// A room's channel, named as the server names it.
pub fn room_channel(prefix: &str, chat: &str) -> String {
    Keys::new(prefix).room_channel(&ChatId::parse(chat).unwrap())
}

/// The channel of a user's bucket, named as the server names it.
pub fn user_channel(prefix: &str, user: &str) -> String {
    Keys::new(prefix).user_channel(&UserId::parse(user).unwrap())
}

/// The deployment's channels that some instance subscribes to, each with its number of
/// subscribers (each instance holds one pub/sub connection, so that is a number of
/// instances), summed over every node: classic channels, and on a cluster sharded ones.
async fn subscriptions(app: &TestApp) -> BTreeMap<String, i64> {
    let pattern = format!("{}:ch:*", app.deployment.prefix());
    let mut kinds = vec![("CHANNELS", "NUMSUB")];
    if app.deployment.sharded() {
        kinds.push(("SHARDCHANNELS", "SHARDNUMSUB"));
    }
    let mut all = BTreeMap::new();
    for port in app.deployment.ports() {
        for (list, count) in &kinds {
            let channels: Vec<String> = redis_command(port, &["PUBSUB", list, &pattern])
                .await
                .into_iter()
                .map(|r| match r {
                    Resp::Text(s) => s,
                    other => panic!("channel name expected, got {other:?}"),
                })
                .collect();
            if channels.is_empty() {
                continue;
            }
            let mut args = vec!["PUBSUB", count];
            args.extend(channels.iter().map(String::as_str));
            for pair in redis_command(port, &args).await.chunks(2) {
                match pair {
                    [Resp::Text(name), Resp::Int(n)] => *all.entry(name.clone()).or_default() += n,
                    other => panic!("unexpected {count} reply {other:?}"),
                }
            }
        }
    }
    all
}

/// How many subscribe to `channel`, summed over every node (classic and sharded).
pub async fn numsub(app: &TestApp, channel: &str) -> i64 {
    let mut kinds = vec!["NUMSUB"];
    if app.deployment.sharded() {
        kinds.push("SHARDNUMSUB");
    }
    let mut n = 0;
    for port in app.deployment.ports() {
        for count in &kinds {
            match &redis_command(port, &["PUBSUB", count, channel]).await[..] {
                [Resp::Text(_), Resp::Int(k)] => n += k,
                other => panic!("unexpected {count} reply {other:?}"),
            }
        }
    }
    n
}

/// The expected subscriptions: `(channel, instances)`.
fn channels(want: &[(String, i64)]) -> BTreeMap<String, i64> {
    want.iter().cloned().collect()
}

/// Polls (bounded) until the subscriptions are `want`: unsubscribing is asynchronous.
async fn wait_subscriptions(app: &TestApp, want: &BTreeMap<String, i64>) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let got = subscriptions(app).await;
        if &got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscriptions did not settle: got {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
