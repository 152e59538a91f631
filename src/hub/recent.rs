//! The newest messages of a room this instance follows, kept for history reads (Redis store).
//!
//! Valid because the hub sees every message of a followed room, in order and without gaps
//! (pub/sub plus the replay by sequence after each (re)subscription): seeded with a page read
//! from Redis whose newest message is exactly the last one the hub delivered, and extended
//! by every delivery after it. It serves a read only once `live` (the room's subscription
//! is confirmed and its replay done), and only when it holds the whole answer; anything else
//! goes to Redis.

use std::collections::VecDeque;
use std::time::Instant;

use crate::domain::{Json, Page};

/// How many of a room's newest messages are kept (at most `MAX_MESSAGES_PER_ROOM`): twice
/// the default page, so default pages are served and the memory per read room stays small.
pub const RECENT_MESSAGES: usize = 100;

/// At most this many rooms keep their recent messages on one instance (about 30 MiB at
/// `RECENT_MESSAGES` messages of 300 bytes); past it, history of other rooms reads Redis.
pub const MAX_KEPT_ROOMS: usize = 1024;

/// How long a room stays followed for reading after its last history read.
pub const READ_FOLLOW: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Recent {
    /// `(sequence, JSON)`, oldest first.
    messages: VecDeque<(u64, Json)>,
    cap: usize,
    /// True when `messages` holds every message the store holds for the room.
    complete: bool,
    /// True once the room's subscription is confirmed and replayed: before that, a message
    /// stored elsewhere may be missing.
    pub live: bool,
    /// The last history read served or seeded here.
    pub read_at: Instant,
    /// Which seeding this is (a later one must not be marked live by an earlier catch-up).
    pub id: u64,
}

impl Recent {
    /// A cache seeded with `page` (oldest first); `complete` when it is the whole room.
    pub fn new(page: Vec<(u64, Json)>, complete: bool, cap: usize, id: u64) -> Self {
        let mut messages: VecDeque<_> = page.into();
        let complete = complete && messages.len() <= cap;
        while messages.len() > cap {
            messages.pop_front();
        }
        Self {
            messages,
            cap,
            complete,
            live: false,
            read_at: Instant::now(),
            id,
        }
    }

    /// Appends a message just delivered (its sequence above every one held).
    pub fn push(&mut self, seq: u64, json: Json) {
        self.messages.push_back((seq, json));
        if self.messages.len() > self.cap {
            self.messages.pop_front();
            self.complete = false;
        }
    }

    /// The `limit` newest messages with a sequence below `before` (µs, exclusive), oldest
    /// first, if this cache holds the whole answer.
    pub fn page(&self, limit: usize, before: Option<u64>) -> Option<Page> {
        if !self.live {
            return None;
        }
        let end = before.map_or(self.messages.len(), |b| {
            self.messages.partition_point(|(s, _)| *s < b)
        });
        if end < limit && !self.complete {
            return None; // older messages exist that this cache does not hold
        }
        let start = end.saturating_sub(limit);
        Some(Page(
            self.messages.range(start..end).map(|(_, m)| m.clone()).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(seqs: &[u64]) -> Vec<(u64, Json)> {
        seqs.iter().map(|s| (*s, Json::from(s.to_string()))).collect()
    }

    fn texts(p: Option<Page>) -> Option<Vec<String>> {
        p.map(|p| p.0.iter().map(|m| m.to_string()).collect())
    }

    #[test]
    fn serves_only_when_live_and_whole() {
        let mut r = Recent::new(msgs(&[10, 20, 30]), false, 4, 1);
        assert_eq!(texts(r.page(2, None)), None, "not live yet");
        r.live = true;
        assert_eq!(texts(r.page(2, None)), Some(vec!["20".into(), "30".into()]));
        assert_eq!(
            texts(r.page(3, None)),
            Some(vec!["10".into(), "20".into(), "30".into()])
        );
        assert_eq!(texts(r.page(4, None)), None, "a fourth, older message may exist");
        assert_eq!(texts(r.page(1, Some(30))), Some(vec!["20".into()]));
        assert_eq!(texts(r.page(2, Some(30))), Some(vec!["10".into(), "20".into()]));
        assert_eq!(texts(r.page(3, Some(30))), None);
    }

    #[test]
    fn a_complete_room_answers_short_pages_until_trimmed() {
        let mut r = Recent::new(msgs(&[10, 20]), true, 3, 1);
        r.live = true;
        assert_eq!(texts(r.page(50, None)), Some(vec!["10".into(), "20".into()]));
        assert_eq!(texts(r.page(50, Some(10))), Some(vec![]));
        r.push(30, Json::from("30"));
        assert_eq!(
            texts(r.page(50, None)),
            Some(vec!["10".into(), "20".into(), "30".into()])
        );
        r.push(40, Json::from("40"));
        assert_eq!(
            texts(r.page(50, None)),
            None,
            "10 was trimmed: no longer the whole room"
        );
        assert_eq!(
            texts(r.page(3, None)),
            Some(vec!["20".into(), "30".into(), "40".into()])
        );
        assert!(!Recent::new(msgs(&[1, 2, 3, 4]), true, 3, 1).complete);
    }
}
