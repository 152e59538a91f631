//! The instance's pub/sub link: one RESP3 connection to one Redis (classic channels), or a
//! cluster connection (sharded channels: each subscribed on, and published to, the node that
//! owns its slot, so a node carries only its own rooms' traffic). Pushes of both kinds arrive
//! on one queue, in each connection's order.

use std::time::Duration;

use bb8_redis::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use bb8_redis::redis::cluster_async::ClusterConnection;
use bb8_redis::redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use bb8_redis::redis::{self, PushInfo, RedisResult, Value};
use futures_util::future::try_join_all;
use tokio::sync::mpsc;

use super::super::conn::{Conn, client, cluster};
use crate::config::RedisSettings;

pub(super) enum Link {
    One(ConnectionManager),
    Cluster {
        conn: ClusterConnection,
        /// The slot map last seen (see `topology_changed`).
        slots: std::sync::Mutex<Vec<(i64, i64, String)>>,
    },
}

impl Link {
    /// Connects; pushes (messages, confirmations, disconnections) go to the returned queue.
    pub(super) async fn open(
        settings: &RedisSettings,
        timeout: Duration,
    ) -> RedisResult<(Self, mpsc::UnboundedReceiver<PushInfo>)> {
        let (tx, rx) = mpsc::unbounded_channel::<PushInfo>();
        if !settings.cluster.is_empty() {
            let conn = cluster(settings, timeout, Some(tx)).await?;
            let slots = std::sync::Mutex::new(Vec::new());
            let link = Link::Cluster { conn, slots };
            link.topology_changed().await; // the first map: a baseline
            return Ok((link, rx));
        }
        let sep = if settings.url.contains('?') { '&' } else { '?' };
        let client = client(&format!("{}{sep}protocol=resp3", settings.url))?;
        let config = ConnectionManagerConfig::new()
            .set_push_sender(tx)
            .set_automatic_resubscription()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout))
            .set_max_delay(Duration::from_secs(1));
        Ok((
            Link::One(ConnectionManager::new_with_config(client, config).await?),
            rx,
        ))
    }

    /// Subscribes to `channels`; returns once each is confirmed (its confirmation push then
    /// follows on the queue). Sharded channels of different slots cannot share a command:
    /// on a cluster each is its own, all sent at once.
    pub(super) async fn subscribe(&self, channels: &[String]) -> RedisResult<()> {
        match self {
            Link::One(c) => c.clone().subscribe(channels).await,
            Link::Cluster { conn, .. } => {
                let each = channels.iter().map(|ch| {
                    let mut conn = conn.clone();
                    async move { conn.ssubscribe(ch).await }
                });
                try_join_all(each).await.map(drop)
            }
        }
    }

    pub(super) async fn unsubscribe(&self, channels: &[String]) -> RedisResult<()> {
        match self {
            Link::One(c) => c.clone().unsubscribe(channels).await,
            Link::Cluster { conn, .. } => {
                let each = channels.iter().map(|ch| {
                    let mut conn = conn.clone();
                    async move { conn.sunsubscribe(ch).await }
                });
                try_join_all(each).await.map(drop)
            }
        }
    }

    pub(super) async fn publish(&self, channel: &str, payload: &str) -> RedisResult<()> {
        let (mut conn, command) = match self {
            Link::One(c) => (Conn::One(c.clone()), "PUBLISH"),
            Link::Cluster { conn, .. } => (Conn::Cluster(conn.clone()), "SPUBLISH"),
        };
        redis::cmd(command)
            .arg(channel)
            .arg(payload)
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
    }

    /// A ping (of every master, on a cluster): what makes a connection notice a lost Redis.
    pub(super) async fn ping(&self) -> RedisResult<()> {
        match self {
            Link::One(c) => Conn::One(c.clone()).ping_all().await,
            Link::Cluster { conn, .. } => Conn::Cluster(conn.clone()).ping_all().await,
        }
    }

    /// On a cluster, whether the slot map (which master owns which slots) changed since the
    /// last call: after a failover or a slot migration the old owner's subscribers may get an
    /// unsolicited `sunsubscribe`, or nothing at all (a killed master), so this check, made
    /// every keepalive tick, is what makes the instance subscribe again on the new owners.
    pub(super) async fn topology_changed(&self) -> bool {
        let Link::Cluster { conn, slots } = self else {
            return false;
        };
        let random = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
        let Ok(reply) = conn
            .clone()
            .route_command(redis::cmd("CLUSTER").arg("SLOTS").clone(), random)
            .await
        else {
            return false; // asked again next tick
        };
        let mut map = slot_owners(&reply);
        map.sort();
        if map.is_empty() {
            return false;
        }
        let mut seen = slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = !seen.is_empty() && *seen != map;
        *seen = map;
        changed
    }
}

/// `(first slot, last slot, "host:port" of the master)` for each range in a `CLUSTER SLOTS`
/// reply.
fn slot_owners(reply: &Value) -> Vec<(i64, i64, String)> {
    let Value::Array(ranges) = reply else {
        return Vec::new();
    };
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        _ => String::new(),
    };
    ranges
        .iter()
        .filter_map(|range| {
            let Value::Array(r) = range else { return None };
            let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(master))) =
                (r.first(), r.get(1), r.get(2))
            else {
                return None;
            };
            let node = format!("{}:{}", text(master.first()?), text(master.get(1)?));
            Some((*first, *last, node))
        })
        .collect()
}
