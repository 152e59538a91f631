//! History over Redis: paging reads for HTTP, and the log replay pub/sub uses after a
//! (re)subscription. A room's log is a stream whose entry ids are `<timestamp µs>-0`.

use bb8_redis::redis::{self, AsyncCommands};

use super::RedisStore;
use super::rooms::corrupt;
use crate::backend::{Replay, StoreResult};
use crate::domain::message::epoch_of;
use crate::domain::{ChatId, Json, UserId, Window};
use crate::hub::Membership;

/// Log entries as Redis returns them: id and field/value pairs.
type RawEntries = Vec<(String, Vec<String>)>;

impl RedisStore {
    /// A page of history (see [`Window`]), oldest first, each message with its sequence;
    /// `None` for no room (served through the per-room cache, `pubsub/reading.rs`).
    pub async fn history_entries(
        &self,
        chat: &ChatId,
        limit: usize,
        window: Window,
    ) -> StoreResult<Option<Vec<(u64, Json)>>> {
        // Entry ids are `<µs>-0`, and the bounds exclusive.
        let (cmd, from, to) = match window {
            Window::Before(0) => return Ok(self.exists(chat).await?.then(Vec::new)),
            Window::Before(u64::MAX) => ("XREVRANGE", "+".to_string(), "-".to_string()),
            Window::Before(b) => ("XREVRANGE", format!("({b}-0"), "-".to_string()),
            Window::After(a) | Window::Between(a, u64::MAX) => ("XRANGE", format!("({a}-0"), "+".to_string()),
            Window::Between(a, b) => ("XRANGE", format!("({a}-0"), format!("({b}-0")),
        };
        let (room, log) = (self.keys.room(chat), self.keys.log(chat));
        let (exists, entries): (bool, RawEntries) = self
            .call(|mut c| async move {
                redis::pipe()
                    .exists(room)
                    .cmd(cmd)
                    .arg(log)
                    .arg(from)
                    .arg(to)
                    .arg("COUNT")
                    .arg(limit)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if !exists {
            return Ok(None);
        }
        let mut out = messages(entries)?;
        if cmd == "XREVRANGE" {
            out.reverse();
        }
        Ok(Some(out))
    }

    /// What a resume after `after` needs; `None` for no room.
    pub async fn replay(&self, chat: &ChatId, user: &UserId, after: u64) -> StoreResult<Option<Replay>> {
        let k = &self.keys;
        let (room, members, log) = (k.room(chat), k.members(chat), k.log(chat));
        let user = user.to_string();
        // From `after` inclusive: whether its own entry is still there says whether the log
        // reaches back to it.
        let from = format!("{after}-0");
        type Head = (Option<String>, Option<u64>, Option<u64>);
        let ((created_at, upto, acked), member, entries): (Head, bool, RawEntries) = self
            .call(|mut c| async move {
                redis::pipe()
                    .hmget(room, &["created_at", "last_ts", "acked"])
                    .sismember(members, user)
                    .xrange(log, from, "+")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let Some(created_at) = created_at else {
            return Ok(None);
        };
        let mut entries = messages(entries)?;
        // With REDIS_WAIT_REPLICAS, only what the replicas have (see `announce.rs`).
        let upto = match (self.wait_replicas, acked) {
            (0, _) => upto.unwrap_or_default(),
            (_, acked) => acked.unwrap_or_default(),
        };
        entries.retain(|(seq, _)| *seq <= upto);
        let reaches = if after == 0 {
            !self.trimmed(chat).await?
        } else {
            entries.first().is_some_and(|(seq, _)| *seq == after)
        };
        entries.retain(|(seq, _)| *seq > after);
        Ok(Some(Replay {
            member,
            epoch: epoch_of(&created_at),
            reaches,
            entries,
            upto,
        }))
    }

    /// Whether the room's log ever dropped its oldest messages (`MAX_MESSAGES_PER_ROOM`).
    async fn trimmed(&self, chat: &ChatId) -> StoreResult<bool> {
        let log = self.keys.log(chat);
        let info: redis::Value = self
            .call(|mut c| async move {
                redis::cmd("XINFO")
                    .arg("STREAM")
                    .arg(log)
                    .query_async(&mut c)
                    .await
            })
            .await
            .unwrap_or(redis::Value::Nil); // no log yet: nothing stored, nothing trimmed
        let field = |name: &str| -> Option<i64> {
            let pairs: Vec<(String, redis::Value)> = match &info {
                redis::Value::Map(m) => m
                    .iter()
                    .filter_map(|(k, v)| redis::from_redis_value(k.clone()).ok().map(|k| (k, v.clone())))
                    .collect(),
                redis::Value::Array(a) => a
                    .chunks_exact(2)
                    .filter_map(|p| {
                        redis::from_redis_value(p[0].clone())
                            .ok()
                            .map(|k| (k, p[1].clone()))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let (_, v) = pairs.into_iter().find(|(k, _)| k == name)?;
            redis::from_redis_value(v).ok()
        };
        // `entries-added` (Redis 7) counts every entry ever added: more than the length means
        // some were trimmed. Older servers lack it: a full log may have been trimmed.
        Ok(match (field("entries-added"), field("length")) {
            (Some(added), Some(len)) => added > len,
            (None, Some(len)) => usize::try_from(len).is_ok_and(|l| l >= self.max_messages),
            _ => false,
        })
    }

    async fn exists(&self, chat: &ChatId) -> StoreResult<bool> {
        let room = self.keys.room(chat);
        self.call(|mut c| async move { c.exists(room).await }).await
    }
}

/// One stored entry of a room's log, as pub/sub replays it.
pub struct LogEntry {
    pub seq: u64,
    /// The user who joined or left with this message (fields `j` / `l`).
    pub membership: Option<Membership>,
    pub json: String,
}

impl RedisStore {
    /// Entries of a room's log with a sequence above `after`, oldest first (at most the room's limit).
    pub async fn log_after(&self, chat: &ChatId, after: u64) -> StoreResult<Vec<LogEntry>> {
        let (log, start) = (self.keys.log(chat), format!("({after}-0"));
        // With REDIS_WAIT_REPLICAS, only what the replicas have (see `announce.rs`).
        let confirmed = (self.wait_replicas > 0).then(|| self.keys.room(chat));
        let (acked, entries): (Option<u64>, Vec<(String, Vec<String>)>) = self
            .call(|mut c| async move {
                let mut xrange = redis::cmd("XRANGE");
                xrange.arg(log).arg(start).arg("+");
                match confirmed {
                    Some(room) => {
                        redis::pipe()
                            .hget(room, "acked")
                            .add_command(xrange)
                            .query_async(&mut c)
                            .await
                    }
                    None => Ok((Some(u64::MAX), xrange.query_async(&mut c).await?)),
                }
            })
            .await?;
        let upto = acked.unwrap_or_default();
        let entries = entries
            .into_iter()
            .take_while(|(id, _)| seq_of(id).is_ok_and(|seq| seq <= upto));
        let mut out = Vec::new();
        for (id, fields) in entries {
            let seq = seq_of(&id)?;
            let mut entry = LogEntry {
                seq,
                membership: None,
                json: String::new(),
            };
            for f in fields.chunks(2) {
                match (f[0].as_str(), f.get(1)) {
                    ("m", Some(v)) => entry.json = v.clone(),
                    ("j", Some(v)) => entry.membership = UserId::parse(v).ok().map(Membership::Joined),
                    ("l", Some(v)) => entry.membership = UserId::parse(v).ok().map(Membership::Left),
                    _ => {}
                }
            }
            out.push(entry);
        }
        Ok(out)
    }
}

/// Each entry's sequence and JSON (field `m`), in the order given.
fn messages(entries: RawEntries) -> StoreResult<Vec<(u64, Json)>> {
    let mut out = Vec::with_capacity(entries.len());
    for (id, fields) in entries {
        let json = fields.chunks_exact(2).find(|f| f[0] == "m").map(|f| f[1].clone());
        let json = json.ok_or_else(|| corrupt("message", "no m field"))?;
        out.push((seq_of(&id)?, Json::from(json)));
    }
    Ok(out)
}

/// A log entry's sequence: the µs of its id `<µs>-0`.
fn seq_of(id: &str) -> StoreResult<u64> {
    id.split('-')
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt("log id", id))
}
