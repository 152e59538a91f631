//! Resuming connections: their live messages held back until their replay is written.
//!
//! A connection opened with `?resume=true` does not get live messages at once: the hub holds
//! them, with their room and sequence, until the connection's `resume` frame is answered.
//! For each room it records the sequence just before the first message it held (or, if none
//! came, what the room last delivered when asked), and the replay read from the store ends
//! exactly there. Once the replay is written, [`Hub::resumed`] releases the held messages
//! into the outbox, dropping those at or below the client's position (it had them, e.g. from
//! an instance ahead of this one): every message after the position arrives once, in order,
//! replay before live.

use std::collections::HashMap;

use super::{Hub, Outbound};
use crate::domain::{ChatId, Json, UserId};

/// A connection waiting for its resume.
pub(super) struct Resuming {
    out: Outbound,
    /// Per room, the sequence before the first live message held (the replay's end).
    starts: HashMap<ChatId, u64>,
    /// Live frames held: room, sequence (`None` for typing and receipts), frame.
    held: Vec<(ChatId, Option<u64>, Json)>,
}

impl Resuming {
    pub(super) fn new(out: Outbound) -> Self {
        Self {
            out,
            starts: HashMap::new(),
            held: Vec::new(),
        }
    }

    pub(super) fn out(&self) -> &Outbound {
        &self.out
    }

    /// Writes every held frame to the outbox.
    pub(super) fn release(self) {
        for (_, _, frame) in &self.held {
            self.out.queue(frame);
        }
    }

    /// Holds a live frame (`before`: the room's sequence before it). Past the outbox's bound
    /// the connection is marked slow, as a full outbox would.
    pub(super) fn hold(&mut self, room: &ChatId, before: u64, seq: Option<u64>, frame: &Json) -> bool {
        if seq.is_some() && !self.starts.contains_key(room) {
            self.starts.insert(room.clone(), before);
        }
        if self.held.len() >= self.out.cap() {
            self.out.overflow();
            return false;
        }
        self.held.push((room.clone(), seq, frame.clone()));
        true
    }
}

/// Where a resuming connection's live messages in a room start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Live messages begin after this sequence: the replay must end at it.
    After(u64),
    /// The connection does not follow the room: the replay is everything stored.
    NotFollowed,
    /// The connection is not waiting for a resume (not opened with `?resume=true`, or its
    /// resume was answered).
    NotResuming,
}

impl Hub {
    /// Where `conn`'s live messages in `room` start. If none was held yet, they start after
    /// what the room last delivered here, which is recorded now so that it holds.
    pub fn resume_start(&self, user: &UserId, conn: u64, room: &ChatId) -> Start {
        let mut s = self.lock();
        let follows = s.users.get(user).is_some_and(|e| e.rooms.contains(room));
        // Live frames at or below the connection's floor are dropped: they start past it.
        let floor = Hub::floor_of(&s.floors, conn, room).unwrap_or(0);
        let last = s.rooms.get(room).map(|r| r.last.max(floor));
        let Some(r) = s.resuming.get_mut(&conn) else {
            return Start::NotResuming;
        };
        if let Some(start) = r.starts.get(room) {
            return Start::After(*start);
        }
        match last.filter(|_| follows) {
            Some(last) => {
                r.starts.insert(room.clone(), last);
                Start::After(last)
            }
            None => Start::NotFollowed,
        }
    }

    /// Whether `conn` still waits for its resume.
    pub fn is_resuming(&self, conn: u64) -> bool {
        self.lock().resuming.contains_key(&conn)
    }

    /// The connection's replay is written: its held frames go to its outbox, but for those at
    /// or below the client's position in their room (`positions`), and the next ones follow.
    pub fn resumed(&self, conn: u64, positions: &HashMap<ChatId, u64>) {
        let mut s = self.lock();
        let Some(r) = s.resuming.remove(&conn) else { return };
        for (room, seq, frame) in &r.held {
            let seen = seq.is_some_and(|seq| positions.get(room).is_some_and(|p| seq <= *p));
            if !seen {
                r.out.queue(frame);
            }
        }
    }
}
