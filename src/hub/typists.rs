//! Who is typing where on this instance: typing events are throttled per user and room, and
//! a typist gone quiet (or gone away) is ended by the server (`usecases/typing.rs`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::domain::{ChatId, UserId};

/// This instance's typists: who is typing where, when it was last passed on, and when it
/// ends if nothing more comes.
pub struct Typists {
    timeout: Duration,
    typing: Mutex<HashMap<(UserId, ChatId), Typist>>,
}

struct Typist {
    passed_on: Instant,
    ends: Instant,
}

impl Typists {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            typing: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(UserId, ChatId), Typist>> {
        self.typing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a `typing`; returns whether to pass it on now.
    pub fn typing(&self, user: &UserId, chat: &ChatId, now: Instant) -> bool {
        let ends = now + self.timeout;
        let mut typing = self.lock();
        match typing.get_mut(&(user.clone(), chat.clone())) {
            Some(t) => {
                t.ends = ends;
                let refresh = now.duration_since(t.passed_on) >= self.timeout / 2;
                if refresh {
                    t.passed_on = now;
                }
                refresh
            }
            None => {
                let t = Typist { passed_on: now, ends };
                typing.insert((user.clone(), chat.clone()), t);
                true
            }
        }
    }

    /// Records a `stopped`.
    pub fn stopped(&self, user: &UserId, chat: &ChatId) {
        self.lock().remove(&(user.clone(), chat.clone()));
    }

    /// The typists silent for the whole timeout, forgotten.
    pub fn quiet(&self, now: Instant) -> Vec<(UserId, ChatId)> {
        let mut quiet = Vec::new();
        self.lock().retain(|key, t| {
            let keep = t.ends > now;
            if !keep {
                quiet.push(key.clone());
            }
            keep
        });
        quiet
    }

    /// Where `user` was typing, forgotten (its last connection here closed).
    pub fn gone(&self, user: &UserId) -> Vec<(UserId, ChatId)> {
        let mut gone = Vec::new();
        self.lock().retain(|key, _| {
            let keep = key.0 != *user;
            if !keep {
                gone.push(key.clone());
            }
            keep
        });
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_on_once_then_refreshes_at_half_the_timeout() {
        let t = Typists::new(Duration::from_secs(4));
        let (u, c) = (UserId::parse("u").unwrap(), ChatId::parse("c").unwrap());
        let t0 = Instant::now();
        let passed: Vec<bool> = (0..20)
            .map(|i| t.typing(&u, &c, t0 + Duration::from_millis(50 * i)))
            .collect();
        assert_eq!(passed.iter().filter(|p| **p).count(), 1, "{passed:?}");
        assert!(t.typing(&u, &c, t0 + Duration::from_secs(2)), "refresh");
        assert!(!t.typing(&u, &c, t0 + Duration::from_millis(2500)));
        assert_eq!(t.quiet(t0 + Duration::from_millis(6400)), vec![]);
        assert_eq!(
            t.quiet(t0 + Duration::from_millis(6500)),
            vec![(u.clone(), c.clone())]
        );
        assert!(
            t.typing(&u, &c, t0 + Duration::from_secs(7)),
            "typing anew after the end"
        );
        assert_eq!(t.gone(&u), vec![(u.clone(), c)]);
        assert_eq!(t.quiet(t0 + Duration::from_secs(60)), vec![]);
    }
}
