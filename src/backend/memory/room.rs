//! One room of the memory store: its details, its history, the ids its senders gave (for
//! retries), and how far each participant has read. The store holds a room's lock around each
//! operation, so each is one step.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::backend::{Marked, Replay};
use crate::domain::{ChatRoom, Json, Message, Page, RoomSpec, Timestamp, UserId, Window, time};

pub(super) struct Room {
    /// The room as served; `participants` kept sorted.
    pub meta: ChatRoom,
    /// The history's identity (see `domain::message::epoch_of`).
    pub epoch: String,
    /// Each message's `seq` and JSON (the bytes delivered, shared with history), oldest first.
    pub messages: VecDeque<(u64, Json)>,
    pub last_ts: Option<Timestamp>,
    /// How many messages were ever stored: a message's ordinal, whose differences are unread
    /// counts.
    pub count: u64,
    /// Whether the oldest messages were trimmed (`MAX_MESSAGES_PER_ROOM`).
    pub trimmed: bool,
    /// Each participant's read position: the `seq` read up to, and its ordinal.
    reads: HashMap<UserId, (u64, u64)>,
    /// Texts sent with a `client_msg_id`, for retries within the window.
    sent: SentIds,
}

impl Room {
    pub fn new(spec: RoomSpec, window: Duration) -> Self {
        let meta = spec.into_room(time::now());
        Self {
            epoch: crate::domain::message::epoch_of(&time::format(&meta.created_at)),
            meta,
            messages: VecDeque::new(),
            last_ts: None,
            count: 0,
            trimmed: false,
            reads: HashMap::new(),
            sent: SentIds::new(window),
        }
    }

    pub fn is_member(&self, user: &UserId) -> bool {
        self.meta.participants.binary_search(user).is_ok()
    }

    /// Adds or removes a participant; returns whether anything changed. A leaver's read
    /// position goes with it.
    pub fn set_member(&mut self, user: &UserId, member: bool) -> bool {
        let list = &mut self.meta.participants;
        match (list.binary_search(user), member) {
            (Err(at), true) => list.insert(at, user.clone()),
            (Ok(at), false) => {
                list.remove(at);
                self.reads.remove(user);
            }
            _ => return false,
        }
        true
    }

    /// Keeps a stored message, trimming the oldest past `max`.
    pub fn push(&mut self, seq: u64, json: Json, max: usize) {
        self.messages.push_back((seq, json));
        self.count += 1;
        while self.messages.len() > max {
            self.messages.pop_front();
            self.trimmed = true;
        }
    }

    pub fn last_seq(&self) -> u64 {
        self.messages.back().map_or(0, |(s, _)| *s)
    }

    /// A page of history (see [`Window`]).
    pub fn page(&self, limit: usize, window: Window) -> Page {
        let below = |b: u64| self.messages.partition_point(|(s, _)| *s < b);
        let (start, end) = match window.forward() {
            None => {
                let Window::Before(b) = window else {
                    return Page::default();
                };
                let end = below(b);
                (end.saturating_sub(limit), end)
            }
            Some((a, b)) => {
                let start = self.messages.partition_point(|(s, _)| *s <= a);
                (start, (start + limit).min(below(b)).max(start))
            }
        };
        Page(self.messages.range(start..end).map(|(_, m)| m.clone()).collect())
    }

    /// What a resume after `after` needs (see `Replay`).
    pub fn replay(&self, user: &UserId, after: u64) -> Replay {
        let reaches = if after == 0 {
            !self.trimmed
        } else {
            self.messages.binary_search_by_key(&after, |(s, _)| *s).is_ok()
        };
        let start = self.messages.partition_point(|(s, _)| *s <= after);
        Replay {
            member: self.is_member(user),
            epoch: self.epoch.clone(),
            reaches,
            entries: self.messages.range(start..).cloned().collect(),
            upto: self.last_seq(),
        }
    }

    /// The ordinal of the newest message at or below `seq`.
    fn ordinal(&self, seq: u64) -> u64 {
        let after = self.messages.len() - self.messages.partition_point(|(s, _)| *s <= seq);
        self.count - after as u64
    }

    /// Moves `user`'s read position forward to `seq` (never back).
    pub fn mark_read(&mut self, user: &UserId, seq: u64) -> Marked {
        if !self.is_member(user) {
            return Marked::NotMember;
        }
        if seq > self.last_seq() {
            return Marked::Beyond;
        }
        if self.reads.get(user).is_some_and(|(read, _)| *read >= seq) {
            return Marked::Behind;
        }
        let ord = self.ordinal(seq);
        self.reads.insert(user.clone(), (seq, ord));
        Marked::Moved
    }

    /// `user` has seen everything up to the newest message (it just sent or joined).
    pub fn read_all(&mut self, user: &UserId) {
        let pos = (self.last_seq(), self.count);
        // Most senders have a position already: update it without cloning the id.
        match self.reads.get_mut(user) {
            Some(p) => *p = pos,
            None => {
                self.reads.insert(user.clone(), pos);
            }
        }
    }

    /// Messages stored after `user`'s read position (all of them if it has none).
    pub fn unread(&self, user: &UserId) -> u64 {
        self.count - self.reads.get(user).map_or(0, |(_, ord)| *ord)
    }

    /// Each participant's read position (`seq`).
    pub fn read_positions(&self) -> BTreeMap<UserId, u64> {
        self.reads.iter().map(|(u, (seq, _))| (u.clone(), *seq)).collect()
    }

    pub fn sent_before(&mut self, user: &UserId, id: &str) -> Option<Message> {
        self.sent.get(user, id)
    }

    pub fn remember_sent(&mut self, message: &Message) {
        if let Some(id) = &message.client_msg_id {
            self.sent.put(&message.user_id, id, message.clone());
        }
    }
}

/// The `client_msg_id`s of a room's recent texts, each kept for the idempotency window.
struct SentIds {
    window: Duration,
    by_id: HashMap<(UserId, String), Message>,
    /// When each id expires, oldest first.
    expiry: VecDeque<(Instant, UserId, String)>,
}

impl SentIds {
    fn new(window: Duration) -> Self {
        Self {
            window,
            by_id: HashMap::new(),
            expiry: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _, _)) = self.expiry.front() {
            if *at > now {
                break;
            }
            if let Some((_, user, id)) = self.expiry.pop_front() {
                self.by_id.remove(&(user, id));
            }
        }
    }

    fn get(&mut self, user: &UserId, id: &str) -> Option<Message> {
        self.expire(Instant::now());
        self.by_id.get(&(user.clone(), id.to_string())).cloned()
    }

    fn put(&mut self, user: &UserId, id: &str, message: Message) {
        if self.window.is_zero() {
            return;
        }
        let now = Instant::now();
        self.expire(now);
        self.expiry
            .push_back((now + self.window, user.clone(), id.to_string()));
        self.by_id.insert((user.clone(), id.to_string()), message);
    }
}
