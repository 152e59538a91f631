//! History over Redis: paging reads for HTTP, and the log replay pub/sub uses after a
//! (re)subscription. A room's log is a stream whose entry ids are `<timestamp µs>-0`.

use bb8_redis::redis::{self, AsyncCommands};

use super::RedisStore;
use super::rooms::corrupt;
use crate::backend::StoreResult;
use crate::domain::{ChatId, Json, Timestamp, UserId};
use crate::hub::Membership;

impl RedisStore {
    /// The `limit` newest messages older than `before`, oldest first, each with its sequence;
    /// `None` for no room (served through the per-room cache, `pubsub/reading.rs`).
    pub async fn history_entries(
        &self,
        chat: &ChatId,
        limit: usize,
        before: Option<Timestamp>,
    ) -> StoreResult<Option<Vec<(u64, Json)>>> {
        // Entry ids are `<µs>-0`: "strictly older than before" is an exclusive upper bound.
        let end = match before.map(ceil_micros) {
            Some(0) => return Ok(self.exists(chat).await?.then(Vec::new)),
            Some(us) => format!("({us}-0"),
            None => "+".to_string(),
        };
        let (room, log) = (self.keys.room(chat), self.keys.log(chat));
        let (exists, entries): (bool, Vec<(String, Vec<String>)>) = self
            .call(|mut c| async move {
                redis::pipe()
                    .exists(room)
                    .cmd("XREVRANGE")
                    .arg(log)
                    .arg(end)
                    .arg("-")
                    .arg("COUNT")
                    .arg(limit)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if !exists {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(entries.len());
        for (id, fields) in entries.into_iter().rev() {
            let json = fields.chunks_exact(2).find(|f| f[0] == "m").map(|f| f[1].clone());
            let json = json.ok_or_else(|| corrupt("message", "no m field"))?;
            out.push((seq_of(&id)?, Json::from(json)));
        }
        Ok(Some(out))
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
    /// The sequence (µs timestamp) of each room's newest message; 0 for none.
    pub async fn last_seqs(&self, rooms: &[ChatId]) -> StoreResult<Vec<u64>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for r in rooms {
            pipe.hget(self.keys.room(r), "last_ts");
        }
        let raw: Vec<Option<u64>> = self
            .call(|mut c| async move { pipe.query_async(&mut c).await })
            .await?;
        Ok(raw.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Entries of a room's log with a sequence above `after`, oldest first (at most the room's limit).
    pub async fn log_after(&self, chat: &ChatId, after: u64) -> StoreResult<Vec<LogEntry>> {
        let (log, start) = (self.keys.log(chat), format!("({after}-0"));
        let entries: Vec<(String, Vec<String>)> = self
            .call(|mut c| async move {
                redis::cmd("XRANGE")
                    .arg(log)
                    .arg(start)
                    .arg("+")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let mut out = Vec::with_capacity(entries.len());
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

/// A log entry's sequence: the µs of its id `<µs>-0`.
fn seq_of(id: &str) -> StoreResult<u64> {
    id.split('-')
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt("log id", id))
}

/// Microseconds since the epoch, rounded up (so `< before` keeps its meaning at µs grain);
/// 0 for any time at or before the epoch (no message is older).
pub fn ceil_micros(t: Timestamp) -> u64 {
    let us = t.timestamp_micros() + i64::from(!t.timestamp_subsec_nanos().is_multiple_of(1000));
    u64::try_from(us).unwrap_or(0)
}
