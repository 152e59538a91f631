//! The memory backend: one process, everything in it, lost on exit. The default, so
//! `cargo run` needs nothing else installed. Fan-out between instances is nothing (there is
//! one), presence is the store's connection count, and the rate limit is governor's.

mod room;
mod store;

pub use store::MemoryStore;

use super::rate::{LocalLimit, Quota};
use crate::domain::UserId;

/// Storage and the rate limit in this process; clones share them.
#[derive(Clone)]
pub struct MemoryBackend {
    pub store: MemoryStore,
    limit: Option<LocalLimit>,
}

impl MemoryBackend {
    pub fn new(max_messages: usize, window: std::time::Duration, quota: Option<Quota>) -> Self {
        Self {
            store: MemoryStore::new(max_messages, window),
            limit: quota.and_then(LocalLimit::new),
        }
    }

    /// Takes `n` cells of `user`'s allowance, one after another: per cell, `None` if allowed,
    /// `Some(wait)` if not.
    pub fn check_rates(&self, user: &UserId, n: usize) -> Vec<Option<std::time::Duration>> {
        let limit = self.limit.as_ref();
        (0..n).map(|_| limit.and_then(|l| l.check(user))).collect()
    }

    /// Forgets users whose allowance is full again.
    pub fn prune(&self) {
        if let Some(l) = &self.limit {
            l.prune();
        }
    }
}
