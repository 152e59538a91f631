//! Users and presence over Redis.
//!
//! Presence across instances: `user:{u}:conns` counts the user's live connections per
//! instance, and `instances` holds each instance's last heartbeat. A user is active while an
//! instance that heartbeat within `PRESENCE_TTL_SECONDS` counts a connection; so a crashed
//! instance's connections stop counting by themselves, and its last heartbeat becomes their
//! `last_seen`.

use std::collections::HashMap;
use std::time::Duration;

use bb8_redis::redis::{self, AsyncCommands};

use super::RedisStore;
use crate::backend::{StoreError, StoreResult};
use crate::domain::{ChatId, Timestamp, User, UserId, UserSpec, time};

/// One connection fewer on this instance; the instance's last one sets `last_seen`.
/// KEYS: user hash, conns hash. ARGV: instance id, now.
pub const DISCONNECT_LUA: &str = r#"
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'last_seen', ARGV[2]) end
end
return n
"#;

/// Creates a user if its id is free. KEYS: user hash. ARGV: field/value pairs.
pub(super) const CREATE_USER_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"#;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn user_from(
    mut h: HashMap<String, String>,
    is_active: bool,
    last_seen: Option<Timestamp>,
) -> StoreResult<Option<User>> {
    if h.is_empty() {
        return Ok(None);
    }
    let id = UserId::parse(&h.remove("id").unwrap_or_default())
        .map_err(|e| StoreError::Unavailable(format!("unreadable user in Redis: {e}")))?;
    Ok(Some(User {
        username: h.remove("username").unwrap_or_else(|| id.to_string()),
        id,
        email: h.remove("email"),
        is_active,
        last_seen,
        metadata: h
            .remove("metadata")
            .and_then(|m| serde_json::from_str(&m).ok())
            .unwrap_or_default(),
    }))
}

impl RedisStore {
    /// Creates the user as a WebSocket or a join would: only the fields that are missing.
    pub(super) async fn ensure_user(&self, id: &UserId) -> StoreResult<()> {
        let key = self.keys.user(id);
        let id = id.to_string();
        self.call(|mut c| async move {
            redis::pipe()
                .hset_nx(&key, "id", &id)
                .ignore()
                .hset_nx(&key, "username", &id)
                .ignore()
                .hset_nx(&key, "metadata", "{}")
                .ignore()
                .query_async(&mut c)
                .await
        })
        .await
    }

    pub async fn create_user(&self, spec: UserSpec) -> StoreResult<Option<User>> {
        let mut inv = self.create_user_script.prepare_invoke();
        inv.key(self.keys.user(&spec.id));
        inv.arg("id")
            .arg(spec.id.as_str())
            .arg("username")
            .arg(&spec.username);
        inv.arg("metadata")
            .arg(serde_json::Value::Object(spec.metadata.clone()).to_string());
        if let Some(email) = &spec.email {
            inv.arg("email").arg(email);
        }
        let created: i64 = self
            .call(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok((created == 1).then(|| User::from(spec)))
    }

    pub async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let (user, conns) = (self.keys.user(id), self.keys.user_conns(id));
        let (h, counts): (HashMap<String, String>, HashMap<String, i64>) = self
            .call(|mut c| async move {
                redis::pipe()
                    .hgetall(user)
                    .hgetall(conns)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let mut last_seen = h.get("last_seen").and_then(|s| time::parse(s));
        let counted: Vec<&String> = counts.iter().filter(|(_, n)| **n > 0).map(|(i, _)| i).collect();
        let mut is_active = false;
        if !counted.is_empty() {
            let (key, ids) = (self.keys.instances(), counted.clone());
            let beats: Vec<Option<f64>> = self
                .call(
                    |mut c| async move { redis::cmd("ZMSCORE").arg(key).arg(ids).query_async(&mut c).await },
                )
                .await?;
            let alive_after = (now_ms() - self.presence_ttl.as_millis() as i64) as f64;
            for beat in beats.into_iter().flatten() {
                if beat >= alive_after {
                    is_active = true;
                } else if let Some(dead) = Timestamp::from_timestamp_millis(beat as i64) {
                    // A crashed instance: its connections were last seen at its last heartbeat.
                    last_seen = last_seen.max(Some(dead));
                }
            }
        }
        user_from(h, is_active, last_seen)
    }

    pub async fn connect(&self, id: &UserId) -> StoreResult<Vec<ChatId>> {
        let (user, conns, rooms) = (
            self.keys.user(id),
            self.keys.user_conns(id),
            self.keys.user_rooms(id),
        );
        let (uid, instance) = (id.to_string(), self.instance.clone());
        self.ledger.change(id, true);
        let read = self
            .call(|mut c| async move {
                redis::pipe()
                    .hset_nx(&user, "id", &uid)
                    .ignore()
                    .hset_nx(&user, "username", &uid)
                    .ignore()
                    .hset_nx(&user, "metadata", "{}")
                    .ignore()
                    .hincr(conns, instance, 1)
                    .ignore()
                    .smembers(rooms)
                    .query_async(&mut c)
                    .await
            })
            .await;
        let (ids,): (Vec<String>,) = read.inspect_err(|_| {
            // Not counted as far as the caller knows; whether Redis did, the recount settles.
            self.ledger.change(id, false);
            self.ledger.failed(id);
        })?;
        Ok(ids.iter().filter_map(|i| ChatId::parse(i).ok()).collect())
    }

    pub async fn disconnect(&self, id: &UserId) -> StoreResult<()> {
        let mut inv = self.disconnect_script.prepare_invoke();
        inv.key(self.keys.user(id)).key(self.keys.user_conns(id));
        inv.arg(&self.instance).arg(time::format(&time::now()));
        self.ledger.change(id, false);
        self.call(|mut c| async move { inv.invoke_async::<i64>(&mut c).await })
            .await
            .map(drop)
            .inspect_err(|_| self.ledger.failed(id)) // written by the next recount
    }

    /// Takes `n` cells of `id`'s allowance (`interval` per cell, bursts of `burst`), one
    /// after another: per cell, `None` if taken, or how long until one is free.
    pub async fn take_cells(
        &self,
        id: &UserId,
        interval: Duration,
        burst: u32,
        n: usize,
    ) -> StoreResult<Vec<Option<Duration>>> {
        let mut inv = self.rate_script.prepare_invoke();
        inv.key(self.keys.user_rate(id))
            .arg(interval.as_micros() as u64)
            .arg(burst)
            .arg(n);
        let waits: Vec<i64> = self
            .call(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        if waits.len() != n {
            return Err(StoreError::Unavailable(format!(
                "the rate script answered {} cells of {n}",
                waits.len()
            )));
        }
        let wait = |w: i64| {
            u64::try_from(w)
                .ok()
                .filter(|w| *w > 0)
                .map(Duration::from_micros)
        };
        Ok(waits.into_iter().map(wait).collect())
    }

    /// Records that this instance is alive; forgets instances silent for a day.
    pub async fn heartbeat(&self) -> StoreResult<()> {
        let (key, instance, now) = (self.keys.instances(), self.instance.clone(), now_ms());
        self.call(|mut c| async move {
            redis::pipe()
                .zadd(&key, instance, now)
                .ignore()
                .zrembyscore(&key, "-inf", now - 86_400_000)
                .ignore()
                .query_async(&mut c)
                .await
        })
        .await
    }

    /// On shutdown, after every session closed: this instance no longer counts anyone.
    pub async fn retire(&self) -> StoreResult<()> {
        let (key, instance) = (self.keys.instances(), self.instance.clone());
        self.call(|mut c| async move { c.zrem(key, instance).await })
            .await
    }
}
