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
//! leaves, subscriptions), `presence`, `reconnect` (resume, retries, receipts); this file holds the Redis-side helpers they share.

mod delivery;
mod membership;
mod presence;
mod reconnect;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::helpers::{TIMEOUT, TestApp};
use crate::resp::{Resp, redis_command};

/// The Redis server and key prefix an app uses.
pub fn redis_of(app: &TestApp) -> (u16, String) {
    let (server, prefix) = app.redis.as_ref().expect("a Redis app");
    (server.port, prefix.clone())
}

/// A reply to a RESP command: what these tests need of it.
/// The deployment's channels that some instance subscribes to, each with its number of
/// subscribers (each instance holds one pub/sub connection, so that is a number of instances).
async fn subscriptions(port: u16, prefix: &str) -> BTreeMap<String, i64> {
    let pattern = format!("{prefix}:ch:*");
    let channels: Vec<String> = redis_command(port, &["PUBSUB", "CHANNELS", &pattern])
        .await
        .into_iter()
        .map(|r| match r {
            Resp::Text(s) => s,
            other => panic!("channel name expected, got {other:?}"),
        })
        .collect();
    if channels.is_empty() {
        return BTreeMap::new();
    }
    let mut args = vec!["PUBSUB", "NUMSUB"];
    args.extend(channels.iter().map(String::as_str));
    let reply = redis_command(port, &args).await;
    reply
        .chunks(2)
        .map(|pair| match pair {
            [Resp::Text(name), Resp::Int(n)] => (name.clone(), *n),
            other => panic!("unexpected NUMSUB reply {other:?}"),
        })
        .collect()
}

/// The expected subscriptions: `(kind:id, instances)` under `prefix` (each channel's id in
/// braces: its hash tag).
fn channels(prefix: &str, want: &[(&str, i64)]) -> BTreeMap<String, i64> {
    want.iter()
        .map(|(name, n)| {
            let (kind, id) = name.split_once(':').unwrap();
            (format!("{prefix}:ch:{kind}:{{{id}}}"), *n)
        })
        .collect()
}

/// Polls (bounded) until the subscriptions are `want`: unsubscribing is asynchronous.
async fn wait_subscriptions(port: u16, prefix: &str, want: &BTreeMap<String, i64>) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let got = subscriptions(port, prefix).await;
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
