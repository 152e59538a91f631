//! Per-user message rate limit: `RATE_LIMIT_PER_SECOND` sustained, `RATE_LIMIT_BURST` at once.
//!
//! A keyed GCRA limiter (governor) in this process. Each frame that stores a message (text,
//! join, leave) costs one cell; typing events are free (never stored, and clients send them
//! as keys are pressed). `RATE_LIMIT_PER_SECOND=0` turns the limit off.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::domain::UserId;

/// Cheaply clonable handle to the limiter (or to nothing, when the limit is off).
#[derive(Clone, Default)]
pub struct RateLimit {
    limiter: Option<Arc<DefaultKeyedRateLimiter<UserId>>>,
}

impl RateLimit {
    /// `per_second` sustained with bursts of `burst`; `per_second == 0` disables the limit.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let quota = (per_second > 0)
            .then(|| Quota::with_period(Duration::from_secs_f64(1.0 / f64::from(per_second))))
            .flatten()
            .map(|q| q.allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)));
        Self {
            limiter: quota.map(|q| Arc::new(DefaultKeyedRateLimiter::keyed(q))),
        }
    }

    /// Takes one cell for `user`, or says how long until one is free.
    pub fn check(&self, user: &UserId) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(user)
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// Forgets users whose allowance is full again, so memory follows active users only.
    pub fn prune(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_per_user() {
        let limit = RateLimit::new(1, 3);
        let (a, b) = (UserId::parse("a").unwrap(), UserId::parse("b").unwrap());
        for _ in 0..3 {
            assert_eq!(limit.check(&a), Ok(()));
        }
        let wait = limit.check(&a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(limit.check(&b), Ok(()));
    }

    #[test]
    fn zero_turns_it_off() {
        let limit = RateLimit::new(0, 1);
        let a = UserId::parse("a").unwrap();
        for _ in 0..1000 {
            assert_eq!(limit.check(&a), Ok(()));
        }
    }
}
