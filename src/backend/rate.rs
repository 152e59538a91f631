//! Per-user message rate limit: `RATE_LIMIT_PER_SECOND` sustained, `RATE_LIMIT_BURST` at once.
//!
//! Each stored message a user causes (text, join, leave; typing is free: never stored, and sent
//! as keys are pressed) costs one cell. The memory backend keeps a keyed GCRA in this process
//! (governor, here); the Redis backend runs the same algorithm in a Lua script on Redis's clock
//! (`redis/users.rs`), so the allowance is shared by every instance; the texts of one burst
//! (`ws/handle.rs`) take their cells in one call, in order. `RATE_LIMIT_PER_SECOND=0` turns
//! it off.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota as GovernorQuota};

use crate::domain::UserId;

/// One cell every `interval`, bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub interval: Duration,
    pub burst: u32,
}

impl Quota {
    /// The configured quota; `None` when `per_second` is 0 (no limit).
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        (per_second > 0).then(|| Self {
            interval: Duration::from_secs_f64(1.0 / f64::from(per_second)),
            burst: burst.max(1),
        })
    }
}

/// A limiter in this process (memory backend); clones share it.
#[derive(Clone)]
pub struct LocalLimit(Arc<DefaultKeyedRateLimiter<UserId>>);

impl LocalLimit {
    pub fn new(quota: Quota) -> Option<Self> {
        let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
        let q = GovernorQuota::with_period(quota.interval)?.allow_burst(burst);
        Some(Self(Arc::new(DefaultKeyedRateLimiter::keyed(q))))
    }

    /// Takes one cell for `user`: `None` if allowed, `Some(wait)` if not.
    pub fn check(&self, user: &UserId) -> Option<Duration> {
        let limiter = &self.0;
        limiter
            .check_key(user)
            .err()
            .map(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// Forgets users whose allowance is full again.
    pub fn prune(&self) {
        self.0.retain_recent();
        self.0.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_per_user() {
        let limit = LocalLimit::new(Quota::new(1, 3).unwrap()).unwrap();
        let (a, b) = (UserId::parse("a").unwrap(), UserId::parse("b").unwrap());
        for _ in 0..3 {
            assert_eq!(limit.check(&a), None);
        }
        let wait = limit.check(&a).unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(limit.check(&b), None);
    }

    #[test]
    fn zero_turns_it_off() {
        assert_eq!(Quota::new(0, 1), None);
        assert_eq!(
            Quota::new(4, 0),
            Some(Quota {
                interval: Duration::from_millis(250),
                burst: 1
            })
        );
    }
}
