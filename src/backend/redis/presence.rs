//! This instance's own count of each user's connections, and the recount that repairs
//! Redis's copy (issue 19: a disconnect during a Redis outage was never recorded, so the user
//! stayed active for as long as the instance lived).
//!
//! The ledger counts the connections this instance wants counted in `user:{u}:conns` (one
//! more before a connect's increment is sent, one fewer before a disconnect's decrement). A
//! call that fails may or may not have been applied (a timeout after Redis ran it), so instead
//! of retrying it, the user is marked, and the keepalive writes the ledger's count for this
//! instance as it stands (the last connection's `last_seen` with it). A connect or disconnect
//! racing with that write bumps the user's version, and the user is written again next time.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use bb8_redis::redis;

use super::RedisStore;
use crate::domain::{UserId, time};

/// Sets this instance's count of a user's connections; zero removes it and sets `last_seen`.
/// KEYS: user hash, conns hash. ARGV: instance id, count, now.
pub const RECOUNT_LUA: &str = r#"
local n = tonumber(ARGV[2])
if n > 0 then
  redis.call('HSET', KEYS[2], ARGV[1], n)
elseif redis.call('HDEL', KEYS[2], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'last_seen', ARGV[3])
end
return n
"#;

#[derive(Default)]
struct Count {
    conns: u32,
    /// Bumped by every change, so a recount can tell it raced with one.
    version: u64,
    /// Redis's count may be wrong: a call failed.
    stale: bool,
}

/// Per user, the connections this instance has counted in Redis.
#[derive(Default)]
pub struct Ledger {
    users: Mutex<HashMap<UserId, Count>>,
}

impl Ledger {
    /// A connection more (`true`) or fewer, before its call to Redis.
    pub fn change(&self, user: &UserId, more: bool) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        let c = users.entry(user.clone()).or_default();
        c.conns = if more {
            c.conns + 1
        } else {
            c.conns.saturating_sub(1)
        };
        c.version += 1;
        if c.conns == 0 && !c.stale {
            users.remove(user);
        }
    }

    /// The call that followed [`Ledger::change`] failed: Redis's count is to be rewritten.
    pub fn failed(&self, user: &UserId) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.entry(user.clone()).or_default().stale = true;
    }

    /// The users to write, with their count and version.
    fn stale(&self) -> Vec<(UserId, u32, u64)> {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users
            .iter()
            .filter(|(_, c)| c.stale)
            .map(|(u, c)| (u.clone(), c.conns, c.version))
            .collect()
    }

    /// `user`'s count at `version` is in Redis; still stale if it changed meanwhile.
    fn written(&self, user: &UserId, version: u64) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = users.get_mut(user)
            && c.version == version
        {
            c.stale = false;
            if c.conns == 0 {
                users.remove(user);
            }
        }
    }
}

impl RedisStore {
    /// Writes this instance's count of each user whose count in Redis may be wrong; stops
    /// at the first failure (Redis is still away: the next tick tries again).
    pub async fn recount(&self) {
        for (user, conns, version) in self.ledger.stale() {
            let mut inv = self.recount_script.prepare_invoke();
            inv.key(self.keys.user(&user)).key(self.keys.user_conns(&user));
            inv.arg(&self.instance).arg(conns).arg(time::format(&time::now()));
            let done = self
                .call(|mut c| async move { inv.invoke_async::<i64>(&mut c).await })
                .await;
            match done {
                Ok(_) => self.ledger.written(&user, version),
                Err(e) => {
                    tracing::debug!(%user, error = %e, "presence recount failed; retrying");
                    return;
                }
            }
        }
    }
}

/// Builds the recount script (kept here, beside its Lua).
pub fn recount_script() -> redis::Script {
    redis::Script::new(RECOUNT_LUA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_call_stays_stale_until_written_at_its_version() {
        let (l, u) = (Ledger::default(), UserId::parse("u").unwrap());
        l.change(&u, true);
        l.change(&u, false);
        assert!(l.stale().is_empty(), "calls that succeeded leave nothing");
        l.change(&u, true);
        l.failed(&u);
        let [(_, 1, version)] = l.stale()[..] else {
            panic!("{:?}", l.stale().len())
        };
        l.change(&u, true); // a connect racing with the write
        l.written(&u, version);
        assert_eq!(l.stale().len(), 1, "written again with the new count");
        let version = l.stale()[0].2;
        l.written(&u, version);
        assert!(l.stale().is_empty());
    }
}
