//! Rooms over Redis: joins, leaves and sends (through the room script, see `script.rs`), reads
//! and room creation.

use std::collections::HashMap;

use bb8_redis::redis::{self, AsyncCommands};

use super::script::Outcome;
use super::stamp::Unstamped;
use super::{RedisStore, reads};
use crate::backend::{Access, JoinMode, Joined, Left, Sent, StoreError, StoreResult};
use crate::domain::{ChatId, ChatRoom, Draft, RoomSpec, UserId, UserRoom, time};
use crate::hub::Hub;

/// Creates a room if its id is free. KEYS: room, members. ARGV: fields, then participants.
pub(super) const CREATE_ROOM_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'name', ARGV[2], 'created_at', ARGV[3],
  'is_private', ARGV[4], 'metadata', ARGV[5], 'last_ts', '0')
for i = 6, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
return 1
"#;

pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("unreadable {what} in Redis: {e}"))
}

/// Parses a room hash and its members into a `ChatRoom` (`None` if the hash is empty).
fn room_from(mut h: HashMap<String, String>, mut members: Vec<String>) -> StoreResult<Option<ChatRoom>> {
    if h.is_empty() {
        return Ok(None);
    }
    members.sort();
    let mut take = |k: &str| h.remove(k).unwrap_or_default();
    Ok(Some(ChatRoom {
        id: ChatId::parse(&take("id")).map_err(|e| corrupt("room", e))?,
        name: take("name"),
        created_at: time::parse(&take("created_at")).ok_or_else(|| corrupt("room", "created_at"))?,
        participants: members.iter().filter_map(|m| UserId::parse(m).ok()).collect(),
        is_private: take("is_private") == "1",
        metadata: serde_json::from_str(&take("metadata")).unwrap_or_default(),
    }))
}

impl RedisStore {
    /// After a join: the user exists (created as a WebSocket would) and lists the room. Both
    /// live in the user's slot, so they follow the room script rather than join it. The room
    /// is listed before the script too (`index_room`), and again here (a leave racing with the
    /// join may have taken it out meanwhile).
    async fn joined(&self, user: &UserId, chat: &ChatId) -> StoreResult<()> {
        self.ensure_user(user).await?;
        self.index_room(user, chat, true).await
    }

    /// Keeps the user's room index in step with a membership change (the user's own slot).
    /// A join lists the room before the room script runs as well: the index then lists every
    /// room the user is a member of even when the script's reply never comes (the call timed
    /// out while Redis was stopped, or the instance died), and a connection reads its rooms
    /// from it (issue 19: missed-after-connect). A room listed without the membership (the
    /// join refused, or never run) is skipped by the index's readers, which check membership.
    async fn index_room(&self, user: &UserId, chat: &ChatId, member: bool) -> StoreResult<()> {
        let key = self.keys.user_rooms(user);
        let chat = chat.to_string();
        self.call(|mut c| async move {
            if member {
                c.sadd::<_, _, ()>(key, chat).await
            } else {
                c.srem::<_, _, ()>(key, chat).await
            }
        })
        .await
    }

    pub async fn join(&self, chat: &ChatId, user: &UserId, mode: JoinMode, hub: &Hub) -> StoreResult<Joined> {
        let op = if mode == JoinMode::Added { "add" } else { "join" };
        self.index_room(user, chat, true).await?;
        let (status, mut messages) = self.room_op(op, chat, user, None, true, hub).await?.done()?;
        Ok(match status.as_str() {
            "noroom" => Joined::NoRoom,
            "private" => Joined::Private,
            "already" => Joined::Already,
            _ => {
                self.joined(user, chat).await?;
                Joined::Now(messages.pop().ok_or_else(|| corrupt("reply", "no notice"))?)
            }
        })
    }

    pub async fn leave(&self, chat: &ChatId, user: &UserId, hub: &Hub) -> StoreResult<Left> {
        let (status, mut messages) = self.room_op("leave", chat, user, None, true, hub).await?.done()?;
        Ok(match status.as_str() {
            "noroom" => Left::NoRoom,
            "notmember" => Left::NotMember,
            _ => {
                self.index_room(user, chat, false).await?;
                Left::Now(messages.pop().ok_or_else(|| corrupt("reply", "no notice"))?)
            }
        })
    }

    pub async fn send(&self, draft: Draft, hub: &Hub) -> StoreResult<Sent> {
        let (chat, user) = (draft.chat_id.clone(), draft.user_id.clone());
        let outcome = self
            .room_op("send", &chat, &user, Some(Unstamped::new(draft)), false, hub)
            .await?;
        self.sent(outcome, &chat, &user, hub).await
    }

    /// What a send's first run of the room script comes to: when the sender must join first,
    /// the second run, with the join notice.
    pub(super) async fn sent(
        &self,
        mut outcome: Outcome,
        chat: &ChatId,
        user: &UserId,
        hub: &Hub,
    ) -> StoreResult<Sent> {
        if let Outcome::NeedJoin(text) = outcome {
            self.index_room(user, chat, true).await?;
            outcome = self.room_op("send", chat, user, text, true, hub).await?;
        }
        if let Outcome::Again(original) = outcome {
            return Ok(Sent::Again(original));
        }
        let (status, mut messages) = outcome.done()?;
        if status == "private" {
            return Ok(Sent::Private);
        }
        if messages.len() == 2 {
            self.joined(user, chat).await?; // the sender joined first
        }
        Ok(Sent::Stored(
            messages.pop().ok_or_else(|| corrupt("reply", "no message"))?,
        ))
    }

    pub async fn create_room(&self, spec: RoomSpec) -> StoreResult<Option<ChatRoom>> {
        let k = &self.keys;
        let created_at = time::now();
        let mut inv = self.create_room_script.prepare_invoke();
        inv.key(k.room(&spec.id)).key(k.members(&spec.id));
        inv.arg(spec.id.as_str())
            .arg(&spec.name)
            .arg(time::format(&created_at));
        inv.arg(if spec.is_private { "1" } else { "0" })
            .arg(serde_json::Value::Object(spec.metadata.clone()).to_string());
        for p in &spec.participants {
            inv.arg(p.as_str());
        }
        let created: i64 = self
            .call(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        if created == 0 {
            return Ok(None);
        }
        for p in &spec.participants {
            self.joined(p, &spec.id).await?;
        }
        Ok(Some(spec.into_room(created_at)))
    }

    pub async fn get_room(&self, id: &ChatId) -> StoreResult<Option<ChatRoom>> {
        let (room, members) = (self.keys.room(id), self.keys.members(id));
        let (h, m): (HashMap<String, String>, Vec<String>) = self
            .call(|mut c| async move {
                redis::pipe()
                    .hgetall(room)
                    .smembers(members)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        room_from(h, m)
    }

    pub async fn access(&self, chat: &ChatId, user: &UserId) -> StoreResult<Access> {
        let (room, members, user) = (self.keys.room(chat), self.keys.members(chat), user.to_string());
        let (private, member): (Option<String>, bool) = self
            .call(|mut c| async move {
                redis::pipe()
                    .hget(room, "is_private")
                    .sismember(members, user)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(match (private, member) {
            (None, _) => Access::NoRoom,
            (Some(_), true) => Access::Member,
            (Some(p), false) => Access::Outsider { private: p == "1" },
        })
    }

    pub async fn user_rooms(&self, id: &UserId) -> StoreResult<Option<Vec<UserRoom>>> {
        let (user, rooms) = (self.keys.user(id), self.keys.user_rooms(id));
        let (exists, ids): (bool, Vec<String>) = self
            .call(|mut c| async move {
                redis::pipe()
                    .exists(user)
                    .smembers(rooms)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if !exists {
            return Ok(None);
        }
        let ids: Vec<ChatId> = ids.iter().filter_map(|i| ChatId::parse(i).ok()).collect();
        // Four reads per room, in its slot.
        let groups = ids.iter().map(|room| {
            let k = &self.keys;
            let mut pipe = redis::pipe();
            pipe.hgetall(k.room(room)).smembers(k.members(room));
            pipe.hget(k.reads(room), id.as_str())
                .xrevrange_count(k.log(room), "+", "-", 1);
            pipe
        });
        type Raw = (
            HashMap<String, String>,
            Vec<String>,
            Option<String>,
            Vec<(String, Vec<String>)>,
        );
        let raw = self.per_slot(groups.collect()).await?;
        let raw = raw
            .into_iter()
            .map(|v| redis::from_redis_value::<Raw>(v).map_err(|e| corrupt("room", e)))
            .collect::<StoreResult<Vec<Raw>>>()?;
        let mut out = Vec::with_capacity(raw.len());
        for (h, m, read, last) in raw {
            if !m.iter().any(|m| m == id.as_str()) {
                continue; // listed by a join refused or never run (see `index_room`)
            }
            let count: u64 = h.get("n").and_then(|n| n.parse().ok()).unwrap_or_default();
            let read = read.as_deref().map(reads::position).transpose()?;
            let Some(room) = room_from(h, m)? else { continue };
            let last = last
                .into_iter()
                .next()
                .and_then(|(_, f)| f.chunks_exact(2).find(|f| f[0] == "m").map(|f| f[1].clone()));
            let last_message = last
                .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("message", e)))
                .transpose()?;
            out.push(UserRoom {
                room,
                unread: count.saturating_sub(read.map_or(0, |(_, ord)| ord)),
                last_message,
            });
        }
        out.sort_by(|a, b| a.room.id.cmp(&b.room.id));
        Ok(Some(out))
    }
}
