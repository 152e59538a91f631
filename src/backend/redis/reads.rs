//! Read positions over Redis: how far each participant has read a room (the `read` frame),
//! and what that makes unread. The room script moves a sender's position with each text it
//! stores and a joiner's with its join notice; a leave removes it.

use std::collections::{BTreeMap, HashMap};

use bb8_redis::redis;

use super::RedisStore;
use super::rooms::corrupt;
use crate::backend::{Marked, StoreResult};
use crate::domain::{ChatId, UserId};

/// Moves a read position forward. KEYS: room hash, log, reads hash, members. ARGV: user, seq.
/// Returns "noroom", "notmember", "beyond" (past the newest message), "behind" (not forward)
/// or "moved".
/// The position is stored as `<seq>:<ordinal>`, the ordinal being the room's count `n` minus
/// the messages after `seq`, so an unread count is one subtraction.
pub(super) const READ_LUA: &str = r#"
local h = redis.call('HMGET', KEYS[1], 'id', 'last_ts', 'n')
if not h[1] then return 'noroom' end
if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 0 then return 'notmember' end
local seq = tonumber(ARGV[2])
if seq > tonumber(h[2] or '0') then return 'beyond' end
local cur = redis.call('HGET', KEYS[3], ARGV[1])
if cur and tonumber(string.match(cur, '^(%d+)')) >= seq then return 'behind' end
local after = #redis.call('XRANGE', KEYS[2], '(' .. ARGV[2] .. '-0', '+')
local ord = tonumber(h[3] or '0') - after
if ord < 0 then ord = 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ':' .. string.format('%.0f', ord))
return 'moved'
"#;

/// A stored read position: `(seq, ordinal)`.
pub(super) fn position(raw: &str) -> StoreResult<(u64, u64)> {
    let parsed = raw
        .split_once(':')
        .and_then(|(s, o)| Some((s.parse().ok()?, o.parse().ok()?)));
    parsed.ok_or_else(|| corrupt("read position", raw))
}

impl RedisStore {
    pub async fn mark_read(&self, chat: &ChatId, user: &UserId, seq: u64) -> StoreResult<Option<Marked>> {
        let k = &self.keys;
        let mut inv = self.read_script.prepare_invoke();
        inv.key(k.room(chat))
            .key(k.log(chat))
            .key(k.reads(chat))
            .key(k.members(chat));
        inv.arg(user.as_str()).arg(seq);
        let status: String = self
            .call(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok(match status.as_str() {
            "noroom" => None,
            "beyond" => Some(Marked::Beyond),
            "behind" => Some(Marked::Behind),
            "notmember" => Some(Marked::NotMember),
            _ => Some(Marked::Moved),
        })
    }

    pub async fn read_positions(&self, chat: &ChatId) -> StoreResult<Option<BTreeMap<UserId, u64>>> {
        let (room, reads) = (self.keys.room(chat), self.keys.reads(chat));
        let (exists, raw): (bool, HashMap<String, String>) = self
            .call(|mut c| async move {
                redis::pipe()
                    .exists(room)
                    .hgetall(reads)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if !exists {
            return Ok(None);
        }
        let mut out = BTreeMap::new();
        for (user, pos) in raw {
            if let Ok(user) = UserId::parse(&user) {
                out.insert(user, position(&pos)?.0);
            }
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_seq_and_ordinal() {
        assert_eq!(
            position("1704067200000000:12").unwrap(),
            (1_704_067_200_000_000, 12)
        );
        assert!(position("12").is_err());
        assert!(position("x:1").is_err());
    }
}
