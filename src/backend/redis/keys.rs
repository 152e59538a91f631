//! Every Redis key and pub/sub channel name, built in this one place.
//!
//! All names start with the configured prefix (`REDIS_KEY_PREFIX`, default `chat`), so several
//! deployments or tests can share one Redis. A room's keys share the hash tag `{chat_id}` and a
//! user's keys `{user_id}`, so each atomic script touches one Redis Cluster slot. Channels get
//! the prefix too (pub/sub ignores `REDIS_DB`), and a hash tag: a room's channel is in its
//! room's slot (the room script publishes to it, sharded on a cluster), a bucket's in its own.

use crate::domain::{ChatId, UserId};

/// Builds names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    /// A name of room `c`'s slot (`<prefix>:<kind>{c}<suffix>`), written where it is used:
    /// the room script's call writes its keys straight into the command (see [`RoomName`]).
    pub fn room_name<'a>(&'a self, kind: &'static str, c: &'a ChatId, suffix: &'static str) -> RoomName<'a> {
        RoomName {
            prefix: &self.prefix,
            kind,
            chat: c,
            suffix,
        }
    }

    /// Hash: id, name, created_at, is_private, metadata, last_ts (µs of the newest message),
    /// n (how many messages it ever stored), acked (with `REDIS_WAIT_REPLICAS`: the newest
    /// message the replicas have, see `announce.rs`).
    pub fn room(&self, c: &ChatId) -> String {
        self.room_name(ROOM, c, "").string()
    }
    /// Set of participant user ids.
    pub fn members(&self, c: &ChatId) -> String {
        self.room_name(ROOM, c, MEMBERS).string()
    }
    /// Stream of stored messages; entry id `<timestamp µs>-0`, fields `m` (JSON) and
    /// optionally `j` / `l` (user who joined / left with this message).
    pub fn log(&self, c: &ChatId) -> String {
        self.room_name(ROOM, c, LOG).string()
    }
    /// Set of the ids of instances subscribed to the room's channel: the room script publishes
    /// only when one besides the storing instance is there.
    pub fn followers(&self, c: &ChatId) -> String {
        self.room_name(ROOM, c, FOLLOWERS).string()
    }
    /// Hash: user id → `<seq>:<ordinal>`, how far the user has read (ordinal: the room's
    /// message count at that message, so unread = the room's `n` minus it).
    pub fn reads(&self, c: &ChatId) -> String {
        self.room_name(ROOM, c, READS).string()
    }
    /// String: the JSON of a text sent with a `client_msg_id`, for retries within the
    /// idempotency window. `|` never occurs in ids, so user and id cannot run together.
    pub fn sent_id(&self, c: &ChatId, u: &UserId, id: &str) -> String {
        concat(&[
            &self.prefix,
            ":room:{",
            c.as_str(),
            "}:sent:",
            u.as_str(),
            "|",
            id,
        ])
    }
    /// String: the reply of one run of the room script, so that a run retried after a lost
    /// reply (the cluster client retries after a reconnect) answers the same and stores
    /// nothing twice (cluster only).
    pub fn room_op(&self, c: &ChatId, op: &uuid::Uuid) -> String {
        format!("{}:room:{{{c}}}:op:{}", self.prefix, op.simple())
    }
    /// String: set in a room by the first of a batch of texts (see batch.rs) that needs its
    /// sender to join first; the batch's later texts to the room then need it too.
    pub fn room_batch(&self, c: &ChatId, batch: &str) -> String {
        concat(&[&self.prefix, ":room:{", c.as_str(), "}:batch:", batch])
    }
    /// Hash: id, username, email, metadata, last_seen.
    pub fn user(&self, u: &UserId) -> String {
        concat(&[&self.prefix, ":user:{", u.as_str(), "}"])
    }
    /// Set of the user's room ids.
    pub fn user_rooms(&self, u: &UserId) -> String {
        concat(&[&self.prefix, ":user:{", u.as_str(), "}:rooms"])
    }
    /// Hash: instance id → number of the user's live connections on that instance.
    pub fn user_conns(&self, u: &UserId) -> String {
        concat(&[&self.prefix, ":user:{", u.as_str(), "}:conns"])
    }
    /// String: the user's rate-limit state (GCRA theoretical arrival time, µs).
    pub fn user_rate(&self, u: &UserId) -> String {
        concat(&[&self.prefix, ":user:{", u.as_str(), "}:rate"])
    }
    /// Sorted set: instance id → time (ms) of its last heartbeat.
    pub fn instances(&self) -> String {
        format!("{}:instances", self.prefix)
    }
    /// Set of the rooms an instance follows (its entries in the rooms' follower sets), so a
    /// live instance can remove a dead one's (`pubsub/reap.rs`).
    pub fn instance_rooms(&self, id: &str) -> String {
        format!("{}:instance:{{{id}}}:rooms", self.prefix)
    }
    /// Channel of a room: stored messages and typing events (payloads: `payload.rs`).
    pub fn room_channel(&self, c: &ChatId) -> String {
        self.room_name(ROOM_CHANNEL, c, "").string()
    }
    /// Channel of a bucket of users (see [`user_bucket`]): rooms its users joined on some
    /// instance (payloads: `payload.rs`).
    pub fn bucket_channel(&self, bucket: u32) -> String {
        format!("{}:ch:users:{{{bucket}}}", self.prefix)
    }
    /// The bucket channel of a user.
    pub fn user_channel(&self, u: &UserId) -> String {
        self.bucket_channel(user_bucket(u))
    }
    /// Stream of the join notices published on a bucket's channel (field `n`: the payload),
    /// its newest [`JOIN_LOG`] or so kept, in the channel's slot: an instance whose pub/sub
    /// connection was down reads those it missed (`pubsub/refollow.rs`).
    pub fn bucket_joins(&self, bucket: u32) -> String {
        format!("{}:joins:{{{bucket}}}", self.prefix)
    }
    /// The join log of a user's bucket.
    pub fn user_joins(&self, u: &UserId) -> String {
        self.bucket_joins(user_bucket(u))
    }
    /// The room whose channel `name` is.
    pub fn room_of_channel(&self, name: &str) -> Option<ChatId> {
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix(":ch:room:{")?;
        ChatId::parse(rest.strip_suffix('}')?).ok()
    }
    /// The user bucket whose channel `name` is.
    pub fn bucket_of_channel(&self, name: &str) -> Option<u32> {
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix(":ch:users:{")?;
        rest.strip_suffix('}')?.parse().ok()
    }
}

/// The kinds and suffixes of [`Keys::room_name`]: a room's keys, and its channel.
pub const ROOM: &str = "room:";
pub const ROOM_CHANNEL: &str = "ch:room:";
pub const MEMBERS: &str = ":members";
pub const LOG: &str = ":log";
pub const FOLLOWERS: &str = ":followers";
pub const READS: &str = ":reads";

/// A name in a room's slot, formatted where it goes: into a `String` (`to_string`) or straight
/// into a Redis command's buffer (as a command argument), with no `String` of its own.
#[derive(Clone, Copy)]
pub struct RoomName<'a> {
    prefix: &'a str,
    kind: &'static str,
    chat: &'a ChatId,
    suffix: &'static str,
}

impl RoomName<'_> {
    /// The name's pieces, in order: `<prefix>:<kind>{<chat>}<suffix>`.
    fn pieces(&self) -> [&str; 7] {
        let chat = self.chat.as_str();
        [self.prefix, ":", self.kind, "{", chat, "}", self.suffix]
    }

    /// The name as a `String` of its own.
    pub fn string(&self) -> String {
        concat(&self.pieces())
    }
}

impl redis::ToRedisArgs for RoomName<'_> {
    /// Copied piece by piece: through `fmt` (`write_arg_fmt`), the room script's six names
    /// cost more than the rest of its call (docs/performance.md).
    fn write_redis_args<W: ?Sized + redis::RedisWrite>(&self, out: &mut W) {
        use std::io::Write;
        let mut w = out.writer_for_next_arg();
        for p in self.pieces() {
            // Writing into the command's own buffer cannot fail.
            let _ = w.write_all(p.as_bytes());
        }
    }
}

/// The pieces of a name, one after another: the names on a message's path are built this way
/// rather than by `format!` (its machinery was a measurable part of each room-script call:
/// docs/performance.md).
fn concat(pieces: &[&str]) -> String {
    let mut out = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
    for p in pieces {
        out.push_str(p);
    }
    out
}

/// How many join notices a bucket's log keeps, at least (`MAXLEN ~`; room.lua says the same).
pub const JOIN_LOG: usize = 256;

/// How many user channels there are.
pub const USER_BUCKETS: u32 = 1024;

/// A user's bucket: FNV-1a of the id, so every instance (of any build) agrees. Users share a
/// bounded set of channels rather than one each: an instance subscribes once per bucket, not
/// once per connecting user (and never unsubscribes them), and filters what it receives.
pub fn user_bucket(u: &UserId) -> u32 {
    let hash = u.as_str().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % USER_BUCKETS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_keys_share_one_hash_tag() {
        let k = Keys::new("p");
        let c = ChatId::parse("chat:1").unwrap();
        assert_eq!(k.room(&c), "p:room:{chat:1}");
        assert_eq!(k.members(&c), "p:room:{chat:1}:members");
        assert_eq!(k.log(&c), "p:room:{chat:1}:log");
        assert_eq!(k.followers(&c), "p:room:{chat:1}:followers");
        assert_eq!(k.room_channel(&c), "p:ch:room:{chat:1}");
        assert_eq!(k.room_of_channel("p:ch:room:{chat:1}"), Some(c.clone()));
        assert_eq!(k.room_of_channel("p:ch:users:{3}"), None);
        assert_eq!(k.bucket_of_channel("p:ch:users:{3}"), Some(3));
        let u = UserId::parse("u@x").unwrap();
        assert_eq!(k.user_rooms(&u), "p:user:{u@x}:rooms");
        assert_eq!(k.instance_rooms("i-1"), "p:instance:{i-1}:rooms");
    }

    #[test]
    fn a_room_name_as_a_command_argument_is_its_string() {
        let k = Keys::new("p");
        let c = ChatId::parse("chat:1").unwrap();
        let mut cmd = redis::cmd("X");
        cmd.arg(k.room_name(ROOM, &c, LOG)).arg("next");
        let args: Vec<_> = cmd.args_iter().collect();
        assert_eq!(
            args[1..],
            [
                redis::Arg::Simple(&b"p:room:{chat:1}:log"[..]),
                redis::Arg::Simple(&b"next"[..])
            ]
        );
    }

    #[test]
    fn user_buckets_are_fixed_and_spread() {
        // FNV-1a 32 of "a" is 0xe40c292c; pinned, since every instance must agree.
        assert_eq!(
            user_bucket(&UserId::parse("a").unwrap()),
            0xe40c_292c % USER_BUCKETS
        );
        assert_eq!(
            Keys::new("p").user_channel(&UserId::parse("a").unwrap()),
            "p:ch:users:{300}"
        );
        let used: std::collections::HashSet<u32> = (0..4096)
            .map(|i| user_bucket(&UserId::parse(&format!("user{i}")).unwrap()))
            .collect();
        assert!(used.len() > 900, "{} buckets used", used.len());
    }
}
