//! Per-user message rate limit: `RATE_LIMIT_PER_SECOND` sustained, `RATE_LIMIT_BURST` at once.
//!
//! Each stored message a user causes (text, join, leave; typing is free: never stored, and sent
//! as keys are pressed) costs one cell. With the memory store the limiter is a keyed GCRA in
//! this process (governor); with Redis it is the same algorithm in a Lua script on Redis's
//! clock, so the allowance is shared by every instance. `RATE_LIMIT_PER_SECOND=0` turns it off.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::domain::UserId;
use crate::store::{RedisStore, StoreResult};

/// Cheaply clonable handle to the limiter.
#[derive(Clone, Default)]
pub enum RateLimit {
    /// No limit.
    #[default]
    Off,
    /// This process only (memory store).
    Local(Arc<DefaultKeyedRateLimiter<UserId>>),
    /// Shared by every instance (Redis store): one cell per `interval`, bursts of `burst`.
    Shared {
        store: Arc<RedisStore>,
        interval: Duration,
        burst: u32,
    },
}

fn quota(per_second: u32, burst: u32) -> Option<(Duration, NonZeroU32)> {
    let interval = Duration::from_secs_f64(1.0 / f64::from(per_second.max(1)));
    (per_second > 0).then_some((interval, NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)))
}

impl RateLimit {
    /// A limiter in this process; `per_second == 0` disables it.
    pub fn local(per_second: u32, burst: u32) -> Self {
        match quota(per_second, burst).and_then(|(i, b)| Some(Quota::with_period(i)?.allow_burst(b))) {
            Some(q) => RateLimit::Local(Arc::new(DefaultKeyedRateLimiter::keyed(q))),
            None => RateLimit::Off,
        }
    }

    /// A limiter shared through Redis; `per_second == 0` disables it.
    pub fn shared(store: Arc<RedisStore>, per_second: u32, burst: u32) -> Self {
        match quota(per_second, burst) {
            Some((interval, burst)) => RateLimit::Shared {
                store,
                interval,
                burst: burst.get(),
            },
            None => RateLimit::Off,
        }
    }

    /// Takes one cell for `user`: `Ok(None)` if allowed, `Ok(Some(wait))` if not.
    pub async fn check(&self, user: &UserId) -> StoreResult<Option<Duration>> {
        match self {
            RateLimit::Off => Ok(None),
            RateLimit::Local(limiter) => Ok(limiter
                .check_key(user)
                .err()
                .map(|not_until| not_until.wait_time_from(limiter.clock().now()))),
            RateLimit::Shared {
                store,
                interval,
                burst,
            } => store.take_cell(user, *interval, *burst).await,
        }
    }

    /// Forgets users whose allowance is full again (the shared state expires by itself).
    pub fn prune(&self) {
        if let RateLimit::Local(limiter) = self {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn burst_then_refusal_per_user() {
        let limit = RateLimit::local(1, 3);
        let (a, b) = (UserId::parse("a").unwrap(), UserId::parse("b").unwrap());
        for _ in 0..3 {
            assert_eq!(limit.check(&a).await.unwrap(), None);
        }
        let wait = limit.check(&a).await.unwrap().unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(limit.check(&b).await.unwrap(), None);
    }

    #[tokio::test]
    async fn zero_turns_it_off() {
        let limit = RateLimit::local(0, 1);
        assert!(matches!(limit, RateLimit::Off));
        let a = UserId::parse("a").unwrap();
        for _ in 0..1000 {
            assert_eq!(limit.check(&a).await.unwrap(), None);
        }
    }
}
